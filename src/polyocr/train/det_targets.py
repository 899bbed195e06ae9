"""Document → detector targets (the only place detector labels are derived).

A line's quad is read in its own frame: ``p0 → p1`` runs along the writing direction (left to right
for horizontal lines, top to bottom for vertical-rl columns, whose polygons start at the top-right),
``p0 → p3`` across it. Its *thickness* is the mean length across, its *core* the quad shrunk by
``shrink × thickness`` on every side (along the line at most to 45% of its length, so a one-character
line keeps a core). Lines too thin to see at the output stride are ignored, not taught as background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from polyocr.pipeline.detect import quad_size

__all__ = ["LineQuad", "line_quads", "core_quad", "make_targets", "MIN_THICKNESS"]

MIN_THICKNESS = 2.5  # output pixels; thinner lines are "don't care"


@dataclass(frozen=True)
class LineQuad:
    points: np.ndarray   # (4, 2) float32, p0→p1 along the writing direction
    vertical: bool


def _quad(poly: Sequence[Sequence[float]]) -> np.ndarray:
    pts = np.asarray(poly, np.float32)
    if len(pts) == 4:
        return pts
    rect = cv2.minAreaRect(pts)
    box = cv2.boxPoints(rect).astype(np.float32)
    # start at the corner nearest the polygon's first point, keep clockwise order
    k = int(np.argmin(((box - pts[0]) ** 2).sum(1)))
    return np.roll(box, -k, axis=0)


def line_quads(page) -> list[LineQuad]:
    """The page model's lines as quads in page pixels."""
    return [LineQuad(_quad(line.polygon), line.writing_mode == "vertical-rl") for line in page.lines]


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 1e-6 else np.zeros(2, np.float32)


def core_quad(q: np.ndarray, shrink: float) -> np.ndarray:
    length, thick = quad_size(q)
    d = shrink * thick
    dx = min(d, 0.45 * length)
    p0, p1, p2, p3 = q
    return np.stack([
        p0 + dx * _unit(p1 - p0) + d * _unit(p3 - p0),
        p1 - dx * _unit(p1 - p0) + d * _unit(p2 - p1),
        p2 - dx * _unit(p2 - p3) - d * _unit(p2 - p1),
        p3 + dx * _unit(p2 - p3) - d * _unit(p3 - p0),
    ]).astype(np.float32)


def make_targets(quads: Sequence[np.ndarray], height: int, width: int, shrink: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quads already in output pixels → (kernel uint8, log-thickness float32, weight float32) maps."""
    kernel = np.zeros((height, width), np.uint8)
    thick = np.zeros((height, width), np.float32)
    weight = np.ones((height, width), np.float32)
    shift = 4
    scale = float(1 << shift)
    # Thick lines first, so a thin line drawn over a big heading keeps its own thickness where they meet.
    sized = sorted(((quad_size(q)[1], q) for q in quads), key=lambda t: -t[0])
    for t, q in sized:
        if t < MIN_THICKNESS:
            cv2.fillPoly(weight, [np.round(q * scale).astype(np.int32)], 0.0, lineType=cv2.LINE_8, shift=shift)
            continue
        core = np.round(core_quad(q, shrink) * scale).astype(np.int32)
        cv2.fillPoly(kernel, [core], 1, lineType=cv2.LINE_8, shift=shift)
        cv2.fillPoly(thick, [core], float(np.log(t)), lineType=cv2.LINE_8, shift=shift)
    return kernel, thick, weight
