"""Line detection at inference: page → scaled, padded tensor → onnxruntime → core map → line quads.

Post-processing inverts the training targets (:mod:`polyocr.train.det_targets`): each connected core
is fitted with a rotated rectangle, its writing direction is the rectangle's long axis, and it is grown
back to the full line with the median predicted thickness ``T``: ``shrink × T`` at both ends, ``T``
across. Quads come out in page pixels, ordered like the page model's polygons: horizontal lines
clockwise from the top-left, vertical ones clockwise from the top-right (``p0 → p1`` is always the
writing direction). Needs numpy, OpenCV and onnxruntime, never torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["DetectedLine", "LineDetector", "maps_to_lines", "DEFAULT_WEIGHTS", "inference_scale", "text_scale", "glyph_height", "quad_size"]

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def quad_size(q: np.ndarray) -> tuple[float, float]:
    """(length along p0→p1, thickness across) of a line quad: the mean of its two opposite sides."""
    length = 0.5 * (np.hypot(*(q[1] - q[0])) + np.hypot(*(q[2] - q[3])))
    thick = 0.5 * (np.hypot(*(q[3] - q[0])) + np.hypot(*(q[2] - q[1])))
    return float(length), float(thick)


@dataclass
class DetectedLine:
    quad: np.ndarray        # (4, 2) float32, page pixels; p0 → p1 along the writing direction
    score: float            # mean core probability
    vertical: bool          # the long axis is closer to vertical than horizontal

    @property
    def thickness(self) -> float:
        return quad_size(self.quad)[1]

    @property
    def length(self) -> float:
        return quad_size(self.quad)[0]


def inference_scale(h: int, w: int, long_side: int) -> float:
    """Pages are brought to ``long_side`` px on their long side (never enlarged beyond 2×)."""
    return min(2.0, long_side / max(h, w))


# The detector learnt lines 10-35 px thick (A4 at 200 dpi brought to 1280 px, scale jitter 0.6-1.5).
# Far larger text (a small image of big type enlarged 2×, slide titles) comes out in fragments that
# the recogniser reads as garbage, so the scale is capped where the median glyph part would exceed:
MAX_GLYPH_PX = 22.0
_PROBE_SIDE = 640


def glyph_height(image: np.ndarray) -> float | None:
    """Median height of the page's ink blobs (letters, CJK radicals) in page pixels, or None.

    Measured on a copy at most 640 px long (~3 ms): only text large enough to trouble the detector
    matters here, and that stays measurable at this size. Otsu binarisation; blobs under 3 px or
    over a fifth of the page (rules, photos) are left out; fewer than 5 blobs give no estimate.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    f = min(1.0, _PROBE_SIDE / max(gray.shape))
    if f < 1.0:
        gray = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    h, w = stats[1:, 3], stats[1:, 2]
    ok = (h >= 3) & (h < 0.2 * gray.shape[0]) & (w < 0.2 * gray.shape[1])
    return float(np.median(h[ok])) / f if ok.sum() >= 5 else None


def text_scale(image: np.ndarray, long_side: int) -> float:
    """:func:`inference_scale`, lowered where the text would be too large for the detector."""
    h, w = image.shape[:2]
    scale = inference_scale(h, w, long_side)
    glyph = glyph_height(image)
    if glyph is not None and glyph * scale > MAX_GLYPH_PX:
        scale = MAX_GLYPH_PX / glyph
    return scale


def _oriented_quad(center: np.ndarray, u: np.ndarray, length: float, thick: float) -> tuple[np.ndarray, bool]:
    """A quad from its centre, unit writing direction, length and thickness, in page-model order."""
    vertical = abs(u[1]) > abs(u[0])
    if vertical:
        if u[1] < 0:
            u = -u                      # columns read downwards
    elif u[0] < 0:
        u = -u                          # lines read rightwards (RTL lines are ordered by the bidi step)
    v = np.array([-u[1], u[0]], np.float32)  # u turned 90° clockwise in image coordinates (y down)
    a, b = 0.5 * length * u, 0.5 * thick * v
    # u right → v down: p0 = top-left; u down → v left: p0 = top-right. Both clockwise.
    p0, p1 = center - a - b, center + a - b
    p2, p3 = center + a + b, center - a + b
    return np.stack([p0, p1, p2, p3]).astype(np.float32), vertical


