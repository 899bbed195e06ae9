"""Sharded, atomic, resumable dataset writing: samples, shard specs, writers, sidecars, resume checks.

A dataset is one folder. Shard *s* holds the samples of global indices ``[s*N, (s+1)*N)``
(``N = samples_per_shard``); because the producer is a pure function of the index, a shard's bytes
depend only on the generator config and *s*, never on how many workers made it or in which order.

Layout::

    shard-00000.tar    WebDataset-style tar: members "<key>.<ext>", one sample's members together,
                       samples sorted by key, fixed tar headers (mtime 0, uid/gid 0, mode 0644, PAX)
    shard-00000.json   sidecar, written (atomically) *after* the tar: index range, counts, rejects by
                       reason, aggregated stats, size and sha256 of the tar. A shard is done iff its
                       sidecar exists and the data it describes is there with the recorded size.
    dataset.json       config, seed, totals (written last, only when every shard is done)
    README.md          dataset card, computed from the sidecars alone, so a resumed run gives the same
                       (both written by :mod:`polyocr.synth.card`)

With ``format="folder"`` the tar is replaced by plain ``<key>.<ext>`` files in the same folder (for
looking at samples); sidecars, resume and the card work the same.

Every file is written to ``<name>.tmp-<pid>``, fsynced and ``os.replace``d: a kill at any moment
leaves either the old state or the new one, plus ``*.tmp-*`` debris that a resumed run deletes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from polyocr.fileio import sha256_file

__all__ = [
    "Sample",
    "RejectSample",
    "SampleError",
    "Producer",
    "ShardSpec",
    "FORMATS",
    "shard_specs",
    "write_shard",
    "read_sidecar",
    "check_shard",
    "clean_stray_tmp",
    "dataset_entries",
    "atomic_write_bytes",
    "TarShardWriter",
    "remove_live_tmp_files",
    "sidecar_shard_ids",
]

FORMATS = ("tar", "folder")
SIDECAR_VERSION = 1
TAR_FORMAT = tarfile.PAX_FORMAT  # POSIX; Python only adds a PAX record for non-ASCII/long names
TAR_MTIME = 0
TAR_MODE = 0o644
CARD_FILES = ("dataset.json", "README.md")
UNSPECIFIED_REJECT = "unspecified"  # the producer returned None without saying why
_SHARD_RE = re.compile(r"^shard-(\d{5,})\.(tar|json)$")
_TMP_MARK = ".tmp-"

# Temporary files this process is writing right now: a SIGTERM handler can delete them before the
# process dies (see remove_live_tmp_files), so an interrupted run leaves no debris behind.
_LIVE_TMP: set[Path] = set()


@dataclass(frozen=True)
class Sample:
    """One produced sample: the files stored under ``key`` and a small summary for the card.

    ``stats`` keys the card understands (all optional): ``language`` (str), ``layout`` (str),
    ``lines`` (int), ``chars`` (a ``{char: count}`` dict or the sample's text) and ``rejected``
    (``None``, or a reason: then the sample is counted as rejected and not written).
    """

    key: str
    files: dict[str, bytes]
    stats: dict[str, Any] = field(default_factory=dict)


class RejectSample(Exception):
    """Raised by a producer for an index it deliberately drops; counted under ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SampleError(RuntimeError):
    """A producer failed (not a rejection) on one index; the shard holding it is not written."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"sample {index}: {message}")
        self.index = index


Producer = Callable[[int], "Sample | None"]


@dataclass(frozen=True)
class ShardSpec:
    """Which indices one shard covers and how it is stored."""

    shard: int
    start: int
    stop: int
    format: str = "tar"

    @property
    def name(self) -> str:
        return f"shard-{self.shard:05d}"

    def sidecar_path(self, out: Path) -> Path:
        return out / f"{self.name}.json"

    def tar_path(self, out: Path) -> Path:
        return out / f"{self.name}.tar"


def shard_specs(start: int, count: int, samples_per_shard: int, fmt: str = "tar") -> list[ShardSpec]:
    """The shards covering ``[start, start + count)``; ``start`` must fall on a shard boundary so
    that every shard has the same content whichever range a run asks for."""
    if samples_per_shard < 1:
        raise ValueError(f"samples_per_shard must be >= 1, got {samples_per_shard}")
    if start < 0 or count < 0:
        raise ValueError(f"start and count must be >= 0, got start={start}, count={count}")
    if start % samples_per_shard:
        raise ValueError(f"start={start} is not a multiple of samples_per_shard={samples_per_shard}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    stop = start + count
    return [
        ShardSpec(s, s * samples_per_shard, min((s + 1) * samples_per_shard, stop), fmt)
        for s in range(start // samples_per_shard, -(-stop // samples_per_shard))
    ]


# --- atomic files -------------------------------------------------------------------------------


def _tmp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}{_TMP_MARK}{os.getpid()}")


def _fsync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable (a no-op where directories can't be opened)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``path`` so that readers see the old file or the whole new one, never a part."""
    tmp = _tmp_path(path)
    _LIVE_TMP.add(tmp)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        _LIVE_TMP.discard(tmp)
    if sync_dir:
        _fsync_dir(path.parent)


def _json_bytes(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, real UTF-8) so equal content gives equal bytes."""
    return (json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def remove_live_tmp_files() -> None:
    """Delete the temporary files this process is writing; for signal handlers before exiting."""
    for tmp in list(_LIVE_TMP):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # best effort while dying: a resumed run deletes whatever is left
    _LIVE_TMP.clear()


# --- stats --------------------------------------------------------------------------------------


class _Stats:
    """Per-shard aggregation of ``Sample.stats``; plain dicts so sidecars are readable JSON."""

    def __init__(self) -> None:
        self.samples = 0
        self.rejected: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()
        self.layouts: Counter[str] = Counter()
        self.lines = 0
        self.lines_by_language: Counter[str] = Counter()
        self.chars: dict[str, Counter[str]] = {}
        self.files: Counter[str] = Counter()
        self.bytes = 0

    def add(self, sample: Sample) -> None:
        st = sample.stats
        lang = str(st.get("language") or "unknown")
        lines = int(st.get("lines") or 0)
        self.samples += 1
        self.languages[lang] += 1
        self.layouts[str(st.get("layout") or "unknown")] += 1
        self.lines += lines
        self.lines_by_language[lang] += lines
        chars = st.get("chars")
        if chars:
            hist = self.chars.setdefault(lang, Counter())
            items = Counter(chars).items() if isinstance(chars, str) else chars.items()
            for ch, n in items:
                if not str(ch).isspace():  # whitespace says nothing about charset coverage
                    hist[str(ch)] += int(n)
        for ext, data in sample.files.items():
            self.files[ext] += 1
            self.bytes += len(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "rejected": dict(self.rejected),
            "languages": dict(self.languages),
            "layouts": dict(self.layouts),
            "lines": self.lines,
            "lines_by_language": dict(self.lines_by_language),
            "chars": {lang: dict(h) for lang, h in self.chars.items()},
            "files": dict(self.files),
            "bytes": self.bytes,
        }


# --- shard writers ------------------------------------------------------------------------------


class _HashingWriter:
    """File wrapper that hashes what tarfile writes, saving a second read of the shard."""

    def __init__(self, f: io.BufferedWriter) -> None:
        self._f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self._f.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._f.flush()


class TarShardWriter:
    """Streams samples into ``<shard>.tar.tmp-<pid>`` with fixed headers, then renames it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = _tmp_path(path)
        _LIVE_TMP.add(self.tmp)
        self._f = open(self.tmp, "wb")
        self._w = _HashingWriter(self._f)
        self._tar = tarfile.open(fileobj=self._w, mode="w", format=TAR_FORMAT, encoding="utf-8")  # type: ignore[call-overload]

    def add(self, key: str, files: Mapping[str, bytes]) -> None:
        for ext in sorted(files):
            data = files[ext]
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(data)
            info.mtime = TAR_MTIME
            info.mode = TAR_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            self._tar.addfile(info, io.BytesIO(data))

    def commit(self) -> dict[str, Any]:
        self._tar.close()
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.tmp, self.path)
        _LIVE_TMP.discard(self.tmp)
        _fsync_dir(self.path.parent)
        return {"file": self.path.name, "size": self._w.size, "sha256": self._w.sha.hexdigest()}

    def abort(self) -> None:
        self._f.close()  # the tar is not closed: its end blocks would be wasted work
        self.tmp.unlink(missing_ok=True)
        _LIVE_TMP.discard(self.tmp)


