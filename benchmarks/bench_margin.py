"""Page NED by the crop margin around detected lines (``pipeline.CROP_MARGIN``), on real and generated pages.

    .venv/bin/python benchmarks/bench_margin.py --margins 0.15,0.2,0.25,0.3 \\
        [--realdev /work/data/realdev] [--generated /work/data/eval/pages] [--weights DIR] [--json out.json]

The recogniser was trained on the generator's crops, which leave 0.05-0.35 font sizes around the
line; detected boxes hug the ink more or less tightly depending on the page. This reads every page
once per margin with the full pipeline (script constraint and language model on, one thread) and
prints page NED (whitespace removed, as ``polyocr eval``) per language, so the margin is chosen on
measurements, on both page sets at once. Generated pages: 10 per language, seed 0, mixed
degradations, cached in ``--generated`` (the same pages ``polyocr eval --generated`` reads).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

from polyocr.eval.datasets import EvalPage, generate_heldout_pages, load_realdev
from polyocr.eval.metrics import ned
from polyocr.languages import LANGUAGES
from polyocr.pipeline.pipeline import CROP_MARGIN, Pipeline, ReadConfig


def _page_text(pipe: Pipeline, page: EvalPage) -> str:
    with Image.open(page.image) as im:
        return pipe.read_image(im).text          # the text `polyocr eval` scores


def sweep(pipe: Pipeline, pages: list[EvalPage], margins: list[float]) -> dict[float, dict[str, float]]:
    out: dict[float, dict[str, float]] = {}
    for m in margins:
        pipe.margin = m
        by: dict[str, list[float]] = defaultdict(list)
        t0 = time.perf_counter()
        for page in pages:
            by[page.language].append(ned(_page_text(pipe, page), page.text, "remove"))
        out[m] = {lang: sum(v) / len(v) for lang, v in sorted(by.items())}
        print(f"  margin {m}: {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def table(name: str, res: dict[float, dict[str, float]]) -> str:
    langs = sorted({lang for r in res.values() for lang in r})
    rows = [f"{name}", "", "| margin | " + " | ".join(langs) + " | mean |", "|---" * (len(langs) + 2) + "|"]
    best = min(res, key=lambda m: sum(res[m].values()) / len(res[m]))
    for m, r in res.items():
        mean = sum(r.values()) / len(r)
        mark = " (default)" if m == CROP_MARGIN else ""
        cell = f"**{mean:.4f}**" if m == best else f"{mean:.4f}"
        rows.append(f"| {m}{mark} | " + " | ".join(f"{r[lang]:.4f}" for lang in langs) + f" | {cell} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--margins", default="0.15,0.2,0.25,0.3")
    ap.add_argument("--realdev", default="", help="a realdev build (../shared/realdev/build.sh OUT)")
    ap.add_argument("--generated", default="", help="cache folder for the generated held-out pages")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if not a.realdev and not a.generated:
        ap.error("give --realdev and/or --generated")
    try:
        margins = [float(x) for x in a.margins.split(",")]
    except ValueError:
        ap.error(f"--margins must be comma-separated numbers, not {a.margins!r}")
    pipe = Pipeline(ReadConfig(threads=1, weights=a.weights))
    results: dict[str, dict[float, dict[str, float]]] = {}
    if a.realdev:
        print("realdev pages", flush=True)
        results["realdev"] = sweep(pipe, load_realdev(a.realdev), margins)
    if a.generated:
        print("generated held-out pages", flush=True)
        pages = generate_heldout_pages(a.generated, list(LANGUAGES), 10, seed=0, degrade="mixed")
        results["generated"] = sweep(pipe, pages, margins)
    for name, res in results.items():
        print()
        print(table(f"page NED by crop margin, {name}", res))
    if a.json:
        Path(a.json).write_text(json.dumps({k: {str(m): r for m, r in v.items()} for k, v in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
