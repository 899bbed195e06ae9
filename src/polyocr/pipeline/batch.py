"""Batch runs: many sources → output files, resumable, one pipeline per worker process.

Layout of an output folder::

    out/
      polyocr-journal.jsonl        append-only: one line per finished page and per finished source
      .polyocr-partial/<name>/     pages of the source in progress (removed once its outputs exist)
      <name>.txt / .json / .hocr / .alto.xml / .page.xml / .pdf    one file per format, all pages
      <name>.overlay-0001.png      one PNG per page for the overlay format

``<name>`` is the source's path relative to the folder holding all sources, without its suffix
(with it when two sources would otherwise collide). Every file is written atomically. A page is
checkpointed (its Page as JSON) as soon as it is read, so a killed run resumed with ``resume``
re-reads no page and loses none; a source counts as done only once all its outputs exist. A
failing source is recorded and the batch carries on.

The pipeline is built once per worker, on the first page that needs OCR (a ``pdf_text`` run over
PDFs never loads the models). ``backend="ray"`` runs the same per-source code in Ray Data actors.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from PIL import Image

from polyocr.document import Document, Page
from polyocr.fileio import atomic_write
from polyocr.pipeline.inputs import InputError, InputLimits, PageImage, PageImages, display_name, load_pages
from polyocr.pipeline.pages import in_order, side_by_side
from polyocr.pipeline.pipeline import ReadConfig

__all__ = ["BatchConfig", "BatchSummary", "SourceResult", "PageReader", "ReaderFactory", "Journal",
           "default_factory", "run_batch", "read_document", "write_document", "output_names", "FORMAT_SUFFIXES",
           "ALL_FORMATS", "JOURNAL_NAME"]

FORMAT_SUFFIXES = {"text": ".txt", "json": ".json", "hocr": ".hocr", "alto": ".alto.xml",
                   "pagexml": ".page.xml", "pdf": ".pdf"}
ALL_FORMATS = (*FORMAT_SUFFIXES, "overlay")
JOURNAL_NAME = "polyocr-journal.jsonl"
PARTIAL_DIR = ".polyocr-partial"


class PageReader(Protocol):
    """What a batch needs from a pipeline: one page image → one Page."""

    def read_image(self, image: Image.Image, index: int = 0, dpi: float = 0.0) -> Page: ...


ReaderFactory = Callable[[ReadConfig], PageReader]


def default_factory(config: ReadConfig) -> PageReader:
    """The packaged pipeline (imported here so worker processes load it themselves)."""
    from polyocr.pipeline.pipeline import Pipeline

    return Pipeline(config)


@dataclass(frozen=True)
class BatchConfig:
    """Where and how a batch writes; the reading options are a separate :class:`ReadConfig`."""

    out: Path
    formats: tuple[str, ...] = ("text",)
    workers: int = 1
    resume: bool = False               # skip sources the journal records as done, reuse finished pages
    progress: bool = True              # tqdm bar on stderr (only when stderr is a terminal)
    backend: str = "local"             # "local" (process pool) | "ray" (Ray Data actors)
    password: str | None = None        # for encrypted PDFs
    limits: InputLimits = field(default_factory=InputLimits)

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in ALL_FORMATS]
        if bad or not self.formats:
            raise ValueError(f"unknown format(s) {', '.join(bad) or '(none)'}; known: {', '.join(ALL_FORMATS)}")
        if self.backend not in ("local", "ray"):
            raise ValueError(f"unknown backend {self.backend!r}; known: local, ray")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")


@dataclass
class SourceResult:
    """The outcome of one source, as recorded in the journal."""

    source: str                        # absolute path (the journal key)
    name: str                          # output name, relative to the output folder
    status: str                        # "ok" | "error" | "fatal" (the pipeline cannot be built)
    message: str = ""                  # one line for the user
    pages: int = 0
    pages_read: int = 0                # pages read in this run (the rest came from checkpoints)
    outputs: list[str] = field(default_factory=list)
    detail: str = ""                   # traceback of an unexpected error, for the journal only


@dataclass
class BatchSummary:
    """Counts for the summary line and the exit status."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    pages: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def describe(self) -> str:
        done = f", {self.skipped} already done" if self.skipped else ""
        return (f"{self.total} sources: {self.ok} ok, {self.failed} failed{done}; "
                f"{self.pages} pages read in {self.seconds:.1f} s")


