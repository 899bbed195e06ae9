"""Reading order and paragraphs of detected lines: a learned relational model, or recursive XY-cut.

The pipeline hands over lines in arbitrary order (polygon, text, language, direction, writing mode,
confidence) and gets back paragraph Blocks in reading order, each with its lines in reading order;
every input line appears in exactly one block. Two methods share that contract:

* ``"learned"`` (default): per-line features (:func:`line_features`) and box geometry go through a
  small transformer (``weights/order.onnx``, trained on the generator's relation graphs by
  :mod:`polyocr.train.order`) that scores, for every ordered pair (a, b), "b is the next line after a"
  and "a and b are in the same paragraph". :func:`chain_decode` turns the successor scores into one
  full order (greedy path cover, then greedy chain joining); paragraphs are the maximal runs of
  consecutive lines the model puts in one paragraph.
* ``"xycut"``: recursive projection-profile cuts (:func:`xycut_order`) in a normalised frame where
  every page reads like a left-to-right horizontal page (RTL pages are mirrored, vertical-rl pages
  turned), with a test that tells text columns (cut them first) from tables and forms (cut rows
  first); paragraphs by vertical gap, indent and size changes (:func:`gap_paragraphs`).

Needs numpy and onnxruntime only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from polyocr.document import Block, Line, polygon_bounds, quad_from_box
from polyocr.pipeline.runtime import DEFAULT_WEIGHTS

__all__ = ["Orderer", "OrderWeights", "NoOrderWeights", "METHODS", "N_FEATURES", "line_features", "page_direction", "vertical_page",
           "skew_angle", "make_block", "chain_decode", "best_rotation", "path_score", "runs_to_paragraphs", "xycut_order", "text_columns", "column_switches", "gap_paragraphs", "frame_boxes", "DEFAULT_WEIGHTS"]

METHODS = ("learned", "xycut")
N_FEATURES = 26
_TERMINAL = set(".!?。！？…؟:;」』\"'”’)")
# (first, last) code point ranges per script feature: Latin, Cyrillic, Arabic, Hebrew, CJK (Han + kana), Hangul
_SCRIPTS = (
    ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)),
    ((0x400, 0x52F),),
    ((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    ((0x590, 0x5FF), (0xFB1D, 0xFB4F)),
    ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
    ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
)


class NoOrderWeights(FileNotFoundError):
    """No trained reading-order model where we looked."""


# -- features (shared with training: polyocr.train.order imports these) ------------------------------------

def vertical_page(lines: Sequence[Line]) -> bool:
    """Whether most of the page's lines are vertical-rl columns (the page then reads in columns)."""
    return sum(ln.writing_mode == "vertical-rl" for ln in lines) * 2 > len(lines)


def page_direction(lines: Sequence[Line], direction: str | None = None) -> str:
    """The page's direction: as given, else the direction carrying most text."""
    if direction in ("ltr", "rtl"):
        return direction
    rtl = sum(len(ln.text) + 1 for ln in lines if ln.direction == "rtl")
    ltr = sum(len(ln.text) + 1 for ln in lines if ln.direction != "rtl")
    return "rtl" if rtl > ltr else "ltr"


def _script_table() -> np.ndarray:
    table = np.zeros(0x10000, np.int8)
    for k, ranges in enumerate(_SCRIPTS, start=1):
        for lo, hi in ranges:
            table[lo:hi + 1] = k
    return table


_SCRIPT_OF = _script_table()  # BMP code point → 1 + script feature index (0: none of them)


def _script_shares(text: str) -> np.ndarray:
    cps = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    counts = np.bincount(_SCRIPT_OF[cps[cps < 0x10000]], minlength=len(_SCRIPTS) + 1)[1:]
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def _quads(lines: Sequence[Line]) -> np.ndarray:
    """(N, 4, 2) first four points of each polygon (the schema's quads; longer polygons are rare)."""
    return np.array([ln.polygon[:4] for ln in lines], np.float64).reshape(-1, 4, 2)


