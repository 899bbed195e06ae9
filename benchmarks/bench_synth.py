"""Generator throughput on this machine: A4 pages at 200 dpi and line crops, through the real runner.

    .venv/bin/python benchmarks/bench_synth.py [--pages 1000] [--lines 20000] [--workers 2]

Prints one table: samples, seconds, samples/s (the full path: render, degrade, encode, check,
write tar shards, worker start-up included), plus where one page's time goes in a single process.
Targets (issue 2): >= 10 pages/s with 2 workers, >= 500 line crops/s. Workers warm up (corpora,
word lists, fonts, glyph caches) over their first ~100 pages, so short runs understate the rate of
a real (long) run; the defaults are long enough to reach it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run(kind: str, count: int, workers: int, shard: int, seed: int) -> tuple[int, float]:
    from polyocr.synth.page import SynthConfig
    from polyocr.synth.producers import KINDS
    from polyocr.synth.runner import RunConfig, run

    out = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    try:
        cfg = SynthConfig(seed=seed)
        # Warm the font cache outside the timed region (one scan per machine, then cached on disk).
        from polyocr.synth.fonts import FontLibrary
        FontLibrary.scan()
        t0 = time.perf_counter()
        summary = run(partial(KINDS[kind], cfg), RunConfig(out=out / "ds", count=count, samples_per_shard=shard,
                                                           workers=workers, progress=False))
        dt = time.perf_counter() - t0
        if not summary.ok:
            raise SystemExit(summary.describe())
        return summary.samples_written, dt
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _stages(n: int, seed: int) -> list[tuple[str, float]]:
    """Single-process breakdown of one page's time, averaged over n pages."""
    import cv2

    from polyocr.synth import page as pg
    from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_page

    cv2.setNumThreads(1)
    cfg = SynthConfig(seed=seed)
    res = Resources(cfg)
    t_gen = t_enc = 0.0
    done = 0
    for i in range(n):
        t0 = time.perf_counter()
        try:
            s = generate_page(cfg, res, 10_000 + i)
        except Rejected:
            continue
        t1 = time.perf_counter()
        s.encode(cfg, f"{i:09d}")
        t_enc += time.perf_counter() - t1
        t_gen += t1 - t0
        done += 1
    return [("generate (layout, render, check, degrade) ms/page", 1000 * t_gen / max(done, 1)),
            ("encode (JPEG + JSON) ms/page", 1000 * t_enc / max(done, 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    n, dt = _run("pages", args.pages, args.workers, 25, args.seed)
    rows.append((f"pages, A4 200 dpi, {args.workers} workers", n, dt, n / dt, 10.0))
    n, dt = _run("lines", args.lines, args.workers, 500, args.seed)
    rows.append((f"line crops, {args.workers} workers", n, dt, n / dt, 500.0))
    print(f"{'product':<34} {'samples':>8} {'seconds':>8} {'per s':>8} {'target':>7}")
    for name, n, dt, rate, target in rows:
        print(f"{name:<34} {n:>8d} {dt:>8.1f} {rate:>8.1f} {target:>7.0f}{'' if rate >= target else '  BELOW'}")
    print()
    for name, ms in _stages(20, args.seed):
        print(f"{name:<52} {ms:8.1f}")
    print(f"\ncpus: {os.cpu_count()}  python: {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
