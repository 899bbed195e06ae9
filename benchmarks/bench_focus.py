"""Out-of-focus pages: held-out pages blurred, with and without deconvolving them before detection.

    .venv/bin/python benchmarks/bench_focus.py [--per-language 2] [--cache out/bench-focus/pages]

Each held-out generated page (200 dpi) is read as it is and after a Gaussian blur of σ 1, 1.5, 2 and
2.5 px, each also saved again as a JPEG of quality 60 (a phone's or a messenger's compression, whose
block noise deconvolution amplifies). It is read by the pipeline with its defaults, once with
``refocus`` off and once on (pipeline.focus). The table prints page NED (whitespace removed) per
language, how many pages were deconvolved, and the mean seconds the step took on those.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.metrics import score_text  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.focus import refocus  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402

LEVELS = (0.0, 1.0, 1.5, 2.0, 2.5)


def jpeg(rgb: np.ndarray, quality: int = 60) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-focus/pages")
    a = ap.parse_args()

    pages = generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed, degrade="mixed")
    on = Pipeline(ReadConfig())
    off = Pipeline(ReadConfig(refocus=False), on.detector, on.recognizer, on.orderer, on.orientation)
    views = [(level, q) for level in LEVELS for q in ((None, 60) if level else (None,))]
    ned: dict[tuple[float, int | None, str, str], list[float]] = {}
    done: dict[tuple[float, int | None], list[float]] = {}
    for level, quality in views:
        done[(level, quality)] = []
        for page in pages:
            with Image.open(page.image) as im:
                rgb = np.asarray(im.convert("RGB"))
            seen = cv2.GaussianBlur(rgb, (0, 0), level) if level else rgb
            seen = jpeg(seen, quality) if quality else seen
            t0 = time.perf_counter()
            if refocus(seen) is not seen:
                done[(level, quality)].append(time.perf_counter() - t0)
            for name, pipe in (("off", off), ("on", on)):
                ned.setdefault((level, quality, name, page.language), []).append(
                    score_text(pipe.read_image(seen).text, page.text).ned_nows)
        print(f"σ {level} q{quality} done", file=sys.stderr, flush=True)
    langs = list(dict.fromkeys(p.language for p in pages))
    print(f"Page NED (whitespace removed), {a.per_language} held-out pages a language, seed {a.seed}\n")
    print("| blur σ (px, 200 dpi) | JPEG | deconvolved | " + " | ".join(langs) + " | mean | pages deconvolved | s a page |")
    print("|---|---|---|" + "---|" * (len(langs) + 3))
    for level, quality in views:
        for name in ("off", "on"):
            means = [float(np.mean(ned[(level, quality, name, lang)])) for lang in langs]
            took = done[(level, quality)]
            extra = (f"{len(took)}/{len(pages)} | {np.mean(took):.3f}" if took else f"0/{len(pages)} | ") \
                if name == "on" else " | "
            print(f"| {level:g} | {quality or '-'} | {name} | " + " | ".join(f"{m:.4f}" for m in means)
                  + f" | {np.mean(means):.4f} | {extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