def skew_angle(lines: Sequence[Line]) -> float:
    """The page's text skew in radians (length-weighted median reading-direction angle, within ±0.3).

    Polygons start at the top-left of the text frame and go clockwise, so p0 → p1 runs along the
    reading direction of a horizontal line and down a vertical-rl column; angles are taken modulo π,
    so a quad starting at another corner gives the same skew. Lines less than twice as long as
    they are thick say little about direction and are left out.
    """
    if not lines:
        return 0.0
    q = _quads(lines)
    d = q[:, 1] - q[:, 0]
    along = np.hypot(d[:, 0], d[:, 1])
    across = np.hypot(*(q[:, 2] - q[:, 1]).T)
    vert = np.array([ln.writing_mode == "vertical-rl" for ln in lines])
    a = np.arctan2(d[:, 1], d[:, 0]) - np.where(vert, np.pi / 2, 0.0)
    a = (a + np.pi / 2) % np.pi - np.pi / 2
    keep = along >= 2 * across
    if not keep.any():
        return 0.0
    a, w = a[keep], along[keep]
    order = np.argsort(a)
    cum = np.cumsum(w[order])
    return float(np.clip(a[order][np.searchsorted(cum, cum[-1] / 2)], -0.3, 0.3))


def _boxes(lines: Sequence[Line], width: float = 0.0, height: float = 0.0, skew: float | None = None) -> np.ndarray:
    """(N, 4) float64 bounds x0, y0, x1, y1 of each line's polygon, turned about the page centre to
    undo the page's skew (photographed and scanned pages are rarely straight; boxes of a skewed
    page overlap their neighbours' rows and columns). ``skew``: the angle when the caller measured it
    (the pipeline, on the ink: :mod:`polyocr.pipeline.skew`), else :func:`skew_angle` of the lines."""
    if not lines:
        return np.zeros((0, 4))
    if all(len(ln.polygon) == 4 for ln in lines):
        pts = _quads(lines)                                                   # (N, 4, 2)
    else:
        k = max(len(ln.polygon) for ln in lines)  # pad with repeats of the last point: same bounds
        pts = np.array([list(ln.polygon) + [ln.polygon[-1]] * (k - len(ln.polygon)) for ln in lines], np.float64)
    a = skew_angle(lines) if skew is None else skew
    if a:
        c, s = np.cos(-a), np.sin(-a)
        x, y = pts[..., 0] - width / 2, pts[..., 1] - height / 2
        pts = np.stack([x * c - y * s + width / 2, x * s + y * c + height / 2], axis=-1)
    return np.concatenate([pts.min(axis=1), pts.max(axis=1)], axis=1)


