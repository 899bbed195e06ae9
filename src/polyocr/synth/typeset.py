"""Typesetting: break text into lines, place words on the canvas, return labelled Lines.

Line breaking follows each script's habit: at spaces for space-separated scripts, between any two
full-width characters for CJK (keeping Latin runs whole, with simple kinsoku so no line starts
with closing punctuation). Word order on the page comes from :mod:`polyocr.bidi`, so Arabic and
Hebrew lines with embedded digits and Latin sit exactly where a text engine would put them,
while labels stay in logical order.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import ImageFont

from polyocr.bidi import resolve_levels, visual_order
from polyocr.document import Line, Word, quad_from_box
from polyocr.synth.render import Canvas, Run, RunCache, is_upright_in_vertical, is_wide, join_runs

if TYPE_CHECKING:
    from polyocr.synth.fonts import FontFace, FontLibrary

__all__ = ["TextStyle", "Typesetter", "NoFont", "vertical_quad"]

_NO_LINE_START = set("、。，．,.)）」』】〕〉》！？!?：；:;ー々ゝゞっゃゅょァィゥェォッャュョぁぃぅぇぉ・…")
_NO_LINE_END = set("（「『【〔〈《(")
_HAS_RTL = ("R", "AL")


class NoFont(Exception):
    """No installed face can draw a piece of text: the sample is rejected, never drawn as tofu."""


@dataclass(frozen=True)
class TextStyle:
    face: "FontFace"
    size: int                 # pixels per em
    color: int = 0            # canvas colour plane
    stroke: int = 0           # synthetic bold (pixels of outline)
    line_height: float = 1.4  # baseline-to-baseline, in ems


@dataclass
class Placed:
    """Ink boxes of one word as drawn (a word can span several runs in vertical text)."""
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)

    def add(self, box: tuple[int, int, int, int] | None) -> None:
        if box is not None:
            self.boxes.append(box)

    def bounds(self) -> tuple[int, int, int, int] | None:
        if not self.boxes:
            return None
        b = np.array(self.boxes)
        return int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 2].max()), int(b[:, 3].max())


def vertical_quad(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    """Quad of a vertical-rl element: starts at the column's top-right (its frame's top-left)."""
    return ((x1, y0), (x1, y1), (x0, y1), (x0, y0))


class Typesetter:
    """Places text for one page; collects the glyph coverage facts the label checks need."""

    def __init__(self, canvas: Canvas, fonts: "FontLibrary", lang: str, split: str,
                 cache: RunCache, load_font) -> None:
        self.canvas = canvas
        self.fonts = fonts
        self.lang = lang
        self.split = split
        self.cache = cache
        self.load_font = load_font
        self.drawn: set[tuple["FontFace", str]] = set()  # (face, text) of every run, for the tofu check
        self._fallbacks: dict[tuple[str, str], "FontFace"] = {}

    # -- fonts ------------------------------------------------------------------------------
    def face_for(self, text: str, style: TextStyle) -> "FontFace":
        return style.face if self.fonts.covers(style.face, text) else self._fallback(text)

    def font_for(self, text: str, style: TextStyle) -> ImageFont.FreeTypeFont:
        return self.load_font(self.face_for(text, style), style.size)

    def _run(self, text: str, style: TextStyle, direction: str = "ltr", vertical: bool = False) -> Run:
        parts = [(text, self.face_for(text, style))] if vertical else self._segments(text, style)
        runs = []
        for part, face in parts:
            self.drawn.add((face, part))
            runs.append(self.cache.render(self.load_font(face, style.size), part, direction, vertical, style.stroke))
        if len(runs) == 1:
            return runs[0]
        return join_runs(runs[::-1] if direction == "rtl" else runs)

    def _segments(self, text: str, style: TextStyle) -> list[tuple[str, "FontFace"]]:
        """``text`` cut where the style's face stops or starts mapping its characters, each part with
        the face that draws it: the style's own, or a fallback for what it lacks. One part when the
        face maps all of it, or none of it (then the whole run takes the fallback, as before).

        One-script faces (:meth:`FontLibrary.script_face`) lack ASCII digits and signs; the
        word ``عائلة.`` is drawn as ``عائلة`` in the page's face and ``.`` in a fallback, as a
        browser would. Only signs and digits are cut off, which do not join: a run that lacks a
        letter or a mark is drawn whole in the fallback, so no word changes its letters' shapes."""
        face = style.face
        if self.fonts.covers(face, text):
            return [(text, face)]
        parts: list[tuple[str, bool]] = []
        for ch in text:
            ok = self.fonts.covers(face, ch)
            if not ok and unicodedata.category(ch)[0] in "LM":
                return [(text, self._fallback(text))]
            if parts and parts[-1][1] == ok:
                parts[-1] = (parts[-1][0] + ch, ok)
            else:
                parts.append((ch, ok))
        if len(parts) == 1:
            return [(text, self._fallback(text))]
        return [(part, face if ok else self._fallback(part)) for part, ok in parts]

    def _fallback(self, text: str) -> "FontFace":
        key = (text, self.split)
        face = self._fallbacks.get(key)
        if face is None:
            face = self.fonts.fallback(text, self.lang, self.split)
            if face is None:
                raise NoFont(f"no font covers {text!r}")
            self._fallbacks[key] = face
        return face

    # -- measuring and breaking -------------------------------------------------------------
    def _units(self, text: str) -> list[tuple[str, bool]]:
        """Breakable units with a flag 'preceded by a space'."""
        units: list[tuple[str, bool]] = []
        for chunk_i, chunk in enumerate(text.split()):
            space = chunk_i > 0
            if not any(is_wide(c) for c in chunk):
                units.append((chunk, space))
                continue
            run = ""
            for ch in chunk:
                if is_wide(ch):
                    if run:
                        units.append((run, space))
                        space = False
                        run = ""
                    units.append((ch, space))
                    space = False
                else:
                    run += ch
            if run:
                units.append((run, space))
        return units

    def _unit_width(self, unit: str, style: TextStyle, direction: str, vertical: bool) -> float:
        if len(unit) == 1 and is_wide(unit):
            return float(style.size)
        if vertical:
            return self.cache.length(self.font_for(unit, style), unit, "ltr")
        return sum(self.cache.length(self.load_font(face, style.size), part, direction)
                   for part, face in self._segments(unit, style))

    def break_lines(self, text: str, style: TextStyle, width: float, direction: str = "ltr",
                    vertical: bool = False) -> list[list[str]]:
        """Lines of words (logical order) that fit ``width`` (the column height when vertical)."""
        units = self._units(text)
        space_w = style.size * 0.3 if vertical else self.cache.length(self.load_font(style.face, style.size), " ")
        lines: list[list[tuple[str, bool]]] = []
        cur: list[tuple[str, bool]] = []
        used = 0.0
        for unit, space in units:
            w = self._unit_width(unit, style, direction, vertical)
            if w > width:
                continue  # a single unit wider than the column: leave it out rather than overflow
            add = w + (space_w if space and cur else 0.0)
            if cur and used + add > width:
                if unit in _NO_LINE_START and not space:
                    cur.append((unit, space))  # hang closing punctuation
                    lines.append(cur)
                    cur, used = [], 0.0
                    continue
                carry: list[tuple[str, bool]] = []
                while cur and cur[-1][0] in _NO_LINE_END and len(cur) > 1:
                    carry.insert(0, cur.pop())
                lines.append(cur)
                cur = carry
                used = sum(self._unit_width(u, style, direction, vertical) for u, _ in cur)
                add = w + (space_w if space and cur else 0.0)
            cur.append((unit, space))
            used += add
        if cur:
            lines.append(cur)
        out = []
        for ln in lines:
            words: list[str] = []
            for unit, space in ln:
                if space or not words:
                    words.append(unit)
                else:
                    words[-1] += unit
            out.append(words)
        return out

    # -- drawing ------------------------------------------------------------------------------
    def draw_line(self, words: list[str], style: TextStyle, x0: float, x1: float, baseline: float,
                  align: str = "start", direction: str = "ltr", justify: bool = False) -> Line | None:
        """Draw one horizontal line between x0 and x1; ``align`` is start|end|center (start = right for RTL).

        Right-to-left lines are resolved as a whole (UAX #9) and drawn as *bidi runs*: the parts of a
        word at one embedding level. A word the algorithm splits (``Great,`` at the end of a Latin
        phrase in Hebrew: the comma lands left of the phrase) becomes one Word per visible part.
        """
        if not words:
            return None
        text = " ".join(words)
        rtl_inside = direction == "rtl" or any(_bidi_rtl(c) for c in text)
        if not rtl_inside and not justify and all(self.fonts.covers(style.face, w) for w in words):
            return self._draw_plain_line(words, text, style, x0, x1, baseline, align)
        pieces = _pieces(words, text, direction) if rtl_inside else [
            _Piece(i, 0, len(w), 0, k) for k, (i, w) in enumerate(enumerate(words))]
        runs = [self._run(words[p.word][p.start:p.stop], style, "rtl" if p.level % 2 else "ltr") for p in pieces]
        space = self.cache.length(self.load_font(style.face, style.size), " ")
        # Visual sequence: pieces left to right; a space goes between two pieces of different words.
        seq = sorted(range(len(pieces)), key=lambda k: pieces[k].visual)
        gaps = [0.0] + [space if pieces[a].word != pieces[b].word else 0.0 for a, b in zip(seq, seq[1:])]
        total = sum(runs[k].advance for k in seq) + sum(gaps)
        avail = x1 - x0
        n_gaps = sum(1 for g in gaps if g)
        if justify and n_gaps and total < avail:
            extra = (avail - total) / n_gaps
            gaps = [g + extra if g else 0.0 for g in gaps]
            total = avail
        if align == "center":
            pen = x0 + (avail - total) / 2
        elif (align == "end") != (direction == "rtl"):
            pen = x1 - total
        else:
            pen = x0
        boxes: list[tuple[int, int, int, int] | None] = [None] * len(pieces)
        for gap, k in zip(gaps, seq):
            pen += gap
            run = runs[k]
            if not run.empty:
                boxes[k] = self.canvas.stamp(run.mask, int(round(pen)) + run.dx, int(round(baseline)) + run.dy, style.color)
            pen += run.advance
        # Pieces of one word that sit side by side on the page form one Word; others stay apart.
        groups: list[list[int]] = []
        for k in seq:
            if groups and pieces[groups[-1][-1]].word == pieces[k].word:
                groups[-1].append(k)
            else:
                groups.append([k])
        out: list[tuple[tuple[int, int], str, Placed]] = []
        for g in groups:
            wi = pieces[g[0]].word
            lo, hi = min(pieces[k].start for k in g), max(pieces[k].stop for k in g)
            placed = Placed()
            for k in g:
                placed.add(boxes[k])
            out.append(((wi, lo), words[wi][lo:hi], placed))
        out.sort(key=lambda t: t[0])
        return self._make_line(text, [t[1] for t in out], [t[2] for t in out], direction, "horizontal-tb")

    def _draw_plain_line(self, words: list[str], text: str, style: TextStyle, x0: float, x1: float,
                         baseline: float, align: str) -> Line | None:
        """Left-to-right line in one face: one shaping call for the whole line, words cut from it.

        Rendering word by word costs a shaping call per word, most of a page's time. Here the line is
        rendered once and each word gets the ink columns between the middles of the spaces around it
        (word advances from cached measurements: spaces do not kern), so every pixel is labelled.
        """
        font = self.load_font(style.face, style.size)
        self.drawn.add((style.face, text))
        run = self.cache.render(font, text, "ltr", False, style.stroke)
        if run.empty:
            return None
        space = self.cache.length(font, " ")
        total = run.advance
        avail = x1 - x0
        pen = x0 + (avail - total) / 2 if align == "center" else (x1 - total if align == "end" else x0)
        ox, oy = int(round(pen)) + run.dx, int(round(baseline)) + run.dy
        drawn = self.canvas.stamp(run.mask, ox, oy, style.color)
        if drawn is None:
            return None
        # Cut points in pen coordinates: the middle of each space.
        cuts, at = [], 0.0
        for w in words[:-1]:
            at += self.cache.length(font, w)
            cuts.append(at + space / 2)
            at += space
        cols = np.arange(run.mask.shape[1]) + run.dx  # pen x of each mask column
        owner = np.searchsorted(np.asarray(cuts), cols, side="right")
        ink_cols = run.mask.any(axis=0)
        placed = [Placed() for _ in words]
        for wi in range(len(words)):
            sel = np.flatnonzero((owner == wi) & ink_cols)
            if sel.size == 0:
                continue
            c0, c1 = int(sel[0]), int(sel[-1]) + 1
            rows = np.flatnonzero(run.mask[:, c0:c1].any(axis=1))
            placed[wi].add(self.canvas.clip_box(ox + c0, oy + int(rows[0]), ox + c1, oy + int(rows[-1]) + 1))
        return self._make_line(text, words, placed, "ltr", "horizontal-tb")

    def draw_column(self, words: list[str], style: TextStyle, cx: float, y0: float) -> Line | None:
        """Draw one vertical-rl column centred on ``cx`` from ``y0`` downwards."""
        if not words:
            return None
        pen = y0
        placed = [Placed() for _ in words]
        for wi, word in enumerate(words):
            if wi:
                pen += style.size * 0.3
            for piece, upright in _vertical_pieces(word):
                if upright:
                    run = self._run(piece, style, vertical=True)
                    if not run.empty:
                        placed[wi].add(self.canvas.stamp(run.mask, int(round(cx)) + run.dx, int(round(pen)) + run.dy, style.color))
                    pen += run.advance
                else:
                    run = self._run(piece, style, "ltr")
                    if not run.empty:
                        rot = np.ascontiguousarray(np.rot90(run.mask, k=-1))  # lie the run down, reading downwards
                        # After a clockwise turn the baseline becomes a vertical line; centre the ink on the axis.
                        x = int(round(cx - rot.shape[1] / 2))
                        placed[wi].add(self.canvas.stamp(rot, x, int(round(pen)) + max(run.dx, 0), style.color))
                    pen += run.advance
        return self._make_line(" ".join(words), words, placed, "ltr", "vertical-rl")

    def _make_line(self, text: str, words: list[str], placed: list[Placed], direction: str, mode: str) -> Line | None:
        out_words = []
        boxes = []
        for w, p in zip(words, placed):
            b = p.bounds()
            if b is None:
                continue
            boxes.append(b)
            quad = vertical_quad(*b) if mode == "vertical-rl" else quad_from_box(*b)
            out_words.append(Word(text=w, polygon=quad))
        if not out_words:
            return None
        arr = np.array(boxes)
        lb = (int(arr[:, 0].min()), int(arr[:, 1].min()), int(arr[:, 2].max()), int(arr[:, 3].max()))
        quad = vertical_quad(*lb) if mode == "vertical-rl" else quad_from_box(*lb)
        return Line(text=text, polygon=quad, words=out_words,
                    language=self.lang, direction=direction, writing_mode=mode)


