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
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from polyocr.pipeline.runtime import DEFAULT_WEIGHTS

__all__ = ["DetectedLine", "LineDetector", "maps_to_lines", "take_marks", "aabb", "level", "gray_page", "DEFAULT_WEIGHTS", "inference_scale", "text_scale", "glyph_height", "quad_size"]


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
    """Pages are brought to ``long_side`` px on their long side (never enlarged beyond 2×).

    A strip much longer than a page (a till receipt, a banner) would shrink too far that way: a
    620 × 7016 px receipt to 0.18, its lines to 5 px, below anything the detector learnt (it read as
    garbage). Beyond 2:1 the scale grows with the square root of how much longer than 2:1 the image
    is (that receipt: 0.43, between the A4 page's 0.55 and the detector's smallest training scale),
    so every page up to 2:1 (A4, letter, 16:9 slides) is scaled exactly as the detector was trained
    and measured."""
    aspect = max(h, w) / max(1, min(h, w))
    return min(2.0, long_side / max(h, w) * max(1.0, math.sqrt(aspect / 2.0)))


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
    gray = gray_page(image)
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


MERGED_RATIO = 2.6   # a core this many times thicker than the predicted core thickness is several lines
AXIS_FIT = 1.25      # a small core whose axis-aligned box is at most this × its tightest rectangle is level
SMALL_CORE = 2.5     # ... small: at most this many predicted line thicknesses long
# slopes (dy/dx) along which split_merged counts a component's rows: straight first, then up to ±4°
SPLIT_SHEARS = tuple(float(np.tan(np.deg2rad(a))) for a in (0, -1, 1, -2, 2, -3, 3, -4, 4))


def _core_ratio(sub: np.ndarray, log_thick: np.ndarray, shrink: float) -> float:
    """The component's thickness (its min-area rectangle's short side) over the core thickness its own
    thickness prediction implies (cores are lines shrunk by ``shrink`` of their thickness on each side)."""
    ys, xs = np.nonzero(sub)
    _, (rw, rh), _ = cv2.minAreaRect(np.stack([xs, ys], axis=1).astype(np.float32))
    thick = float(np.exp(np.median(log_thick[sub])))
    return (min(rw, rh) + 1.0) / max(thick * (1 - 2 * shrink), 1.0)


def line_bins(profile: np.ndarray, min_peak: float, ratio: float = 0.3) -> np.ndarray:
    """Which bins of a component's profile across its lines (pixels per row) belong to a line.

    The profile is cut at its deepest valley, a bin under ``ratio`` × the lower of the highest bins
    before and after it, and each side again, until none is left; then each part keeps its bins of at
    least ``ratio`` × its own peak, when that peak (the line's core length) reaches ``ratio`` × the
    whole profile's peak, or twice ``min_peak`` and three times the part's thickness in bins. Cutting
    at ``ratio`` × the whole component's peak instead lost a paragraph's short last line joined to the
    long one above it: a realdev Arabic line of 350 px under one of 1,450 px peaked at 26 % of it.
    Every bin that rule kept is kept here too.
    """
    keep = np.zeros(len(profile), bool)
    segments = [(0, len(profile))]
    while segments:
        a, b = segments.pop()
        seg = profile[a:b].astype(np.float64)
        if not len(seg):
            continue
        peaks = np.minimum(np.maximum.accumulate(seg), np.maximum.accumulate(seg[::-1])[::-1])
        low = seg < ratio * peaks
        if low.any():
            depth = np.where(low, seg / np.maximum(peaks, 1e-9), np.inf)
            r = a + int(np.argmin(depth))
            segments += [(a, r), (r + 1, b)]
        else:
            rows = seg >= ratio * seg.max()
            # a part peaking under ratio × the component's peak must still be shaped like a line:
            # longer than twice min_peak and than three times its thickness (the tail of a river strip,
            # a mark or a few specks above a line are not)
            if seg.max() >= ratio * profile.max() or (seg.max() >= 2 * min_peak and seg.max() >= 3 * rows.sum()):
                keep[a:b] = rows
    return keep


