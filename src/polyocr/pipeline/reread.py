"""Second readings of the doubtful stretches of a line, at another width.

The recogniser's errors in a face it never saw depend on the scale it reads a line at: reading a
doubtful Korean line again at 1.2 times its width and keeping whichever reading the recogniser and
the language model like better cut the generated Korean pages' error from 0.050 to 0.046 (session
20). Reading whole lines twice doubles a Korean page's recogniser time, though: the test is "some
character below 0.7 confidence", and nearly every line of thirty syllables has one.

Only the words around a doubtful character need the second look. A :class:`Window` is the doubtful
word with ``context`` words either side (the encoder reads a syllable better among its neighbours),
cut in the middle of the gaps between words, so no character is split and the new reading drops
into the old one in place of exactly those words (:func:`splice`). Lines of a script without spaces
between words, or read right to left, are still read whole: their windows would need cuts inside
words, or a mapping between display and logical order that a splice cannot keep simple.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyocr.charset import Charset
from polyocr.pipeline.recognize import LineReading, finish_line

__all__ = ["Window", "doubtful_windows", "splice"]


@dataclass(frozen=True)
class Window:
    """Characters ``first`` … ``end - 1`` of a line's display order, and the stretch of the line
    they sit in, ``x0`` … ``x1`` as fractions of its length."""

    first: int
    end: int
    x0: float
    x1: float


def _whole(reading: LineReading) -> Window:
    return Window(0, len(reading.visual), 0.0, 1.0)


def _words(visual: str) -> list[tuple[int, int]]:
    """(first, end) of each run of non-space characters."""
    out: list[tuple[int, int]] = []
    start = None
    for i, ch in enumerate(visual):
        if ch.isspace():
            if start is not None:
                out.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        out.append((start, len(visual)))
    return out


def doubtful_windows(reading: LineReading, below: float, context: int = 1) -> list[Window]:
    """The stretches of ``reading`` to read again: around each word holding a character read with less
    confidence than ``below``, ``context`` words either side (-1: the whole line), overlapping windows
    merged. A line that is not written left to right (its text is not its display order) or whose
    characters lack positions gets one window, the whole line, if it has a doubtful character at all."""
    conf = reading.line.char_confidences
    if not conf or min(conf) >= below:
        return []
    visual = reading.visual
    if context < 0 or reading.line.text != visual or len(reading.spans) != len(visual) or len(conf) != len(visual):
        return [_whole(reading)]
    words = _words(visual)
    doubtful = [k for k, (a, b) in enumerate(words) if min(conf[a:b]) < below]
    if not doubtful:      # only a space was doubtful
        return []
    ranges: list[list[int]] = []
    for k in doubtful:
        lo, hi = max(0, k - context), min(len(words) - 1, k + context)
        if ranges and lo <= ranges[-1][1] + 1:
            ranges[-1][1] = max(ranges[-1][1], hi)
        else:
            ranges.append([lo, hi])
    spans = reading.spans
    out = []
    for lo, hi in ranges:
        first, end = words[lo][0], words[hi][1]
        x0 = 0.0 if lo == 0 else (spans[words[lo - 1][1] - 1][1] + spans[first][0]) / 2
        x1 = 1.0 if hi == len(words) - 1 else (spans[end - 1][1] + spans[words[hi + 1][0]][0]) / 2
        out.append(Window(0 if lo == 0 else first, len(visual) if hi == len(words) - 1 else end, x0, x1))
    return out


def splice(reading: LineReading, window: Window, part: LineReading, charset: Charset) -> LineReading:
    """``reading`` with the characters of ``window`` replaced by ``part``, a reading of just that
    stretch of the line (its positions mapped back onto the line). The whole-line window gives
    ``part`` itself. Alternatives per frame stay the first reading's: they are looked up by position
    along the line, which the spliced characters share."""
    if window.first == 0 and window.end == len(reading.visual) and (window.x0, window.x1) == (0.0, 1.0):
        return part
    if part.line.text != part.visual or not part.visual:   # a stretch read right to left, or nothing
        return reading
    lo, hi = window.first, window.end
    visual = reading.visual[:lo] + part.visual + reading.visual[hi:]
    conf = reading.line.char_confidences
    confs = list(conf[:lo]) + list(part.line.char_confidences) + list(conf[hi:])
    width = window.x1 - window.x0
    spans = (reading.spans[:lo] + tuple((window.x0 + a * width, window.x0 + b * width) for a, b in part.spans)
             + reading.spans[hi:])
    ids, _ = charset.encode(visual)
    line = finish_line(charset, ids, confs, reading.line.confidence, "ltr")
    if line.text != visual:   # the new characters changed the line's direction: keep the first reading
        return reading
    return reading._replace(line=line, visual=visual, spans=spans)