class _FolderWriter:
    """Writes each sample file as ``<out>/<key>.<ext>``, atomically, for inspection."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files: dict[str, int] = {}
        self._digest = hashlib.sha256()

    def add(self, key: str, files: Mapping[str, bytes]) -> None:
        for ext in sorted(files):
            name = f"{key}.{ext}"
            data = files[ext]
            atomic_write_bytes(self.out / name, data, sync_dir=False)
            self.files[name] = len(data)
            self._digest.update(f"{name}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\n".encode())

    def commit(self) -> dict[str, Any]:
        _fsync_dir(self.out)
        return {"files": self.files, "size": sum(self.files.values()), "sha256": self._digest.hexdigest()}

    def abort(self) -> None:
        pass  # files already written are complete and identical to what a rerun writes


def _folder_digest(out: Path, files: Mapping[str, int]) -> str:
    digest = hashlib.sha256()
    for name in files:  # sidecar order == write order
        data = (out / name).read_bytes()
        digest.update(f"{name}\t{len(data)}\t{hashlib.sha256(data).hexdigest()}\n".encode())
    return digest.hexdigest()


_RESERVED_KEYS = re.compile(r"^(shard-\d+|dataset|README)$")


def _check_sample(sample: Any, index: int, last_key: str | None) -> None:
    """Keys must sort like indices and split unambiguously at the first dot (WebDataset rule)."""
    if not isinstance(sample, Sample):
        raise TypeError(f"producer returned {type(sample).__name__}, expected Sample or None")
    key = sample.key
    if not isinstance(key, str) or not key or "." in key or "/" in key or "\\" in key or _TMP_MARK in key:
        raise ValueError(f"bad key {key!r}: must be a non-empty str without '.', '/', '\\'")
    if _RESERVED_KEYS.match(key):
        raise ValueError(f"key {key!r} collides with the dataset's own files")
    if last_key is not None and key <= last_key:
        raise ValueError(f"key {key!r} does not sort after the previous key {last_key!r}")
    if not sample.files:
        raise ValueError(f"sample {key!r} has no files")
    for ext, data in sample.files.items():
        if not isinstance(ext, str) or not ext or "/" in ext or ext.startswith("."):
            raise ValueError(f"sample {key!r}: bad extension {ext!r}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"sample {key!r}.{ext}: expected bytes, got {type(data).__name__}")


def write_shard(
    spec: ShardSpec,
    producer: Producer,
    out: Path,
    *,
    fingerprint: str = "",
    on_index: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Produce every index of ``spec`` and write the shard, then its sidecar; returns the sidecar.

    Rejections are counted by reason. Any other producer error aborts the shard (nothing final is
    written) and is raised as ``SampleError`` naming the index, chained to the original exception.
    """
    out = Path(out)
    writer: TarShardWriter | _FolderWriter = TarShardWriter(spec.tar_path(out)) if spec.format == "tar" else _FolderWriter(out)
    stats = _Stats()
    first_key: str | None = None
    last_key: str | None = None
    try:
        for index in range(spec.start, spec.stop):
            try:
                sample = producer(index)
            except RejectSample as rej:
                stats.rejected[str(rej.reason)] += 1
                sample = None
            except Exception as exc:
                raise SampleError(index, f"{type(exc).__name__}: {exc}") from exc
            else:
                if sample is None:
                    stats.rejected[UNSPECIFIED_REJECT] += 1
                elif sample.stats.get("rejected"):
                    stats.rejected[str(sample.stats["rejected"])] += 1
                    sample = None
            if sample is not None:
                try:
                    _check_sample(sample, index, last_key)
                except (TypeError, ValueError) as exc:
                    raise SampleError(index, str(exc)) from exc
                writer.add(sample.key, sample.files)
                stats.add(sample)
                first_key = first_key or sample.key
                last_key = sample.key
            if on_index is not None:
                on_index()
        stored = writer.commit()
    except BaseException:
        writer.abort()
        raise
    sidecar = {
        "version": SIDECAR_VERSION,
        "shard": spec.shard,
        "name": spec.name,
        "format": spec.format,
        "start": spec.start,
        "stop": spec.stop,
        "samples": stats.samples,
        "rejected": dict(stats.rejected),
        "first_key": first_key,
        "last_key": last_key,
        "fingerprint": fingerprint,
        "stats": stats.to_dict(),
        **stored,
    }
    atomic_write_bytes(spec.sidecar_path(out), _json_bytes(sidecar))
    return sidecar


