"""Salt-and-pepper pages: held-out pages read with impulse noise, with and without despeckling.

    .venv/bin/python benchmarks/bench_speckle.py [--per-language 2] [--cache out/bench-speckle/pages]

Dust on a scanner glass, a fax line or a worn photocopier leaves lone black and white pixels. Each
held-out generated page is read clean and with 0.5 %, 1 % and 2 % of its pixels flipped to black
or white, half each (seeded per page). It is read by the pipeline with its defaults, once with
``despeckle=False`` and once as shipped: dots replaced by their median on pages that have more than
``speckle.NOISY`` of them. The table prints page NED (whitespace removed) per language, the share of
dot pixels the gate saw, and how many pages it cleaned.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.metrics import score_text  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402
from polyocr.pipeline.speckle import NOISY, dot_share  # noqa: E402

LEVELS = (0.0, 0.005, 0.01, 0.02)


def salt_and_pepper(rgb: np.ndarray, share: float, seed: int) -> np.ndarray:
    if share <= 0:
        return rgb
    draw = np.random.default_rng(seed).random(rgb.shape[:2])
    out = rgb.copy()
    out[draw < share / 2] = 0
    out[draw > 1 - share / 2] = 255
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-speckle/pages")
    a = ap.parse_args()

    pages = generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed, degrade="mixed")
    on = Pipeline(ReadConfig())
    off = Pipeline(ReadConfig(despeckle=False), on.detector, on.recognizer, on.orderer, on.orientation)
    ned: dict[tuple[float, str, str], list[float]] = {}
    shares: dict[float, list[float]] = {}
    for n, page in enumerate(pages):
        with Image.open(page.image) as im:
            rgb = np.asarray(im.convert("RGB"))
        for level in LEVELS:
            noisy = salt_and_pepper(rgb, level, 1000 * a.seed + n)
            shares.setdefault(level, []).append(dot_share(noisy))
            for name, pipe in (("off", off), ("on", on)):
                ned.setdefault((level, name, page.language), []).append(
                    score_text(pipe.read_image(noisy).text, page.text).ned_nows)
        print(f"{page.id} done", file=sys.stderr, flush=True)
    langs = list(dict.fromkeys(p.language for p in pages))
    print(f"Page NED (whitespace removed), {a.per_language} held-out pages a language, seed {a.seed}; "
          f"gate: dot share > {NOISY}\n")
    print("| noise | despeckle | " + " | ".join(langs) + " | mean | dot share (min-max) | pages cleaned |")
    print("|---|---|" + "---|" * (len(langs) + 3))
    for level in LEVELS:
        s = shares[level]
        for name in ("off", "on"):
            means = [float(np.mean(ned[(level, name, lang)])) for lang in langs]
            cleaned = sum(x > NOISY for x in s) if name == "on" else 0
            print(f"| {level:.1%} | {name} | " + " | ".join(f"{m:.4f}" for m in means)
                  + f" | {np.mean(means):.4f} | {min(s):.5f}-{max(s):.5f} | {cleaned}/{len(s)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
