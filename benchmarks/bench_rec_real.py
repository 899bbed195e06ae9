"""Line recogniser on REAL text lines: crops of the real typeset pages of ``../shared/realdev``
(ground-truth line boxes from ``<id>.lines.json``), beside Tesseract 5 on the same crops
(``--psm 7``, each page's own language pack). Evaluation only: these pages are never trained on.

    .venv/bin/python benchmarks/bench_rec_real.py --realdev /work/data/realdev [--per-language 60]
                                                  [--no-tesseract] [--json out.json]

Build the pages first with ``../shared/realdev/build.sh OUTDIR``. Lines are taken evenly across each
language's pages (every k-th line, deterministic), skipping lines under 3 characters (page numbers) and lines the build painted over (their box inside
its masked regions with no ink left: ``polyocr.eval.datasets.hidden_lines``; a blank crop has nothing to read).
Each crop is the line box plus ``--margin`` × its height on every side (0.15 by default, the figure all
earlier sessions used; these typeset boxes are the font's full height, roomier than detected boxes, for
which the pipeline uses ``CROP_MARGIN``), with whatever of other lines' boxes that margin catches painted
in the crop's background (``--neighbours blank``, from session 16: on tightly set Hebrew the margin took
in the next line's ascenders, which no line detector hands over; ``keep`` gives the earlier crops). NED per line after ``polyocr.eval.metrics.normalize`` (whitespace kept; removed for zh/ja),
averaged per language. ``+LM``: the same readings with the language's character n-gram model choosing
among doubtful characters (the page pipeline's default; "better" compares that column).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

CJK = {"zh-Hans", "zh-Hant", "ja"}


def _blank_neighbours(crop: np.ndarray, left: int, top: int, own: list[float], others: list[list[float]]) -> np.ndarray:
    """``crop`` (cut from the page at ``left``, ``top``) with the parts of other lines' boxes that lie
    outside its own line's box painted in its background (the crop's median): the margin of a line
    set tightly reaches into the next line's ascenders, which no line detector would hand over."""
    out = crop.copy()
    bg = int(np.median(crop))
    h, w = crop.shape
    ox0, oy0, ox1, oy1 = (int(round(v)) for v in own)
    keep = np.zeros((h, w), bool)
    keep[max(0, oy0 - top):max(0, oy1 - top), max(0, ox0 - left):max(0, ox1 - left)] = True
    for x0, y0, x1, y1 in others:
        r0, r1 = max(0, int(y0) - top), min(h, int(round(y1)) - top)
        c0, c1 = max(0, int(x0) - left), min(w, int(round(x1)) - left)
        if r0 < r1 and c0 < c1:
            region = out[r0:r1, c0:c1]
            region[~keep[r0:r1, c0:c1]] = bg
    return out


