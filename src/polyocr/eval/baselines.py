"""OCR engines behind one interface, so every engine is scored on the same pages the same way.

``Engine.read(image_path, language) -> str`` returns the page text, lines in the engine's own
order. Engines:

* ``polyocr``: our pipeline (:class:`polyocr.pipeline.pipeline.Pipeline`), built once. It gets no
  language hint: it is one model for all eight languages, and is measured that way.
* ``tesseract``, "specialised": the page's own language pack (``eng``, ``chi_sim``, ``chi_tra``,
  ``jpn``, ``kor``, ``rus``, ``ara``, ``heb``). A page whose ground truth says it is set in
  vertical columns gets the vertical pack instead (``jpn_vert``, ``chi_sim_vert``, ``chi_tra_vert``):
  with the horizontal pack Tesseract reads such pages at NED ~0.85-0.9, with the vertical one at
  ~0.1-0.25; ``jpn_vert+jpn`` scored the same as ``jpn_vert`` on held-out vertical pages and took
  2-3x longer. That is an oracle hint to the baseline, in its favour; our pipeline gets none.
* ``tesseract-unified``: all eight packs at once (``eng+chi_sim+chi_tra+jpn+kor+rus+ara+heb``),
  the setting comparable to ours (no language known in advance).
* ``rapidocr``: RapidOCR 3.10.0 with its bundled PP-OCRv6 small models, which only know Chinese
  (both scripts), Japanese and Latin. Other languages are not run and are reported as n/a.

Tesseract runs as ``tesseract IMG stdout -l LANG --psm 3`` with ``OMP_THREAD_LIMIT=1`` (with
OpenMP on it is ~8x slower on this machine); parallelism comes from one process per core.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from polyocr.languages import LANGUAGES

if TYPE_CHECKING:
    from polyocr.pipeline.pipeline import ReadConfig

__all__ = [
    "Engine",
    "EngineUnavailable",
    "OursEngine",
    "TesseractEngine",
    "RapidOCREngine",
    "ENGINE_NAMES",
    "UNIFIED_PACKS",
    "make_engine",
    "tesseract_languages",
]

ENGINE_NAMES = ("polyocr", "tesseract", "tesseract-unified", "rapidocr")
UNIFIED_PACKS = "eng+chi_sim+chi_tra+jpn+kor+rus+ara+heb"
TESSDATA_VERTICAL = {"zh-Hans": "chi_sim_vert", "zh-Hant": "chi_tra_vert", "ja": "jpn_vert", "ko": "kor_vert"}


class EngineUnavailable(RuntimeError):
    """The engine (or a language pack it needs) is not installed; the message says what to install."""


class Engine(Protocol):
    name: str
    version: str
    parallel: bool      # True: pages may be read by several threads at once (each call is its own process)
    decodes_all: bool   # True: reads every input type upright itself; else it gets eval.raster's PNG of odd files

    def supports(self, language: str) -> bool:
        """Whether the engine has a model for the language (False → n/a in the tables)."""
        ...

    def read(self, image_path: str | Path, language: str, vertical: bool = False) -> str:
        """Page text, one line per line in the engine's order."""
        ...


# -- ours -------------------------------------------------------------------------------------------

class OursEngine:
    """The polyocr pipeline, loaded once; ``threads`` is onnxruntime's intra-op thread count.

    ``parallel``: several pages at once from worker threads sharing the one Pipeline (onnxruntime
    sessions are thread-safe and release the GIL), as the HTTP service runs them.
    ``processes`` > 1: pages go to that many worker processes, each with its own Pipeline on
    ``threads`` threads, as ``polyocr read --workers N`` runs them and as Tesseract is run (one
    process per core). Threads in one process lose ~6 % of two cores to the GIL: the pipeline's
    Python steps (cropping, decoding, bidi, ordering) run one at a time.
    """

    name = "polyocr"
    decodes_all = True

    def __init__(self, threads: int = 2, parallel: bool = False, processes: int = 0, accurate: bool = False) -> None:
        import polyocr

        self.version = polyocr.__version__
        self.parallel = parallel or processes > 1
        self.pipeline = None
        self._pool = None
        self._pids: set[int] = set()
        if processes > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_init, initargs=(threads, accurate))
            self.processes = processes
        else:
            from polyocr.pipeline.pipeline import Pipeline

            self.pipeline = Pipeline(_config(threads, accurate))

    def supports(self, language: str) -> bool:
        return language in LANGUAGES

    def read(self, image_path: str | Path, language: str, vertical: bool = False) -> str:
        if self._pool is None:
            return self.pipeline.read(str(image_path)).text
        text, pid = self._pool.submit(_worker_read, str(image_path)).result()
        self._pids.add(pid)
        return text

    def warm(self, image_path: str | Path) -> None:
        """Load the models and read one page in every worker, so timing starts warm."""
        if self._pool is None:
            self.read(image_path, "")
            return
        for _ in range(4):   # a busy worker leaves a task to its sibling; a few rounds reach them all
            futures = [self._pool.submit(_worker_read, str(image_path), 0.5) for _ in range(self.processes)]
            self._pids.update(f.result()[1] for f in futures)
            if len(self._pids) >= self.processes:
                return
        raise RuntimeError(f"only {len(self._pids)} of {self.processes} worker processes started")

    def worker_cpu_s(self) -> float:
        """CPU seconds used so far by the worker processes (not yet counted as reaped children)."""
        total = 0.0
        for pid in self._pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime
        return total

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


