"""Line recognition at inference: preprocessing, onnxruntime, greedy CTC decoding, visual → logical order.

This module is the only place that turns a line image into model input (:func:`prepare_line`); the
training data pipeline imports it, so train and inference cannot drift apart. It needs numpy,
Pillow and onnxruntime, never torch.

Conventions (recorded in ``model.json`` and checked when loading):

* **Input.** Grayscale; light lettering on a dark ground turned dark on light (:func:`dark_on_light`:
  normalisation alone leaves such lines looking alike only up to sign, and the training data has few);
  a crop blurred past ``BLURRED`` sharpened (:func:`sharpen_blurred`); scaled to ``height`` px (32) keeping the aspect ratio, normalised per image to zero mean and unit
  standard deviation, zero-padded on the right to the batch width. A line wider than
  ``max_width`` (1600 px = 50 heights, ~50 CJK characters) is read in pieces (:func:`split_wide`: cut
  at the emptiest columns near equal shares, each piece normalised on its own) whose frames are
  joined, one blank frame between pieces, before decoding; :func:`prepare_line` alone squeezes it.
* **Margin across the line.** With ``ink_margin`` (model.json ``input.ink_margin``), a crop is first cut
  across to its ink plus that many ink thicknesses a side (never padded), so the text fills the height
  as in the training crops, whatever margin the caller's crop had (detector boxes, typeset boxes,
  user crops). Measured with v15 at 0.25: validation lines 0.041 → 0.039, held-out 0.056 → 0.053.
  Before that cut, horizontal rules the crop caught (form fields' underlines, table borders) are
  painted over (:func:`erase_rules`), so the cut does not keep them and the recogniser does not read them.
* **Vertical lines** (vertical-rl columns, read top to bottom) are turned 90° counter-clockwise, so the
  top of the column becomes the left of a horizontal line; CJK glyphs then lie on their side and
  sideways Latin stands upright. ``vertical=None`` means: vertical when the crop is more than twice
  as tall as it is wide (a horizontal line is wider than tall unless it holds a single character).
* **Output order.** The model reads left to right and emits characters in *display* order; lines
  whose direction is right-to-left (given, or inferred: most strong characters are Arabic/Hebrew)
  are turned back into logical order with :func:`polyocr.bidi.to_logical`, mirrored brackets
  included. See that function for the rare lines whose display order is ambiguous, and
  :func:`infer_direction` for the guess made when no direction is given.
* **Sparse lines are read again stretched.** The recogniser emits a frame per 4 input columns and was
  trained on lines with about 2.5 (Arabic) to 3.5 (Latin, Cyrillic, Hebrew) frames per character,
  10th percentile ~2. Some real fonts come out far sparser once the line is scaled to the model
  height: Amiri's stacked marks make its ink tall, so a realdev Arabic line gets ~1.5 frames per
  character, and Hebrew in a roomy box ~2.2; such lines read badly (realdev Arabic lines NED 0.33).
  After the first pass, a horizontal line with fewer than :data:`STRETCH_BELOW` frames per character
  it read is prepared again, widened to :data:`STRETCH_TO` (at most :data:`MAX_STRETCH` ×), and its
  second reading replaces the first (:func:`stretch_factor`; measured in BENCHMARKS.md, session 16).
* **Doubled narrow letters.** CTC writes a letter twice only with a blank frame between the two, and
  Hebrew yod and vav are narrow enough that a tightly set pair ("יי", "וו") leaves no room for one:
  the pair comes out as one run of frames. A single yod or vav fills one or two frames (3,546 of
  3,546 on realdev's Hebrew lines, and every single one on the held-out synthetic lines), while 29 of
  the 41 pairs read as one filled three or more; such a run is read as the two letters it is, split
  at its frame likeliest to be blank (:func:`split_narrow_runs`).
* **Confidence** of a line is the geometric mean of the per-character probabilities, each the highest
  frame probability of the character's CTC run; an empty line gets the mean blank probability.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import cv2
import numpy as np
from PIL import Image

from polyocr.bidi import resolve_levels, rtl_share, to_logical, visual_order
from polyocr.charset import BLANK, SPACE, Charset
from polyocr.pipeline.runtime import DEFAULT_WEIGHTS

__all__ = ["DEFAULT_WEIGHTS", "RecognizedLine", "Recognizer", "NoWeights", "prepare_line", "dark_on_light", "light_on_dark", "to_gray",
           "is_vertical", "ink_extent", "erase_rules", "cut_to_ink", "INK_MARGIN", "split_wide", "pad_batch", "plan_batches", "ctc_greedy", "ctc_greedy_frames", "finish_line", "stretch_factor", "STRETCH_BELOW", "STRETCH_TO", "MAX_STRETCH", "LineReading", "with_direction", "admitted_frames", "redecode", "infer_direction",
           "default_recognizer"]

HEIGHT = 32
MAX_WIDTH = 1600
STD_FLOOR = 0.02  # a blank crop must not have its noise blown up to unit variance
INK_MARGIN = 0.25  # what `polyocr export rec` records as input.ink_margin (0.2-0.3 measured alike on validation lines)
# frames per decoded character under which a horizontal line is read again, and the density it is
# widened to; Arabic's own (its joined letters run denser in training: median ~2.5) and everything
# else's. Chosen on held-out synthetic lines (seeds 777 and 888) and realdev lines, session 16: reading
# again only below 2.4 (1.9) rather than below the targets themselves read as well with half the passes.
STRETCH_BELOW = {"arabic": 1.9, "other": 2.4}
STRETCH_TO = {"arabic": 2.2, "other": 2.8}
MAX_STRETCH = 2.0
NARROW = "יו"           # letters too narrow to fill NARROW_RUN frames alone (module docstring)
NARROW_RUN = 3


class NoWeights(FileNotFoundError):
    """No trained recogniser is installed where we looked."""


class RecognizedLine(NamedTuple):
    text: str                         # logical order, NFC
    confidence: float                 # 0..1
    char_confidences: tuple[float, ...]  # one per character of ``text``


class LineReading(NamedTuple):
    """A recognised line with where its characters sit, for word boxes, and what else each frame
    could have been (when the graph exports alternatives), for :func:`redecode`."""

    line: RecognizedLine
    visual: str                              # the decoded characters in display order
    spans: tuple[tuple[float, float], ...]   # per visual character: (start, end) as fractions of the line length
    alt_ids: np.ndarray | None = None        # (frames, K) best classes per valid frame, best first
    alt_probs: np.ndarray | None = None      # (frames, K) their probabilities
    direction: str | None = None             # the direction the line was decoded with (None = inferred)


def _reading(charset: Charset, ids: np.ndarray, probs: np.ndarray, n: int, direction: str | None,
             alt_ids: np.ndarray | None = None, alt_probs: np.ndarray | None = None) -> LineReading:
    chars, conf, mean, frames = ctc_greedy_frames(ids, probs, n)
    line = finish_line(charset, chars, conf, mean, direction)
    spans = tuple((f0 / max(1, n), (f1 + 1) / max(1, n)) for f0, f1 in frames)
    return LineReading(line, charset.decode(chars), spans, alt_ids, alt_probs, direction)


def with_direction(reading: LineReading, direction: str, charset: Charset) -> LineReading:
    """``reading`` put in logical order for paragraph ``direction`` instead of the one it was decoded
    with. Only for a line decoded left to right (its text is its display order), which is what a line
    without letters gets by inference: on a right-to-left page, "6028 543 50 966+" is how the
    bidirectional algorithm displays the number "+966 50 543 6028", and left to right it stays reversed."""
    if reading.direction == direction or reading.line.text != reading.visual or not reading.visual:
        return reading
    ids, _ = charset.encode(reading.visual)
    line = finish_line(charset, ids, list(reading.line.char_confidences), reading.line.confidence, direction)
    return reading._replace(line=line, direction=direction)


def admitted_frames(alt_ids: np.ndarray, alt_probs: np.ndarray, allowed: np.ndarray | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the best of its alternatives that ``allowed`` (a bool per class; blank must be
    allowed; None admits everything) admits, and its probability: the frames :func:`redecode` reads."""
    if allowed is None:
        return alt_ids[:, 0].copy(), alt_probs[:, 0].copy()
    ok = allowed[alt_ids]                                           # (T, K)
    first = ok.argmax(1)
    rows = np.arange(len(first))
    has = ok[rows, first]
    ids = np.where(has, alt_ids[rows, first], BLANK)
    # no admitted class among the K best: blank, with what the K best leave over as its probability
    probs = np.where(has, alt_probs[rows, first], np.clip(1.0 - alt_probs.sum(1), 0.0, 1.0))
    return ids, probs