def _lines(realdev: Path, per_language: int, margin: float = 0.15,
           neighbours: str = "blank") -> dict[str, list[tuple[np.ndarray, str]]]:
    from polyocr.eval.datasets import hidden_lines

    rows = list(csv.DictReader((realdev / "index.tsv").open(), delimiter="\t"))
    by_lang: dict[str, list[tuple[str, dict, list[list[float]]]]] = {}
    painted = 0
    for row in rows:
        data = json.loads((realdev / f"{row['id']}.lines.json").read_text())
        hidden = hidden_lines(data, realdev / f"{row['id']}.png")
        painted += len(hidden)
        for i, ln in enumerate(data["lines"]):
            if len("".join(ln["text"].split())) >= 3 and i not in hidden:
                others = [o["bbox"] for j, o in enumerate(data["lines"]) if j != i]
                by_lang.setdefault(row["lang"], []).append((row["id"], ln, others))
    print(f"{painted} ground-truth lines left out: painted over by the realdev build", file=sys.stderr)
    out: dict[str, list[tuple[np.ndarray, str]]] = {}
    pages: dict[str, np.ndarray] = {}
    for lang, items in sorted(by_lang.items()):
        step = max(1, len(items) // per_language)
        for page_id, ln, others in items[::step][:per_language]:
            if page_id not in pages:
                pages = {page_id: np.asarray(Image.open(realdev / f"{page_id}.png").convert("L"))}
            img = pages[page_id]
            x0, y0, x1, y1 = ln["bbox"]
            m = margin * (y1 - y0)
            top, left = max(0, int(y0 - m)), max(0, int(x0 - m))
            crop = img[top:int(y1 + m) + 1, left:int(x1 + m) + 1]
            if crop.size and neighbours == "blank":
                crop = _blank_neighbours(crop, left, top, ln["bbox"], others)
            if crop.size:
                out.setdefault(lang, []).append((np.ascontiguousarray(crop), ln["text"]))
    return out


def _tesseract(image: np.ndarray, pack: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        Image.fromarray(image).save(f.name)
        r = subprocess.run(["tesseract", f.name, "-", "--psm", "7", "-l", pack], capture_output=True, text=True,
                           env={**os.environ, "OMP_THREAD_LIMIT": "1"}, timeout=60)
    return r.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdev", required=True)
    ap.add_argument("--per-language", type=int, default=60)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--margin", type=float, default=0.15, help="room around each line box, × its height")
    ap.add_argument("--neighbours", choices=("blank", "keep"), default="blank",
                    help="paint over what of other lines' boxes a crop's margin catches (blank, default), or keep it "
                         "(the crops of sessions up to 15)")
    ap.add_argument("--no-tesseract", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--lm-weight", type=float, default=None,
                    help="the character models' weight for every language (default: the shipped weight per language; 0 = off)")
    args = ap.parse_args()

    from polyocr.eval.metrics import ned
    from polyocr.languages import LANGUAGES
    from polyocr.pipeline.recognize import Recognizer
    from polyocr.pipeline.rescore import RescoreConfig, language_models, rescore_page

    realdev = Path(args.realdev)
    if not (realdev / "index.tsv").exists():
        print(f"{realdev}: no index.tsv; build it with ../shared/realdev/build.sh {realdev}", file=sys.stderr)
        return 2
    sets = _lines(realdev, args.per_language, args.margin, args.neighbours)
    rec = Recognizer(args.weights)
    lms = language_models(args.weights) if args.lm_weight != 0 else None
    results = {}
    print(f"{'lang':<8} {'lines':>5} {'polyocr NED':>12} {'+LM NED':>8} {'tesseract NED':>14}  better")
    for lang, items in sets.items():
        images, truth = [i for i, _ in items], [t for _, t in items]
        readings = rec.read(images, vertical=[False] * len(images), directions=[LANGUAGES[lang].direction] * len(images))
        preds = [r.line.text for r in readings]
        ws = "remove" if lang in CJK else "keep"
        ours = float(np.mean([ned(p, t, ws) for p, t in zip(preds, truth)]))
        r = {"lines": len(items), "polyocr_ned": ours}
        if lms is not None:
            lm_preds = [x.line.text for x in rescore_page(readings, [lang] * len(readings), lms, rec.charset,
                                                          RescoreConfig(weight=args.lm_weight))]
            r["lm_ned"] = float(np.mean([ned(p, t, ws) for p, t in zip(lm_preds, truth)]))
        if not args.no_tesseract:
            tess = [_tesseract(im, LANGUAGES[lang].tesseract) for im in images]
            r["tesseract_ned"] = float(np.mean([ned(p, t, ws) for p, t in zip(tess, truth)]))
        results[lang] = r
        t = f"{r['tesseract_ned']:>14.3f}" if "tesseract_ned" in r else f"{'-':>14}"
        best = r.get("lm_ned", ours)
        better = "" if "tesseract_ned" not in r else ("polyocr" if best < r["tesseract_ned"] else "tesseract")
        lm = f"{r['lm_ned']:>8.3f}" if "lm_ned" in r else f"{'-':>8}"
        print(f"{lang:<8} {len(items):>5} {ours:>12.3f} {lm} {t}  {better}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
