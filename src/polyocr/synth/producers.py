"""Producers: index → stored sample, for the runner. Built once per worker process.

They are created through top-level factories taking a frozen config, so a process pool or a Ray
cluster can pickle them (see :func:`polyocr.synth.runner.run`).
"""

from __future__ import annotations

from typing import Callable

from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line, generate_page
from polyocr.synth.shards import RejectSample, Sample

__all__ = ["page_producer", "line_producer", "KINDS"]


def _one_thread() -> None:
    """Parallelism comes from worker processes; OpenCV's own threads would only oversubscribe."""
    import cv2

    cv2.setNumThreads(1)


def page_producer(cfg: SynthConfig) -> Callable[[int], Sample]:
    _one_thread()
    res = Resources(cfg)

    def produce(index: int) -> Sample:
        key = f"{index:09d}"
        try:
            s = generate_page(cfg, res, index)
        except Rejected as exc:
            raise RejectSample(str(exc).split(":")[0]) from None
        files = s.encode(cfg, key)
        return Sample(key=key, files=files, stats={"language": s.page.language, "layout": s.page.meta["layout"],
                                                   "lines": len(s.page.lines), "chars": s.page.text})
    return produce


def line_producer(cfg: SynthConfig) -> Callable[[int], Sample]:
    _one_thread()
    res = Resources(cfg)

    def produce(index: int) -> Sample:
        key = f"{index:09d}"
        try:
            s = generate_line(cfg, res, index)
        except Rejected as exc:
            raise RejectSample(str(exc).split(":")[0]) from None
        layout = "vertical" if s.line.writing_mode == "vertical-rl" else s.meta["kind"]
        return Sample(key=key, files=s.encode(cfg, key),
                      stats={"language": s.line.language, "layout": layout, "lines": 1, "chars": s.line.text})
    return produce


KINDS = {"pages": page_producer, "lines": line_producer}
