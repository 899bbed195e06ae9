"""Line detection on held-out generated pages (held-out fonts and text): precision / recall / F1 at IoU 0.5.

    .venv/bin/python benchmarks/bench_det.py [--pages DIR] [--count 48] [--json out.json]

Without ``--pages`` it generates ``--count`` pages with ``polyocr synth pages --split heldout`` into
``out/bench/det-pages`` (reused on later runs). Lines thinner than 6 px at the detector's scale
(tiny footnotes at 200 dpi are ~10 px) are still counted: nothing is excluded from the ground truth.
Prints one table by language and one by layout, plus detector seconds per page.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from polyocr.document import Document
from polyocr.eval.detection import DetectionScore, match_lines
from polyocr.pipeline.detect import LineDetector
from polyocr.train.det_targets import line_quads


def ensure_pages(folder: Path, count: int, seed: int) -> list[Path]:
    if not list(folder.glob("*.json")):
        subprocess.run([sys.executable, "-m", "polyocr.cli", "synth", "pages", "--out", str(folder), "--split", "heldout",
                        "--count", str(count), "--seed", str(seed), "--workers", "2", "--format", "folder",
                        "--image-format", "png", "--shard-size", str(count), "--quiet"], check=True)
    return sorted(p for p in folder.glob("*.json") if p.name[0].isdigit())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default="out/bench/det-pages")
    ap.add_argument("--count", type=int, default=48)
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-marks", action="store_true", help="without detect.take_marks (list marks given back to lines)")
    args = ap.parse_args()
    paths = ensure_pages(Path(args.pages), args.count, args.seed)
    det = LineDetector(args.weights, threads=args.threads)
    by_lang: dict[str, DetectionScore] = defaultdict(DetectionScore)
    by_layout: dict[str, DetectionScore] = defaultdict(DetectionScore)
    seconds = []
    for p in paths:
        doc = Document.from_json(p.read_text(), check=False)
        page = doc.pages[0]
        image_path = next(p.with_suffix(s) for s in (".png", ".jpg") if p.with_suffix(s).exists())
        image = np.asarray(Image.open(image_path).convert("RGB"))
        t = time.perf_counter()
        found = det.detect(image, marks=not args.no_marks)
        seconds.append(time.perf_counter() - t)
        score = match_lines([d.quad for d in found], [q.points for q in line_quads(page)])
        by_lang[page.language] += score
        by_layout[str(page.meta.get("layout", "?"))] += score
    total = sum(by_lang.values(), DetectionScore())

    def table(title: str, rows: dict[str, DetectionScore]) -> None:
        print(f"\n| {title} | lines | precision | recall | F1 |\n|---|---:|---:|---:|---:|")
        for k in sorted(rows):
            s = rows[k]
            print(f"| {k} | {s.tp + s.fn} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} |")
        print(f"| **all** | {total.tp + total.fn} | {total.precision:.3f} | {total.recall:.3f} | {total.f1:.3f} |")

    print(f"{len(paths)} held-out pages, IoU ≥ 0.5")
    table("language", by_lang)
    table("layout", by_layout)
    print(f"\ndetector: {np.mean(seconds):.3f} s/page mean, {np.median(seconds):.3f} median ({args.threads} threads, "
          "onnxruntime, includes resizing and post-processing)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "pages": len(paths), "all": vars(total) | {"f1": total.f1},
            "language": {k: vars(v) | {"f1": v.f1} for k, v in by_lang.items()},
            "layout": {k: vars(v) | {"f1": v.f1} for k, v in by_layout.items()},
            "seconds_per_page": float(np.mean(seconds))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
