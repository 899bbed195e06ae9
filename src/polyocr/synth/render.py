"""Rendering text runs into ink masks, and the canvas they are stamped on.

Pillow with libraqm shapes every script we need (Arabic joining, bidi inside a run, vertical
forms), but it reports no glyph positions. So we render each *word* (or CJK segment) as its own
run, crop the mask to its ink, and place runs ourselves: every box is then the exact ink of the
pixels it labels, and the order of words in a line comes from our own bidi resolution.
"""

from __future__ import annotations

import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFont

__all__ = ["Run", "RunCache", "Canvas", "join_runs", "is_wide", "is_upright_in_vertical"]


@dataclass(frozen=True)
class Run:
    """A rendered run: its ink mask and where that ink sits relative to the pen origin.

    Horizontal runs use the left end of the baseline as origin; vertical runs the top centre of
    the column. ``advance`` is the pen movement (width, or height for vertical runs).
    """

    mask: np.ndarray  # (h, w) uint8, cropped to ink; (0, 0) for blank runs
    dx: int
    dy: int
    advance: float

    @property
    def empty(self) -> bool:
        return self.mask.size == 0


def _crop(mask: np.ndarray) -> tuple[np.ndarray, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros((0, 0), np.uint8), 0, 0
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return np.ascontiguousarray(mask[r0:r1, c0:c1]), int(c0), int(r0)


class RunCache:
    """Renders runs and keeps the most recent ones: words and CJK characters repeat a lot."""

    def __init__(self, maxsize: int = 20000) -> None:
        self._runs: OrderedDict[tuple, Run] = OrderedDict()
        self._lengths: dict[tuple, float] = {}
        self.maxsize = maxsize

    def render(self, font: ImageFont.FreeTypeFont, text: str, direction: str = "ltr",
               vertical: bool = False, stroke: int = 0) -> Run:
        key = (id(font), text, direction, vertical, stroke)
        run = self._runs.get(key)
        if run is not None:
            self._runs.move_to_end(key)
            return run
        run = self._render(font, text, direction, vertical, stroke)
        self._runs[key] = run
        if len(self._runs) > self.maxsize:
            self._runs.popitem(last=False)
        return run

    def length(self, font: ImageFont.FreeTypeFont, text: str, direction: str = "ltr") -> float:
        """Advance width, for line breaking (cheaper than rendering)."""
        key = (id(font), text, direction)
        v = self._lengths.get(key)
        if v is None:
            v = font.getlength(text, direction=direction)
            if len(self._lengths) > 4 * self.maxsize:
                self._lengths.clear()
            self._lengths[key] = v
        return v

    @staticmethod
    def _render(font: ImageFont.FreeTypeFont, text: str, direction: str, vertical: bool, stroke: int) -> Run:
        # The mask Pillow returns spans the layout box (its size is the rounded advance), so the
        # advance needs no second shaping call; the stroke adds its width on both sides.
        if vertical:
            core, (ox, oy) = font.getmask2(text, mode="L", direction="ttb", anchor="mt", stroke_width=stroke)
        else:
            core, (ox, oy) = font.getmask2(text, mode="L", direction=direction, anchor="ls", stroke_width=stroke)
        full = np.asarray(Image.Image()._new(core))
        advance = (full.shape[0] + oy if vertical else full.shape[1] + ox) - 2 * stroke
        mask, cx, cy = _crop(full)
        return Run(mask, ox + cx, oy + cy, float(advance))


def join_runs(runs: "list[Run]") -> Run:
    """Horizontal runs set one after another, left to right, on one baseline, as one run.

    A word drawn in two faces (the letters in a one-script face, a full stop it lacks in a
    fallback face) stays one run, so word boxes and bidi placement need not know about it.
    """
    pen = 0.0
    parts: list[tuple[int, int, np.ndarray]] = []
    for r in runs:
        if not r.empty:
            parts.append((int(round(pen)) + r.dx, r.dy, r.mask))
        pen += r.advance
    if not parts:
        return Run(np.zeros((0, 0), np.uint8), 0, 0, pen)
    x0 = min(x for x, _, _ in parts)
    y0 = min(y for _, y, _ in parts)
    x1 = max(x + m.shape[1] for x, _, m in parts)
    y1 = max(y + m.shape[0] for _, y, m in parts)
    out = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for x, y, m in parts:
        view = out[y - y0:y - y0 + m.shape[0], x - x0:x - x0 + m.shape[1]]
        np.maximum(view, m, out=view)
    return Run(out, x0, y0, pen)


def is_wide(ch: str) -> bool:
    """Full-width characters: one em each in CJK typesetting, breakable anywhere."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def is_upright_in_vertical(ch: str) -> bool:
    """Characters that stay upright in a vertical column; the rest (Latin, digits) lie rotated."""
    return is_wide(ch) or unicodedata.east_asian_width(ch) == "A" and ord(ch) > 0x2000


class Canvas:
    """The page's ink layers: text (what labels describe) and graphics (rules, borders, leaders).

    Layers are kept apart so label checks can ask "is every bit of *text* ink inside a word box?"
    while table borders and dot leaders still reach the final image. Text can have several
    colours (headings, slide titles): one alpha plane per colour index.
    """

    def __init__(self, width: int, height: int, colors: int = 2) -> None:
        self.width = width
        self.height = height
        self.text = [np.zeros((height, width), np.uint8) for _ in range(colors)]
        self.graphics = np.zeros((height, width), np.uint8)

    def stamp(self, mask: np.ndarray, x: int, y: int, color: int = 0, layer: str = "text") -> tuple[int, int, int, int] | None:
        """Draw ``mask`` with its top-left at (x, y); returns the drawn box or None if fully outside."""
        h, w = mask.shape
        if h == 0 or w == 0:
            return None
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x0 >= x1 or y0 >= y1:
            return None
        plane = self.text[color] if layer == "text" else self.graphics
        region = plane[y0:y1, x0:x1]
        np.maximum(region, mask[y0 - y:y1 - y, x0 - x:x1 - x], out=region)
        return x0, y0, x1, y1

    def clip_box(self, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int] | None:
        """A box clipped to the canvas (None when nothing of it is on the canvas)."""
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None

    def text_alpha(self) -> np.ndarray:
        """All text ink, whatever its colour."""
        out = self.text[0].copy()
        for plane in self.text[1:]:
            np.maximum(out, plane, out=out)
        return out

    def hline(self, x0: int, x1: int, y: int, thickness: int = 1, dotted: int = 0) -> None:
        y0, y1 = max(y, 0), min(y + thickness, self.height)
        x0, x1 = max(x0, 0), min(x1, self.width)
        if x0 >= x1 or y0 >= y1:
            return
        if dotted:
            xs = np.arange(x0, x1)
            on = (xs - x0) % (2 * dotted) < max(1, dotted // 2)
            self.graphics[y0:y1, xs[on]] = 255
        else:
            self.graphics[y0:y1, x0:x1] = 255

    def vline(self, x: int, y0: int, y1: int, thickness: int = 1) -> None:
        x0, x1 = max(x, 0), min(x + thickness, self.width)
        y0, y1 = max(y0, 0), min(y1, self.height)
        if x0 < x1 and y0 < y1:
            self.graphics[y0:y1, x0:x1] = 255

    def rect(self, x0: int, y0: int, x1: int, y1: int, value: int = 255) -> None:
        """A filled graphics rectangle (highlight bars, bullets); ``value`` < 255 for tints."""
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        if x0 < x1 and y0 < y1:
            region = self.graphics[y0:y1, x0:x1]
            np.maximum(region, value, out=region)
