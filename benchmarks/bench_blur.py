"""Blurred pages: held-out pages read out of focus, with and without sharpening blurred lines.

    .venv/bin/python benchmarks/bench_blur.py [--per-language 2] [--cache out/bench-blur/pages]

A phone photo out of focus, or a scan through a dirty lens, softens every edge. Each held-out
generated page (200 dpi) is read as it is and after a Gaussian blur of σ 1, 1.5 and 2 px. It is read
by the pipeline with its defaults, once with line sharpening off (``recognize.BLURRED`` set to
infinity for the run) and once as shipped: a line crop whose estimated blur
(``recognize.blur_sigma``) is over ``BLURRED`` gets an unsharp mask. The table prints page NED
(whitespace removed) per language and the share of line crops the gate sharpened.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import polyocr.pipeline.recognize as recognize  # noqa: E402
from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.metrics import score_text  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402

LEVELS = (0.0, 1.0, 1.5, 2.0)
SHIPPED = recognize.BLURRED


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-blur/pages")
    a = ap.parse_args()

    pages = generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed, degrade="mixed")
    pipe = Pipeline(ReadConfig())
    counted = {"crops": 0, "sharpened": 0}
    sharpen = recognize.sharpen_blurred

    def counting(gray: np.ndarray) -> np.ndarray:
        out = sharpen(gray)
        counted["crops"] += 1
        counted["sharpened"] += out is not gray
        return out

    recognize.sharpen_blurred = counting
    ned: dict[tuple[float, str, str], list[float]] = {}
    share: dict[float, float] = {}
    for level in LEVELS:
        for gate, name in ((float("inf"), "off"), (SHIPPED, "on")):
            recognize.BLURRED = gate
            counted.update(crops=0, sharpened=0)
            for page in pages:
                with Image.open(page.image) as im:
                    rgb = np.asarray(im.convert("RGB"))
                soft = cv2.GaussianBlur(rgb, (0, 0), level) if level else rgb
                ned.setdefault((level, name, page.language), []).append(
                    score_text(pipe.read_image(soft).text, page.text).ned_nows)
            if name == "on":
                share[level] = counted["sharpened"] / max(counted["crops"], 1)
        print(f"σ {level} done", file=sys.stderr, flush=True)
    recognize.BLURRED = SHIPPED
    langs = list(dict.fromkeys(p.language for p in pages))
    print(f"Page NED (whitespace removed), {a.per_language} held-out pages a language, seed {a.seed}; "
          f"lines sharpened above an estimated blur of {SHIPPED} (32-px line units)\n")
    print("| blur σ (px, 200 dpi) | sharpening | " + " | ".join(langs) + " | mean | crops sharpened |")
    print("|---|---|" + "---|" * (len(langs) + 2))
    for level in LEVELS:
        for name in ("off", "on"):
            means = [float(np.mean(ned[(level, name, lang)])) for lang in langs]
            extra = f"{share[level]:.1%}" if name == "on" else ""
            print(f"| {level:g} | {name} | " + " | ".join(f"{m:.4f}" for m in means) + f" | {np.mean(means):.4f} | {extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