def maps_to_lines(prob: np.ndarray, log_thick: np.ndarray, shrink: float, stride: int, scale: float,
                  threshold: float = 0.45, min_score: float = 0.6, min_area: int = 3) -> list[DetectedLine]:
    """Core probability + log-thickness maps (output pixels) → lines in page pixels."""
    binary = (prob > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    lines: list[DetectedLine] = []
    to_page = stride / scale
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if area < min_area:
            continue
        sub = labels[y:y + h, x:x + w] == i
        ys, xs = np.nonzero(sub)
        score = float(prob[y:y + h, x:x + w][sub].mean())
        if score < min_score:
            continue
        thick = float(np.exp(np.median(log_thick[y:y + h, x:x + w][sub])))
        pts = np.stack([xs + x + 0.5, ys + y + 0.5], axis=1).astype(np.float32)
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts)
        theta = np.deg2rad(angle)
        ax = np.array([np.cos(theta), np.sin(theta)], np.float32)    # direction of the rect's "width" side
        core_len, core_thick = (rw, rh) if rw >= rh else (rh, rw)
        u = ax if rw >= rh else np.array([-ax[1], ax[0]], np.float32)
        if core_len < 1.2 * core_thick and thick > 0:
            # Square cores (one character): keep the axis closest to horizontal.
            u = np.array([1.0, 0.0], np.float32)
            core_len = max(rw, rh)
        length = core_len + 1.0 + 2 * shrink * thick                  # +1: pixel centres → edges
        quad, vertical = _oriented_quad(np.array([cx, cy], np.float32), u, length, thick)
        lines.append(DetectedLine(quad * to_page, score, vertical))
    return lines


class LineDetector:
    """The packaged detector (``weights/detector.onnx`` + ``detector.json``) through onnxruntime."""

    def __init__(self, weights: str | os.PathLike[str] | None = None, threads: int = 2) -> None:
        from polyocr.pipeline.runtime import cpu_session

        folder = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        onnx_path = folder / "detector.onnx" if folder.is_dir() else folder
        meta_path = onnx_path.with_suffix(".json")
        if not onnx_path.exists() or not meta_path.exists():
            from polyocr.pipeline.recognize import NoWeights

            raise NoWeights(f"no detector weights at {onnx_path}")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        model = self.meta["model"]
        self.shrink = float(model["shrink"])
        self.stride = int(model["stride"])
        self.long_side = int(model["long_side"])
        self.session = cpu_session(onnx_path, threads)

    def maps(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """RGB uint8 page → (core probability, log-thickness, scale) at the output stride."""
        h, w = image.shape[:2]
        scale = text_scale(image, self.long_side)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
        # Pad with the page's own border colour so the padding does not look like a frame.
        border = np.median(np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]]), axis=0)
        canvas = np.empty((ph, pw, 3), np.uint8)
        canvas[:] = border.astype(np.uint8)
        canvas[:nh, :nw] = small
        x = (canvas.astype(np.float32) * (1.0 / 255.0)).transpose(2, 0, 1)[None]
        out = self.session.run(None, {"image": x})[0][0]
        oh, ow = -(-nh // self.stride), -(-nw // self.stride)
        logit = out[0, :oh, :ow]
        prob = 1.0 / (1.0 + np.exp(-logit))
        return prob, out[1, :oh, :ow], scale

    def detect(self, image: np.ndarray) -> list[DetectedLine]:
        prob, thick, scale = self.maps(image)
        return maps_to_lines(prob, thick, self.shrink, self.stride, scale)