def redecode(reading: LineReading, allowed: np.ndarray, charset: Charset) -> LineReading:
    """Decode a line again keeping, per frame, the best of its alternatives that ``allowed`` admits:
    the unified model's second choice replaces a character from a script the page's language does not
    write. Unchanged without alternatives."""
    if reading.alt_ids is None or reading.alt_probs is None or not len(reading.alt_ids):
        return reading
    ids, probs = admitted_frames(reading.alt_ids, reading.alt_probs, allowed)
    return _reading(charset, ids, probs, len(ids), reading.direction, reading.alt_ids, reading.alt_probs)


# -- preprocessing ---------------------------------------------------------------------------------

def to_gray(image: Any) -> np.ndarray:
    """An image (array H×W, H×W×3/4, PIL image, or path) → H×W uint8 grayscale."""
    if isinstance(image, (str, os.PathLike)):
        image = Image.open(image)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    arr = np.asarray(image)
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = arr[:, :, :3]
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        else:  # ITU-R 601 luma, as Pillow's "L"
            arr = arr[:, :, 0] * 0.299 + arr[:, :, 1] * 0.587 + arr[:, :, 2] * 0.114
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D or 3-D image array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(arr if arr.max() > 1.0 else arr * 255.0, 0, 255).astype(np.uint8)
    return arr


