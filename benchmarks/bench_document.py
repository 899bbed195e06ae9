"""One long document: its pages page by page on 2 threads, or side by side on 1 thread each.

    .venv/bin/python benchmarks/bench_document.py [--per-language 2] [--cache out/bench-speed/pages] [--rounds 3]

``polyocr read book.pdf`` is one source in one process. Until session 26 it read the pages one at
a time, each on ``threads`` (2) onnxruntime threads. Now a source of two or more pages is read
``threads`` pages at a time, each on one thread (:mod:`polyocr.pipeline.pages`). The pages are the
same dense held-out A4 pages as ``bench_speed.py`` (prose and columns, clean, 200 dpi, all eight
languages), put into one PDF. Both ways read the same PDF through the same decoding, alternating,
``--rounds`` times, after a warm-up page. The table prints pages/s per round, both texts are
checked to be equal, and the other processes' load is printed, because the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from PIL import Image  # noqa: E402

from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.run import CpuMonitor  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.batch import read_document  # noqa: E402
from polyocr.pipeline.inputs import load_pages  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402


def page_by_page(pipe: Pipeline, pdf: Path) -> list[str]:
    """The pre-session-26 loop: decode a page, read it on the pipeline's own threads, next."""
    return [pipe.read_image(p.image, p.index, p.dpi).text for p in load_pages(pdf, dpi=200)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default="out/bench-speed/pages")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    pages = generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed, degrade="clean",
                                   layouts=("prose", "columns"))
    images = [Image.open(p.image).convert("RGB") for p in pages]
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "document.pdf"
        images[0].save(pdf, save_all=True, append_images=images[1:], resolution=200)
        rc = ReadConfig(threads=a.threads)
        pipe = Pipeline(rc)
        pipe.read_image(images[0])                       # warm: models loaded, first run done
        pipe.single_threaded().read_image(images[0])
        factory = lambda cfg: pipe if cfg.threads == pipe.config.threads else pipe.single_threaded()  # noqa: E731
        rows, texts = [], {}
        for rnd in range(1, a.rounds + 1):
            for how in ("page by page", "side by side"):
                with CpuMonitor() as cpu:
                    t0 = time.perf_counter()
                    if how == "page by page":
                        text = page_by_page(pipe, pdf)
                    else:
                        text = [p.text for p in read_document(pdf, rc, factory=factory).pages]
                    wall = time.perf_counter() - t0
                texts.setdefault(how, text)
                rows.append((rnd, how, len(text) / wall, wall / len(text), cpu.other_cores))
    same = sum(x == y for x, y in zip(texts["page by page"], texts["side by side"]))
    print(f"One {len(images)}-page PDF (200 dpi, {a.per_language} dense held-out pages per language), "
          f"{a.threads} cores' worth of threads\n")
    print("| round | how | pages/s | s/page (wall / pages) | other cores |")
    print("|---|---|---|---|---|")
    for rnd, how, pps, spp, other in rows:
        label = f"{how}: " + ("1 page × 2 threads" if how == "page by page" else f"{a.threads} pages × 1 thread")
        print(f"| {rnd} | {label} | {pps:.3f} | {spp:.3f} | {other:.2f} |")
    mean = {h: sum(r[2] for r in rows if r[1] == h) / a.rounds for h in ("page by page", "side by side")}
    print(f"\nmean pages/s: page by page {mean['page by page']:.3f}, side by side {mean['side by side']:.3f} "
          f"({mean['side by side'] / mean['page by page']:.2f}×); same text on {same} of {len(images)} pages")
    return 0 if same == len(images) else 1


if __name__ == "__main__":
    sys.exit(main())
