"""Two-level scans: page NED of held-out generated pages made bilevel, read as given and softened.

    .venv/bin/python benchmarks/bench_bilevel.py [--cache DIR] [--per-language 3] [--json out.json]

Each page of the benchmark's held-out set (seed 0, as ``polyocr eval --generated``) is made two-level
the two ways scanners do it: thresholded (Otsu, as a fax or a 1-bit archive scan) and dithered
(Floyd-Steinberg, as a 1-bit scan of a gray page), saved as 1-bit Group 4 TIFF and read back. Each is
read with ``bilevel_blur=0`` (as given) and with the default softening (``pipeline/bilevel.py``), and
the page as generated is read too, for reference. NED with whitespace removed, per language.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from polyocr.eval.datasets import generate_heldout_pages
from polyocr.eval.metrics import ned
from polyocr.languages import LANGUAGES
from polyocr.pipeline.pipeline import Pipeline, ReadConfig


def two_level(gray: np.ndarray, how: str) -> Image.Image:
    """A 1-bit page, through a Group 4 TIFF round trip (what a scanner would hand over)."""
    if how == "threshold":
        _, bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        img = Image.fromarray(bw).convert("1", dither=Image.Dither.NONE)
    else:
        img = Image.fromarray(gray).convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    buf = io.BytesIO()
    img.save(buf, format="TIFF", compression="group4")
    buf.seek(0)
    return Image.open(buf).copy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/polyocr/eval-pages"))
    ap.add_argument("--per-language", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    pages = generate_heldout_pages(args.cache, list(LANGUAGES), args.per_language, seed=0)
    soft, plain = Pipeline(ReadConfig()), Pipeline(ReadConfig(bilevel_blur=0))
    columns = ("original", "threshold, as given", "threshold, softened", "dither, as given", "dither, softened")
    rows: dict[str, dict[str, list[float]]] = {lang: {c: [] for c in columns} for lang in LANGUAGES}

    def score(pipe: Pipeline, image, truth: str) -> float:
        return ned("".join(pipe.read_image(image).text.split()), "".join(truth.split()))

    for n, page in enumerate(pages, 1):
        with Image.open(page.image) as im:
            rgb = im.convert("RGB")
        gray = np.asarray(rgb.convert("L"))
        r = rows[page.language]
        r["original"].append(score(soft, rgb, page.text))
        for how in ("threshold", "dither"):
            bw = two_level(gray, how)
            r[f"{how}, as given"].append(score(plain, bw, page.text))
            r[f"{how}, softened"].append(score(soft, bw, page.text))
        print(f"  {n}/{len(pages)} {page.id}: " + ", ".join(f"{c} {v[-1]:.3f}" for c, v in r.items()), file=sys.stderr)
    print("\n| language | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    means = {}
    for lang, r in rows.items():
        if r["original"]:
            print(f"| {lang} | " + " | ".join(f"{np.mean(v):.4f}" for v in r.values()) + " |")
    for c in columns:
        means[c] = float(np.mean([np.mean(r[c]) for r in rows.values() if r[c]]))
    print("| **mean** | " + " | ".join(f"**{means[c]:.4f}**" for c in columns) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"languages": rows, "mean": means}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
