"""Run engines over a page set: predictions on disk, per-page scores and timings, CPU accounting.

Engines run one after another (never side by side, so one does not slow the other); an engine
that may run pages in parallel (Tesseract: one process per page) gets ``workers`` pages at once.
For every engine, ``OUT/<engine>/<id>.txt`` holds the prediction and ``OUT/<engine>/timing.tsv``
the seconds per page: the same layout ``shared/realdev/score.py`` reads, so any run can be
re-scored or inspected by hand.

The machine is shared, so each engine's run also records how many cores *other* processes used
meanwhile (``other_cores``): a speed figure taken with ``other_cores`` near 1 on a 2-core machine
is not a speed figure.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from polyocr.eval.baselines import Engine
from polyocr.eval.datasets import EvalPage
from polyocr.eval.metrics import TextScore, score_text
from polyocr.eval.raster import baseline_images
from polyocr.fileio import atomic_write

__all__ = ["PageResult", "EngineRun", "CpuMonitor", "run_engine", "run_engines"]


@dataclass
class PageResult:
    """One engine on one page; ``score`` is None when the engine has no model for the language."""

    page_id: str
    language: str
    engine: str
    seconds: float = 0.0
    score: TextScore | None = None
    error: str = ""

    def as_dict(self) -> dict:
        d = {"id": self.page_id, "lang": self.language, "engine": self.engine, "seconds": round(self.seconds, 3)}
        d.update(self.score.as_dict() if self.score else {"na": True})
        if self.error:
            d["error"] = self.error
        return d


@dataclass
class EngineRun:
    """An engine's whole run: what it read, how long it took, what else ran meanwhile."""

    name: str
    version: str
    pages: int = 0             # pages actually read (languages it supports)
    wall_s: float = 0.0
    own_cpu_s: float = 0.0     # CPU seconds of this process and its children (Tesseract) during the run
    other_cores: float = 0.0   # mean cores busy with other processes during the run
    workers: int = 1
    results: list[PageResult] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def s_per_page(self) -> float:
        """Mean seconds per page as each page saw it (with ``workers`` pages running side by side)."""
        read = [r.seconds for r in self.results if r.score is not None]
        return sum(read) / len(read) if read else 0.0

    def summary(self) -> dict:
        return {"version": self.version, "pages": self.pages, "wall_s": round(self.wall_s, 2),
                "pages_per_s": round(self.pages_per_s, 4), "s_per_page": round(self.s_per_page, 3),
                "own_cpu_s": round(self.own_cpu_s, 1), "other_cores": round(self.other_cores, 2),
                "workers": self.workers}


class CpuMonitor:
    """CPU used by the whole machine minus this process and its waited-for children, over a span.

    ``extra``: CPU seconds of helper processes still running (an engine's worker pool), which the
    kernel only adds to this process's children when they are reaped.
    """

    def __init__(self, extra: Callable[[], float] | None = None) -> None:
        self._extra = extra or (lambda: 0.0)

    def __enter__(self) -> "CpuMonitor":
        self._t0, self._busy0 = time.perf_counter(), _machine_busy_s()
        self._own0 = _own_cpu_s() + self._extra()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._t0
        self.own_s = _own_cpu_s() + self._extra() - self._own0
        busy = _machine_busy_s() - self._busy0
        self.other_cores = max(0.0, busy - self.own_s) / self.wall_s if self.wall_s > 0 else 0.0


def _machine_busy_s() -> float:
    """Non-idle CPU seconds of all cores since boot (/proc/stat); 0 where there is no /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    busy = sum(fields[:8]) - idle                             # guest time is already inside user
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_engine(engine: Engine, pages: Sequence[EvalPage], out: Path, workers: int = 1,
               echo: Callable[[str], None] | None = None, images: Mapping[str, Path] | None = None) -> EngineRun:
    """Read every page the engine supports, write predictions and timing, score against the truth.

    ``images``: the file each page is read from by an engine that does not decode every input type
    itself (:func:`polyocr.eval.raster.baseline_images`); the page's own file when absent."""
    folder = Path(out) / engine.name
    folder.mkdir(parents=True, exist_ok=True)
    todo = [p for p in pages if engine.supports(p.language)]
    workers = max(1, workers) if engine.parallel else 1
    run = EngineRun(engine.name, engine.version, pages=len(todo), workers=workers)

    def one(page: EvalPage) -> tuple[EvalPage, str, float, str]:
        path = page.image if engine.decodes_all or images is None else images.get(page.id, page.image)
        t0 = time.perf_counter()
        try:
            text, err = engine.read(path, page.language, page.vertical), ""
        except Exception as exc:  # one bad page must not lose the whole run; it is scored as empty
            text, err = "", f"{type(exc).__name__}: {exc}"
        return page, text, time.perf_counter() - t0, err

    done: dict[str, PageResult] = {}
    with CpuMonitor(getattr(engine, "worker_cpu_s", None)) as cpu:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for n, (page, text, seconds, err) in enumerate(pool.map(one, todo), 1):
                atomic_write(folder / f"{page.id}.txt", text.encode("utf-8"))
                done[page.id] = PageResult(page.id, page.language, engine.name, seconds, score_text(text, page.text), err)
                if err and echo:
                    echo(f"{engine.name}: {page.id}: {err}")
                if echo and (n % 10 == 0 or n == len(todo)):
                    echo(f"{engine.name}: {n}/{len(todo)} pages")
    run.wall_s, run.own_cpu_s, run.other_cores = cpu.wall_s, cpu.own_s, cpu.other_cores
    run.results = [done.get(p.id) or PageResult(p.id, p.language, engine.name) for p in pages]
    timing = "id\tseconds\tlang\n" + "".join(f"{r.page_id}\t{r.seconds:.3f}\t{r.language}\n"
                                             for r in run.results if r.score is not None)
    atomic_write(folder / "timing.tsv", timing.encode("utf-8"))
    return run


def run_engines(engines: Sequence[Engine], pages: Sequence[EvalPage], out: str | Path, workers: int = 1,
                echo: Callable[[str], None] | None = None) -> list[EngineRun]:
    """Every engine over the same pages, one engine at a time; files a baseline may decode otherwise
    than we do are decoded once, before any engine runs, into ``OUT/_pages`` (see :mod:`polyocr.eval.raster`)."""
    if echo is None:
        def echo(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)
    images = None
    if any(not e.decodes_all for e in engines):
        images = baseline_images(pages, Path(out) / "_pages")
        decoded = sum(1 for p in pages if images[p.id] != Path(p.image))
        if decoded:
            echo(f"{decoded} page file(s) decoded to PNG for the baselines in {Path(out) / '_pages'}")
    return [run_engine(e, pages, Path(out), workers=workers, echo=echo, images=images) for e in engines]
