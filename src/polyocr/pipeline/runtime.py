"""Where the pipeline's weights come from, and the one way polyocr opens an ONNX model: onnxruntime
on the CPU, a fixed number of intra-op threads and one inter-op thread (the graphs are sequential; a
second pool only contends)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, TypeVar

__all__ = ["DEFAULT_WEIGHTS", "cpu_session", "optional_weights"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"   # the packaged weights

T = TypeVar("T")
_OPTIONAL: dict[tuple[str, Callable[[Path], Any]], Any] = {}


def optional_weights(weights: str | os.PathLike[str] | None, name: str, load: Callable[[Path], T]) -> T | None:
    """``load(path)`` of the file ``name`` in a weights folder (default: the packaged one), once per
    process; None when the folder has no such file (a custom folder may ship only a recogniser)."""
    path = (Path(weights) if weights is not None else DEFAULT_WEIGHTS) / name
    key = (str(path.resolve()), load)
    if key not in _OPTIONAL:
        _OPTIONAL[key] = load(path) if path.is_file() else None
    return _OPTIONAL[key]


def cpu_session(path: str | os.PathLike[str], threads: int = 2) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
