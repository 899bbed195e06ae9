"""Run a sample producer at scale: one task per shard, in processes or on Ray, resumable.

The producer is a pure function of the sample index (see ``rng.py``), so a shard is a pure
function of the generator settings and its number. That is what makes the three promises cheap:

* any worker count or backend writes byte-identical shards;
* a killed run resumes exactly: finished shards (sidecar present, data intact) are kept, the rest
  are redone from scratch; nothing is appended, so nothing is lost or duplicated;
* the dataset card is merged from the per-shard sidecars, so a resumed run writes the same card.

``producer_factory`` is called once per worker process (so fonts and corpora load once per
worker). It is pickled to reach the workers: pass a top-level function or a
``functools.partial`` of one, never a lambda or a closure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from polyocr import __version__
from polyocr.synth.card import command_line, write_card
from polyocr.synth.shards import (
    CARD_FILES,
    FORMATS,
    SIDECAR_VERSION,
    Producer,
    ShardSpec,
    check_shard,
    clean_stray_tmp,
    dataset_entries,
    read_sidecar,
    remove_live_tmp_files,
    shard_specs,
    sidecar_shard_ids,
    write_shard,
)

__all__ = ["RunConfig", "RunSummary", "RunInterrupted", "ShardResult", "run", "BACKENDS"]

log = logging.getLogger(__name__)

BACKENDS = ("local", "ray")
# card_info keys that describe the run rather than the data: left out of the resume fingerprint
_NON_DATA_KEYS = ("command", "description")


@dataclass(frozen=True)
class RunConfig:
    """Where and how to run; nothing here changes a shard's bytes except ``samples_per_shard``.

    ``start`` (a multiple of ``samples_per_shard``) lets separate runs each make a slice of the
    global index range. ``verify`` makes resume re-hash finished shards instead of trusting sizes.
    """

    out: Path
    count: int
    samples_per_shard: int = 256
    workers: int = 1
    backend: str = "local"
    resume: bool = False
    format: str = "tar"
    progress: bool = True
    start: int = 0
    verify: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {self.format!r}")
        shard_specs(self.start, 0, self.samples_per_shard, self.format)  # validates start/size


@dataclass(frozen=True)
class ShardResult:
    """What one shard task reports back (small: the data itself stays on disk)."""

    shard: int
    samples: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    factory_failed: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class RunSummary:
    """Counts for this run (skipped shards' samples are not in ``samples_written``)."""

    out: Path
    samples_written: int
    rejected: dict[str, int]
    shards_done: int
    shards_skipped: int
    shards_failed: tuple[int, ...]
    failures: dict[int, str]
    seconds: float
    card_written: bool

    @property
    def samples_per_s(self) -> float:
        return self.samples_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.shards_failed

    @property
    def exit_code(self) -> int:
        """What a CLI should exit with: 0 when complete, 1 when shards failed."""
        return 0 if self.ok else 1

    def describe(self) -> str:
        rej = ", ".join(f"{r}: {n}" for r, n in sorted(self.rejected.items())) or "none"
        text = (
            f"{self.samples_written} samples written ({self.samples_per_s:.1f}/s over {self.seconds:.1f} s); "
            f"rejected: {rej}; shards done {self.shards_done}, skipped {self.shards_skipped}, "
            f"failed {len(self.shards_failed)}"
        )
        if self.shards_failed:
            names = ", ".join(f"shard-{s:05d}" for s in self.shards_failed)
            text += f" ({names}); rerun with resume=True after fixing the cause"
        return text


class RunInterrupted(KeyboardInterrupt):
    """Raised in the parent on SIGTERM, like KeyboardInterrupt on Ctrl-C; done shards are kept."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
        self.exit_code = 128 + signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise RunInterrupted(signum)


@dataclass(frozen=True)
class _ShardTask:
    spec: ShardSpec
    out: str
    fingerprint: str
    run_token: str


# --- worker side --------------------------------------------------------------------------------

# One producer per worker process and run: built on the first shard the worker gets, reused after.
# Keyed by run so a reused Ray worker never serves a previous run's producer.
_PRODUCERS: dict[str, Producer] = {}


def _worker_producer(token: str, factory: Callable[[], Producer]) -> Producer:
    producer = _PRODUCERS.get(token)
    if producer is None:
        _PRODUCERS.clear()
        producer = factory()
        _PRODUCERS[token] = producer
    return producer


def _run_shard(
    task: _ShardTask, factory: Callable[[], Producer], on_index: Callable[[], None] | None = None
) -> ShardResult:
    """Build one shard; every failure comes back as a result with its traceback, never swallowed."""
    t0 = time.perf_counter()
    shard = task.spec.shard
    try:
        producer = _worker_producer(task.run_token, factory)
    except Exception:
        return ShardResult(shard, error="producer factory failed:\n" + traceback.format_exc(), factory_failed=True)
    try:
        sidecar = write_shard(task.spec, producer, Path(task.out), fingerprint=task.fingerprint, on_index=on_index)
    except Exception:
        # SampleError is chained to the producer's exception: the text holds both tracebacks
        return ShardResult(shard, error=traceback.format_exc(), seconds=time.perf_counter() - t0)
    return ShardResult(shard, sidecar["samples"], sidecar["rejected"], seconds=time.perf_counter() - t0)


def _die_on_sigterm(signum: int, frame: Any) -> None:
    remove_live_tmp_files()
    os._exit(128 + signum)


def _init_pool_worker() -> None:
    """Ctrl-C is the parent's to handle; SIGTERM (sent by the parent) removes our tmp file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _die_on_sigterm)


# --- parent side --------------------------------------------------------------------------------


def _jsonable(obj: Any, where: str = "card_info") -> Any:
    """A JSON-ready copy; refuses objects whose str() would change between runs."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj), where)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return sorted(_jsonable(v, where) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _jsonable(obj.item(), where)
    raise TypeError(f"{where}: {type(obj).__name__} is not JSON-serialisable")


def _fingerprint(cfg: RunConfig, card_info: Mapping[str, Any], version: str) -> str:
    """What must match for resume to mix old and new shards: settings that change shard bytes."""
    data = {
        "card_info": {k: v for k, v in card_info.items() if k not in _NON_DATA_KEYS},
        "generator_version": version,
        "samples_per_shard": cfg.samples_per_shard,
        "format": cfg.format,
        "sidecar_version": SIDECAR_VERSION,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _plan(cfg: RunConfig, specs: list[ShardSpec], fingerprint: str) -> tuple[list[ShardSpec], list[ShardSpec]]:
    """Split shards into (to do, already done); refuses folders it would silently corrupt."""
    out = cfg.out
    existing = dataset_entries(out, cfg.format)
    if not cfg.resume:
        if existing:
            shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
            raise FileExistsError(
                f"{out} already holds dataset files ({shown}); pass resume=True (--resume) to continue "
                "that run, or choose an empty folder"
            )
        return list(specs), []
    for p in clean_stray_tmp(out):
        log.info("removed stray temporary file %s", p.name)
    wanted = {s.shard for s in specs}
    extra = [i for i in sidecar_shard_ids(out) if i not in wanted]
    if extra:
        raise ValueError(
            f"{out} has shards outside this run's range (shard-{extra[0]:05d}, {len(extra)} in all): "
            "resume needs the same start/count/samples_per_shard, or use a new folder"
        )
    todo, done = [], []
    for spec in specs:
        sidecar = read_sidecar(out, spec)
        if sidecar is None:
            todo.append(spec)
            continue
        if sidecar.get("fingerprint") != fingerprint:
            raise ValueError(
                f"{spec.sidecar_path(out).name} was written with other generator settings "
                f"(fingerprint {sidecar.get('fingerprint')} != {fingerprint}); refusing to mix them"
            )
        why = check_shard(out, spec, sidecar, verify=cfg.verify)
        if why is None:
            done.append(spec)
        else:
            log.warning("redoing %s: %s", spec.name, why)
            spec.sidecar_path(out).unlink(missing_ok=True)
            todo.append(spec)
    return todo, done


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(cfg: RunConfig, total: int, initial: int) -> Any:
    if not cfg.progress:
        return _NullBar()
    try:
        from tqdm import tqdm
    except ImportError:
        log.warning("tqdm is not installed: no progress bar")
        return _NullBar()
    return tqdm(total=total, initial=initial, unit="sample", dynamic_ncols=True, smoothing=0.05, desc=cfg.out.name)


class _Recorder:
    """Collects shard results in the parent, logs failures once each, drives the progress bar."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.results: dict[int, ShardResult] = {}
        self._logged_errors: set[str] = set()

    def record(self, spec: ShardSpec, result: ShardResult) -> None:
        self.results[spec.shard] = result
        if result.error is not None:
            if result.error in self._logged_errors:
                log.error("%s (indices %d..%d) failed: same error as above", spec.name, spec.start, spec.stop - 1)
            else:
                self._logged_errors.add(result.error)
                log.error("%s (indices %d..%d) failed:\n%s", spec.name, spec.start, spec.stop - 1, result.error)
        failed = sum(r.error is not None for r in self.results.values())
        if failed:
            self.bar.set_postfix_str(f"failed shards: {failed}")


def _run_inprocess(tasks: list[_ShardTask], factory: Callable[[], Producer], rec: _Recorder) -> None:
    """workers=1: everything in this process, so a debugger and prints just work."""
    try:
        for i, task in enumerate(tasks):
            seen = 0

            def tick() -> None:
                nonlocal seen
                seen += 1
                rec.bar.update(1)

            result = _run_shard(task, factory, on_index=tick)
            rec.bar.update(task.spec.stop - task.spec.start - seen)
            rec.record(task.spec, result)
            if result.factory_failed:
                _skip_rest(tasks[i + 1:], rec, "not run: the producer factory failed")
                return
    finally:
        _PRODUCERS.clear()  # don't keep fonts/corpora alive after the run


def _skip_rest(tasks: Iterable[_ShardTask], rec: _Recorder, why: str) -> None:
    for task in tasks:
        if task.spec.shard not in rec.results:
            rec.results[task.spec.shard] = ShardResult(task.spec.shard, error=why)


def _mp_context() -> Any:
    """forkserver where available: forking a parent that may hold threads (tqdm, Ray) is unsafe."""
    return mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")


def _stop_pool(pool: ProcessPoolExecutor, out: Path) -> None:
    """SIGTERM every worker (each deletes its tmp file), then sweep what a dead one left."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
    pids = {str(p.pid) for p in procs}
    for tmp in out.glob("*.tmp-*"):
        if tmp.name.rsplit("-", 1)[-1] in pids:
            tmp.unlink(missing_ok=True)


def _run_pool(tasks: list[_ShardTask], factory: Callable[[], Producer], cfg: RunConfig, rec: _Recorder) -> None:
    """workers>1: one process-pool task per shard; workers write their shards themselves."""
    pool = ProcessPoolExecutor(
        max_workers=min(cfg.workers, len(tasks)), mp_context=_mp_context(), initializer=_init_pool_worker
    )
    futures: dict[Future[ShardResult], _ShardTask] = {}
    try:
        futures = {pool.submit(_run_shard, task, factory): task for task in tasks}
        for fut in as_completed(futures):
            task = futures[fut]
            if fut.cancelled():
                continue
            try:
                result = fut.result()
            except Exception as exc:  # a worker died (OOM kill, segfault): the pool is now broken
                result = ShardResult(task.spec.shard, error=f"worker process failed: {type(exc).__name__}: {exc}")
            rec.bar.update(task.spec.stop - task.spec.start)
            rec.record(task.spec, result)
            if result.factory_failed:
                for f in futures:
                    f.cancel()
    except BaseException:
        _stop_pool(pool, cfg.out)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    _skip_rest(tasks, rec, "not run: the producer factory failed")


def _run_ray(tasks: list[_ShardTask], factory: Callable[[], Producer], cfg: RunConfig, rec: _Recorder) -> None:
    """One Ray task per shard, same function as the local pool.

    Workers write straight into ``cfg.out``: on a multi-node cluster that folder must be on a
    filesystem every node mounts at the same path (NFS, Lustre, ...). Connects to
    ``$RAY_ADDRESS`` when set, else starts a local Ray with ``workers`` CPUs (and stops it after).
    """
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("backend='ray' needs Ray: pip install 'polyocr[ray]'") from exc
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"address": address, "include_dashboard": False, "logging_level": logging.WARNING}
        if address is None:
            kwargs["num_cpus"] = cfg.workers  # Ray refuses num_cpus when joining a cluster
        ray.init(**kwargs)
        started = True
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _raise_interrupted)  # ray.init put its own (sys.exit) there
    try:
        # max_retries: a shard write is idempotent (atomic, deterministic), so re-running it after
        # a lost node is safe; producer errors come back as results, not exceptions, and don't retry
        remote = ray.remote(num_cpus=1, max_retries=2)(_run_shard)
        factory_ref = ray.put(factory)
        refs = {remote.remote(task, factory_ref): task for task in tasks}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    task = refs[ref]
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # worker or node died past the retries
                        result = ShardResult(task.spec.shard, error=f"ray task failed: {type(exc).__name__}: {exc}")
                    rec.bar.update(task.spec.stop - task.spec.start)
                    rec.record(task.spec, result)
                    if result.factory_failed:
                        for r in pending:
                            ray.cancel(r, force=True)
                        pending = []
        except BaseException:
            for r in pending:
                ray.cancel(r, force=True)
            # killed tasks cannot clean up: wait for them to die, then sweep (one writer per folder)
            ray.wait(pending, num_returns=len(pending), timeout=10)
            clean_stray_tmp(cfg.out)
            raise
    finally:
        if started:
            ray.shutdown()
    _skip_rest(tasks, rec, "not run: the producer factory failed")


def run(
    producer_factory: Callable[[], Producer],
    cfg: RunConfig,
    card_info: Mapping[str, Any] | None = None,
    charset: Mapping[str, Iterable[str]] | None = None,
) -> RunSummary:
    """Produce indices ``[cfg.start, cfg.start + cfg.count)`` into ``cfg.out`` as shards + card.

    ``card_info`` describes the generator for the card (JSON-able: e.g. ``seed``, the generator
    config, ``name``, ``description``, ``generator_version``, ``command``). Except ``command`` and
    ``description`` it is part of the resume fingerprint: resuming with other settings is refused.
    ``command`` defaults to ``sys.argv``; pass one without ``--resume``/``--workers`` if resumed
    runs should write the very same card. ``charset`` maps language → characters the data should
    cover (a ``{char: weight}`` mapping lists the most frequent missing characters first).

    Returns a summary; shard failures don't raise (``summary.exit_code`` is 1): the other shards are
    finished and the failed ones are redone by a run with ``resume=True``. Ctrl-C and SIGTERM stop
    the workers, remove their partial files and raise ``KeyboardInterrupt``/``RunInterrupted``.
    dataset.json and README.md exist only while every shard is complete.
    """
    t0 = time.perf_counter()
    info = _jsonable(dict(card_info or {}))
    version = str(info.get("generator_version") or __version__)
    specs = shard_specs(cfg.start, cfg.count, cfg.samples_per_shard, cfg.format)
    fingerprint = _fingerprint(cfg, info, version)
    cfg.out.mkdir(parents=True, exist_ok=True)
    todo, done = _plan(cfg, specs, fingerprint)
    for name in reversed(CARD_FILES):  # README.md first: its presence means "complete"
        (cfg.out / name).unlink(missing_ok=True)

    token = uuid.uuid4().hex
    tasks = [_ShardTask(spec, str(cfg.out), fingerprint, token) for spec in todo]
    bar = _progress_bar(cfg, cfg.count, sum(s.stop - s.start for s in done))
    rec = _Recorder(bar)
    log.info("%s: %d shards to write, %d already done (%s backend, %d workers)",
             cfg.out, len(tasks), len(done), cfg.backend, cfg.workers)

    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():
        previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        if tasks:
            if cfg.backend == "ray":
                _run_ray(tasks, producer_factory, cfg, rec)
            elif cfg.workers == 1:
                _run_inprocess(tasks, producer_factory, rec)
            else:
                _run_pool(tasks, producer_factory, cfg, rec)
    except KeyboardInterrupt:
        ok = sum(r.error is None for r in rec.results.values())
        log.warning("interrupted: %d shards finished in this run are kept; rerun with resume=True", ok)
        raise
    finally:
        bar.close()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)

    ok_results = [r for r in rec.results.values() if r.error is None]
    failed = tuple(sorted(r.shard for r in rec.results.values() if r.error is not None))
    rejected: Counter[str] = Counter()
    for r in ok_results:
        rejected.update(r.rejected)

    card_written = False
    if not failed:
        sidecars = [read_sidecar(cfg.out, spec) for spec in specs]
        missing = [spec.name for spec, sc in zip(specs, sidecars) if sc is None]
        if missing:
            raise RuntimeError(f"sidecars vanished during the run: {', '.join(missing[:5])}")
        write_card(
            cfg.out,
            [sc for sc in sidecars if sc is not None],
            config={"count": cfg.count, "start": cfg.start, "samples_per_shard": cfg.samples_per_shard,
                    "format": cfg.format},
            card_info=info,
            charset=charset,
            command=str(info.get("command") or command_line(sys.argv)),
            generator_version=version,
        )
        card_written = True

    summary = RunSummary(
        out=cfg.out,
        samples_written=sum(r.samples for r in ok_results),
        rejected=dict(rejected),
        shards_done=len(ok_results),
        shards_skipped=len(done),
        shards_failed=failed,
        failures={r.shard: r.error or "" for r in rec.results.values() if r.error is not None},
        seconds=time.perf_counter() - t0,
        card_written=card_written,
    )
    (log.error if failed else log.info)("%s", summary.describe())
    return summary
