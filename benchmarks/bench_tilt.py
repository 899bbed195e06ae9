"""Tilted pages: page NED at tilts from -25° to 45°, with and without levelling the page first.

    .venv/bin/python benchmarks/bench_tilt.py [--cache DIR] [--per-language 2] [--angles 0,3,7,12,20,30,45,-25]
        [--json out.json]

Pages: the eight bundled ``samples/*.jpg`` and the first ``--per-language`` held-out generated
pages of each language (seed 0, as ``polyocr eval --generated``). Each is turned by each angle
(counter-clockwise, the canvas grown to hold it, filled with the page's own border colour) and read
with ``ReadConfig(deskew=False)`` and with the default (``Pipeline._level``). NED with whitespace
removed; a table per method, one row per angle, and how many pages were levelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from polyocr.eval.datasets import generate_heldout_pages
from polyocr.eval.metrics import ned
from polyocr.languages import LANGUAGES
from polyocr.pipeline.pipeline import Pipeline, ReadConfig

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def turned(image: Image.Image, angle: float) -> Image.Image:
    border = np.concatenate([np.asarray(image)[0], np.asarray(image)[-1]])
    fill = tuple(int(v) for v in np.median(border, axis=0))
    return image.rotate(angle, expand=True, fillcolor=fill, resample=Image.BICUBIC)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/polyocr/eval-pages"))
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--angles", default="0,3,7,12,20,30,45,-25")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    angles = [float(a) for a in args.angles.split(",")]
    pages = [(p.stem, p, p.with_suffix(".txt").read_text(encoding="utf-8")) for p in sorted(SAMPLES.glob("*.jpg"))]
    pages += [(p.id, p.image, p.text) for p in generate_heldout_pages(args.cache, list(LANGUAGES), args.per_language)]
    methods = {"as given": Pipeline(ReadConfig(deskew=False)), "levelled": Pipeline(ReadConfig())}
    scores = {m: {a: [] for a in angles} for m in methods}
    levelled = {a: 0 for a in angles}
    for n, (pid, path, truth) in enumerate(pages, 1):
        with Image.open(path) as im:
            page = im.convert("RGB")
        truth = "".join(truth.split())
        for a in angles:
            image = turned(page, a)
            for m, pipe in methods.items():
                got = pipe.read_image(image)
                scores[m][a].append(ned("".join(got.text.split()), truth))
                if m == "levelled" and got.meta.get("deskew", 0.0):
                    levelled[a] += 1
        print(f"  {n}/{len(pages)} {pid}: " + ", ".join(f"{a:g}° {scores['as given'][a][-1]:.3f}/{scores['levelled'][a][-1]:.3f}"
                                                        for a in angles), file=sys.stderr)
    print(f"\n{len(pages)} pages ({len(pages) - 8} generated + 8 samples), mean page NED (whitespace removed)")
    print("| tilt | " + " | ".join(f"{a:g}°" for a in angles) + " |")
    print("|---|" + "---|" * len(angles))
    for m in methods:
        print(f"| {m} | " + " | ".join(f"{np.mean(scores[m][a]):.3f}" for a in angles) + " |")
    print("| pages levelled | " + " | ".join(f"{levelled[a]}/{len(pages)}" for a in angles) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"angles": angles, "scores": {m: {str(a): v for a, v in s.items()}
                                                                            for m, s in scores.items()},
                                               "levelled": {str(a): v for a, v in levelled.items()}}, indent=1),
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
