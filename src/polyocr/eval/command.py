"""``polyocr eval``: load a page set, run the engines, print one table, keep everything on disk."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from polyocr.eval.baselines import ENGINE_NAMES, Engine, EngineUnavailable, TesseractEngine, make_engine
from polyocr.eval.datasets import EvalPage, generate_heldout_pages, limit_per_language, load_pages
from polyocr.eval.report import format_table, to_json
from polyocr.eval.run import run_engines
from polyocr.fileio import atomic_write
from polyocr.languages import LANGUAGES

__all__ = ["EvalOptions", "load_page_set", "build_engines", "run_eval"]


@dataclass(frozen=True)
class EvalOptions:
    dir: str | None = None
    generated: bool = False
    langs: tuple[str, ...] | None = None
    lang: str | None = None
    engines: tuple[str, ...] | None = None   # None = every engine that is installed
    limit: int | None = None                 # pages per language
    per_language: int = 10
    seed: int = 0
    degrade: str = "mixed"
    cache: str | None = None
    out: str | None = None
    json: str | None = None
    workers: int = 2
    threads: int = 2
    hidden_truth: bool = False               # score truth lines a realdev build painted over (datasets.hidden_lines)
    accurate: bool = False                   # polyocr with a second width for doubtful lines (polyocr read --accurate)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_page_set(opts: EvalOptions) -> list[EvalPage]:
    """The pages to read: a folder, or held-out generated pages (made once, then read from the cache)."""
    if opts.generated:
        cache = Path(opts.cache) if opts.cache else Path(os.path.expanduser("~/.cache/polyocr/eval-pages"))
        langs = opts.langs or tuple(LANGUAGES)
        per = min(opts.per_language, opts.limit) if opts.limit else opts.per_language
        _log(f"held-out pages: {per} per language for {', '.join(langs)} (cache {cache})")
        return generate_heldout_pages(cache, langs, per, seed=opts.seed, degrade=opts.degrade)
    pages = limit_per_language(load_pages(opts.dir, opts.lang, opts.hidden_truth), opts.limit, opts.langs or ())
    if not pages:
        raise ValueError(f"{opts.dir}: no pages in {', '.join(opts.langs or ())}")
    hidden = [p for p in pages if p.hidden]
    if hidden:
        _log(_hidden_note(hidden))
    return pages


def _hidden_note(pages: list[EvalPage]) -> str:
    return (f"{sum(p.hidden for p in pages)} ground-truth lines on {len(pages)} pages are painted over in their images "
            f"(realdev masked regions, no ink left) and are not scored ({', '.join(f'{p.id} {p.hidden}' for p in pages)}); "
            "--hidden-truth scores them")


def build_engines(names: tuple[str, ...] | None, pages: list[EvalPage], threads: int,
                  accurate: bool = False) -> list[Engine]:
    """Engines by name. Asked for by name and unavailable: an error. Default list: skipped with a note."""
    explicit = names is not None
    engines: list[Engine] = []
    for name in names or ENGINE_NAMES:
        try:
            engine = make_engine(name, threads=threads, accurate=accurate)
            if isinstance(engine, TesseractEngine):
                engine.check([(p.language, p.vertical) for p in pages])
        except (EngineUnavailable, NotImplementedError, ImportError, OSError, RuntimeError) as exc:
            if explicit:
                raise EngineUnavailable(f"engine {name}: {exc}") from None
            _log(f"skipping {name}: {exc}")
            continue
        engines.append(engine)
    if not engines:
        raise EngineUnavailable("no engine could be started")
    return engines


def run_eval(opts: EvalOptions) -> int:
    pages = load_page_set(opts)
    engines = build_engines(opts.engines, pages, opts.threads, opts.accurate)
    out = Path(opts.out) if opts.out else Path("out/eval") / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    _log(f"{len(pages)} pages, engines {', '.join(e.name for e in engines)}; predictions in {out}")
    runs = run_engines(engines, pages, out, workers=opts.workers, echo=_log)
    print(format_table(runs))
    hidden_pages = [p for p in pages if p.hidden]
    if hidden_pages:
        print(_hidden_note(hidden_pages))
    hidden = {p.id: p.hidden for p in hidden_pages}
    source = "generated held-out pages" if opts.generated else str(opts.dir)
    payload = to_json(runs, {"source": source, "predictions": str(out), "hidden_truth_lines": hidden})
    atomic_write(out / "results.json", payload.encode("utf-8"))
    if opts.json:
        atomic_write(opts.json, payload.encode("utf-8"))
    return 0
