"""Line detection scores: precision, recall and F1 at an IoU threshold, polygons rasterised exactly.

A predicted line matches the unmatched ground-truth line it overlaps most, when their intersection
over union reaches ``iou`` (0.5, the ICDAR convention). Polygons of any shape are compared by
filling them into a shared pixel grid of their joint bounding box, so rotated and vertical lines
are scored like horizontal ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

__all__ = ["DetectionScore", "polygon_iou", "match_lines"]


@dataclass
class DetectionScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "DetectionScore") -> "DetectionScore":
        return DetectionScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / max(1e-9, p + r)


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    lo = np.floor(np.minimum(a.min(0), b.min(0))).astype(int)
    hi = np.ceil(np.maximum(a.max(0), b.max(0))).astype(int)
    w, h = int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)
    ma = np.zeros((h, w), np.uint8)
    mb = np.zeros((h, w), np.uint8)
    cv2.fillPoly(ma, [np.round((a - lo) * 4).astype(np.int32)], 1, shift=2)
    cv2.fillPoly(mb, [np.round((b - lo) * 4).astype(np.int32)], 1, shift=2)
    union = int(np.count_nonzero(ma | mb))
    return float(np.count_nonzero(ma & mb)) / union if union else 0.0


def match_lines(pred: Sequence[np.ndarray], gt: Sequence[np.ndarray], iou: float = 0.5) -> DetectionScore:
    """Greedy one-to-one matching, best overlaps first."""
    pb = [(np.min(p, 0), np.max(p, 0)) for p in map(np.asarray, pred)]
    gb = [(np.min(g, 0), np.max(g, 0)) for g in map(np.asarray, gt)]
    pairs: list[tuple[float, int, int]] = []
    for i, (plo, phi) in enumerate(pb):
        for j, (glo, ghi) in enumerate(gb):
            if (plo > ghi).any() or (glo > phi).any():
                continue
            v = polygon_iou(pred[i], gt[j])
            if v >= iou:
                pairs.append((v, i, j))
    pairs.sort(reverse=True)
    used_p: set[int] = set()
    used_g: set[int] = set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
    tp = len(used_p)
    return DetectionScore(tp, len(pred) - tp, len(gt) - tp)
