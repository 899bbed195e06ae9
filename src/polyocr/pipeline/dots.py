"""Which dot: the full-width full stop "．" on the baseline, or the middle dot "・" at mid-height.

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
from polyocr.pipeline.recognize import LineReading, finish_line, ink_extent

__all__ = ["DOTS", "FULL_STOP_BELOW", "MIDDLE_DOT_ABOVE", "dot_heights", "settle_dots"]

DOTS = {"・": "．", "．": "・"}   # each and what it is taken for when its dot sits on the other's side
FULL_STOP_BELOW = 0.6            # a dot centred this far down the band or further is a full stop
MIDDLE_DOT_ABOVE = 0.52          # ... this far down or less, a middle dot
MAX_DOT = 0.35                   # a dot is at most this share of the band across, either way


def dot_heights(gray: np.ndarray, visual: str, spans: tuple[tuple[float, float], ...]) -> dict[int, float]:
    """Per position of ``visual`` holding "・" or "．": the height of the lone dot nearest its frames,
    as a share of the line's ink band (0 top, 1 bottom). ``gray``: the line crop the reading came
    from, text running left to right; ``spans``: the reading's character extents along it."""
    out: dict[int, float] = {}
    wanted = [i for i, ch in enumerate(visual) if ch in DOTS]
    if not wanted or gray.ndim != 2 or gray.shape[0] < 4:
        return out
    r0, r1 = ink_extent(gray)
    band = r1 - r0 + 1
    h, w = gray.shape
    thr, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = (gray < thr) if np.median(gray) > thr else (gray > thr)     # dark on light, or light on dark
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