_WORKER: dict[str, object] = {}


def _config(threads: int, accurate: bool) -> ReadConfig:
    """The pipeline's defaults, or as ``polyocr read --accurate`` runs it."""
    from polyocr.pipeline.pipeline import ReadConfig

    return ReadConfig(threads=threads).accurate(accurate)


def _worker_init(threads: int, accurate: bool = False) -> None:
    from polyocr.pipeline.pipeline import Pipeline

    _WORKER["pipeline"] = Pipeline(_config(threads, accurate))


def _worker_read(image_path: str, linger: float = 0.0) -> tuple[str, int]:
    import time

    text = _WORKER["pipeline"].read(image_path).text  # type: ignore[attr-defined]
    time.sleep(linger)   # warm-up only: keep this worker busy so the next task goes to another
    return text, os.getpid()


# -- tesseract --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def tesseract_languages(binary: str = "tesseract") -> frozenset[str]:
    """Installed Tesseract language packs (``tesseract --list-langs``)."""
    if shutil.which(binary) is None:
        raise EngineUnavailable("tesseract is not installed (apt-get install tesseract-ocr and its language packs)")
    out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, check=False)
    lines = (out.stdout + out.stderr).splitlines()
    return frozenset(ln.strip() for ln in lines[1:] if ln.strip() and " " not in ln.strip())


@functools.lru_cache(maxsize=None)
def _tesseract_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    m = re.search(r"tesseract\s+(\S+)", out.stdout + out.stderr)
    return m.group(1) if m else "unknown"


@dataclass
class TesseractEngine:
    """Tesseract 5 through its command line; ``unified`` reads every page with all eight packs."""

    unified: bool = False
    psm: int = 3
    binary: str = "tesseract"
    timeout_s: float = 600.0
    name: str = field(init=False)
    version: str = field(init=False)
    parallel = True
    decodes_all = False

    def __post_init__(self) -> None:
        self.name = "tesseract-unified" if self.unified else "tesseract"
        self.version = _tesseract_version(self.binary) if shutil.which(self.binary) else "missing"

    def supports(self, language: str) -> bool:
        return language in LANGUAGES

    def packs(self, language: str, vertical: bool = False) -> str:
        """The ``-l`` value for a page."""
        if self.unified:
            return UNIFIED_PACKS
        base = LANGUAGES[language].tesseract
        if vertical and language in TESSDATA_VERTICAL:
            return TESSDATA_VERTICAL[language]
        return base

    def check(self, needs: list[tuple[str, bool]]) -> None:
        """Fail before a run, not in the middle of it, when a pack a page needs is missing."""
        have = tesseract_languages(self.binary)
        wanted = {p for lang, vert in needs for p in self.packs(lang, vert).split("+")}
        missing = sorted(wanted - have)
        if missing:
            debs = " ".join("tesseract-ocr-" + m.replace("_", "-") for m in missing)
            raise EngineUnavailable(f"{self.name}: language pack(s) {', '.join(missing)} missing (apt-get install {debs})")

    def read(self, image_path: str | Path, language: str, vertical: bool = False) -> str:
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        cmd = [self.binary, str(image_path), "stdout", "-l", self.packs(language, vertical), "--psm", str(self.psm)]
        out = subprocess.run(cmd, capture_output=True, env=env, timeout=self.timeout_s, check=False)
        if out.returncode != 0:
            err = out.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(f"tesseract failed on {image_path}: {err[-1] if err else out.returncode}")
        # Tesseract ends each page with a form feed; it is not part of the text.
        return out.stdout.decode("utf-8", "replace").replace("\f", "")


# -- RapidOCR ---------------------------------------------------------------------------------------

class RapidOCREngine:
    """RapidOCR 3.10.0 with its bundled PP-OCRv6 small det/rec models (offline; no downloads)."""

    name = "rapidocr"
    parallel = False
    decodes_all = False
    LANGUAGES = ("en", "zh-Hans", "zh-Hant", "ja")   # what the bundled recogniser's dictionary covers

    def __init__(self, threads: int = 2) -> None:
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError:
            raise EngineUnavailable("rapidocr is not installed (pip install 'polyocr[eval]')") from None
        self.version = getattr(rapidocr, "__version__", "") or _dist_version("rapidocr")
        self._ocr = RapidOCR(params={
            "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })

    def supports(self, language: str) -> bool:
        return language in self.LANGUAGES

    def read(self, image_path: str | Path, language: str, vertical: bool = False) -> str:
        out = self._ocr(str(image_path))
        return "\n".join(out.txts or ())


def _dist_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def make_engine(name: str, threads: int = 2, accurate: bool = False) -> Engine:
    """Build an engine by its command-line name (``accurate``: polyocr as ``read --accurate`` runs it)."""
    if name == "polyocr":
        return OursEngine(threads=threads, accurate=accurate)
    if name == "tesseract":
        return TesseractEngine(unified=False)
    if name == "tesseract-unified":
        return TesseractEngine(unified=True)
    if name == "rapidocr":
        return RapidOCREngine(threads=threads)
    raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINE_NAMES)}")
