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
from polyocr.pipeline.detect import quad_size

__all__ = ["ink_skew", "search_skew", "page_skew", "ink_coverage", "quad_tilt", "whole_length", "level_page", "MAX_POINTS", "REACH",
           "MIN_GAIN", "DESKEW_FROM", "DESKEW_GAIN", "LOW_COVER", "LOOK_FROM", "AGREE"]

MAX_POINTS = 20_000    # ink pixels scored per angle (an even sample of them beyond this)
MIN_POINTS = 300       # fewer inked pixels than this: no opinion
REACH = 0.06           # radians searched either side of the quads' angle
MIN_GAIN = 0.05        # the ink's angle is taken when its profile is this much sharper than at the quads' angle
OWN_SLACK = 0.002      # ... and the lines' own profiles, each alone, at most this much less sharp there
COARSE, FINE = 0.003, 0.0005   # search steps (radians): a row 1000 px long moves 3 px / 0.5 px


def _points(mask: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(x, y as floats, row and column indices) of the set pixels of ``mask``, an even sample of at
    most ``most``; None when fewer than MIN_POINTS."""
    ys, xs = np.nonzero(mask)
    if len(xs) < MIN_POINTS:
        return None
    if len(xs) > most:
        pick = np.linspace(0, len(xs) - 1, most).astype(np.int64)
        xs, ys = xs[pick], ys[pick]
    return xs.astype(np.float64), ys.astype(np.float64), ys, xs


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
    points = _points(ink & (owner > 0), MAX_POINTS)
    if points is None:
        return None
    x, y, ys, xs = points
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


# -- whole-page deskew before detection -------------------------------------------------------------------

DESKEW_FROM = np.radians(2.0)    # from 2° the page is turned level: a 3° tilt already cost some pages 0.1 NED
DESKEW_REACH = np.radians(45.0)  # searched either way (a larger tilt is a quarter turn plus a smaller one)
DESKEW_GAIN = 0.2                # the profile at the found angle must be this much sharper than level
_PAGE_SIDE = 800                 # px: the page is judged at this size (rows of a 200-dpi page stay ~5 px thick)
_PAGE_POINTS = 12_000


def _shrink(gray: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """``gray`` reduced by a whole factor to about ``side`` px on its long side, and that scale
    (a whole factor keeps OpenCV's area averaging on its fast path: 1 ms instead of 5 on a page)."""
    k = max(1, int(round(max(gray.shape) / side)))
    if k == 1:
        return gray, 1.0
    hh, ww = gray.shape[0] // k * k, gray.shape[1] // k * k
    small = cv2.resize(np.ascontiguousarray(gray[:hh, :ww]), (ww // k, hh // k), interpolation=cv2.INTER_AREA)
    return small, 1.0 / k


def _strokes(small: np.ndarray, contrast: int) -> np.ndarray:
    """Ink as pixels at least ``contrast`` levels darker than their 15-px neighbourhood's mean
    (lighter, on a dark page): unlike one threshold for the page, this ignores paper shading, a
    photo's desk and the corners a turn added."""
    img = small if np.median(small[::4, ::4]) >= 128 else 255 - small
    return cv2.adaptiveThreshold(np.ascontiguousarray(img), 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                 15, contrast).astype(bool)


def page_skew(gray: np.ndarray) -> tuple[float, float] | None:
    """(angle in radians, gain) of the whole page's text, within ±45°, from its ink alone: the angle
    whose projection profile (across rows, or across columns, whichever is sharper) is sharpest, and
    how much sharper than level (0.5 = 50 %). ``None`` for a page with too little ink. The angle is
    the reading direction's in image coordinates (y down), as :func:`ink_skew` gives it."""
    if gray.ndim != 2 or min(gray.shape) < 16:
        return None
    small, _ = _shrink(gray, _PAGE_SIDE)
    points = _points(_strokes(small, 12), _PAGE_POINTS)      # faint print still counts: the angle needs points
    if points is None:
        return None
    x, y = points[:2]
    reach = float(np.degrees(DESKEW_REACH))
    coarse = np.radians(np.arange(-reach, reach + 0.01, 1.0))
    rows, cols = _profile_sharpness(x, y, coarse, False), _profile_sharpness(x, y, coarse, True)
    vertical = bool(cols.max() > rows.max())
    sharp = cols if vertical else rows
    level = float(sharp[len(coarse) // 2])
    best = float(coarse[int(np.argmax(sharp))])
    fine = best + np.radians(np.arange(-1.0, 1.01, 0.1))
    fsharp = _profile_sharpness(x, y, fine, vertical)
    k = int(np.argmax(fsharp))
    return float(fine[k]), float(fsharp[k] / max(level, 1.0) - 1.0)


LOW_COVER = 0.8        # below this share of the page's ink inside detected lines, detection may have failed
LOOK_FROM = np.radians(2.0)  # ... or when its lines tilt this far: then the ink's angle is measured
AGREE = np.radians(3.0)  # a levelled page's lines must lie this close to level


def ink_coverage(gray: np.ndarray, quads: Sequence[np.ndarray], side: int = 500) -> float:
    """Share of the page's ink (:func:`_strokes`, judged at ``side`` px) inside the given line quads:
    near 1 when the detector found the text, low when a tilt beyond its reach broke the lines into scraps."""
    small, f = _shrink(gray, side)
    ink = _strokes(small, 30)    # print, not paper grain: at 12, a quarter of a textured page's "ink" lay outside every line
    total = int(np.count_nonzero(ink))
    if total == 0:
        return 1.0
    mask = np.zeros(small.shape, np.uint8)
    if len(quads):
        cv2.fillPoly(mask, [np.round(np.asarray(q, np.float64) * f).astype(np.int32) for q in quads], 1)
    return float(np.count_nonzero(ink & (mask > 0))) / total


WHOLE = 3.0            # a quad at least this many times as long as thick is a whole line, not a scrap


def _whole(q: np.ndarray) -> bool:
    length, thick = quad_size(np.asarray(q, np.float64))
    return length >= WHOLE * thick


def whole_length(quads: Sequence[np.ndarray]) -> float:
    """Total length of the whole lines among ``quads``: what a detection that works is made of (a tilt
    past the detector's reach leaves scraps)."""
    return float(sum(quad_size(np.asarray(q, np.float64))[0] for q in quads if _whole(q)))


def quad_tilt(quads: Sequence[np.ndarray], vertical: Sequence[bool]) -> float:
    """Median tilt (radians, as :func:`page_skew` measures it) of the whole quads of the majority
    direction: rows from level, columns from straight down; 0 without any."""
    v = list(vertical)
    majority = sum(v) * 2 > len(v)
    tilts = []
    for q, vert in zip(quads, v):
        q = np.asarray(q, np.float64)
        if vert != majority or not _whole(q):
            continue
        dx, dy = q[1] - q[0]
        a = np.arctan2(dy, dx)
        tilts.append(a - np.pi / 2 if vert else a)
    # a column's quad runs down its reading direction: p0 → p1 points down, at +90°
    return float(np.median(tilts)) if tilts else 0.0


def level_page(rgb: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` turned so text at ``angle`` lies level, on a canvas grown to hold all of it (filled
    with the colour of the page's border), and the 2×3 affine from the turned page back to ``rgb``."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(np.degrees(angle)), 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * c + h * s)), int(np.ceil(w * s + h * c))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).reshape(-1, rgb.shape[2] if rgb.ndim == 3 else 1)
    fill = tuple(int(v) for v in np.median(border, axis=0))
    turned = cv2.warpAffine(rgb, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=fill if rgb.ndim == 3 else fill[0])
    return turned, cv2.invertAffineTransform(m)
