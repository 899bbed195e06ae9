"""Join line fragments that the detector split at wide word gaps, before reading order.

Justified text in narrow columns stretches word gaps to two or three line heights, wider than the
gutter between columns. The detector then returns such a line as several fragments, and the
reading-order model — trained on whole lines — interleaves fragments of different rows and
columns (measured: a held-out Russian three-column page read at page NED 0.84, most of it order).

A gap alone cannot tell a stretched word gap from a column gutter or a table's cell gap, but the
rows around it can: a word gap inside a paragraph lies under and over other lines of the same
column, which run straight across it, while nothing crosses a gutter or the gaps between a table's
cells. So two fragments of one row are joined when the lines of the rows just above *and* just
below together cover the gap (only one side is asked for at the top or bottom of a column, where
there is no row on the other side).

Gutters are found first (:func:`find_gutters`): vertical bands at least ~0.6 line heights wide
that (almost) no recognised word covers while both sides are full of them. No fragments are joined across
one, and a line the detector ran across one (two columns' rows at the same height over a narrow
gutter) is cut there, at its recognised word gap: a few such lines at the top of a page made the
reading-order model read two columns as one (generated two-column Korean page: NED 0.84).

Only horizontal lines are joined; polygons must be in the upright frame (the pipeline orders there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from polyocr.document import Line, Word

__all__ = ["join_fragments", "find_gutters", "split_at_gutters", "JoinConfig"]


@dataclass(frozen=True)
class JoinConfig:
    max_gap: float = 6.0        # in line heights: wider gaps are never word gaps
    min_gap: float = 0.8        # the detector keeps normal word gaps inside a line; boxes closer than
                                # this may be neighbours across a narrow gutter, grown into each other:
                                # they are joined only on the evidence of the recognised words
    max_overlap: float = 0.6    # grown boxes of one row may overlap by this many line heights
    min_ink_gap: float = 0.25   # between the words of (nearly) touching fragments: at least a space
    max_tilt: float = 0.09      # radians (~5°): only near-horizontal lines are joined
    row_overlap: float = 0.6    # vertical overlap, as a share of the smaller height, to be one row
    height_ratio: float = 1.45  # fragments of one line have about the same height
    reach: float = 2.6          # neighbouring rows are looked for within this many heights
    gutter_min: float = 0.6     # gutters: at least this many line heights wide,
    gutter_crossers: float = 0.12  # crossed by at most this share of the densest column's lines,
    gutter_sides: float = 0.3   # with at least this share of that density on each side
    heading_ratio: float = 1.3  # a line this many times the page's median line height is a heading's: it is
    heading_gap: float = 1.3    # not cut at a gutter whose gap is at most this many times its other word gaps


@dataclass
class _Box:
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def yc(self) -> float:
        return (self.y0 + self.y1) / 2


def _box(line: Line) -> _Box:
    pts = np.asarray(line.polygon, dtype=np.float64)
    return _Box(float(pts[:, 0].min()), float(pts[:, 0].max()), float(pts[:, 1].min()), float(pts[:, 1].max()))


def _tilt(line: Line) -> float:
    (x0, y0), (x1, y1) = line.polygon[0], line.polygon[1]
    return abs(math.atan2(y1 - y0, x1 - x0)) if x1 != x0 else math.pi / 2


def _same_row(a: _Box, b: _Box, cfg: JoinConfig) -> bool:
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    small, big = sorted((a.h, b.h))
    return small > 0 and overlap >= cfg.row_overlap * small and big <= cfg.height_ratio * small


def _covered(gap0: float, gap1: float, row: _Box, boxes: list[_Box], skip: set[int], cfg: JoinConfig,
             ink: list[tuple[float, float]] | None = None, slack: float = 0.2) -> bool:
    """Do the rows above and below (where there are any) cover the gap [gap0, gap1] with ink boxes?

    Rows are taken together (their boxes' union), so a fragmented neighbour row still counts, while
    a gutter or a table's cell gap, open in every row, never is covered. With ``ink`` (each line's
    ink extent: first word to last) lines cover only from ink to ink, not with their grown boxes.
    ``slack`` (in line heights) forgives that much of the gap at each end: grown boxes need it, ink
    extents do not (a narrow gutter is as wide as a word space).
    """
    tol = slack * row.h
    sides: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for k, o in enumerate(boxes):
        if k in skip or not (0.6 * row.h <= o.h <= 1.6 * row.h):
            continue
        dy = o.yc - row.yc
        if abs(dy) < 0.5 * row.h or abs(dy) > cfg.reach * row.h:
            continue
        if o.x1 < gap0 - 2 * row.h or o.x0 > gap1 + 2 * row.h:
            continue                                  # another column or region: says nothing here
        sides[dy < 0].append(ink[k] if ink is not None else (o.x0, o.x1))
    if not (sides[True] or sides[False]):
        return False
    for spans in sides.values():
        if not spans:
            continue                                  # top or bottom of a column: the other side decides
        reach = gap0 + tol
        for x0, x1 in sorted(spans):
            if x0 > reach:
                break
            reach = max(reach, x1)
        if reach < gap1 - tol:
            return False
    return True


def _ink(line: Line) -> list[tuple[float, float]]:
    """The recognised words' x extents, left to right (empty when the line has no words)."""
    return sorted((min(p[0] for p in w.polygon), max(p[0] for p in w.polygon)) for w in line.words)