def split_merged(sub: np.ndarray, log_thick: np.ndarray, shrink: float) -> list[np.ndarray]:
    """Cut a component that joins several lines into them.

    Justified text aligns word gaps into vertical "rivers", and the detector sometimes fills one with
    a thin strip of core that joins the lines above and below into one component; its rectangle then
    spans several rows, tilted (measured: a generated Korean three-column page lost whole rows to
    three such components). Along the axis across the lines, rows of the mask where the component is
    much narrower than the lines each side of them are the strip or the gap: removing them
    (:func:`line_bins`) leaves the lines. The
    axis that leaves the thinnest parts wins; the component stays whole unless a cut makes every
    part line-thick and keeps at least half its pixels (counted down the columns, a strip taller than
    three lines out-counts them: that cut kept the strip alone). The strip itself is dropped: it is no text.

    Rows are also counted along slightly sheared lines (:data:`SPLIT_SHEARS`): on a warped page
    tightly set rows run a degree or so off the page's axis, the cores of neighbouring rows touch at
    their ends, and counted straight across, every row of the mask holds ink (measured: a generated
    Chinese page lost two whole rows to one diagonal detection)."""
    best: list[np.ndarray] = [sub]
    best_ratio = _core_ratio(sub, log_thick, shrink)
    if best_ratio <= MERGED_RATIO:
        return best
    ys, xs = np.nonzero(sub)
    core = float(np.exp(np.median(log_thick[sub]))) * (1 - 2 * shrink)   # a line's core is at least this long
    for axis, tan in [(1, t) for t in SPLIT_SHEARS] + [(0, 0.0)]:   # 1: count along x per row (horizontal lines)
        if axis == 1:
            bins = np.round(ys - xs * tan).astype(np.int64)
            bins -= bins.min()
            keep = line_bins(np.bincount(bins), core)[bins]
            cut = np.zeros_like(sub)
            cut[ys[keep], xs[keep]] = True
        else:
            cut = sub & line_bins(sub.sum(axis=0), core)[None, :]
        n, labels = cv2.connectedComponents(cut.astype(np.uint8), connectivity=4)
        parts = [labels == k for k in range(1, n) if (labels == k).sum() >= 3]
        if not parts or sum(int(p.sum()) for p in parts) < 0.5 * len(ys):
            continue            # a cut must keep most of the component: one keeping only a strip found the strip
        worst = max(_core_ratio(p, log_thick, shrink) for p in parts)
        if worst < best_ratio and worst <= MERGED_RATIO:
            best, best_ratio = parts, worst
    return best


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
        whole = labels[y:y + h, x:x + w] == i
        parts = [whole]
        thick = float(np.exp(np.median(log_thick[y:y + h, x:x + w][whole])))
        # cheap test first: a component no thicker than its bounding box's short side allows
        # cannot be several lines (most components; the full test fits a rectangle)
        if min(w, h) > 4 and min(w, h) + 1.0 > MERGED_RATIO * max(thick * (1 - 2 * shrink), 1.0):
            parts = split_merged(whole, log_thick[y:y + h, x:x + w], shrink)
        for sub in parts:
            line = _component_line(sub, x, y, prob, log_thick, shrink, min_score,
                                   thick if sub is whole else None)
            if line is not None:
                lines.append(DetectedLine(line[0] * to_page, line[1], line[2]))
    return lines


def _component_line(sub: np.ndarray, x: int, y: int, prob: np.ndarray, log_thick: np.ndarray, shrink: float,
                    min_score: float, thick: float | None = None) -> tuple[np.ndarray, float, bool] | None:
    """One core component (mask ``sub`` at offset x, y) → (quad in output pixels, score, vertical).
    ``thick``: its median predicted thickness, when the caller has it already."""
    h, w = sub.shape
    ys, xs = np.nonzero(sub)
    score = float(prob[y:y + h, x:x + w][sub].mean())
    if score < min_score:
        return None
    if thick is None:
        thick = float(np.exp(np.median(log_thick[y:y + h, x:x + w][sub])))
    pts = np.stack([xs + x + 0.5, ys + y + 0.5], axis=1).astype(np.float32)
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(pts)
    bw, bh = float(xs.max() - xs.min()), float(ys.max() - ys.min())
    if max(rw, rh) + 1.0 <= SMALL_CORE * thick and (bw + 1.0) * (bh + 1.0) <= AXIS_FIT * (rw + 1.0) * (rh + 1.0):
        # A core a few characters long whose axis-aligned box fits about as tightly: take the page's
        # axes. On a handful of core pixels (a small page number: 6-11 px at the output stride) the
        # tightest rectangle can lie at any angle, and a contents page's numbers came out as 45°
        # diamonds whose crops read as nothing. Longer cores keep their angle: snapping every line
        # that fits its box within AXIS_FIT lost the slight tilt of scanned pages (generated pages
        # 0.0347 → 0.0353).
        cx, cy = x + 0.5 + (xs.min() + xs.max()) / 2, y + 0.5 + (ys.min() + ys.max()) / 2
        rw, rh, angle = bw, bh, 0.0
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
    return quad, score, vertical


