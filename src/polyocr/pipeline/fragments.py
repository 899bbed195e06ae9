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

Only horizontal lines are joined; polygons must be in the upright frame (the pipeline orders there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from polyocr.document import Line

__all__ = ["join_fragments", "JoinConfig"]


@dataclass(frozen=True)
class JoinConfig:
    max_gap: float = 6.0        # in line heights: wider gaps are never word gaps
    min_gap: float = 0.8        # the detector keeps normal word gaps inside a line; boxes closer than
                                # this are neighbours across a narrow gutter, grown into each other
    max_tilt: float = 0.09      # radians (~5°): only near-horizontal lines are joined
    row_overlap: float = 0.6    # vertical overlap, as a share of the smaller height, to be one row
    height_ratio: float = 1.45  # fragments of one line have about the same height
    reach: float = 2.6          # neighbouring rows are looked for within this many heights


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


def _covered(gap0: float, gap1: float, row: _Box, boxes: list[_Box], skip: set[int], cfg: JoinConfig) -> bool:
    """Do the rows above and below (where there are any) cover the gap [gap0, gap1] with ink boxes?

    Rows are taken together (their boxes' union), so a fragmented neighbour row still counts, while
    a gutter or a table's cell gap, open in every row, never is covered.
    """
    tol = 0.2 * row.h
    sides: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for k, o in enumerate(boxes):
        if k in skip or not (0.6 * row.h <= o.h <= 1.6 * row.h):
            continue
        dy = o.yc - row.yc
        if abs(dy) < 0.5 * row.h or abs(dy) > cfg.reach * row.h:
            continue
        if o.x1 < gap0 - 2 * row.h or o.x0 > gap1 + 2 * row.h:
            continue                                  # another column or region: says nothing here
        sides[dy < 0].append((o.x0, o.x1))
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
    boxes = [_box(ln) for ln in lines]
    ok = [ln.writing_mode == "horizontal-tb" and _tilt(ln) <= cfg.max_tilt for ln in lines]
    right: dict[int, int] = {}                        # fragment → the fragment continuing it
    for i, a in enumerate(boxes):
        if not ok[i]:
            continue
        nearest = None
        for j, b in enumerate(boxes):
            if (i != j and ok[j] and b.x0 >= a.x1 + cfg.min_gap * max(a.h, b.h) and lines[i].direction == lines[j].direction
                    and b.x0 - a.x1 <= cfg.max_gap * max(a.h, b.h) and _same_row(a, b, cfg)
                    and (nearest is None or b.x0 < boxes[nearest].x0)):
                nearest = j
        if nearest is None:
            continue
        b = boxes[nearest]
        row = _Box(a.x0, b.x1, min(a.y0, b.y0), max(a.y1, b.y1))
        if _covered(a.x1, b.x0, row, boxes, {i, nearest}, cfg):
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
