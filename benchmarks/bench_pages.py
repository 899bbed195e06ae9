"""Page accuracy: polyocr vs Tesseract (specialised and unified) vs RapidOCR, on two page sets.

    .venv/bin/python benchmarks/bench_pages.py [--per-language 10] [--realdev /work/data/realdev]
        [--engines polyocr,tesseract,tesseract-unified,rapidocr] [--out out/bench-pages] [--workers 2]

1. Held-out generated pages: all eight languages, ``--per-language`` pages each, held-out fonts and
   corpus split, the generator's "mixed" degradations; made once into ``--cache`` and reused.
2. realdev: real typeset pages with ground truth (``shared/realdev``; build it once with
   ``shared/realdev/build.sh DIR``). ``--realdev ''`` skips it.

Prints one table per set: NED per language and engine (whitespace removed / collapsed), the mean
over languages, pages/s, and for the generated set Nemotron OCR v2's published SynthDoG page NED
beside ours (and the ≤ 0.05 target for Arabic and Hebrew, which it does not cover). Predictions
and per-page scores are kept under ``--out`` (``<set>/<engine>/<id>.txt``, ``<set>.json``).
Engines that are not installed (or our pipeline before its weights exist) are skipped with a note.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from polyocr.eval.baselines import ENGINE_NAMES  # noqa: E402
from polyocr.eval.command import build_engines  # noqa: E402
from polyocr.eval.datasets import generate_heldout_pages, load_realdev  # noqa: E402
from polyocr.eval.report import format_table, to_json  # noqa: E402
from polyocr.eval.run import run_engines  # noqa: E402
from polyocr.fileio import atomic_write  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402

# Nemotron OCR v2, published page-level NED on SynthDoG-style pages (lower is better); no Arabic or Hebrew.
NEMOTRON_V2 = {"en": 0.069, "ja": 0.046, "ko": 0.047, "ru": 0.043, "zh-Hans": 0.035, "zh-Hant": 0.065}
TARGETS = {"ar": 0.05, "he": 0.05}


def reference_column() -> dict[str, str]:
    cells = {k: f"{v:.3f}" for k, v in NEMOTRON_V2.items()}
    cells.update({k: f"target ≤ {v:.2f}" for k, v in TARGETS.items()})
    return cells


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-pages/pages", help="held-out page cache")
    ap.add_argument("--realdev", default="/work/data/realdev", help="realdev build folder ('' to skip)")
    ap.add_argument("--engines", default=",".join(ENGINE_NAMES))
    ap.add_argument("--out", default="out/bench-pages")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="Tesseract processes side by side")
    ap.add_argument("--threads", type=int, default=2, help="threads for polyocr and RapidOCR")
    a = ap.parse_args()
    names = tuple(n for n in a.engines.split(",") if n)
    explicit = None if set(names) == set(ENGINE_NAMES) else names

    sets = [("generated", generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed), True)]
    if a.realdev:
        if not (Path(a.realdev) / "index.tsv").is_file():
            print(f"{a.realdev}: no realdev build; run shared/realdev/build.sh {a.realdev} (or --realdev '')",
                  file=sys.stderr)
            return 2
        sets.append(("realdev", load_realdev(a.realdev), False))

    out = Path(a.out)
    for name, pages, with_reference in sets:
        engines = build_engines(explicit, pages, a.threads)
        runs = run_engines(engines, pages, out / name, workers=a.workers)
        print(f"\n### {name}: {len(pages)} pages\n")
        print(format_table(runs, reference_column() if with_reference else None, "Nemotron OCR v2 (SynthDoG)"))
        atomic_write(out / f"{name}.json", to_json(runs, {"set": name, "predictions": str(out / name)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