def is_vertical(shape: Sequence[int]) -> bool:
    """Default writing-mode guess for a crop: more than twice as tall as wide."""
    return shape[0] > 2 * shape[1]


def ink_extent(strip: np.ndarray) -> tuple[int, int]:
    """First and last row with ink (pixels far from the strip's median), or the whole strip."""
    if strip.dtype == np.uint8 and strip.size:   # the same numbers from a histogram: no sort, no copy
        ink = cv2.absdiff(strip, median_u8(strip)) > 48
    else:
        g = strip.astype(np.int16)
        ink = np.abs(g - int(np.median(g))) > 48
    rows = np.flatnonzero(ink.sum(axis=1) >= max(2, strip.shape[1] // 200))
    return (int(rows[0]), int(rows[-1])) if len(rows) else (0, strip.shape[0] - 1)


def median_u8(image: np.ndarray) -> int:
    """``int(np.median(image))`` of a uint8 array, from its histogram (a line crop's in ~40 µs
    instead of a partial sort's ~150 µs): the mean of the two middle values, truncated."""
    cum = np.cumsum(np.bincount(image.ravel(), minlength=256))
    n = int(cum[-1])
    lo, hi = np.searchsorted(cum, [(n - 1) // 2, n // 2], side="right")
    return int((int(lo) + int(hi)) / 2)


def _longest_runs(rows: np.ndarray, close: int) -> tuple[np.ndarray, np.ndarray]:
    """Per boolean row, its longest run of True with gaps of up to ``close`` bridged: the run's length
    and the share of it that is True (1.0 for a solid run)."""
    length, solid = np.zeros(len(rows), int), np.zeros(len(rows))
    for i, row in enumerate(rows):
        cols = np.flatnonzero(row)
        if len(cols):
            breaks = np.flatnonzero(np.diff(cols) > close + 1)
            starts = np.concatenate(([0], breaks + 1))           # indices into cols
            ends = np.concatenate((breaks, [len(cols) - 1]))
            spans = cols[ends] - cols[starts] + 1
            j = int(np.argmax(spans))
            length[i], solid[i] = spans[j], (ends[j] - starts[j] + 1) / spans[j]
    return length, solid


def erase_rules(strip: np.ndarray, reach: float = 0.75, min_heights: float = 1.5, own: float = 0.4,
                max_thick: float = 0.12, clear: float = 0.15, close: int = 4, solid: float = 0.8) -> np.ndarray:
    """A gray strip (text running left to right) with its horizontal rules painted over in the background.

    Form fields underline their values to the margin, and table rows carry cell borders: a detector
    box around the text then crops part of the rule, which the recogniser, trained on rule-free lines,
    reads as trailing "…"/"_" and turns a nearby "." into "_" (generated form pages, session 14).

    A rule, as against the bottoms of heavy glyphs, noise or a shaded background: one run of ink of the
    text's polarity (gaps up to ``close`` px bridged: a worn rule; ``solid`` of it ink) over ``reach`` of
    the width and at least ``min_heights`` strip heights (a dash or a 一 alone in its crop stays), in
    one pixel row or two (a warped or slanted crop spreads a thin rule over two), each with ink on
    ``own`` of its width; at most ``max_thick`` × the height thick; and the rows two beyond it on both
    sides nearly empty (under ``clear`` of the width: an underline stands apart from the text, while
    the bottoms of bold glyphs, the tops of Hebrew letters and a band of noise have ink on one side).
    Pixels where a stroke crosses the rule (ink just above and just below) are kept, so descenders
    survive. Known miss: a one-word Arabic crop whose joined baseline has only teeth and dots around
    it can pass for a rule (1 of 2,400 held-out lines).
    """
    h, w = strip.shape
    need = max(reach * w, min_heights * h)
    if need > w or h < 5:
        return strip
    hist = np.cumsum(np.bincount(strip[::2, ::2].ravel(), minlength=256))
    bg = int(np.searchsorted(hist, hist[-1] // 2))  # the median gray: the background
    dark, light = strip < bg - 48, strip > bg + 48  # as ink_extent: far from the background
    ink = dark if np.count_nonzero(dark) >= np.count_nonzero(light) else light
    count = ink.view(np.uint8).sum(axis=1, dtype=np.int32)
    if count.max() < own * w:                       # most crops: no row is even close
        return strip
    pair = ink[:-1] | ink[1:]                       # rows y and y+1 together
    cand = np.flatnonzero(pair.view(np.uint8).sum(axis=1, dtype=np.int32) >= need)
    if not len(cand):
        return strip
    long = np.zeros(h, bool)                        # pair (y, y+1) holds a rule
    length, share = _longest_runs(pair[cand], close)
    long[cand] = (length >= need) & (share >= solid)
    rule = (count >= own * w) & (long | np.concatenate(([False], long[:-1])))
    if not rule.any():
        return strip
    out = strip.copy()
    thick = max(2, int(max_thick * h))
    rows = np.flatnonzero(rule)
    sign = -1 if ink is dark else 1
    for band in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1):
        a, b = int(band[0]), int(band[-1])
        beyond = [count[y] for y in (a - 2, b + 2) if 0 <= y < h] or [0]
        if b - a + 1 > thick or max(beyond) >= clear * w:
            continue
        above = ink[a - 1] if a > 0 else np.zeros(w, bool)
        below = ink[b + 1] if b + 1 < h else np.zeros(w, bool)
        paint = ink[a:b + 1] & ~(above & below)[None, :]
        out[a:b + 1][paint] = bg
        for y in (a - 1, b + 1):   # the rule's faint anti-aliased edge, where the row holds no ink there
            if 0 <= y < h:
                faint = (sign * (strip[y].astype(np.int16) - bg) > 16) & ~ink[y]
                out[y][faint] = bg
    return out


DARK_GROUND = 110     # a crop whose median is darker than this may be light lettering on a dark ground


def light_on_dark(gray: np.ndarray) -> bool:
    """Whether a gray image is light lettering on a dark ground: its median is dark, and most of its
    ink (the pixels far from that median) is lighter than the median."""
    med = median_u8(gray)
    if med >= DARK_GROUND:
        return False
    ink = cv2.absdiff(gray, med) > 48
    return bool(ink.any()) and np.count_nonzero(gray[ink] > med) * 2 > np.count_nonzero(ink)


def dark_on_light(gray: np.ndarray) -> np.ndarray:
    """Light lettering on a dark ground (dark slides, dark-mode screenshots, reversed headings)
    turned dark on light, the polarity nearly all training lines have (``gray`` itself otherwise).
    An inverted page read at 0.0176 NED as it was and 0.0078 turned."""
    return cv2.bitwise_not(gray) if light_on_dark(gray) else gray


BLURRED = 1.4       # estimated blur σ (in 32-px line heights) above which a crop is sharpened


def blur_sigma(gray: np.ndarray) -> float:
    """The Gaussian σ that would soften a sharp edge into this crop's sharpest edges, in units of
    a 32-px line height: its contrast (5th to 95th percentile) over its 99th-percentile gradient,
    times 1/√(2π). 0 for a crop with too little contrast to judge."""
    g = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = g.shape
    if w > 8 * h:                     # blur is the same along a line: its middle 8 heights suffice
        g = np.ascontiguousarray(g[:, (w - 8 * h) // 2:(w - 8 * h) // 2 + 8 * h])
    elif h > 8 * w:
        g = np.ascontiguousarray(g[(h - 8 * w) // 2:(h - 8 * w) // 2 + 8 * w])
    lo, hi = percentiles(g, (0.05, 0.95))
    if hi - lo < 40:
        return 0.0
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    (top,) = percentiles(cv2.magnitude(gx, gy).astype(np.uint16), (0.99,))   # 0..1443 for uint8: whole steps do
    return float((hi - lo) / (max(top / 8.0, 1e-3) * math.sqrt(2 * math.pi)) * 32.0 / min(gray.shape))


def percentiles(values: np.ndarray, qs: tuple[float, ...]) -> list[int]:
    """Percentiles (lower values) of an array of small non-negative integers from its histogram: no sort."""
    cum = np.cumsum(np.bincount(values.ravel()))
    return [int(np.searchsorted(cum, q * (int(cum[-1]) - 1), side="right")) for q in qs]


def sharpen_blurred(gray: np.ndarray) -> np.ndarray:
    """A crop blurred past ``BLURRED`` (a phone photo out of focus) sharpened by an unsharp mask of
    σ 1.5 line-height/32 and weight 1; ``gray`` itself otherwise. Sharpening every crop costs sharp
    ones more than it gives blurred ones (BENCHMARKS.md)."""
    if min(gray.shape) < 4 or blur_sigma(gray) <= BLURRED:
        return gray
    soft = cv2.GaussianBlur(gray, (0, 0), 1.5 * min(gray.shape) / 32.0)
    return cv2.addWeighted(gray, 2.0, soft, -1.0, 0)


def cut_to_ink(strip: np.ndarray, margin: float) -> np.ndarray:
    """A gray strip (text running left to right) cut across to its ink plus ``margin`` × the ink's
    thickness on each side; never padded, so a crop already tighter than that is kept as it is."""
    r0, r1 = ink_extent(strip)
    pad = int(round(margin * (r1 - r0 + 1)))
    top, bottom = max(0, r0 - pad), min(strip.shape[0], r1 + 1 + pad)
    return strip if (top, bottom) == (0, strip.shape[0]) else strip[top:bottom]


def prepare_line(image: Any, height: int = HEIGHT, vertical: bool | None = None,
                 max_width: int | None = MAX_WIDTH, aspect: float = 1.0, ink_margin: float | None = None,
                 rules: bool = True) -> np.ndarray:
    """One line image → float32 (height, width) model input, normalised; see the module docstring.

    ``aspect`` stretches the width (training augmentation; 1.0 at inference). ``ink_margin``: cut the
    crop across to its ink plus this × its thickness first (None: as given; training draws its own).
    ``max_width=None``: never squeeze (the Recognizer reads wider lines in pieces, :func:`split_wide`).
    With ``ink_margin``, horizontal rules the crop caught are painted over first (:func:`erase_rules`;
    ``rules=False`` keeps them).
    """
    gray = to_gray(image)
    if gray.size == 0:
        raise ValueError("empty line image")
    gray = sharpen_blurred(dark_on_light(gray))
    if vertical is None:
        vertical = is_vertical(gray.shape)
    if vertical:
        gray = np.ascontiguousarray(np.rot90(gray, 1))  # counter-clockwise: top of the column → left
    if ink_margin is not None:
        if rules:
            gray = erase_rules(gray)
        gray = cut_to_ink(gray, ink_margin)
    h, w = gray.shape
    new_w = max(1, round(w * height / h * aspect))
    if max_width is not None:
        new_w = min(max_width, new_w)
    if (h, w) != (height, new_w):
        gray = np.asarray(Image.fromarray(gray).resize((new_w, height), Image.BILINEAR))
    return _normalise(gray.astype(np.float32) * (1.0 / 255.0))


def _normalise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return x / max(float(x.std()), STD_FLOOR)


def split_wide(x: np.ndarray, max_width: int, stride: int = 4, search: float = 0.15) -> list[np.ndarray]:
    """A prepared line wider than ``max_width`` → pieces of at most ``max_width``, each normalised again.

    Squeezing a long line to fit costs accuracy fast (the recogniser trained on ±15 % of aspect: read at
    0.85 of their width, validation lines went 0.041 → 0.049 NED), and 2 % of the lines on the generated
    held-out pages are wider (full-measure CJK or small type: up to 2,700 px). Cuts fall near equal
    shares of the width, each at the column (on the frame grid) with the least ink within ``search`` of
    a share, so a cut passes between characters wherever the line leaves a gap.
    """
    w = x.shape[1]
    if w <= max_width:
        return [x]
    n = -(-w // max_width)
    ink = np.abs(x - np.median(x)).sum(axis=0)
    ink = np.convolve(ink, np.ones(3) / 3, mode="same")                 # a gap, not a thin stroke's edge
    ink = ink / max(float(ink.max()), 1e-6)
    cuts = [0]
    for k in range(1, n):
        target = cuts[-1] + (w - cuts[-1]) // (n - k + 1)
        reach = search * max_width
        # within reach of the share, never leaving the pieces still to come more than they can hold
        lo = max(cuts[-1] + 1, int(target - reach), w - (n - k) * max_width)
        hi = min(cuts[-1] + max_width, int(target + reach), w - 1)
        grid = np.arange(-(-lo // stride) * stride, hi + 1, stride)
        if len(grid):   # the emptiest column; among equally empty ones the nearest to the share
            cut = int(grid[np.argmin(ink[grid] + 0.05 * np.abs(grid - target) / reach)])
        else:
            cut = min(cuts[-1] + max_width, target)
        cuts.append(cut)
    cuts.append(w)
    pieces = [x[:, a:b] for a, b in zip(cuts, cuts[1:]) if b > a]
    out: list[np.ndarray] = []
    for piece in pieces:   # a piece still too wide (no cut found in reach) is cut plainly
        out += [piece[:, i:i + max_width] for i in range(0, piece.shape[1], max_width)]
    return [_normalise(p) for p in out]


def pad_batch(lines: Sequence[np.ndarray], multiple: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Prepared lines → (B, 1, H, W) zero-padded batch and (B,) int64 widths; W rounded up to ``multiple``."""
    widths = np.array([ln.shape[1] for ln in lines], np.int64)
    w = int(-(-widths.max() // multiple) * multiple)
    batch = np.zeros((len(lines), 1, lines[0].shape[0], w), np.float32)
    for i, ln in enumerate(lines):
        batch[i, 0, :, : ln.shape[1]] = ln
    return batch, widths


def plan_batches(widths: Sequence[int], max_batch: int = 16, max_waste: float = 0.12) -> list[list[int]]:
    """Group line indices into batches of similar width: each batch pads to its widest line.

    A page's lines range from a few words to the full measure; 32-line batches cut from the sorted
    list padded 16-41 % of the pixels the model ran on (measured on the bundled samples). The model
    is padding-exact, so batches may have any shape: a batch closes when adding the next
    (narrower) line would leave more than ``max_waste`` of it padding, or at ``max_batch`` lines.
    onnxruntime's per-call overhead (~1 ms) is far below the padding it saves. The Recognizer asks
    for 2 lines a batch: smaller batches keep a layer's activations in the core's cache (16 × 128
    frames × 768 MLP units is 6 MB against 1 MB of L2 a core). On the speed benchmark's 16 dense
    pages, two processes of one thread read 1.87-2.02 pages/s with 2-line batches against
    1.41-1.57 with 16 (session 20, BENCHMARKS.md); 32 → 16 had gained 7 % in session 4.
    """
    order = sorted(range(len(widths)), key=lambda i: -int(widths[i]))
    batches: list[list[int]] = []
    cur: list[int] = []
    real = 0
    for i in order:
        w = int(widths[i])
        if cur and (len(cur) >= max_batch or (real + w) < (1.0 - max_waste) * int(widths[cur[0]]) * (len(cur) + 1)):
            batches.append(cur)
            cur, real = [], 0
        cur.append(i)
        real += w
    if cur:
        batches.append(cur)
    return batches


# -- decoding ---------------------------------------------------------------------------------------

def ctc_greedy(ids: np.ndarray, probs: np.ndarray, length: int) -> tuple[list[int], list[float], float]:
    """Best-path CTC over the valid frames: (class ids, per-id probability, mean frame probability).

    A character's probability is the highest frame probability within its run of frames. Spaces at
    the ends and repeated spaces are dropped (the labels never contain them).
    """
    out, conf, mean, _ = ctc_greedy_frames(ids, probs, length)
    return out, conf, mean


def ctc_greedy_frames(ids: np.ndarray, probs: np.ndarray, length: int
                      ) -> tuple[list[int], list[float], float, list[tuple[int, int]]]:
    """:func:`ctc_greedy` plus each character's (first, last) frame: where it sits along the line."""
    ids = np.asarray(ids[:length])
    probs = np.asarray(probs[:length], np.float64)
    runs: list[list] = []  # [id, best prob, first frame, last frame] per CTC run of one non-blank id
    prev = BLANK
    for f, (i, p) in enumerate(zip(ids.tolist(), probs.tolist())):
        if i != BLANK:
            if i == prev:
                runs[-1][1] = max(runs[-1][1], p)
                runs[-1][3] = f
            else:
                runs.append([i, p, f, f])
        prev = i
    out: list[int] = []
    conf: list[float] = []
    frames: list[tuple[int, int]] = []
    for i, p, f0, f1 in runs:
        if i == SPACE and (not out or out[-1] == SPACE):
            continue
        out.append(i)
        conf.append(p)
        frames.append((f0, f1))
    while out and out[-1] == SPACE:
        out.pop()
        conf.pop()
        frames.pop()
    mean = float(probs.mean()) if len(probs) else 0.0
    return out, conf, mean, frames


def split_narrow_runs(frames: tuple[np.ndarray, ...], narrow_ids: frozenset[int],
                      min_run: int = NARROW_RUN) -> tuple[np.ndarray, ...]:
    """A line's frame outputs (ids, probs[, alt_ids, alt_probs]) with each run of one :data:`NARROW`
    letter over ``min_run`` frames or more cut in two: the inner frame whose blank probability is
    highest (the middle on a tie) becomes blank, so greedy decoding and every later re-decoding read
    two letters. Untouched arrays come back as they were."""
    ids = frames[0]
    if not narrow_ids or len(ids) < min_run:
        return frames
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    ends = np.concatenate([starts[1:], [len(ids)]]) - 1
    long = (ends - starts + 1 >= min_run) & np.isin(ids[starts], list(narrow_ids))
    if not long.any():
        return frames
    alts = len(frames) > 2
    blank = np.where(frames[2] == BLANK, frames[3], 0.0).max(1) if alts else np.zeros(len(ids))
    cuts = []
    for f, g in zip(starts[long].tolist(), ends[long].tolist()):
        inner = range(f + 1, g)
        mid = (f + g) / 2
        cuts.append(max(inner, key=lambda k: (blank[k], -abs(k - mid), k)))
    out = [a.copy() for a in frames]
    for k in cuts:
        out[0][k] = BLANK
        out[1][k] = blank[k]
        if alts:                             # alternatives: blank first, the rest in their order after it
            order = np.argsort(frames[2][k] != BLANK, kind="stable")
            out[2][k], out[3][k] = frames[2][k][order], frames[3][k][order]
    return tuple(out)


def infer_direction(text: str) -> str:
    """Paragraph direction of a decoded line when nobody said: "rtl" when at least as many words are
    mostly right-to-left as mostly left-to-right (words, not characters: "السعر 45.50 دولار Microsoft
    Office" is an Arabic line with a long English name in it). Pass the direction when it is known
    (from the language, or the page model): a line like "Meeting with דוד כהן" vs "דוד כהן: meeting"
    is genuinely ambiguous from its characters alone."""
    r = l = 0
    for word in text.split():
        share = rtl_share(word)
        if share > 0.5:
            r += 1
        elif any(c.isalpha() for c in word) and share < 0.5:
            l += 1
    return "rtl" if r and r >= l else "ltr"


def stretch_factor(visual: str, frames: int) -> float:
    """How much wider to read a line again, given what the first pass read (``visual``) over ``frames``
    frames: 1.0 (keep it) unless it came out sparser than :data:`STRETCH_BELOW` frames per character.

    Characters include spaces, as CTC spends frames on them too. Arabic counts when most letters are
    Arabic (bidi class AL). Fewer than two characters say too little about the line to act on.
    """
    n = len(visual)
    if n < 2 or frames <= 0:
        return 1.0
    letters = [c for c in visual if c.isalpha()]
    arabic = sum(unicodedata.bidirectional(c) == "AL" for c in letters)
    script = "arabic" if letters and arabic * 2 > len(letters) else "other"
    density = frames / n
    return min(MAX_STRETCH, STRETCH_TO[script] / density) if density < STRETCH_BELOW[script] else 1.0


def finish_line(charset: Charset, ids: list[int], conf: list[float], mean_prob: float,
                direction: str | None = None) -> RecognizedLine:
    """Decoded display-order ids → logical-order text with per-character confidences."""
    visual = charset.decode(ids)
    if not visual:
        return RecognizedLine("", mean_prob, ())
    if direction is None:
        direction = infer_direction(visual)
    text = to_logical(visual, direction)
    if text != visual and len(text) == len(visual):
        # Carry each probability along with its character: to_visual(text) lists logical index
        # visual_order(levels)[v] at display position v.
        order = visual_order(resolve_levels(text, direction))
        logical_conf = [0.0] * len(conf)
        for v, li in enumerate(order):
            logical_conf[li] = conf[v]
        conf = logical_conf
    line_conf = math.exp(sum(math.log(max(p, 1e-12)) for p in conf) / len(conf))
    return RecognizedLine(text, line_conf, tuple(conf))


# -- the recogniser ------------------------------------------------------------------------------------

@dataclass
class _Meta:
    height: int
    max_width: int
    charset_sha256: str
    onnx: str
    raw: dict
    ink_margin: float | None = None


def _read_meta(folder: Path) -> _Meta:
    meta_path = folder / "model.json"
    if not meta_path.is_file():
        raise NoWeights(f"no recogniser weights installed in {folder} (model.json missing); train one with "
                        f"`polyocr train rec` and install it with `polyocr export rec --out {folder}`")
    raw = json.loads(meta_path.read_text(encoding="utf-8"))
    if raw.get("format") != "polyocr-recognizer":
        raise ValueError(f"{meta_path}: not a polyocr recogniser (format={raw.get('format')!r})")
    inp = raw["input"]
    margin = inp.get("ink_margin")
    return _Meta(height=int(inp["height"]), max_width=int(inp["max_width"]),
                 charset_sha256=raw["charset"]["sha256"], onnx=raw.get("onnx", {}).get("file", "model.onnx"), raw=raw,
                 ink_margin=None if margin is None else float(margin))


class Recognizer:
    """onnxruntime line recogniser. Build once, call many times (it holds the session).

    >>> rec = Recognizer()                                   # the packaged weights
    >>> rec.recognize([line_img])[0].text
    """

    def __init__(self, weights: str | os.PathLike[str] | None = None, threads: int = 2,
                 batch_size: int = 2, charset: Charset | None = None, stretch: bool = True,
                 split_narrow: bool = True) -> None:
        from polyocr.pipeline.runtime import cpu_session

        folder = Path(weights) if weights is not None else DEFAULT_WEIGHTS
        if folder.is_file():
            folder = folder.parent
        self.folder = folder
        self.meta = _read_meta(folder)
        self.charset = charset or Charset.load()
        self.charset.check(self.meta.charset_sha256, what=f"weights in {folder}")
        onnx_path = folder / self.meta.onnx
        if not onnx_path.is_file():
            raise NoWeights(f"{onnx_path} missing (model.json is there)")
        self.session = cpu_session(onnx_path, threads)
        self.batch_size = batch_size
        self.stretch = stretch      # read sparse lines again, widened (module docstring)
        self.alternatives = any(o.name == "alt_ids" for o in self.session.get_outputs())
        self.split_narrow = split_narrow    # a yod or vav over NARROW_RUN frames is two (module docstring)
        self._narrow = frozenset(i for ch in NARROW for i in self.charset.encode(ch)[0])

    @property
    def height(self) -> int:
        return self.meta.height

    def prepare(self, images: Sequence[Any], vertical: Sequence[bool | None] | None = None,
                aspects: Sequence[float] | None = None) -> list[np.ndarray]:
        vertical = list(vertical) if vertical is not None else [None] * len(images)
        if len(vertical) != len(images):
            raise ValueError(f"{len(images)} images but {len(vertical)} vertical flags")
        aspects = list(aspects) if aspects is not None else [1.0] * len(images)
        return [prepare_line(im, self.meta.height, v, None, aspect=a, ink_margin=self.meta.ink_margin)
                for im, v, a in zip(images, vertical, aspects)]

    def run(self, batch: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, ...]:
        """One padded batch through the network: ids (B, T), probs (B, T), frame lengths (B,), and with
        alternatives in the graph also alt_ids, alt_probs (B, T, K)."""
        names = ["ids", "probs", "lengths"] + (["alt_ids", "alt_probs"] if self.alternatives else [])
        return tuple(self.session.run(names, {"image": batch, "widths": widths}))

    def recognize(self, images: Sequence[Any], vertical: Sequence[bool | None] | None = None,
                  directions: Sequence[str | None] | None = None) -> list[RecognizedLine]:
        """Read line images; ``vertical``/``directions`` per line (None entries = infer)."""
        return [r.line for r in self.read(images, vertical, directions)]

    def read(self, images: Sequence[Any], vertical: Sequence[bool | None] | None = None,
             directions: Sequence[str | None] | None = None,
             aspects: Sequence[float] | None = None) -> list[LineReading]:
        """:meth:`recognize` keeping the display-order characters and their positions along the line.
        ``aspects``: per line, a factor on its width as the model sees it (1.0: as scaled to its height)."""
        if not len(images):
            return []
        vertical = list(vertical) if vertical is not None else [None] * len(images)
        if len(vertical) != len(images):
            raise ValueError(f"{len(images)} images but {len(vertical)} vertical flags")
        directions = list(directions) if directions is not None else [None] * len(images)
        if len(directions) != len(images):
            raise ValueError(f"{len(images)} images but {len(directions)} directions")
        aspects = list(aspects) if aspects is not None else [1.0] * len(images)
        if len(aspects) != len(images):
            raise ValueError(f"{len(images)} images but {len(aspects)} aspects")
        grays = [to_gray(im) for im in images]
        vertical = [is_vertical(g.shape) if v is None else bool(v) for g, v in zip(grays, vertical)]
        out, frames = self._decode(self.prepare(grays, vertical, aspects), directions)
        if self.stretch:
            wider = [(i, f) for i, (r, n) in enumerate(zip(out, frames))
                     if not vertical[i] and (f := stretch_factor(r.visual, n)) > 1.0]
            if wider:
                idx = [i for i, _ in wider]
                wide = self.prepare([grays[i] for i in idx], [False] * len(idx), [f * aspects[i] for i, f in wider])
                again, _ = self._decode(wide, [directions[i] for i in idx])
                for i, r in zip(idx, again):
                    out[i] = r
        return out

    def _decode(self, prepared: list[np.ndarray], directions: list[str | None]) -> tuple[list[LineReading], list[int]]:
        """Prepared lines → their readings and frame counts (wide lines in pieces, batched by width)."""
        pieces: list[np.ndarray] = []
        owner: list[int] = []                      # the line each piece belongs to, pieces left to right
        for i, x in enumerate(prepared):
            for piece in split_wide(x, self.meta.max_width):
                pieces.append(piece)
                owner.append(i)
        frames: list[tuple[np.ndarray, ...] | None] = [None] * len(pieces)
        for idx in plan_batches([p.shape[1] for p in pieces], self.batch_size):
            batch, widths = pad_batch([pieces[j] for j in idx])
            ids, probs, lengths, *alt = self.run(batch, widths)
            for k, j in enumerate(idx):
                n = int(lengths[k])
                frames[j] = (ids[k, :n], probs[k, :n]) + ((alt[0][k, :n], alt[1][k, :n]) if alt else ())
        by_line: list[list[tuple[np.ndarray, ...]]] = [[] for _ in prepared]
        for f, o in zip(frames, owner):
            by_line[o].append(f)  # type: ignore[arg-type]
        out: list[LineReading] = []
        counts: list[int] = []
        for i, parts in enumerate(by_line):
            ids_i, probs_i, *alt_i = split_narrow_runs(_joined(parts) if len(parts) > 1 else parts[0],
                                                       self._narrow if self.split_narrow else frozenset())
            n = len(ids_i)
            ai, ap = (alt_i[0].copy(), alt_i[1].copy()) if alt_i else (None, None)
            out.append(_reading(self.charset, ids_i, probs_i, n, directions[i], ai, ap))
            counts.append(n)
        return out, counts


def _joined(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Frame outputs of a line's pieces → one line's, a certain blank frame between pieces (so a
    character each side of a cut stays two characters)."""
    out = []
    for c, first in enumerate(parts[0]):
        blank = np.zeros((1,) + first.shape[1:], first.dtype)   # ids: blank (0)
        if first.dtype.kind == "f":
            blank[(0,) * first.ndim] = 1.0          # probability 1; alternatives: blank first, nothing after
        seq = [blank] * (2 * len(parts) - 1)
        seq[::2] = [p[c] for p in parts]
        out.append(np.concatenate(seq))
    return tuple(out)


_DEFAULT: dict[str, Recognizer] = {}


def default_recognizer(weights: str | os.PathLike[str] | None = None) -> Recognizer:
    """A process-wide recogniser for ``weights`` (default: the packaged ones), built on first use."""
    key = str(Path(weights).resolve()) if weights is not None else ""
    if key not in _DEFAULT:
        _DEFAULT[key] = Recognizer(weights)
    return _DEFAULT[key]