def line_features(lines: Sequence[Line], width: int, height: int, direction: str | None = None,
                  skew: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for one page: ``feats`` (N, N_FEATURES) and ``geom`` (N, 8), float32.

    ``geom`` is each box twice: in page units (x / width, y / height) and in units of the median line
    thickness (the font-size proxy: a horizontal line's height, a vertical column's width), which is
    what gaps and indents are measured against. ``feats`` adds the box in page units, thickness,
    writing mode, line and page direction, text density and final punctuation, script shares and the
    recogniser's confidence. ``skew``: as for :func:`_boxes`.
    """
    n = len(lines)
    b = _boxes(lines, width, height, skew)
    w = np.maximum(b[:, 2] - b[:, 0], 1.0)
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    vert = np.array([ln.writing_mode == "vertical-rl" for ln in lines], bool)
    thick = np.where(vert, w, h)
    length = np.where(vert, h, w)
    t_med = float(np.median(thick)) if n else 1.0
    W, H = float(max(width, 1)), float(max(height, 1))
    page_rtl = page_direction(lines, direction) == "rtl"
    f = np.zeros((n, N_FEATURES), np.float32)
    f[:, 0], f[:, 1], f[:, 2], f[:, 3] = b[:, 0] / W, b[:, 1] / H, b[:, 2] / W, b[:, 3] / H
    f[:, 4], f[:, 5] = (b[:, 0] + b[:, 2]) / (2 * W), (b[:, 1] + b[:, 3]) / (2 * H)
    f[:, 6], f[:, 7] = w / W, h / H
    f[:, 8] = np.log(thick / t_med)
    f[:, 9] = t_med / min(W, H) * 20.0
    f[:, 10] = np.log(W / H)
    f[:, 11] = vert
    f[:, 12] = [ln.direction == "rtl" for ln in lines]
    f[:, 13] = page_rtl
    f[:, 14] = vert.mean() if n else 0.0
    for i, ln in enumerate(lines):  # the only per-line Python: text features
        text = ln.text.strip()
        f[i, 15] = min(len(text) * thick[i] / length[i], 4.0) / 2.0
        f[i, 16] = bool(text) and text[-1] in _TERMINAL
        f[i, 17] = not text
        f[i, 18:24] = _script_shares(text)
        f[i, 24] = ln.confidence
    f[:, 25] = np.log1p(length / thick) / 5.0
    geom = np.concatenate([b / [W, H, W, H], b / t_med], axis=1).astype(np.float32)
    return f, geom


# -- decoding ---------------------------------------------------------------------------------------------

class _Chains:
    """Union-find over lines plus successor/predecessor links: a set of disjoint paths."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.succ = [-1] * n
        self.pred = [-1] * n

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def link(self, i: int, j: int) -> bool:
        """Add the edge i → j if it keeps every component a simple path."""
        if self.succ[i] >= 0 or self.pred[j] >= 0:
            return False
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        self.parent[ri] = rj
        self.succ[i], self.pred[j] = j, i
        return True

    def accept_sorted(self, rows: np.ndarray, cols: np.ndarray, scores: np.ndarray, budget: int) -> int:
        for k in np.argsort(-scores, kind="stable"):
            if budget <= 0:
                break
            budget -= self.link(int(rows[k]), int(cols[k]))
        return budget


def chain_decode(score: np.ndarray, k: int = 4) -> list[int]:
    """One full order from successor scores ``score[a, b]`` (higher = b more likely right after a).

    Greedy path cover over each line's ``k`` best successors, then the remaining chains are joined
    greedily by the best tail → head scores. Always returns a permutation of ``range(n)``.
    """
    n = score.shape[0]
    if n <= 1:
        return list(range(n))
    s = score.astype(np.float64, copy=True)
    np.fill_diagonal(s, -np.inf)
    ch = _Chains(n)
    k = min(k, n - 1)
    cand = np.argpartition(-s, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = cand.reshape(-1)
    budget = ch.accept_sorted(rows, cols, s[rows, cols], n - 1)
    if budget > 0:  # join the chains: tails to heads, best first
        tails = np.array([i for i in range(n) if ch.succ[i] < 0])
        heads = np.array([j for j in range(n) if ch.pred[j] < 0])
        tt, hh = np.meshgrid(tails, heads, indexing="ij")
        ch.accept_sorted(tt.reshape(-1), hh.reshape(-1), s[tt, hh].reshape(-1), budget)
    start = next(i for i in range(n) if ch.pred[i] < 0)
    order = [start]
    while ch.succ[order[-1]] >= 0:
        order.append(ch.succ[order[-1]])
    return relocate_segments(s, best_rotation(s, order))


def relocate_segments(score: np.ndarray, order: list[int], max_len: int = 3) -> list[int]:
    """``order`` with runs of up to ``max_len`` lines moved wherever that raises the path score (or-opt).

    The greedy joins fix each link once: on a 150-line contents page two entries from near the bottom
    were joined in front of the title (they start the path, and a path's first line costs nothing),
    and neither the joins nor a rotation could move them back (path score -164; moved: -61). Each
    step takes the single best move of any run to any gap between two lines (or either end), all
    scored at once, until none raises the sum of links.
    """
    n = len(order)
    if n < 4:
        return order
    # scores padded with a row and column of zeros: index n stands for "no line" (a path's ends)
    sp = np.zeros((n + 1, n + 1))
    sp[:n, :n] = np.where(np.isfinite(score), score, -1e9)
    pos = np.asarray(order)
    gaps = np.arange(n + 1)
    for _ in range(4 * n):                                   # each move raises the score; this bounds the time
        left = np.concatenate([[n], pos])                    # the line before gap g (n: the start)
        right = np.concatenate([pos, [n]])                   # the line after gap g (n: the end)
        closed = sp[left, right]                             # what each gap's link is worth now
        best, move = 1e-6, None
        for length in range(1, max_len + 1):
            starts = np.arange(n - length + 1)
            a, b = pos[starts], pos[starts + length - 1]
            taken = -sp[left[starts], a] - sp[b, right[starts + length]] + sp[left[starts], right[starts + length]]
            put = sp[left[None, :], a[:, None]] + sp[b[:, None], right[None, :]] - closed[None, :]
            total = taken[:, None] + put
            inside = (gaps[None, :] >= starts[:, None]) & (gaps[None, :] <= starts[:, None] + length)
            total[inside] = -np.inf                          # into itself or next to itself: no move
            k = int(np.argmax(total))
            if total.flat[k] > best:
                best, move = float(total.flat[k]), (int(starts[k // (n + 1)]), length, k % (n + 1))
        if move is None:
            break
        i, length, g = move
        seg = pos[i:i + length]
        if g < i:
            pos = np.concatenate([pos[:g], seg, pos[g:i], pos[i + length:]])
        else:
            pos = np.concatenate([pos[:i], pos[i + length:g], seg, pos[g:]])
    return pos.tolist()


def best_rotation(score: np.ndarray, order: list[int]) -> list[int]:
    """``order`` cut at its weakest link and closed at its ends, when the end → start link scores higher.

    Greedy joins can leave a page rotated: a stray fragment in mid-page starts the path, which runs to
    the bottom, jumps to the top and ends just above the fragment (realdev ja-debref-p035, v14). Every
    rotation has the same links but one, so the best rotation is found in one pass; the path score
    only rises.
    """
    if len(order) < 3:
        return order
    idx = np.asarray(order)
    links = score[idx[:-1], idx[1:]]
    k = int(np.argmin(links))
    if score[idx[-1], idx[0]] > links[k]:
        return order[k + 1:] + order[:k + 1]
    return order


def path_score(score: np.ndarray, order: Sequence[int]) -> float:
    """Sum of successor scores along ``order``: how much the model believes in a whole order."""
    idx = np.asarray(order)
    return float(score[idx[:-1], idx[1:]].sum()) if len(idx) > 1 else 0.0


def runs_to_paragraphs(order: Sequence[int], same: np.ndarray, threshold: float = 0.5) -> list[list[int]]:
    """Cut ``order`` wherever consecutive lines are not in one paragraph (``same[a, b] < threshold``)."""
    groups: list[list[int]] = []
    for k, i in enumerate(order):
        if k and same[order[k - 1], i] >= threshold:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


# -- XY-cut baseline --------------------------------------------------------------------------------------

def frame_boxes(lines: Sequence[Line], width: int, height: int, direction: str | None = None,
                skew: float | None = None) -> np.ndarray:
    """Line boxes in a frame where the page reads like left-to-right horizontal text.

    RTL pages are mirrored; on pages of mostly vertical-rl lines (x, y) → (y, width − x), so columns
    read right to left become lines read top to bottom and stacked tiers become left-to-right columns.
    ``skew``: as for :func:`_boxes`.
    """
    b = _boxes(lines, width, height, skew)
    if not len(b):
        return b
    if vertical_page(lines):
        return np.stack([b[:, 1], width - b[:, 2], b[:, 3], width - b[:, 0]], axis=1)
    if page_direction(lines, direction) == "rtl":
        return np.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], axis=1)
    return b


def _gaps(lo: np.ndarray, hi: np.ndarray, min_gap: float, tol: int = 0) -> list[tuple[float, float]]:
    """Intervals at least ``min_gap`` wide crossed by at most ``tol`` of the [lo, hi] intervals, with
    intervals wholly on both sides: a projection profile's valleys. ``tol`` > 0 lets a gutter survive
    the odd detected line that runs across it."""
    if tol <= 0:
        idx = np.argsort(lo, kind="stable")
        out, reach = [], hi[idx[0]]
        for i in idx[1:]:
            if lo[i] - reach >= min_gap:
                out.append((float(reach), float(lo[i])))
            reach = max(reach, hi[i])
        return out
    pos = np.concatenate([lo, hi])
    step = np.concatenate([np.ones(len(lo)), -np.ones(len(hi))])
    order = np.lexsort((step, pos))  # at equal positions, ends before starts
    pos, cover = pos[order], np.cumsum(step[order])
    # Runs of consecutive low-cover intervals: the odd crossing line's ends cut a valley into pieces
    # that are each narrower than min_gap while the valley is not.
    runs: list[tuple[float, float]] = []
    start = end = 0.0
    open_run = False
    for k in range(len(pos) - 1):
        if pos[k + 1] == pos[k]:
            continue                                  # an instant between two events at one position
        if cover[k] <= tol:
            if not open_run:
                start, open_run = float(pos[k]), True
            end = float(pos[k + 1])
        elif open_run:
            runs.append((start, end))
            open_run = False
    if open_run:
        runs.append((start, end))
    out = [(g0, g1) for g0, g1 in runs
           if g1 - g0 >= min_gap and (hi <= g0).sum() >= 2 and (lo >= g1).sum() >= 2]
    return out


def _split(b: np.ndarray, ids: np.ndarray, axis: int, gaps: list[tuple[float, float]]) -> list[np.ndarray]:
    centre = (b[ids, axis] + b[ids, axis + 2]) / 2
    cuts = np.array([(g0 + g1) / 2 for g0, g1 in gaps])
    slot = np.searchsorted(cuts, centre)
    return [ids[slot == s] for s in range(len(gaps) + 1) if (slot == s).any()]


def _columnar(b: np.ndarray, pieces: list[np.ndarray], t: float) -> bool:
    """Text columns (long lines filling their piece), not table cells or form fields."""
    fills, lengths = [], []
    for p in pieces:
        # by row, not by line: a justified line the detector left in fragments still fills its column
        rows = np.array([(b[r, 0].min(), b[r, 2].max()) for r in _rows(b, p)])
        # the column's extent without the odd line that runs across the gutter (a heading, a line
        # the detector ran over a narrow gutter)
        span = max(float(np.percentile(rows[:, 1], 90) - np.percentile(rows[:, 0], 10)), 1.0)
        fills.extend(np.minimum((rows[:, 1] - rows[:, 0]) / span, 1.0))
        lengths.append(float(np.median(rows[:, 1] - rows[:, 0])))
    return float(np.median(fills)) >= 0.7 and min(lengths) >= 8 * t


def _in_row(b: np.ndarray, ids: np.ndarray, i: int) -> np.ndarray:
    """Per line of ``ids``: does it share line ``i``'s row (vertical overlap over half the smaller
    height)? ``i`` itself counts."""
    h = np.minimum(b[ids, 3], b[i, 3]) - np.maximum(b[ids, 1], b[i, 1])
    return h > 0.5 * np.minimum(b[ids, 3] - b[ids, 1], b[i, 3] - b[i, 1])


def _title_rows(b: np.ndarray, ids: np.ndarray, gutters: list[tuple[float, float]], full: np.ndarray,
                t: float) -> list[int]:
    """The rows above everything else whose pieces meet across a gutter: a heading centred over the
    columns that the detector or the pipeline cut at the gutter ("5. Кто" | "кричит"). Text runs up
    to the gutter from both sides, and no line of the row is a column's full-width line (those make
    the columns' own first row). Left to right, row by row."""
    out: list[int] = []
    left = ids
    while len(left) > 1:
        row = left[_in_row(b, left, left[np.argmin(b[left, 1])])]
        others = np.setdiff1d(left, row)
        if len(row) < 2 or not len(others) or b[row, 3].max() > b[others, 1].min():
            break
        crossing = np.array([any(b[i, 0] <= g0 and b[i, 2] >= g1 for g0, g1 in gutters) for i in row])
        if (full[row] & ~crossing).any():
            break
        ends, starts = b[row, 2], b[row, 0]
        meets = any(((ends >= g0 - t) & (ends <= g1)).any() and ((starts >= g0) & (starts <= g1 + t)).any()
                    and starts.min() < g0 and ends.max() > g1 for g0, g1 in gutters)
        # ... or cut at a word gap beside the gutter: the row spans the gutter and its pieces follow
        # each other at gaps narrower than the gutter, so no piece stops at one side of it and the
        # next starts at the other, as two columns' headings do ("1. צפורי קרא" | "לקדם את": the
        # detector's cut fell 30 px past a 50 px gutter, he-s0-00007 with the session-22 detector)
        by_x = np.argsort(starts)
        gaps = starts[by_x][1:] - ends[by_x][:-1]
        joined = any(starts.min() < g0 and ends.max() > g1 and (gaps < g1 - g0).all() for g0, g1 in gutters)
        if not (meets or joined):
            break
        out += sorted(row.tolist(), key=lambda i: b[i, 0])
        left = others
    return out


def _top_band(b: np.ndarray, ids: np.ndarray, pieces: list[np.ndarray], t: float) -> np.ndarray:
    """The lines above the first white band across the whole page when they stand over at most one
    text column (a running header at the top right, a title centred over the middle column): they
    are read before the columns, not after whichever column holds their centre. Lines over two or
    more columns are the columns' own first row (or a title the gutter rule handles)."""
    gaps = _gaps(b[ids, 1], b[ids, 3], 0.3 * t)
    if not gaps:
        return ids[:0]
    cut = (gaps[0][0] + gaps[0][1]) / 2
    above = (b[ids, 1] + b[ids, 3]) / 2 < cut
    band = ids[above]
    held = [p for p in pieces if np.isin(p, band).any()]
    below = [p for p in pieces if np.isin(p, ids[~above]).any()]
    if len(held) > 1 or len(below) < 2 or len(band) * 2 >= len(ids):
        return ids[:0]
    return band


def _xy(b: np.ndarray, ids: np.ndarray, t: float, depth: int = 0) -> list[int]:
    if len(ids) <= 1 or depth > 200:
        return _leaf(b, ids)
    xg = _gaps(b[ids, 0], b[ids, 2], 0.5 * t, tol=len(ids) // 10)
    xs = _split(b, ids, 0, xg) if xg else []
    if xg and _columnar(b, xs, t):
        band = _top_band(b, ids, xs, t)
        if len(band):
            return _xy(b, band, t, depth + 1) + _xy(b, np.setdiff1d(ids, band), t, depth + 1)
        # Lines in or across a gutter that sit above or below all the columns (a title, a centred
        # page number) come before or after them, not inside whichever column holds their centre.
        # No full-width line may share such a line's row: the gutter valleys, found with a few
        # crossings allowed, start inside the columns' ragged edges, so every column's first line
        # may reach into one, and a row of those is the columns' first row, not a title (a
        # three-column page read its first row across the page).
        width = b[:, 2] - b[:, 0]
        full = width > 0.6 * np.median(width[ids])
        heads = _title_rows(b, ids, xg, full, t)
        body = np.setdiff1d(ids, heads)
        # a short line centred on the page is such a line too where a column, not a gutter, holds
        # the page's middle (a page number under three columns)
        lo, hi = b[ids, 0].min(), b[ids, 2].max()
        centred = (np.abs((b[body, 0] + b[body, 2]) / 2 - (lo + hi) / 2) < 0.03 * (hi - lo)) & ~full[body]
        inside = centred | np.array([any(b[i, 0] < g1 and b[i, 2] > g0 for g0, g1 in xg) for i in body], bool)
        rest = body[~inside]
        above: list[int] = []
        below: list[int] = []
        if inside.any() and len(rest):
            top, bottom = b[rest, 1].min(), b[rest, 3].max()

            def own_row(i: int) -> bool:
                return not (_in_row(b, body, i) & (body != i) & full[body]).any()

            above = [i for i in body[inside] if b[i, 3] <= top and own_row(i)]
            below = [i for i in body[inside] if b[i, 1] >= bottom and own_row(i)]
        if heads or above or below:
            middle = np.array(sorted(set(body.tolist()) - set(above) - set(below)), dtype=ids.dtype)
            return (heads + sorted(above, key=lambda i: b[i, 1]) + _xy(b, middle, t, depth + 1)
                    + sorted(below, key=lambda i: b[i, 1]))
        return [i for p in xs for i in _xy(b, p, t, depth + 1)]
    yg = _gaps(b[ids, 1], b[ids, 3], 0.05 * t)
    if yg:
        bands = _merge_columns(b, _split(b, ids, 1, yg), t)
        if len(bands) > 1:
            return [i for p in bands for i in _xy(b, p, t, depth + 1)]
    if xg:
        return [i for p in xs for i in _xy(b, p, t, depth + 1)]
    return _leaf(b, ids)


def _merge_columns(b: np.ndarray, bands: list[np.ndarray], t: float) -> list[np.ndarray]:
    """Join consecutive bands while text columns continue across the cut: after a band of text
    columns, a following band belongs to it when none of its lines crosses a gutter and its lines
    fill their columns (table rows under a header row do not) or it is one line flush with its column."""
    def columns(ids: np.ndarray) -> np.ndarray:
        g = _gaps(b[ids, 0], b[ids, 2], 0.5 * t, tol=len(ids) // 10)
        if not g:
            return np.zeros((0, 2))
        pieces = _split(b, ids, 0, g)
        if not _columnar(b, pieces, t):
            return np.zeros((0, 2))
        return np.array([(b[p, 0].min(), b[p, 2].max()) for p in pieces])

    out = [bands[0]]
    cols = columns(bands[0])
    for band in bands[1:]:
        if len(cols):
            mids = (cols[1:, 0] + cols[:-1, 1]) / 2
            crosses = ((b[band, 0, None] < mids) & (b[band, 2, None] > mids)).any()
            slot = np.searchsorted(mids, (b[band, 0] + b[band, 2]) / 2)
            fill = (b[band, 2] - b[band, 0]) / np.maximum(cols[slot, 1] - cols[slot, 0], 1.0)
            flush = len(band) == 1 and abs(b[band[0], 0] - cols[slot[0], 0]) < t  # e.g. a paragraph's last line
            if not crosses and (fill.mean() >= 0.55 or flush):
                out[-1] = np.concatenate([out[-1], band])
                continue
        out.append(band)
        cols = columns(band)
    return out


def _rows(b: np.ndarray, ids: np.ndarray) -> list[list[int]]:
    """Lines grouped into rows by vertical overlap, top to bottom."""
    rows: list[list[int]] = []
    for i in sorted(ids.tolist(), key=lambda i: (b[i, 1], b[i, 0])):
        if rows:
            r = rows[-1]
            top, bottom = min(b[r, 1]), max(b[r, 3])
            overlap = min(bottom, b[i, 3]) - max(top, b[i, 1])
            if overlap > 0.5 * min(bottom - top, b[i, 3] - b[i, 1]):
                r.append(i)
                continue
        rows.append([i])
    return rows


def _leaf(b: np.ndarray, ids: np.ndarray) -> list[int]:
    """Lines with no clean cut between them: rows by vertical overlap, each row left to right."""
    return [i for r in _rows(b, ids) for i in sorted(r, key=lambda i: b[i, 0])]


def _cores(boxes: np.ndarray) -> tuple[np.ndarray, float]:
    """Cut on the cores of the boxes: detected boxes carry margins that close the gaps between rows
    and columns (exact boxes only gain a little more white space). Also the median line height."""
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    t = float(np.median(h))
    core = boxes + np.stack([np.minimum(0.25 * t, 0.25 * (boxes[:, 2] - boxes[:, 0])), 0.2 * h,
                             -np.minimum(0.25 * t, 0.25 * (boxes[:, 2] - boxes[:, 0])), -0.2 * h], axis=1)
    return core, t


def xycut_order(boxes: np.ndarray) -> list[int]:
    """Reading order of boxes (already in the left-to-right frame of :func:`frame_boxes`)."""
    if not len(boxes):
        return []
    core, t = _cores(boxes)
    return _xy(core, np.arange(len(boxes)), t)


def text_columns(boxes: np.ndarray) -> np.ndarray | None:
    """Each box's text column (left to right), or None when the page has no text columns.

    Columns are the first cut XY-cut makes when it is a cut between text columns (not table cells).
    """
    if len(boxes) < 4:
        return None
    core, t = _cores(boxes)
    ids = np.arange(len(boxes))
    gaps = _gaps(core[:, 0], core[:, 2], 0.5 * t, tol=len(ids) // 10)
    if not gaps:
        return None
    pieces = _split(core, ids, 0, gaps)
    if not _columnar(core, pieces, t):
        return None
    col = np.empty(len(boxes), int)
    for k, p in enumerate(pieces):
        col[p] = k
    return col


def column_switches(boxes: np.ndarray, order: Sequence[int], columns: np.ndarray | None = None) -> int:
    """How often ``order`` moves between the page's text columns (0 when it has none).

    A reading goes down one column before the next, whatever the model's scores say. ``columns``:
    :func:`text_columns` of ``boxes``, when the caller compares several orders of one page.
    """
    col = text_columns(boxes) if columns is None else columns
    if col is None:
        return 0
    seq = col[list(order)]
    return int((seq[1:] != seq[:-1]).sum())


def gap_paragraphs(boxes: np.ndarray, order: Sequence[int]) -> list[list[int]]:
    """Paragraphs of an ordered line list (frame boxes): a new one starts at a line that is not just
    below the previous one, after a gap clearly wider than the page's usual leading, after a short
    line (a paragraph's last), at an indent or at a change of text size."""
    if not len(order):
        return []
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    t = float(np.median(h))
    pairs = list(zip(order, order[1:]))

    def below(a: int, b: int) -> bool:
        ov = min(boxes[a, 2], boxes[b, 2]) - max(boxes[a, 0], boxes[b, 0])
        return boxes[b, 1] > boxes[a, 1] + 0.5 * h[a] and ov > 0.3 * min(boxes[a, 2] - boxes[a, 0], boxes[b, 2] - boxes[b, 0])

    leads = [boxes[b, 1] - boxes[a, 3] for a, b in pairs if below(a, b) and 0.8 < h[b] / h[a] < 1.25]
    lead = float(np.median(leads)) if leads else 0.3 * t
    groups = [[order[0]]]
    for a, b in pairs:
        gap = boxes[b, 1] - boxes[a, 3]
        short = boxes[b, 2] - boxes[a, 2] > max(4 * t, 0.2 * (boxes[b, 2] - boxes[b, 0]))
        same = (below(a, b) and gap <= lead + 0.35 * t and 0.8 < h[b] / h[a] < 1.25
                and boxes[b, 0] - boxes[a, 0] < 1.0 * t and not short)
        if same:
            groups[-1].append(b)
        else:
            groups.append([b])
    return groups


# -- the stage --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrderWeights:
    """What ``order.json`` records and inference must follow."""

    onnx: Path
    n_features: int
    max_lines: int
    same_threshold: float
    raw: dict


def _read_weights(folder: Path) -> OrderWeights:
    meta = folder / "order.json"
    if not meta.is_file():
        raise NoOrderWeights(f"no reading-order weights in {folder} (order.json missing); train them with "
                             "`polyocr train order` or use method='xycut'")
    raw = json.loads(meta.read_text(encoding="utf-8"))
    if raw.get("format") != "polyocr-order" or int(raw["input"]["n_features"]) != N_FEATURES:
        raise NoOrderWeights(f"{meta}: not polyocr-order weights for {N_FEATURES} features")
    onnx = folder / raw["onnx"]["file"]
    if not onnx.is_file():
        raise NoOrderWeights(f"{onnx} missing (order.json is there)")
    return OrderWeights(onnx=onnx, n_features=N_FEATURES, max_lines=int(raw["input"]["max_lines"]),
                        same_threshold=float(raw.get("decode", {}).get("same_threshold", 0.5)), raw=raw)


class Orderer:
    """Reading order + paragraphs for one page's lines. Build once (it holds the ONNX session).

    ``weights``: a folder with ``order.json`` + ``order.onnx`` (default: the packaged weights).
    Pages with more than ``max_lines`` lines (order.json) fall back to XY-cut.
    """

    def __init__(self, method: str = "learned", weights: str | os.PathLike[str] | None = None, threads: int = 1) -> None:
        if method not in METHODS:
            raise ValueError(f"order method must be one of {METHODS}, not {method!r}")
        self.method = method
        self.session = None
        self.weights: OrderWeights | None = None
        if method == "learned":
            from polyocr.pipeline.runtime import cpu_session

            self.weights = _read_weights(Path(weights) if weights else DEFAULT_WEIGHTS)
            self.session = cpu_session(self.weights.onnx, threads)

    def scores(self, lines: Sequence[Line], width: int, height: int, direction: str | None = None,
               skew: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The model's (successor score, same-paragraph probability), each (N, N)."""
        feats, geom = line_features(lines, width, height, direction, skew)
        score, same = self.session.run(None, {"feats": feats[None], "geom": geom[None]})
        return score[0], same[0]

    def order(self, lines: Sequence[Line], width: int, height: int, direction: str | None = None,
              skew: float | None = None) -> list[list[int]]:
        """Paragraphs as lists of input indices, both levels in reading order. ``skew``: the page's
        measured skew (radians; default: taken from the lines' own angles, :func:`skew_angle`)."""
        n = len(lines)
        if n == 0:
            return []
        if skew is None:
            skew = skew_angle(lines)              # once: features and XY-cut turn the boxes alike
        boxes = frame_boxes(lines, width, height, direction, skew)
        if self.method == "learned" and n > 1 and n <= self.weights.max_lines:
            score, same = self.scores(lines, width, height, direction, skew)
            # The greedy chain decoder can settle on an order its own model scores below XY-cut's
            # (key/value forms, pages with stray fragments): keep whichever the model prefers.
            # Nor is a path that crosses between text columns more often than XY-cut's trusted.
            chain, xy = chain_decode(score), xycut_order(boxes)
            better = path_score(score, chain) > path_score(score, xy)
            if better:
                cols = text_columns(boxes)
                if cols is not None:
                    better = column_switches(boxes, chain, cols) <= column_switches(boxes, xy, cols)
            order = chain if better else xy
            return runs_to_paragraphs(order, same, self.weights.same_threshold)
        return gap_paragraphs(boxes, xycut_order(boxes))

    def __call__(self, lines: list[Line], width: int, height: int, direction: str | None = None,
                 skew: float | None = None) -> list[Block]:
        return [make_block([lines[i] for i in g], k)
                for k, g in enumerate(self.order(lines, width, height, direction, skew))]


def make_block(lines: list[Line], order: int) -> Block:
    """A paragraph Block around ``lines``: union box (vertical-rl blocks start at the top-right)."""
    x0, y0, x1, y1 = polygon_bounds([p for ln in lines for p in ln.polygon])
    poly = quad_from_box(x0, y0, x1, y1)
    if vertical_page(lines):
        poly = (poly[1], poly[2], poly[3], poly[0])
    langs = [ln.language for ln in lines if ln.language]
    language = max(sorted(set(langs)), key=langs.count) if langs else ""  # sorted: ties break the same way every run
    return Block(lines=list(lines), polygon=poly, kind="paragraph", order=order, language=language)
