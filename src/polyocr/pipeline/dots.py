"""Marks settled by the pixels under them: which dot a "．"/"・" is, and whether a character has ink.

Which dot: the full-width full stop "．" on the baseline, or the middle dot "・" at mid-height.

Japanese technical writing ends sentences with "．" (and "，"); lists and katakana compounds use "・".
Both are a lone dot half an em wide, and the recogniser, which sees a line scaled to 32 px, told
them apart by context more than by height: on realdev's jlshort pages it read 11 of 42 "．" as "・".
The height settles it. On the realdev Japanese pages the dot of every "・" sat at 0.37-0.50 of its
line's ink band (top = 0, bottom = 1) and that of every "．" at 0.60-0.87, so a dot read as one is
written as the other when it sits clearly on the other's side (:data:`FULL_STOP_BELOW`,
:data:`MIDDLE_DOT_ABOVE`); between the two, and where no lone dot is found near the character's
frames, the reading stays. Horizontal lines only (in vertical text "．" sits in the cell's corner).
"""

from __future__ import annotations

import cv2
import numpy as np

from polyocr.charset import Charset
from polyocr.bidi import resolve_levels, visual_order
from polyocr.pipeline.recognize import LineReading, finish_line, infer_direction, ink_extent

__all__ = ["DOTS", "FULL_STOP_BELOW", "MIDDLE_DOT_ABOVE", "TRAILING_MARKS", "dot_heights", "drop_inkless", "faint_ink", "lone_dots", "settle_dots"]

DOTS = {"・": "．", "．": "・"}   # each and what it is taken for when its dot sits on the other's side
FULL_STOP_BELOW = 0.6            # a dot centred this far down the band or further is a full stop
MIDDLE_DOT_ABOVE = 0.52          # ... this far down or less, a middle dot
MAX_DOT = 0.35                   # a dot is at most this share of the band across, either way


def dot_heights(gray: np.ndarray, visual: str, spans: tuple[tuple[float, float], ...]) -> dict[int, float]:
    """Per position of ``visual`` holding "・" or "．": the height of the lone dot nearest its frames,
    as a share of the line's ink band (0 top, 1 bottom). ``gray``: the line crop the reading came
    from, text running left to right; ``spans``: the reading's character extents along it."""
    return lone_dots(gray, spans, [i for i, ch in enumerate(visual) if ch in DOTS])


def _ink(gray: np.ndarray) -> np.ndarray:
    """Ink pixels by Otsu's threshold: dark on light, or light on dark."""
    thr, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return (gray < thr) if np.median(gray) > thr else (gray > thr)


def lone_dots(gray: np.ndarray, spans: tuple[tuple[float, float], ...], wanted: list[int]) -> dict[int, float]:
    """Per position in ``wanted`` that has one near its frames: the height of the nearest lone dot
    (a small ink component whole inside the window), as a share of the line's ink band."""
    out: dict[int, float] = {}
    if not wanted or gray.ndim != 2 or gray.shape[0] < 4:
        return out
    r0, r1 = ink_extent(gray)
    band = r1 - r0 + 1
    h, w = gray.shape
    ink = _ink(gray)
    pad = 0.3 * band
    for i in wanted:
        s0, s1 = spans[i]
        c0, c1 = max(0, int(s0 * w - pad)), min(w, int(np.ceil(s1 * w + pad)))
        if c1 - c0 < 2:
            continue
        n, _, stats, centres = cv2.connectedComponentsWithStats(ink[:, c0:c1].astype(np.uint8), connectivity=8)
        middle = (s0 + s1) / 2 * w - c0
        best: tuple[float, float] | None = None
        for k in range(1, n):
            x, y, bw, bh, area = stats[k]
            if area < 2 or bw > MAX_DOT * band or bh > MAX_DOT * band or x == 0 or x + bw >= c1 - c0:
                continue        # too big for a dot, or cut by the window: part of a neighbouring glyph
            d = abs(centres[k][0] - middle)
            if best is None or d < best[0]:
                best = (d, (centres[k][1] - r0) / band)
        if best is not None:
            out[i] = float(best[1])
    return out


def settle_dots(reading: LineReading, gray: np.ndarray, charset: Charset) -> LineReading:
    """``reading`` with each "・" whose dot sits on the baseline written "．", and the reverse."""
    if not any(ch in DOTS for ch in reading.visual) or reading.line.text != reading.visual:
        return reading          # nothing to settle; or a right-to-left line, where these never occur
    heights = dot_heights(gray, reading.visual, reading.spans)
    chars = list(reading.visual)
    for i, y in heights.items():
        if (chars[i] == "・" and y >= FULL_STOP_BELOW) or (chars[i] == "．" and y <= MIDDLE_DOT_ABOVE):
            chars[i] = DOTS[chars[i]]
    visual = "".join(chars)
    if visual == reading.visual:
        return reading
    ids, _ = charset.encode(visual)
    line = finish_line(charset, ids, list(reading.line.char_confidences), reading.line.confidence, reading.direction)
    return reading._replace(line=line, visual=visual)


