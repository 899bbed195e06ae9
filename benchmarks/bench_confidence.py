"""Are the confidences probabilities? Raw scores against the shipped calibration, per word and per line.

    .venv/bin/python benchmarks/bench_confidence.py [--cache DIR] [--per-language 10] [--realdev DIR]
        [--readings-generated DIR] [--readings-realdev DIR] [--json out.json]

Reads the benchmark's held-out generated pages (seed 0, held-out fonts: the pages of ``polyocr eval
--generated``, never the calibration's seed-888 pages) and, with ``--realdev``, the real pages, all
with raw confidences; labels every word and line right or wrong against the ground truth
(:mod:`polyocr.eval.confidence`); and scores the raw scores and the calibrated ones on the same
readings: expected calibration error (10 bins), Brier score, AUROC (pooled, and the mean of each
language's), and among units at 0.9 or more: the share kept and the share of them right.
``--readings-*`` reuse readings made before with ``polyocr read --raw-confidence -f json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from polyocr.document import Document
from polyocr.eval.confidence import (LabelledLine, label_page, read_labelled, score_confidences, truth_from_page,
                                     truth_from_realdev, units)
from polyocr.eval.datasets import generate_heldout_pages, load_realdev
from polyocr.languages import LANGUAGES
from polyocr.pipeline.confidence import load_calibration


def read_set(pages: list[tuple[str, Path, list]], readings: str | None, weights: str | None) -> list[LabelledLine]:
    if readings:
        return read_labelled(readings, {pid: truth for pid, _, truth in pages})
    from polyocr.pipeline.pipeline import Pipeline, ReadConfig

    pipe = Pipeline(ReadConfig(calibrated=False, weights=weights))
    out: list[LabelledLine] = []
    for n, (pid, image, truth) in enumerate(pages, 1):
        for page in pipe.read(image).pages:
            out += label_page(page, truth)
        if n % 20 == 0 or n == len(pages):
            print(f"  {n}/{len(pages)} pages", file=sys.stderr)
    return out


def lang_auroc(conf: list[float], right: list[bool], langs: list[str]) -> float:
    vals = []
    for lang in sorted(set(langs)):
        idx = [i for i, x in enumerate(langs) if x == lang]
        a = score_confidences([conf[i] for i in idx], [right[i] for i in idx]).auroc
        if not np.isnan(a):
            vals.append(a)
    return float(np.mean(vals)) if vals else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=str(Path.home() / ".cache/polyocr/eval-pages"),
                    help="held-out page cache, as `polyocr eval --generated --cache`")
    ap.add_argument("--per-language", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--realdev", default=None, help="a realdev build (real pages, evaluation only)")
    ap.add_argument("--readings-generated", default=None)
    ap.add_argument("--readings-realdev", default=None)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cal = load_calibration(args.weights)
    if cal is None:
        print("the weights folder has no confidence.json: nothing to compare", file=sys.stderr)
        return 2

    sets: dict[str, list[LabelledLine]] = {}
    gen = generate_heldout_pages(args.cache, list(LANGUAGES), args.per_language, seed=args.seed)
    pages = [(p.id, p.image, truth_from_page(Document.from_json(p.image.with_suffix(".json").read_text(
        encoding="utf-8")).pages[0])) for p in gen]
    print(f"generated: {len(pages)} pages (seed {args.seed})", file=sys.stderr)
    sets["generated"] = read_set(pages, args.readings_generated, args.weights)
    if args.realdev:
        real = load_realdev(args.realdev)
        pages = [(p.id, p.image, truth_from_realdev(args.realdev, p.id)) for p in real]
        print(f"realdev: {len(pages)} pages", file=sys.stderr)
        sets["realdev"] = read_set(pages, args.readings_realdev, args.weights)

    results: dict[str, dict] = {}
    print("\n| pages | unit | n | right | mean conf raw / cal | ECE raw / cal | Brier raw / cal | AUROC raw / cal "
          "| per-language AUROC raw / cal | ≥ 0.9 kept, right: raw | cal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, lines in sets.items():
        for kind in ("word", "line"):
            c0, y, langs = units(lines, kind)
            c1, _, _ = units(lines, kind, cal)
            a, b = score_confidences(c0, y), score_confidences(c1, y)
            la, lb = lang_auroc(c0, y, langs), lang_auroc(c1, y, langs)
            ka, kb = a.kept[0.9], b.kept[0.9]
            print(f"| {name} | {kind} | {a.n} | {a.accuracy:.3f} | {a.mean_confidence:.3f} / {b.mean_confidence:.3f} "
                  f"| {a.ece:.3f} / **{b.ece:.3f}** | {a.brier:.3f} / {b.brier:.3f} | {a.auroc:.3f} / {b.auroc:.3f} "
                  f"| {la:.3f} / {lb:.3f} | {ka[0]:.2f}, {ka[1]:.3f} | {kb[0]:.2f}, {kb[1]:.3f} |")
            per_lang = {}
            for lang in LANGUAGES:
                idx = [i for i, x in enumerate(langs) if x == lang]
                if idx:
                    sa = score_confidences([c0[i] for i in idx], [y[i] for i in idx])
                    sb = score_confidences([c1[i] for i in idx], [y[i] for i in idx])
                    per_lang[lang] = {"n": sa.n, "right": sa.accuracy, "raw": sa.as_dict(), "calibrated": sb.as_dict()}
            results[f"{name}/{kind}"] = {"raw": a.as_dict(), "calibrated": b.as_dict(), "language_auroc":
                                         [la, lb], "languages": per_lang}
    for name in sets:
        for kind in ("word", "line"):
            langs = results[f"{name}/{kind}"]["languages"]
            print(f"\n{name}, {kind}s: share right / mean confidence raw / calibrated, per language")
            print("| " + " | ".join(langs) + " |")
            print("|" + "---|" * len(langs))
            print("| " + " | ".join(f"{v['right']:.2f} / {v['raw']['mean_confidence']:.2f} / "
                                   f"{v['calibrated']['mean_confidence']:.2f}" for v in langs.values()) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
