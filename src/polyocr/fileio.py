"""Atomic file writes (a reader, or a crash, sees the old file or the whole new one, never a part),
file hashes, and reading back the JSON-lines logs that training runs write."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "sha256_file", "file_record", "run_log"]


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (shards and weights are too big to read whole)."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def file_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Name, size and sha256 of a shipped file, as the weights' JSON descriptions list them."""
    path = Path(path)
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def run_log(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """A training run's log.jsonl: every entry, and the last "start" and "end" events ({} if none)."""
    entries = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
    start = next((e for e in reversed(entries) if e.get("event") == "start"), {})
    end = next((e for e in reversed(entries) if e.get("event") == "end"), {})
    return entries, start, end