class Journal:
    """Append-only JSONL; each line is written with one ``write`` on an O_APPEND descriptor, so
    workers can share it and a killed run leaves at most one torn last line (ignored). Source lines
    are fsynced; page lines are not (a killed process loses nothing the kernel already has, and a
    power cut only costs re-reading a few pages)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, entry: dict[str, Any], sync: bool = True) -> None:
        line = (json.dumps(entry, ensure_ascii=True, sort_keys=True) + "\n").encode("ascii")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self) -> Iterator[dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry

    def finished(self) -> dict[str, dict[str, Any]]:
        """The last ``source`` entry of every source key."""
        return {e["source"]: e for e in self.entries() if e.get("event") == "source" and "source" in e}


def output_names(paths: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Absolute source path → output name: relative to the sources' common folder, suffix dropped
    unless two sources share a stem (``a.png`` and ``a.pdf`` keep theirs)."""
    absolute = [os.path.abspath(os.fsdecode(os.fspath(p))) for p in paths]
    if not absolute:
        return {}
    root = os.path.commonpath([os.path.dirname(a) for a in absolute])
    rel = [os.path.relpath(a, root) for a in absolute]
    stems = [os.path.splitext(r)[0] or r for r in rel]
    counts = Counter(stems)
    return {a: (s if counts[s] == 1 else r) for a, s, r in zip(absolute, stems, rel)}


def _overlay_path(out: Path, name: str, index: int) -> Path:
    return out / f"{name}.overlay-{index + 1:04d}.png"


class _Checkpoint:
    """Finished pages of the source in progress, as Page JSON files; invalid once the source or
    the reading options change (the fingerprint)."""

    def __init__(self, folder: Path, fingerprint: str, keep: bool) -> None:
        self.folder, self.fingerprint = folder, fingerprint
        self._lock = threading.Lock()
        stamp = folder / "fingerprint"
        try:
            valid = keep and stamp.read_text() == fingerprint
        except OSError:
            valid = False
        if not valid:
            shutil.rmtree(folder, ignore_errors=True)

    def load(self, index: int) -> Page | None:
        try:
            return Page.from_dict(json.loads((self.folder / f"{index:05d}.json").read_bytes()))
        except (OSError, ValueError):
            return None

    def save(self, page: Page) -> None:
        with self._lock:          # pages read side by side finish at the same moment
            if not (self.folder / "fingerprint").exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                _replace(self.folder / "fingerprint", self.fingerprint)
        _replace(self.folder / f"{page.index:05d}.json", json.dumps(page.to_dict(), ensure_ascii=False))