def _usable(lines: list[Line], cfg: JoinConfig) -> list[bool]:
    return [ln.writing_mode == "horizontal-tb" and _tilt(ln) <= cfg.max_tilt for ln in lines]


def _body_height(boxes: list[_Box], usable: list[bool]) -> float:
    """The median height of the usable lines (horizontal, level, any height at all); 0 without any."""
    hs = [b.h for b, ok in zip(boxes, usable) if ok and b.h > 0]
    return float(np.median(hs)) if hs else 0.0


def find_gutters(lines: list[Line], cfg: JoinConfig | None = None) -> list[tuple[float, float]]:
    """Column gutters as page x ranges: runs of x that few lines' words cover, between two full sides."""
    cfg = cfg or JoinConfig()
    boxes, ok = [_box(ln) for ln in lines], _usable(lines, cfg)
    usable = [(ln, b) for ln, b, good in zip(lines, boxes, ok) if good and b.h > 0]
    if len(usable) < 8:
        return []
    h = _body_height(boxes, ok)
    # Ink extents: the recognised words where there are any. Line quads are grown at both ends by
    # the detector (0.3 line heights), enough to close a narrow gutter between their boxes.
    spans: list[list[tuple[float, float]]] = []
    for ln, b in usable:
        if 0.5 * h <= b.h <= 2.0 * h:
            spans.append(_ink(ln) or [(b.x0, b.x1)])
    x_max = max(x1 for line in spans for _, x1 in line)
    step = max(1.0, h / 8)
    n = int(x_max / step) + 2
    cover = np.zeros(n, np.int32)
    for line in spans:
        hit = np.zeros(n, bool)
        for x0, x1 in line:
            hit[int(x0 / step): int(x1 / step) + 1] = True
        cover += hit   # the spaces between a line's words stay open: a run of other lines covers a word gap, not a gutter
    peak = int(cover.max())
    low = cover <= cfg.gutter_crossers * peak
    side = max(1, int(3 * h / step))
    gutters = []
    i = 0
    while i < n:
        if not low[i]:
            i += 1
            continue
        j = i
        while j < n and low[j]:
            j += 1
        width = (j - i) * step
        left, right = cover[max(0, i - side):i], cover[j:j + side]
        if (width >= cfg.gutter_min * h and len(left) and len(right)
                and left.mean() >= cfg.gutter_sides * peak and right.mean() >= cfg.gutter_sides * peak):
            gutters.append((i * step, j * step))
        i = j
    return gutters


def _piece(line: Line, words: list[Word], x0: float, x1: float) -> Line:
    """The part of a horizontal ``line`` between page x ``x0`` and ``x1``, holding ``words`` (any order).

    The words keep the line's logical order: on a right-to-left page a line may hold a left-to-right
    run, whose words read left to right (a Hebrew page's English reference: reversing by position
    read "the to Introduction ... Web")."""
    p0, p1, p2, p3 = (np.asarray(pt, dtype=np.float64) for pt in line.polygon[:4])
    span = p1[0] - p0[0]

    def at(top: bool, x: float) -> tuple[float, float]:
        t = min(1.0, max(0.0, (x - p0[0]) / span)) if span else 0.0
        a, b = (p0, p1) if top else (p3, p2)
        pt = a + t * (b - a)
        return float(pt[0]), float(pt[1])

    keep = {id(w) for w in words}
    words = [w for w in line.words if id(w) in keep]  # the line's own (logical) order, whatever the direction
    return Line(text=" ".join(w.text for w in words), polygon=[at(True, x0), at(True, x1), at(False, x1), at(False, x0)],
                words=list(words), language=line.language, direction=line.direction,
                writing_mode=line.writing_mode, confidence=line.confidence)