def aabb(q: np.ndarray) -> tuple[float, float, float, float]:
    """A quad's axis-aligned box: (x0, y0, x1, y1)."""
    return float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max())


def level(line: DetectedLine) -> bool:
    """A horizontal detection running left to right within ~3° of the page's axis: the lines whose ends
    the ink checks below (and the pipeline's crop trimming) look beside along plain pixel columns."""
    d = line.quad[1] - line.quad[0]
    return not line.vertical and d[0] > 0 and abs(d[1]) <= 0.05 * d[0]


def gray_page(image: np.ndarray) -> np.ndarray:
    """An RGB page as uint8 grayscale (a grayscale one as it is)."""
    return image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def drop_crossing(lines: list[DetectedLine]) -> list[DetectedLine]:
    """Drop lines that run across two or more lines of the other orientation.

    The rivers of justified text (word gaps aligned over several rows) can look like a column of
    vertical text to the detector; such a "line" crosses the horizontal lines it runs through, which
    real text never does (measured on generated column pages: 5 of 186 detections, read as junk).
    """
    vert = np.array([ln.vertical for ln in lines], bool)
    if len(lines) < 3 or vert.all() or not vert.any():
        return lines
    b = np.array([aabb(ln.quad) for ln in lines], np.float64)          # x0, y0, x1, y1
    keep = np.ones(len(lines), bool)
    for i in range(len(lines)):
        o = b[vert != vert[i]]
        x0, y0, x1, y1 = b[i]
        if vert[i]:   # the others pass across: they span our width and their middle is inside our height
            mx, my = 0.2 * (x1 - x0), (o[:, 1] + o[:, 3]) / 2
            crossed = (o[:, 0] <= x0 + mx) & (o[:, 2] >= x1 - mx) & (my >= y0) & (my <= y1)
        else:
            my, mx = 0.2 * (y1 - y0), (o[:, 0] + o[:, 2]) / 2
            crossed = (o[:, 1] <= y0 + my) & (o[:, 3] >= y1 - my) & (mx >= x0) & (mx <= x1)
        keep[i] = crossed.sum() < 2
    return [ln for ln, k in zip(lines, keep) if k]


def absorb_stacked(lines: list[DetectedLine]) -> list[DetectedLine]:
    """Give back to horizontal lines the first (or last) characters the detector stacked into a
    "vertical line".

    Justified text with wide word gaps leaves each row's first word, when it is a single CJK
    syllable, standing apart; a column of such characters reads to the detector as a vertical
    line (measured: 9 of 183 detections on a generated Korean three-column page). When a vertical
    detection has two or more horizontal lines of its own thickness starting (or ending) right next
    to it, it is those rows' edge characters: each such line is extended over it, and it is dropped.
    """
    verticals = [i for i, ln in enumerate(lines) if ln.vertical]
    if not verticals or len(verticals) == len(lines):
        return lines
    boxes = [aabb(ln.quad) for ln in lines]
    quads = [ln.quad.copy() for ln in lines]
    dropped: set[int] = set()
    for v in verticals:
        vx0, vy0, vx1, vy1 = boxes[v]
        width = vx1 - vx0
        left, right = [], []                       # rows continuing to the right / to the left of it
        for j, ln in enumerate(lines):
            if ln.vertical or j in dropped:
                continue
            x0, y0, x1, y1 = boxes[j]
            if not (vy0 <= (y0 + y1) / 2 <= vy1 and 0.6 * width <= y1 - y0 <= 1.6 * width):
                continue
            if -0.5 * width <= x0 - vx1 <= 2.5 * width:
                left.append(j)
            elif -0.5 * width <= vx0 - x1 <= 2.5 * width:
                right.append(j)
        rows = left if len(left) >= len(right) else right
        if len(rows) < 2:
            continue
        for j in rows:
            q = quads[j]                            # p0 top-left, p1 top-right, p2 bottom-right, p3 bottom-left
            if rows is left:
                q[0, 0] = q[3, 0] = min(q[0, 0], vx0)
            else:
                q[1, 0] = q[2, 0] = max(q[1, 0], vx1)
        dropped.add(v)
    return [DetectedLine(quads[i], ln.score, ln.vertical) for i, ln in enumerate(lines) if i not in dropped]


