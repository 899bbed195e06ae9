"""The one way polyocr opens an ONNX model: onnxruntime on the CPU, a fixed number of intra-op
threads and one inter-op thread (the graphs are sequential; a second pool only contends)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["cpu_session"]


def cpu_session(path: str | os.PathLike[str], threads: int = 2) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