# --- resume -------------------------------------------------------------------------------------


def read_sidecar(out: Path, spec: ShardSpec) -> dict[str, Any] | None:
    """The shard's sidecar, or None when it is missing or unreadable (then the shard is redone)."""
    path = spec.sidecar_path(out)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None



def check_shard(out: Path, spec: ShardSpec, sidecar: Mapping[str, Any], *, verify: bool = False) -> str | None:
    """Why the shard described by ``sidecar`` is not done, or None when it is."""
    for key, want in (("version", SIDECAR_VERSION), ("format", spec.format), ("start", spec.start), ("stop", spec.stop)):
        if sidecar.get(key) != want:
            return f"sidecar {key}={sidecar.get(key)!r}, expected {want!r}"
    if spec.format == "tar":
        path = spec.tar_path(out)
        if not path.is_file():
            return f"{path.name} is missing"
        if path.stat().st_size != sidecar.get("size"):
            return f"{path.name} has {path.stat().st_size} bytes, sidecar says {sidecar.get('size')}"
        if verify and sha256_file(path) != sidecar.get("sha256"):
            return f"{path.name} sha256 differs from its sidecar"
        return None
    files = sidecar.get("files")
    if not isinstance(files, dict):
        return "sidecar has no file list"
    for name, size in files.items():
        path = out / name
        if not path.is_file() or path.stat().st_size != size:
            return f"{name} is missing or has the wrong size"
    if verify and _folder_digest(out, files) != sidecar.get("sha256"):
        return "sample files differ from the sidecar's sha256"
    return None


def clean_stray_tmp(out: Path) -> list[Path]:
    """Delete ``*.tmp-*`` files left by killed writers; returns what was removed."""
    stray = sorted(p for p in Path(out).iterdir() if _TMP_MARK in p.name and p.is_file())
    for p in stray:
        p.unlink(missing_ok=True)
    return stray


def dataset_entries(out: Path, fmt: str) -> list[str]:
    """Names in ``out`` that mean a dataset (or part of one) is already there."""
    out = Path(out)
    if not out.is_dir():
        return []
    names = []
    for p in out.iterdir():
        if _SHARD_RE.match(p.name) or _TMP_MARK in p.name or p.name in CARD_FILES:
            names.append(p.name)
        elif fmt == "folder" and p.is_file():
            names.append(p.name)  # sample files of a folder dataset killed before its first sidecar
    return sorted(names)


def sidecar_shard_ids(out: Path) -> list[int]:
    """Shard numbers of all sidecars present in ``out``."""
    ids = []
    for p in Path(out).iterdir():
        m = _SHARD_RE.match(p.name)
        if m and m.group(2) == "json":
            ids.append(int(m.group(1)))
    return sorted(ids)