MARK_HOLE = 0.35   # in line thicknesses: the widest gap inside one mark
MARK_WIDTH = 1.5   # ... and the widest mark (a monospaced "--" is 1.3)


def _nearest_run(cols: np.ndarray, from_end: bool, max_hole: int = 1) -> tuple[int, int] | None:
    """(first, last) index of the run of True nearest to one end of ``cols`` (holes of up to
    ``max_hole`` False inside the run bridged), or None."""
    idx = np.flatnonzero(cols)
    if not len(idx):
        return None
    if from_end:
        idx = idx[::-1]
    a = b = int(idx[0])
    for k in idx[1:].tolist():
        if abs(k - b) > max_hole + 1:
            break
        b = k
    return (min(a, b), max(a, b))


def _baseline_dot(blob: np.ndarray, rows: np.ndarray, top: float, t: float) -> bool:
    """A full stop too small for the speck rule: one solid, roughly square dot of at least 6 px, at
    most a fifth of the line thick, sitting in the lower half of the line's band. ``blob``: the ink
    columns of the candidate, ``rows`` its inked rows, ``top`` the first row's offset from the top of
    the band, ``t`` the band's thickness. A Japanese "．" at 200 dpi is a 3×3 px dot on a 29 px band,
    9 px against the speck minimum of 0.02 × 29² = 17: every line-final one on realdev's jlshort
    pages was left out, and the line read without it."""
    h, w = rows[-1] - rows[0] + 1, blob.shape[1]
    area = int(blob.sum())
    size = max(2.0, 0.2 * t)
    centre = top + (rows[0] + rows[-1]) / 2
    return area >= 6 and h <= size and w <= size and area >= 0.6 * h * w and 0.5 * t <= centre <= t