def _split_word(line: Line, word: Word, g0: float, g1: float) -> Line | None:
    """``line`` with ``word``, which the recogniser read across the gutter (g0, g1) without a space
    ("Please let meaccidentally;", the last row of a column beside the first words of the next one's),
    made two words, one each side. Its characters are shared out by the width each side holds
    (the gutter's white holds none); ``None`` when one side would get none."""
    xs = [p[0] for p in word.polygon]
    ys = [p[1] for p in word.polygon]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    left, right = g0 - x0, x1 - g1
    text, n = word.text, len(word.text)
    if n < 2 or left <= 0 or right <= 0:
        return None
    k = min(n - 1, max(1, round(n * left / (left + right))))       # characters drawn left of the gutter
    # logical order: a right-to-left word's first characters are the ones right of the gutter
    left_text, right_text = (text[n - k:], text[:n - k]) if line.direction == "rtl" else (text[:k], text[k:])
    on_left = Word(text=left_text, polygon=((x0, y0), (g0, y0), (g0, y1), (x0, y1)), confidence=word.confidence)
    on_right = Word(text=right_text, polygon=((g1, y0), (x1, y0), (x1, y1), (g1, y1)), confidence=word.confidence)
    pair = [on_right, on_left] if line.direction == "rtl" else [on_left, on_right]
    words: list[Word] = []
    for w in line.words:
        words += pair if w is word else [w]
    return replace(line, words=words)


def _by_x(line: Line) -> tuple[list[Word], list[tuple[float, float]]]:
    """The line's words left to right on the page, and each one's x extent."""
    words = sorted(line.words, key=lambda w: min(p[0] for p in w.polygon))
    return words, [(min(p[0] for p in w.polygon), max(p[0] for p in w.polygon)) for w in words]


def _nothing_above(box: _Box, boxes: list[_Box]) -> bool:
    """No other line lies above ``box`` and overlaps it across."""
    return not any(o.y1 <= box.y0 + 0.2 * box.h and o.x1 > box.x0 and o.x0 < box.x1 for o in boxes)


def split_at_gutters(lines: list[Line], gutters: list[tuple[float, float]], cfg: JoinConfig | None = None) -> list[Line]:
    """Lines that run across a gutter cut at their widest recognised word gap inside it (or, with no
    gap there, inside the one word that runs across it)."""
    cfg = cfg or JoinConfig()
    if not gutters:
        return list(lines)
    out: list[Line] = []
    usable = _usable(lines, cfg)
    boxes = [_box(ln) for ln in lines]
    body = _body_height(boxes, usable)
    given = {id(ln) for ln in lines}                  # not the pieces cut from them
    todo = list(zip(lines, usable))
    while todo:
        line, ok = todo.pop()
        original, box, cut = line, _box(line), None
        if ok and line.words:
            for g0, g1 in gutters:
                if not (box.x0 < g0 - box.h and box.x1 > g1 + box.h):
                    continue
                words, xs = _by_x(line)
                gaps = [(xs[k + 1][0] - xs[k][1], k) for k in range(len(xs) - 1)
                        if g0 - box.h <= (xs[k][1] + xs[k + 1][0]) / 2 <= g1 + box.h]
                if not gaps:
                    across = [w for w, (x0, x1) in zip(words, xs) if x0 < g0 and x1 > g1]
                    split = _split_word(line, across[0], g0, g1) if across else None
                    if split is None:
                        continue
                    line = split
                    words, xs = _by_x(line)
                    gaps = [(xs[k + 1][0] - xs[k][1], k) for k in range(len(xs) - 1) if xs[k][1] <= g0 and xs[k + 1][0] >= g1]
                if gaps:
                    cut = max(gaps)[1]
                    others = [xs[k + 1][0] - xs[k][1] for k in range(len(xs) - 1) if k != cut]
                    if (box.h >= cfg.heading_ratio * body and others
                            and xs[cut + 1][0] - xs[cut][1] <= cfg.heading_gap * float(np.median(others))
                            and id(original) in given and _nothing_above(box, boxes)):
                        # a heading set larger than the body, over the columns (nothing above it),
                        # its words evenly spaced across the gutter: one line ("Позже агентство
                        # подтвердило, что"). Merged rows of two columns are below something.
                        cut = None
                    break
        if cut is None:
            out.append(original)                      # as it came (not with a word made two)
            continue
        pad = 0.15 * box.h
        todo.append((_piece(line, words[:cut + 1], box.x0, xs[cut][1] + pad), True))
        todo.append((_piece(line, words[cut + 1:], xs[cut + 1][0] - pad, box.x1), True))
    return out[::-1]


