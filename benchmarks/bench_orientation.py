"""Whole-page orientation: each page turned by 0/90/180/270°, is the turn that makes it upright found?

    .venv/bin/python benchmarks/bench_orientation.py [--heldout-pages 8] [--no-old] [--weights DIR] [--json out.json]

Pages: the bundled ``samples/*.jpg`` and the first ``--heldout-pages`` pages of
/work/data/pages-heldout-v1 (generator pages with held-out fonts; 48 there, 4 of them vertical
Japanese/Chinese). Each page is given as ``np.rot90(page, k)`` for k = 0..3; the right answer is the
turn ``(-k) % 4``, i.e. ``page.meta["rotation"] == (-k * 90) % 360``. Only the orientation decision
runs (detector, then the probe on the detected lines), exactly as ``Pipeline.read_image`` calls it.

"new" is the glyph-orientation classifier (``Pipeline._probe``, orientation.onnx); "old" is the
probe it replaced (recogniser confidence both ways, plus a script check on vertical boxes), kept
here for the comparison. Times: the probe alone per page (median), without the second detection a
turned page gets (``page.meta["seconds"]["orientation"]`` includes that).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = Path("/work/data/pages-heldout-v1")


def old_probe(pipe, rgb: np.ndarray, lines: list, n: int = 6) -> int:
    """The recogniser-confidence probe polyocr used before the orientation classifier."""
    from polyocr.pipeline.language import script_of
    from polyocr.pipeline.pipeline import probe_crops

    is_vertical, crops = probe_crops(rgb, lines, pipe.margin, n)
    if not crops:
        return 0
    rec = pipe.recognizer
    if not is_vertical:
        a = rec.recognize(crops, [False] * len(crops))
        b = rec.recognize([np.ascontiguousarray(c[::-1, ::-1]) for c in crops], [False] * len(crops))
        wins = sum(rb.confidence > ra.confidence + 0.05 for ra, rb in zip(a, b))
        return 2 if wins > len(crops) / 2 else 0
    ccw = rec.recognize(crops, [True] * len(crops))
    cw = rec.recognize([np.ascontiguousarray(np.rot90(c, -1)) for c in crops], [False] * len(crops))
    wins = sum(rb.confidence > ra.confidence + 0.05 for ra, rb in zip(ccw, cw))
    if wins > len(crops) / 2:
        return -1
    letters = [script_of(ch) for r in ccw for ch in r.text if script_of(ch)]
    cjk = sum(s in ("han", "kana", "hangul") for s in letters)
    if letters and cjk < 0.5 * len(letters):
        return 1
    return 0


def pages(n_heldout: int) -> list[tuple[str, str, bool, Path]]:
    """(name, language, vertical page, image path) of the benchmark pages."""
    out = []
    for path in sorted((ROOT / "samples").glob("*.jpg")):
        lang = path.stem.rsplit("-", 1)[0]
        out.append((f"samples/{path.name}", lang, "vertical" in path.stem, path))
    for path in sorted(HELDOUT.glob("*.png"))[:n_heldout]:
        page = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["pages"][0]
        out.append((f"heldout/{path.name}", page["language"], page["meta"].get("layout") == "vertical", path))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout-pages", type=int, default=8, help="how many of the held-out pages (there are 48)")
    ap.add_argument("--no-old", action="store_true", help="skip the old probe")
    ap.add_argument("--weights", default=None, help="folder with orientation.onnx + .json (default: packaged)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="", help="write the results here")
    args = ap.parse_args()

    from PIL import Image

    from polyocr.pipeline.pipeline import GlyphOrientation, Pipeline, ReadConfig

    pipe = Pipeline(ReadConfig(threads=args.threads), orientation=GlyphOrientation(args.weights))
    probes = {"new": pipe._probe} if args.no_old else {"new": pipe._probe, "old": lambda rgb, ln: old_probe(pipe, rgb, ln)}
    rows: dict[str, dict[str, list[bool]]] = {}
    seconds: dict[str, list[float]] = {name: [] for name in probes}
    misses: list[str] = []
    todo = pages(args.heldout_pages)
    if not todo:
        print("no pages found", file=sys.stderr)
        return 2
    for name, lang, vertical, path in todo:
        image = np.asarray(Image.open(path).convert("RGB"))
        for k in range(4):
            rgb = np.ascontiguousarray(np.rot90(image, k))
            lines = pipe.detector.detect(rgb)
            for probe_name, probe in probes.items():
                t0 = time.perf_counter()
                got = probe(rgb, lines) if lines else 0
                seconds[probe_name].append(time.perf_counter() - t0)
                good = (got + k) % 4 == 0
                for key in (lang, "vertical pages" if vertical else "horizontal pages", "all"):
                    rows.setdefault(key, {}).setdefault(probe_name, []).append(good)
                if not good:
                    misses.append(f"{probe_name}: {name} turned k={k} → rotation {(got % 4) * 90}, want {(-k % 4) * 90}")
    names = list(probes)
    print(f"{len(todo)} pages × 4 turns; right / total")
    print("| pages | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    order = sorted(k for k in rows if k not in ("all", "vertical pages", "horizontal pages"))
    for key in order + ["horizontal pages", "vertical pages", "all"]:
        if key in rows:
            cells = [f"{sum(rows[key][p])}/{len(rows[key][p])}" for p in names]
            print(f"| {key} | " + " | ".join(cells) + " |")
    for p in names:
        print(f"{p} probe: median {1000 * float(np.median(seconds[p])):.1f} ms per page")
    for m in misses:
        print("MISS", m)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "pages": len(todo), "rows": {k: {p: [sum(v), len(v)] for p, v in r.items()} for k, r in rows.items()},
            "probe_ms_median": {p: 1000 * float(np.median(s)) for p, s in seconds.items()}, "misses": misses}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