def take_marks(image: np.ndarray, lines: list[DetectedLine], reach: float = 1.6) -> list[DetectedLine]:
    """Give horizontal lines back the list bullet or dash standing apart just before (or after) them.

    The detector leaves out a short mark set off from its line by a gap: on realdev it kept none of
    41 en-dash list bullets ("– 保持您的套件簡單易懂。") and half of 184 "•", so every list item lost a
    character. Beside each end of a near-horizontal line, within ``reach`` × its thickness, ink that
    no other detection covers, that stays inside the line's band, is no wider than a character (its
    strokes at most ``MARK_HOLE`` thicknesses apart: a monospaced "--" ending a quotation) and is
    the only ink there (a contents line's leader dots are not marks) is a mark of that line: the quad
    is extended over it, and the recogniser reads it with the line."""
    horiz = [i for i, ln in enumerate(lines) if not ln.vertical]
    if not horiz:
        return lines
    gray = gray_page(image)
    H, W = gray.shape
    boxes = np.array([aabb(ln.quad) for ln in lines], np.float64)
    out = list(lines)
    for i in horiz:
        q = lines[i].quad
        if not level(lines[i]):
            continue                                  # rotated lines: left as detected
        x0, y0, x1, y1 = boxes[i]
        t = y1 - y0
        iy0, iy1 = max(0, int(y0)), min(H, int(np.ceil(y1)))
        ix0, ix1 = max(0, int(x0)), min(W, int(np.ceil(x1)))
        if t < 6 or iy1 - iy0 < 4 or ix1 - ix0 < 4:
            continue
        thr, _ = cv2.threshold(gray[iy0:iy1, ix0:ix1], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        ey0, ey1 = max(0, int(y0 - 0.35 * t)), min(H, int(np.ceil(y1 + 0.35 * t)))
        others = np.delete(boxes, i, axis=0)
        new = q.copy()
        # A mark may be several strokes ("--" in a monospaced font): gaps of up to MARK_HOLE thicknesses
        # stay inside it. It must start within ``reach``; the window runs on past that far enough to
        # see where a mark starting there ends, so that leader dots cut off by the window's edge are
        # not mistaken for one.
        hole = max(1, int(MARK_HOLE * t))
        reach_px = int(np.ceil(reach * t))
        span = reach_px + int(np.ceil(MARK_WIDTH * t)) + hole + 1
        for side in (-1, 1):
            end = int(x0) if side < 0 else int(np.ceil(x1))
            wx0, wx1 = (max(0, end - span), end) if side < 0 else (end, min(W, end + span))
            nx0, nx1 = (max(0, end - reach_px), end) if side < 0 else (end, min(W, end + reach_px))
            if wx1 - wx0 < 2:
                continue
            if ((others[:, 0] < nx1) & (others[:, 2] > nx0) & (others[:, 1] < y1) & (others[:, 3] > y0)).any():
                continue                              # another detection's text is there
            ink = gray[ey0:ey1, wx0:wx1] < thr
            if side < 0:
                ink = ink[:, ::-1]                    # column 0 next to the line's end, either side
            cols = ink.any(axis=0)
            run = _nearest_run(cols, from_end=False, max_hole=hole)
            if run is None:
                continue
            a, b = run
            if a > reach * t:
                continue                              # the nearest ink is out of reach
            if b + hole + 1 >= len(cols):
                continue                              # runs on past the window: leader dots, a rule
            strokes = int(cols[a]) + int(np.count_nonzero(cols[a + 1:b + 1] & ~cols[a:b]))
            if strokes > 2:
                continue                              # three strokes or more: leader dots, not "--"
            blob = ink[:, a:b + 1]
            rows = np.flatnonzero(blob.any(axis=1))
            if rows[0] == 0 or rows[-1] == ink.shape[0] - 1:
                continue                              # runs beyond the line's band: a rule, a figure, another line
            if b - a + 1 > MARK_WIDTH * t:
                continue                              # a word, not a mark
            if blob.sum() < max(6.0, 0.02 * t * t) and not _baseline_dot(blob, rows, ey0 - y0, t):
                continue                              # a speck of noise
            if cols[b + 1:reach_px].any():
                continue                              # more ink beyond it: a row of leader dots, another word
            if side < 0:
                new[0, 0] = new[3, 0] = wx1 - b - 2
            else:
                new[1, 0] = new[2, 0] = wx0 + b + 2
        if not np.array_equal(new, q):
            out[i] = DetectedLine(new, lines[i].score, False)
    return out


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
        # straight into the model's contiguous NCHW float input: no padded uint8 canvas, no float HWC copy
        x = np.empty((1, 3, ph, pw), np.float32)
        x[0] = (border.astype(np.uint8).astype(np.float32) * np.float32(1.0 / 255.0))[:, None, None]
        np.multiply(small.transpose(2, 0, 1), np.float32(1.0 / 255.0), out=x[0, :, :nh, :nw], casting="unsafe")
        out = self.session.run(None, {"image": x})[0][0]
        oh, ow = -(-nh // self.stride), -(-nw // self.stride)
        logit = out[0, :oh, :ow]
        prob = 1.0 / (1.0 + np.exp(-logit))
        return prob, out[1, :oh, :ow], scale

    def detect(self, image: np.ndarray, marks: bool = True) -> list[DetectedLine]:
        """Lines of ``image``; ``marks=False`` leaves out :func:`take_marks` (for the benchmark beside it)."""
        prob, thick, scale = self.maps(image)
        lines = absorb_stacked(drop_crossing(maps_to_lines(prob, thick, self.shrink, self.stride, scale)))
        return take_marks(image, lines) if marks else lines
