"""The page's text skew, measured on its ink, for the reading-order step.

Reading order turns the line boxes level before comparing them, and the angle it takes from the
detector's quads (:func:`polyocr.pipeline.order.skew_angle`) is only as good as those quads: a
core a few characters long, seen at the detector's output stride, tilts a degree or more either way.
On a contents page of short titles and page numbers (generated ar-s0-00008 read with the session-22
detector) the quads gave -0.8° where the page lay at -0.3°. Turned by the wrong angle, each page
number rose beside the entry above its own, and the page read at NED 0.47 instead of 0.12.

The ink of the whole page settles the angle: rows of text give the sharpest projection profile
across the reading direction when they lie level (the classic projection-profile deskew). Only ink
inside the detected lines counts, so a photo or a ruled frame does not pull the angle. Two guards
keep the quads' angle where the ink is not sure: the profile must be clearly sharper (columns whose
rows do not line up give a flat profile that can peak anywhere), and the lines, each profiled
alone, must not prefer the quads' angle (ink of different lines piling up at a slant, as two tiers
of vertical columns do, is not a level page).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from polyocr.document import Line, polygon_bounds

__all__ = ["ink_skew", "search_skew", "MAX_POINTS", "REACH", "MIN_GAIN"]

MAX_POINTS = 20_000    # ink pixels scored per angle (an even sample of them beyond this)
MIN_POINTS = 300       # fewer inked pixels than this: no opinion
REACH = 0.06           # radians searched either side of the quads' angle
MIN_GAIN = 0.05        # the ink's angle is taken when its profile is this much sharper than at the quads' angle
OWN_SLACK = 0.002      # ... and the lines' own profiles, each alone, at most this much less sharp there
COARSE, FINE = 0.003, 0.0005   # search steps (radians): a row 1000 px long moves 3 px / 0.5 px


def _profile_sharpness(x: np.ndarray, y: np.ndarray, angles: np.ndarray, vertical: bool,
                       owner: np.ndarray | None = None) -> np.ndarray:
    """Sum of squared one-pixel bin counts of the ink projected across the text direction, per angle.
    ``owner``: each point's line; then every line is profiled on its own (no ink of two lines shares a bin)."""
    out = np.empty(len(angles))
    for k, a in enumerate(angles):
        c, s = np.cos(a), np.sin(a)
        # constant along a row at angle a (direction (c, s)), or down a column (direction (-s, c))
        v = x * c + y * s if vertical else y * c - x * s
        b = (v - v.min()).astype(np.int64)
        if owner is not None:
            b = owner * (int(b.max()) + 1) + b
        counts = np.bincount(b)
        out[k] = float(np.dot(counts, counts))
    return out


def ink_skew(gray: np.ndarray, lines: Sequence[Line], prior: float, vertical: bool = False,
             reach: float = REACH, min_gain: float = MIN_GAIN) -> float | None:
    """The skew (radians, the reading direction's angle in image coordinates, y down, as
    :func:`~polyocr.pipeline.order.skew_angle` gives it) at which the ink inside ``lines`` lies
    most level, searched within ``reach`` of ``prior``. ``None`` (keep ``prior``) when the lines
    hold too little ink, or when the profile at that angle is not ``min_gain`` sharper than at
    ``prior``. ``vertical``: the page reads in vertical columns (their angle from straight down)."""
    found = search_skew(gray, lines, prior, vertical, reach)
    if found is None or found[1] < min_gain:
        return None
    return found[0]


def search_skew(gray: np.ndarray, lines: Sequence[Line], prior: float, vertical: bool = False,
                reach: float = REACH) -> tuple[float, float] | None:
    """(the sharpest angle, how much sharper its profile is than at ``prior``: 0.1 = 10 %), or
    ``None`` when the lines hold too little ink."""
    if gray.ndim != 2 or not lines:
        return None
    # every second pixel both ways: a 200-dpi page still gives ~0.5 px rows over 1000 px
    small = np.ascontiguousarray(gray[::2, ::2])
    h, w = small.shape
    if h < 8 or w < 8:
        return None
    thr, _ = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = (small < thr) if np.median(small[::8, ::8]) > thr else (small > thr)   # dark text on light, or light on dark
    owner = np.zeros(ink.shape, np.int32)          # 1 + the line whose box holds the pixel (0: none)
    for k, ln in enumerate(lines):
        x0, y0, x1, y1 = polygon_bounds(ln.polygon)
        owner[max(0, int(y0) // 2):max(0, int(np.ceil(y1)) // 2 + 1), max(0, int(x0) // 2):max(0, int(np.ceil(x1)) // 2 + 1)] = k + 1
    ys, xs = np.nonzero(ink & (owner > 0))
    if len(xs) < MIN_POINTS:
        return None
    if len(xs) > MAX_POINTS:
        pick = np.linspace(0, len(xs) - 1, MAX_POINTS).astype(np.int64)
        xs, ys = xs[pick], ys[pick]
    x, y = xs.astype(np.float64), ys.astype(np.float64)
    steps = int(round(reach / COARSE))
    coarse = prior + COARSE * np.arange(-steps, steps + 1)          # coarse[steps] is prior itself
    sharp = _profile_sharpness(x, y, coarse, vertical)
    best = float(coarse[int(np.argmax(sharp))])
    fine = best + FINE * np.arange(-round(COARSE / FINE), round(COARSE / FINE) + 1)
    fsharp = _profile_sharpness(x, y, fine, vertical)
    k = int(np.argmax(fsharp))
    # The whole page's profile also rewards ink of different lines piling into the same bins: columns
    # whose rows do not line up (or two tiers of vertical columns) pile up best at a slant, where each
    # line's own profile is blurred. The lines, each profiled alone, must not prefer the prior.
    own = _profile_sharpness(x, y, np.array([prior, fine[k]]), vertical, owner[ys, xs].astype(np.int64))
    if own[1] < own[0] * (1.0 - OWN_SLACK):
        return prior, 0.0
    return float(np.clip(fine[k], -0.3, 0.3)), float(fsharp[k] / max(sharp[steps], 1.0) - 1.0)