def _join(a: Line, b: Line) -> Line:
    """``a`` left of ``b`` on the page; text and words in logical order for the line's direction."""
    first, second = (b, a) if a.direction == "rtl" else (a, b)
    polygon = [a.polygon[0], b.polygon[1], b.polygon[2], a.polygon[3]]
    n1, n2 = max(1, len(first.text)), max(1, len(second.text))
    conf = (first.confidence * n1 + second.confidence * n2) / (n1 + n2)
    return Line(text=f"{first.text} {second.text}", polygon=polygon, words=[*first.words, *second.words],
                language=first.language or second.language, direction=a.direction, writing_mode=a.writing_mode,
                confidence=conf)


def join_fragments(lines: list[Line], cfg: JoinConfig | None = None) -> list[Line]:
    """``lines`` with same-row fragments joined where the neighbouring rows cover the gap between them."""
    cfg = cfg or JoinConfig()
    gutters = find_gutters(lines, cfg)
    lines = split_at_gutters(lines, gutters, cfg)
    boxes = [_box(ln) for ln in lines]
    ok = _usable(lines, cfg)
    ink = [_ink(ln) for ln in lines]
    # each line's ink extent, first word to last (no words: the box less the detector's growth)
    extents = [(w[0][0], max(x1 for _, x1 in w)) if w else (bx.x0 + 0.3 * bx.h, bx.x1 - 0.3 * bx.h)
               for w, bx in zip(ink, boxes)]
    right: dict[int, int] = {}                        # fragment → the fragment continuing it
    for i, a in enumerate(boxes):
        if not ok[i]:
            continue
        nearest = None
        for j, b in enumerate(boxes):
            hh = max(a.h, b.h)
            if (i != j and ok[j] and b.x0 >= a.x1 - cfg.max_overlap * hh and b.x1 > a.x1 + hh
                    and lines[i].direction == lines[j].direction
                    and b.x0 - a.x1 <= cfg.max_gap * hh and _same_row(a, b, cfg)
                    and (nearest is None or b.x0 < boxes[nearest].x0)):
                nearest = j
        if nearest is None:
            continue
        b = boxes[nearest]
        if any(a.x1 - 0.5 * a.h < (g0 + g1) / 2 < b.x0 + 0.5 * b.h for g0, g1 in gutters):
            continue
        row = _Box(a.x0, b.x1, min(a.y0, b.y0), max(a.y1, b.y1))
        if b.x0 - a.x1 >= cfg.min_gap * max(a.h, b.h):
            if _covered(a.x1, b.x0, row, boxes, {i, nearest}, cfg):
                right[i] = nearest
        elif ink[i] and ink[nearest]:
            # Grown boxes that (nearly) touch: the ink gap between the two fragments' words must be a
            # word gap that the neighbouring rows' words run across (a narrow gutter or a table's
            # cell gap stays open in every row).
            g0, g1 = ink[i][-1][1], ink[nearest][0][0]
            if g1 - g0 >= cfg.min_ink_gap * row.h and _covered(g0, g1, row, boxes, {i, nearest}, cfg, extents, slack=0.0):
                right[i] = nearest
    if not right:
        return list(lines)
    heads = [i for i in right if i not in set(right.values())]
    out, used = [], set()
    for i in heads:
        chain = [i]
        while chain[-1] in right and right[chain[-1]] not in used and right[chain[-1]] not in chain:
            chain.append(right[chain[-1]])
        joined = lines[chain[0]]
        for k in chain[1:]:
            joined = _join(joined, lines[k])
        used.update(chain)
        out.append(joined)
    return out + [ln for k, ln in enumerate(lines) if k not in used]