@dataclass(frozen=True)
class _Piece:
    """The part of word ``word`` from ``start`` to ``stop`` at one embedding level."""
    word: int
    start: int
    stop: int
    level: int
    visual: int  # leftmost display position of its characters in the line


def _pieces(words: list[str], text: str, direction: str) -> list[_Piece]:
    levels = resolve_levels(text, direction)
    pos = [0] * len(text)
    for vis, logical in enumerate(visual_order(levels)):
        pos[logical] = vis
    out: list[_Piece] = []
    at = 0
    for wi, w in enumerate(words):
        i = 0
        while i < len(w):
            j = i
            while j < len(w) and levels[at + j] == levels[at + i]:
                j += 1
            out.append(_Piece(wi, i, j, levels[at + i], min(pos[at + i:at + j])))
            i = j
        at += len(w) + 1
    return out


def _bidi_rtl(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in _HAS_RTL


def _vertical_pieces(word: str) -> list[tuple[str, bool]]:
    """Split a word into upright (CJK) and rotated (Latin, digits) pieces."""
    pieces: list[tuple[str, bool]] = []
    for ch in word:
        up = is_upright_in_vertical(ch)
        if pieces and pieces[-1][1] == up:
            pieces[-1] = (pieces[-1][0] + ch, up)
        else:
            pieces.append((ch, up))
    return pieces
