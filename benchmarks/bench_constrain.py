"""Ablation: pages read with and without one decoding stage: language-constrained re-decoding
(``--stage constrain``, polyocr.pipeline.constrain) or the character language model
(``--stage lm``, polyocr.pipeline.rescore).

    .venv/bin/python benchmarks/bench_constrain.py [--stage constrain|lm] [--generated /work/data/eval/pages]
        [--realdev /work/data/realdev] [--weights src/polyocr/weights] [--threads 2]

Both readings come from the same weights and the same detection; the only difference is
``ReadConfig.constrain_scripts`` or ``ReadConfig.language_model``. Also prints seconds per page
each way (one process; compare within a run). Prints page NED (whitespace removed, as `polyocr eval`) per
language and set, both ways, and how many lines the constraint changed. The weights must export
per-frame alternatives (model.json "alternatives" > 0), or nothing changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generated", default="", help="cache folder of generated held-out pages (`polyocr eval --generated --cache`)")
    ap.add_argument("--per-language", type=int, default=10)
    ap.add_argument("--realdev", default="", help="a built realdev folder")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stage", choices=("constrain", "lm"), default="constrain")
    args = ap.parse_args()

    import numpy as np

    from polyocr.eval.datasets import generate_heldout_pages, load_realdev
    from polyocr.languages import LANGUAGES
    from polyocr.eval.metrics import score_text
    from polyocr.pipeline.pipeline import Pipeline, ReadConfig

    sets = {}
    if args.generated:
        sets["generated"] = generate_heldout_pages(args.generated, list(LANGUAGES), args.per_language)
    if args.realdev:
        sets["realdev"] = load_realdev(args.realdev)
    if not sets:
        print("give --generated and/or --realdev", file=sys.stderr)
        return 2
    on = Pipeline(ReadConfig(threads=args.threads, weights=args.weights))
    if not on.recognizer.alternatives:
        print(f"the recogniser in {on.recognizer.folder} exports no alternatives: re-export it", file=sys.stderr)
        return 2
    off_cfg = {"constrain": {"constrain_scripts": False}, "lm": {"language_model": False}}[args.stage]
    off = Pipeline(ReadConfig(threads=args.threads, weights=args.weights, **off_cfg))
    if args.stage == "lm" and on.lms is None:
        print(f"no charlm.safetensors in {on.recognizer.folder}", file=sys.stderr)
        return 2
    for name, pages in sets.items():
        ned: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        changed = total = 0
        seconds = {"off": 0.0, "on": 0.0}
        for p in pages:
            docs = {}
            for mode, pipe in (("off", off), ("on", on)):
                t0 = time.perf_counter()
                docs[mode] = pipe.read(str(p.image))
                seconds[mode] += time.perf_counter() - t0
            for mode, doc in docs.items():
                ned[p.language][mode].append(score_text(doc.text, p.text).ned_nows)
            lines = {mode: [ln.text for pg in doc.pages for b in pg.blocks for ln in b.lines] for mode, doc in docs.items()}
            total += len(lines["on"])
            changed += sum(t not in set(lines["off"]) for t in lines["on"])
        print(f"\n{name}: {len(pages)} pages; the {args.stage} stage changed {changed} of {total} lines; "
              f"s/page off {seconds['off'] / len(pages):.3f}, on {seconds['on'] / len(pages):.3f}")
        print(f"{'lang':<8} {'pages':>5} {'NED off':>8} {'NED on':>8} {'Δ':>8}")
        offs, ons = [], []
        for lang in sorted(ned):
            a, b = float(np.mean(ned[lang]["off"])), float(np.mean(ned[lang]["on"]))
            offs.append(a)
            ons.append(b)
            print(f"{lang:<8} {len(ned[lang]['on']):>5} {a:>8.3f} {b:>8.3f} {b - a:>+8.3f}")
        print(f"{'mean':<8} {'':>5} {np.mean(offs):>8.3f} {np.mean(ons):>8.3f} {np.mean(ons) - np.mean(offs):>+8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
