"""Photographed pages: held-out pages seen at an angle on a desk, read with and without squaring them.

    .venv/bin/python benchmarks/bench_keystone.py [--per-language 2] [--cache out/bench-keystone/pages]

Each held-out generated page (200 dpi) is photographed at an angle onto a dark desk: its top edge
shortened by a keystone of 12 % or 20 % of the width, either wholly on the desk or running off the
frame at the bottom. It is read by the pipeline with its defaults, once with ``keystone`` off and once
on (pipeline.keystone: the page found against the desk and warped square). Pages come from the
"mixed" held-out set and from tables and forms, the layouts a keystone hurts. The table prints page
NED (whitespace removed) per language, how many pages were found, and the worst corner error.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.metrics import score_text  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.keystone import find_page  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402

DESK = (90, 80, 70)


def corners(w: int, h: int, keystone: float, on_desk: bool) -> np.ndarray:
    """Where the page's corners land in a photo of its own size (top-left, top-right, bottom-right,
    bottom-left): the top edge drawn in by ``keystone`` of the width, more on the left."""
    if on_desk:
        return np.float32([[w * (0.05 + keystone), h * 0.05], [w * (0.95 - 0.6 * keystone), h * 0.04],
                           [w * 0.97, h * 0.96], [w * 0.03, h * 0.95]])
    return np.float32([[w * keystone, h * 0.03], [w * (1 - 0.6 * keystone), 0], [w, h], [0, h * 0.98]])


def photograph(rgb: np.ndarray, seen: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    flat = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.warpPerspective(rgb, cv2.getPerspectiveTransform(flat, seen), (w, h), flags=cv2.INTER_AREA,
                               borderValue=DESK)


VIEWS = {"flat": None, "12 %, on the desk": (0.12, True), "12 %, off the frame": (0.12, False),
         "20 %, on the desk": (0.20, True), "20 %, off the frame": (0.20, False)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-keystone/pages")
    a = ap.parse_args()

    langs = list(LANGUAGES)
    pages = generate_heldout_pages(a.cache, langs, a.per_language, seed=a.seed, degrade="mixed")
    pages += generate_heldout_pages(a.cache, langs, 1, seed=a.seed, degrade="mixed", layouts=("table", "form"))
    on = Pipeline(ReadConfig())
    off = Pipeline(ReadConfig(keystone=False), on.detector, on.recognizer, on.orderer, on.orientation)
    ned: dict[tuple[str, str, str], list[float]] = {}
    found: dict[str, int] = {}
    worst: dict[str, float] = {}
    for view, how in VIEWS.items():
        found[view], worst[view] = 0, 0.0
        for page in pages:
            with Image.open(page.image) as im:
                rgb = np.asarray(im.convert("RGB"))
            h, w = rgb.shape[:2]
            seen = corners(w, h, *how) if how else None
            photo = photograph(rgb, seen) if how else rgb
            quad = find_page(photo)
            if quad is not None:
                found[view] += 1
                if seen is not None:
                    worst[view] = max(worst[view], float(np.abs(quad - seen).max()) / max(h, w))
            for name, pipe in (("off", off), ("on", on)):
                ned.setdefault((view, name, page.language), []).append(
                    score_text(pipe.read_image(photo).text, page.text).ned_nows)
        print(f"{view} done", file=sys.stderr, flush=True)
    print(f"Page NED (whitespace removed), {a.per_language} held-out pages a language and a table or form "
          f"page each, seed {a.seed}\n")
    print("| keystone | squared | " + " | ".join(langs) + " | mean | pages found | worst corner error |")
    print("|---|---|" + "---|" * (len(langs) + 3))
    for view in VIEWS:
        for name in ("off", "on"):
            means = [float(np.mean(ned[(view, name, lang)])) for lang in langs]
            extra = f"{found[view]}/{len(pages)} | {worst[view]:.2%}" if name == "on" else " | "
            print(f"| {view} | {name} | " + " | ".join(f"{m:.4f}" for m in means) + f" | {np.mean(means):.4f} | {extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