TRAILING_MARKS = ".,"      # marks that end a line: their frames alone must hold ink
FAINT = 0.25               # ink: a quarter of the way from the paper to the darkest pixel, or further
INK_REACH = 0.15           # how far (× the ink band's height) from a character's frames its ink may lie


def faint_ink(gray: np.ndarray) -> np.ndarray:
    """Pixels at least :data:`FAINT` of the way from the paper to the darkest ink (light on dark:
    to the lightest). Otsu's threshold leaves coloured text with the paper when black text shares
    the line: a hyperlink's digits and slashes ("[2,10]", "https://") had no ink by it."""
    cum = np.cumsum(np.bincount(gray.ravel(), minlength=256))

    def level(q: float) -> int:
        return int(np.searchsorted(cum, q * cum[-1]))

    lo, mid, hi = level(0.01), level(0.5), level(0.9)
    if mid >= (lo + hi) / 2:
        return gray < hi - FAINT * (hi - lo)
    lo, hi = level(0.1), level(0.99)
    return gray > lo + FAINT * (hi - lo)


def display_confidences(reading: LineReading, direction: str) -> list[float] | None:
    """Per display-order character of ``reading`` (laid out in paragraph ``direction``), its
    confidence (``char_confidences`` follow the logical text); None where the two orders do not
    correspond one to one."""
    text, visual, conf = reading.line.text, reading.visual, list(reading.line.char_confidences)
    if text == visual:
        return conf
    if len(text) != len(visual) or len(conf) != len(text):
        return None
    order = visual_order(resolve_levels(text, direction))     # display position -> logical index
    return [conf[li] for li in order]


def drop_inkless(reading: LineReading, gray: np.ndarray, charset: Charset) -> LineReading:
    """``reading`` without the characters that have no ink near their frames in the crop ``gray``.

    The recogniser learned from lines that end sentences and from spaces between words, and in an
    unseen face it writes marks where the paper is blank: a "." after a line that breaks
    mid-sentence ("나가야 할 길을 제대로." over blank paper), a "·", "一" or "…" in a word gap. A
    character keeps its place when ink lies within :data:`INK_REACH` band heights of its frames
    (thin marks sit a few pixels off them); a full stop or comma ending the line only when ink lies
    under its own frames, a pixel either side, since the last letter is that close (a bold face's
    full stop touches it: "Parliament."). On a right-to-left line the test runs in display order and
    the text is put back in logical order from what is left."""
    visual = reading.visual
    if not visual or gray.ndim != 2 or gray.shape[0] < 4:
        return reading
    direction = reading.direction or infer_direction(visual)
    conf = display_confidences(reading, direction)
    if conf is None:
        return reading
    w = gray.shape[1]
    r0, r1 = ink_extent(gray)                   # the line's own rows: not a neighbour's descender
    reach = max(1, int(INK_REACH * (r1 - r0 + 1)))
    cols = np.concatenate([[0], np.cumsum(faint_ink(gray[r0:r1 + 1]).any(0))])   # ink columns so far
    last = 0 if direction == "rtl" else len(visual) - 1    # the display position of the line's end
    keep = []
    for i, (ch, (s0, s1)) in enumerate(zip(visual, reading.spans)):
        pad = 1 if i == last and ch in TRAILING_MARKS else reach
        c0, c1 = max(0, int(s0 * w) - pad), min(w, int(np.ceil(s1 * w)) + pad)
        keep.append(ch == " " or c1 <= c0 or bool(cols[c1] > cols[c0]))
    if all(keep):
        return reading
    idx = [i for i, k in enumerate(keep) if k]
    # no space left doubled, or at either end, by a removed character
    idx = [i for n, i in enumerate(idx) if visual[i] != " " or (0 < n < len(idx) - 1 and visual[idx[n + 1]] != " ")]
    if not any(visual[i] != " " for i in idx):
        return reading                          # a line of nothing but inkless characters: not this rule's to empty
    visual = "".join(visual[i] for i in idx)
    ids, _ = charset.encode(visual)
    line = finish_line(charset, ids, [conf[i] for i in idx], reading.line.confidence, direction)
    return reading._replace(line=line, visual=visual, spans=tuple(reading.spans[i] for i in idx))
