"""Light lettering on dark grounds: held-out pages read as they are, as negatives, and in dark mode.

    .venv/bin/python benchmarks/bench_polarity.py [--per-language 2] [--cache out/bench-polarity/pages]

Dark slides, dark-mode screenshots and negative microfilm are the same page with its polarity
reversed. Here each held-out generated page (held-out fonts, mixed layouts, the "mixed" degradations,
``--per-language`` a language, made once into ``--cache``) is read three times by the pipeline with
its defaults: as it is; as its negative (every pixel 255 − value); and in "dark mode", light grey
lettering on charcoal at lower contrast (value v → 30 + 0.71 × (255 − v): paper 30, black ink 212).
The table prints page NED per language for each. Pages and lines of light lettering on a dark ground
are turned dark on light before reading (``polyocr.pipeline.recognize.dark_on_light``); to see what
that does, run this script on code without it and compare.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.metrics import score_text  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-polarity/pages")
    a = ap.parse_args()

    pages = generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed, degrade="mixed")
    pipe = Pipeline(ReadConfig())
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for page in pages:
        with Image.open(page.image) as im:
            rgb = im.convert("RGB")
        dark = Image.fromarray((30 + 0.714 * (255 - np.asarray(rgb, np.float32))).round().astype(np.uint8))
        scores = tuple(score_text(pipe.read_image(v).text, page.text).ned_nows
                       for v in (rgb, ImageOps.invert(rgb), dark))
        rows.setdefault(page.language, []).append(scores)
        print(f"{page.id}: as is {scores[0]:.4f}, negative {scores[1]:.4f}, dark mode {scores[2]:.4f}",
              file=sys.stderr, flush=True)
    print(f"Page NED (whitespace removed), {a.per_language} held-out pages a language, seed {a.seed}\n")
    print("| | " + " | ".join(rows) + " | mean |")
    print("|---|" + "---|" * (len(rows) + 1))
    for k, label in ((0, "as it is"), (1, "negative"), (2, "dark mode")):
        means = [sum(r[k] for r in v) / len(v) for v in rows.values()]
        print(f"| {label} | " + " | ".join(f"{m:.4f}" for m in means) + f" | {sum(means) / len(means):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