def _replace(target: Path, text: str) -> None:
    """Temp file + rename without fsync: atomic for a killed process, and far cheaper per page
    than ``atomic_write`` (an fsync per page made a pdf_text run six times slower); a power cut
    only costs re-reading the pages whose checkpoint did not reach the disk."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


def _fingerprint(path: str, read_config: ReadConfig) -> str:
    try:
        st = os.stat(path)
    except OSError:  # load_pages reports it properly
        return ""
    return json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "config": asdict(read_config)},
                      sort_keys=True, default=str)


class _FatalError(RuntimeError):
    """The pipeline itself cannot be built: every source would fail the same way."""


class _Readers:
    """The page readers of one process, built on first need (a ``pdf_text`` run over PDFs never loads
    the models): one with ``threads``-thread sessions for one-page sources, and one of one thread
    each to read the pages of a longer source ``threads`` at a time (:mod:`polyocr.pipeline.pages`)."""

    def __init__(self, factory: ReaderFactory, read_config: ReadConfig,
                 error: type[Exception] | None = None) -> None:
        self.factory, self.read_config, self.error = factory, read_config, error
        self._built: dict[int, PageReader] = {}
        self._lock = threading.Lock()

    def get(self, at_once: int = 1) -> PageReader:
        threads = 1 if at_once > 1 else self.read_config.threads
        with self._lock:          # pages read side by side ask for it at the same moment
            if threads not in self._built:
                try:
                    self._built[threads] = self.factory(replace(self.read_config, threads=threads))
                except Exception as exc:  # noqa: BLE001 - reported once, stops the batch
                    if self.error is None:
                        raise
                    raise self.error(f"cannot load the pipeline: {type(exc).__name__}: {exc}") from exc
            return self._built[threads]


class _Runner:
    """Reads sources one at a time in one process; builds the reader on first need and keeps it."""

    def __init__(self, factory: ReaderFactory, read_config: ReadConfig, config: BatchConfig) -> None:
        self.factory, self.read_config, self.config = factory, read_config, config
        self.journal = Journal(config.out / JOURNAL_NAME)
        self._readers = _Readers(factory, read_config, _FatalError)

    def reader(self, at_once: int = 1) -> PageReader:
        return self._readers.get(at_once)

    def run(self, path: str, name: str) -> SourceResult:
        key = os.path.abspath(path)
        result = SourceResult(source=key, name=name, status="ok")
        try:
            self._read(path, name, result)
        except _FatalError as exc:
            result.status, result.message = "fatal", str(exc)
        except InputError as exc:
            result.status, result.message = "error", str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad source must not stop the batch
            result.status = "error"
            result.message = f"{display_name(path)}: {type(exc).__name__}: {' '.join(str(exc).split())}"
            result.detail = traceback.format_exc(limit=8)
        return result

    def _read(self, path: str, name: str, result: SourceResult) -> None:
        cfg, rc = self.config, self.read_config
        check = _Checkpoint(cfg.out / PARTIAL_DIR / name, _fingerprint(path, rc), keep=cfg.resume)
        overlay = "overlay" in cfg.formats
        pages: list[Page] = []
        items, at_once = side_by_side(load_pages(path, dpi=rc.dpi, pdf_text=rc.pdf_text, limits=cfg.limits,
                                                 password=cfg.password, pages=rc.pages), rc.threads)

        def one(item: PageImage) -> tuple[Page, bool]:
            page = check.load(item.index)
            if page is not None:
                return page, False
            page = item.text_layer if item.text_layer is not None else \
                self.reader(at_once).read_image(item.image, item.index, item.dpi)
            page.index = item.index
            # Checkpointed here, as soon as it is read, not when its turn comes: pages read side by
            # side finish out of order, and a failure on page 1 must not throw away a finished page 2.
            check.save(page)
            self.journal.append({"event": "page", "source": result.source, "index": item.index}, sync=False)
            return page, True

        for item, (page, fresh) in in_order(one, items, at_once):
            if fresh:
                result.pages_read += 1
            target = _overlay_path(cfg.out, name, item.index)
            if overlay and (fresh or not target.exists()):
                from polyocr.formats.overlay import to_overlay_png

                atomic_write(target, to_overlay_png(page, item.image))
            pages.append(page)
            del item
        result.pages = len(pages)
        doc = Document(pages=pages, source=display_name(path))
        result.outputs = write_document(doc, path, name, rc, cfg)
        # The checkpoint goes once the journal says the source is done (run_batch), not before:
        # a kill in between must not make a resumed run read these pages again.


def write_document(doc: Document, source: str | bytes, name: str, rc: ReadConfig, cfg: BatchConfig,
                   overlays: bool = False) -> list[str]:
    """Write ``doc``, read from ``source`` (a path, or the bytes of a piped file), as ``cfg.out/name``
    in every format of ``cfg.formats``; returns the names written. ``overlays``: draw the overlay PNGs
    too (a batch draws them page by page as it reads, so its pages need not be decoded again)."""
    from polyocr.formats import searchable_pdf, write

    written: list[str] = []
    for fmt in cfg.formats:
        if fmt == "overlay":
            if overlays:
                from polyocr.formats.overlay import to_overlay_png

                images = PageImages(source, len(doc.pages), dpi=rc.dpi, limits=cfg.limits, password=cfg.password,
                                    pages=rc.pages)
                for page, image in zip(doc.pages, images):
                    atomic_write(_overlay_path(cfg.out, name, page.index), to_overlay_png(page, image))
            written += [_overlay_path(cfg.out, name, p.index).name for p in doc.pages]
            continue
        target = cfg.out / f"{name}{FORMAT_SUFFIXES[fmt]}"
        if fmt == "pdf":   # a PDF keeps its own pages under the text; images become JPEG pages
            images = PageImages(source, len(doc.pages), dpi=rc.dpi, limits=cfg.limits, password=cfg.password,
                                pages=rc.pages)                        # decoded again only if needed
            atomic_write(target, searchable_pdf(doc, source, images, cfg.password))
        else:
            write(doc, fmt, target)
        written.append(target.name)
    parent = os.path.dirname(name)
    return [os.path.join(parent, w) if parent else w for w in written]


def read_document(source: str | os.PathLike[str] | bytes, read_config: ReadConfig | None = None,
                  factory: ReaderFactory = default_factory, password: str | None = None,
                  limits: InputLimits = InputLimits(), name: str = "<bytes>") -> Document:
    """One source → Document, without writing anything (``polyocr read FILE`` to stdout); ``name``
    stands for a bytes source (``<stdin>``)."""
    rc = read_config or ReadConfig()
    readers = _Readers(factory, rc)
    items, at_once = side_by_side(load_pages(source, dpi=rc.dpi, pdf_text=rc.pdf_text, limits=limits,
                                             password=password, pages=rc.pages, name=name), rc.threads)

    def one(item: PageImage) -> Page:
        page = item.text_layer if item.text_layer is not None else \
            readers.get(at_once).read_image(item.image, item.index, item.dpi)
        page.index = item.index
        return page

    pages = [page for _, page in in_order(one, items, at_once)]
    return Document(pages=pages, source=name if isinstance(source, (bytes, bytearray)) else display_name(source))


# --------------------------------------------------------------------------------------------
# backends

_WORKER: _Runner | None = None  # one per worker process (set by the pool initializer)


def _init_worker(factory: ReaderFactory, read_config: ReadConfig, config: BatchConfig) -> None:
    global _WORKER
    _WORKER = _Runner(factory, read_config, config)


def _work(path: str, name: str) -> SourceResult:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.run(path, name)


def _run_local(todo: list[tuple[str, str]], factory: ReaderFactory, read_config: ReadConfig,
               config: BatchConfig) -> Iterator[SourceResult]:
    if config.workers == 1 or len(todo) <= 1:
        runner = _Runner(factory, read_config, config)
        for path, name in todo:
            yield runner.run(path, name)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: onnxruntime and pdfium keep threads and handles that do not survive fork.
    with ProcessPoolExecutor(max_workers=min(config.workers, len(todo)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(factory, read_config, config)) as pool:
        futures = [pool.submit(_work, path, name) for path, name in todo]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()


class _RayReader:
    """A Ray Data actor: builds its runner (and so the pipeline) once, then reads one source per row."""

    def __init__(self, factory: ReaderFactory, read_config: ReadConfig, config: BatchConfig) -> None:
        self.runner = _Runner(factory, read_config, config)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        out = []
        for path, name in zip(batch["path"], batch["name"]):
            result = self.runner.run(os.fsdecode(bytes(path)), os.fsdecode(bytes(name)))
            out.append(json.dumps(asdict(result)))
        return {"result": out}


def _run_ray(todo: list[tuple[str, str]], factory: ReaderFactory, read_config: ReadConfig,
             config: BatchConfig) -> Iterator[SourceResult]:
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=max(config.workers, 1), include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
    import ray.data  # configures its loggers on import: quieten them after

    data_log = logging.getLogger("ray.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)  # our own bar and summary say what its INFO lines say
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # Paths travel as bytes: Arrow strings cannot hold the surrogates of non-UTF-8 names.
        ds = ray.data.from_items([{"path": os.fsencode(p), "name": os.fsencode(n)} for p, n in todo])
        ds = ds.map_batches(_RayReader, fn_constructor_args=(factory, read_config, config), batch_size=1, num_cpus=1,
                            concurrency=max(1, min(config.workers, len(todo))), batch_format="numpy")
        for row in ds.iter_rows():
            yield SourceResult(**json.loads(row["result"]))
    finally:
        data_log.setLevel(level)
        if started:
            ray.shutdown()


def run_batch(sources: Sequence[str | os.PathLike[str]], read_config: ReadConfig | None = None,
              config: BatchConfig | None = None, factory: ReaderFactory = default_factory,
              unreadable: Sequence[str] = ()) -> BatchSummary:
    """Read every source and write its outputs under ``config.out``; see the module docstring.

    ``unreadable`` are messages about entries the caller could not expand (counted as failed).
    Raises RuntimeError when the pipeline cannot be built at all.
    """
    from tqdm import tqdm

    rc = read_config or ReadConfig()
    cfg = config or BatchConfig(out=Path("polyocr-out"))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal(out / JOURNAL_NAME)
    names = output_names(sources)
    given = {}  # absolute path → the path as the caller wrote it (messages show that one)
    for src in sources:
        given.setdefault(os.path.abspath(os.fsdecode(os.fspath(src))), os.fsdecode(os.fspath(src)))
    done = journal.finished() if cfg.resume else {}
    summary = BatchSummary(total=len(names) + len(unreadable), failed=len(unreadable),
                           failures=list(unreadable))
    todo: list[tuple[str, str]] = []  # (path as given, output name)
    for key, name in names.items():
        entry = done.get(key)
        if (entry and entry.get("status") == "ok" and set(cfg.formats) <= set(entry.get("formats", ()))
                and all((out / o).exists() for o in entry.get("outputs", ()))):
            summary.skipped += 1
            shutil.rmtree(out / PARTIAL_DIR / name, ignore_errors=True)  # left by a kill right after it finished
        else:
            todo.append((given[key], name))
    journal.append({"event": "start", "time": time.time(), "sources": len(names), "todo": len(todo),
                    "formats": list(cfg.formats), "resume": cfg.resume})
    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="source", file=sys.stderr, dynamic_ncols=True,
               disable=not (cfg.progress and sys.stderr.isatty()))
    backend = _run_ray if cfg.backend == "ray" else _run_local
    try:
        for result in backend(todo, factory, rc, cfg):
            if result.status == "fatal":
                raise RuntimeError(result.message)
            entry = asdict(result)
            entry.update(event="source", formats=list(cfg.formats), time=time.time())
            journal.append(entry)
            if result.status == "ok":
                shutil.rmtree(out / PARTIAL_DIR / result.name, ignore_errors=True)
            summary.pages += result.pages_read
            if result.status == "ok":
                summary.ok += 1
            else:
                summary.failed += 1
                summary.failures.append(result.message)
                bar.write(f"polyocr: {result.message}", file=sys.stderr)
            bar.update(1)
            bar.set_postfix(pages=summary.pages, failed=summary.failed, refresh=False)
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - start
    return summary
