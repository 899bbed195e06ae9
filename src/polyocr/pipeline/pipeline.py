"""Image → Document: detection, rectified crops, batched recognition, reading order.

The pipeline is composed from three stages built once and reused (docTR's OCRPredictor idea):
:class:`~polyocr.pipeline.detect.LineDetector` finds line quads, the recogniser reads the rectified
crops in width-sorted batches, and :class:`~polyocr.pipeline.order.Orderer` groups lines into
paragraphs and puts them in reading order. Nothing here draws or exports: formats read the Document
this returns.

Whole-page rotation (0/90/180/270) is settled by looking at glyphs, not by reading: the middle of
each of the page's longest lines (all horizontal boxes, or all vertical ones, whichever the page
has more of) is cut to the recogniser's strip and a small classifier
(:mod:`polyocr.models.orientation`, ``orientation.onnx``) says which way its glyphs lie: upright,
turned counter-clockwise (what a vertical CJK column looks like in the strip), upside down, or
turned clockwise. The recogniser cannot decide this by its confidence: it reads upright glyphs and
glyphs on their side equally well, so a horizontal CJK page turned clockwise looks to it like
genuine vertical columns. The summed log-probabilities over the lines pick a class, and
:data:`TURNS` maps (box direction, class) to the quarter turn that makes the page upright. A turned
page is rotated upright, detected again, and every polygon is mapped back to the pixels of the
image as given.

Before that, a page tilted by more than 2° (a photo, a crooked scan) is turned level
(:meth:`Pipeline._level`, :mod:`polyocr.pipeline.skew`): the detector learnt lines within a few
degrees of level, and from about 12° its lines came apart. Two-level dithered scans are softened
first (:mod:`polyocr.pipeline.bilevel`).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
from PIL import Image

from polyocr.bidi import bidi_class
from polyocr.document import Document, Line, Page, Word
from polyocr.pipeline.detect import DetectedLine, LineDetector, aabb, gray_page, level, quad_size
from polyocr.pipeline.dots import DOTS, drop_inkless, settle_dots
from polyocr.pipeline.fragments import join_fragments
from polyocr.pipeline.constrain import constrain_page, page_constraints
from polyocr.pipeline.homoglyph import unify_reading
from polyocr.pipeline.quotes import typed_quotes
from polyocr.pipeline.language import page_languages
from polyocr.pipeline.inputs import PageImage, PageSelection
from polyocr.pipeline.order import skew_angle, vertical_page
from polyocr.pipeline.skew import (AGREE, DESKEW_FROM, DESKEW_GAIN, LOOK_FROM, LOW_COVER, ink_coverage, ink_skew,
                                   level_page, page_skew, quad_tilt, whole_length)
from polyocr.pipeline.rescore import RescoreConfig, language_models, line_score, rescore_page
from polyocr.pipeline.bilevel import SIGMA, soften_bilevel
from polyocr.pipeline.focus import refocus
from polyocr.pipeline.keystone import find_page, project, square_page
from polyocr.pipeline.shading import even_out
from polyocr.pipeline.speckle import despeckle
from polyocr.pipeline.confidence import load_calibration
from polyocr.pipeline.reread import Window, doubtful_windows, splice
from polyocr.pipeline.recognize import (DEFAULT_WEIGHTS, LineReading, NoWeights, Recognizer, light_on_dark, pad_batch, prepare_line, redecode,
                                        to_gray, with_direction)
from polyocr.pipeline.runtime import cpu_session

__all__ = ["ReadConfig", "ACCURATE_LANGUAGES", "Pipeline", "read", "crop_line", "probe_crops", "GlyphOrientation", "TURNS",
           "CROP_MARGIN"]

# Room left around a detected line, × its thickness, when it is cut out for the recogniser. Detector
# boxes hug the ink (on realdev 0.6-0.9 of the typeset line box), while the generator's training crops
# leave 0.05-0.35 font sizes around the line; at 0.15 the recogniser met text touching the crop's
# edges and dropped thin letters ("it will also install" → "it wul also mnstall"). Measured with v11
# + LM, page NED at margin 0.15 / 0.2 / 0.25: realdev 0.115 / 0.109 / 0.110, generated held-out pages
# 0.106 / 0.087 / 0.088; with v12 (trained on re-cropped lines) realdev 0.107 / 0.104 / 0.108
# (benchmarks/bench_margin.py; BENCHMARKS.md has the tables).
CROP_MARGIN = 0.2
# A vertical detection on a horizontal page read below this is tried again as rows (_restack). With
# crops cut to their ink (model.json input.ink_margin) a stack of page numbers read as one column went
# from 0.28 to 0.36 confidence ("복 홍 담" for 85 / 246 / 131), past the 0.35 floor that triggered it.
RESTACK_BELOW = 0.5

# np.rot90 k that makes a page upright, by (the probed boxes are vertical, glyph class of their strips).
# Classes are polyocr.models.orientation.CLASSES: upright, ccw (glyphs turned counter-clockwise, as in
# a vertical CJK column's strip), flip (upright turned 180°), cw (ccw turned 180°).
TURNS: dict[tuple[bool, str], int] = {
    (False, "upright"): 0,   # horizontal lines as written
    (False, "flip"): 2,      # a page upside down
    (False, "ccw"): 3,       # vertical columns lying as rows: a vertical page turned counter-clockwise
    (False, "cw"): 1,        # ... turned clockwise
    (True, "ccw"): 0,        # genuine vertical CJK columns
    (True, "upright"): 1,    # horizontal lines standing as columns: a page turned clockwise
    (True, "flip"): 3,       # ... turned counter-clockwise
    (True, "cw"): 2,         # vertical columns upside down
}


# Languages whose lines read better choosing between two widths, on synthetic and real lines alike
# (Pipeline._reread): ``polyocr read --accurate`` reads their doubtful lines twice, whole.
ACCURATE_LANGUAGES = ("ko", "ar", "zh-Hant")
# By default only Korean, and only its doubtful words (pipeline.reread): most of what reading the
# whole lines again gains there, for less than half the extra time (BENCHMARKS.md, session 21).
DEFAULT_REREAD = ("ko",)
DEFAULT_REREAD_CONTEXT = 0


@dataclass(frozen=True)
class ReadConfig:
    """Options a user can set per run (CLI flags, HTTP form fields, ``polyocr.read`` keywords)."""

    dpi: int = 200                      # PDF rasterisation
    pdf_text: bool = False              # use the PDF's own text layer instead of OCR
    pages: PageSelection | None = None  # pages of a PDF or multi-page TIFF to read (None: all; a
                                        # string such as "1-3,7,10-" is parsed)
    order: str = "learned"              # "learned" | "xycut"
    ink_skew: bool = True               # level the lines for ordering by the ink's skew, not the quads' (pipeline.skew)
    orientation: bool = True            # detect whole-page rotation 0/90/180/270
    languages: tuple[str, ...] = ()     # hints; empty = any of the eight
    threads: int = 2
    min_confidence: float = 0.35        # lines the recogniser scores lower (raw) are dropped (noise, pictures)
    deskew: bool = True                 # turn a page tilted 2° or more level before reading (Pipeline._level)
    bilevel_blur: float = SIGMA         # σ in px of the blur a two-level scan gets before reading (pipeline.bilevel); 0: none
    despeckle: bool = True              # replace salt-and-pepper dots of a noisy page by their median (pipeline.speckle)
    even_light: bool = True             # bring shaded paper of an unevenly lit photo up to the lit paper (pipeline.shading)
    keystone: bool = True               # a page photographed on a darker ground is cut out and drawn square (pipeline.keystone)
    refocus: bool = True                # deconvolve a page blurred past 1.5 px before detection (pipeline.focus)
    calibrated: bool = True             # word and line confidences as the chance of being right
                                        # (pipeline.confidence); False: the recogniser's raw scores
    join_fragments: bool = True         # rejoin lines the detector split at wide (justified) word gaps
    constrain_scripts: bool = True      # decode lines again with their language's characters (pipeline.constrain)
    language_model: bool = True         # choose among doubtful characters with the language's n-gram model (pipeline.rescore)
    lm_weight: float | None = None      # its weight against the recogniser's log probabilities, every
                                        # language; None: rescore.LM_WEIGHTS per language (0: no model)
    unify_scripts: bool = True          # one script per word among Latin/Cyrillic look-alikes (pipeline.homoglyph)
    settle_dots: bool = True            # "．" or "・" by the height of the dot (pipeline.dots)
    inked_characters: bool = True       # a character with no ink near its frames is dropped (pipeline.dots)
    typed_quotes: bool = True           # quotation marks as the line's language types them (pipeline.quotes)
    reread_languages: tuple[str, ...] = DEFAULT_REREAD  # doubtful lines of these also read at other widths
    reread_widths: tuple[float, ...] = (1.2,)        # ... these, the likeliest reading kept (Pipeline._reread)
    reread_below: float = 0.7           # ... when a character was read with less confidence than this
    reread_context: int = DEFAULT_REREAD_CONTEXT  # ... only its word and this many either side (pipeline.reread);
                                        # -1: the whole line
    weights: str | None = None          # folder with detector/recogniser/order weights (default: packaged)

    def __post_init__(self) -> None:
        if isinstance(self.pages, str):
            object.__setattr__(self, "pages", PageSelection.parse(self.pages))
        if self.order not in ("learned", "xycut"):
            raise ValueError(f"order must be 'learned' or 'xycut', not {self.order!r}")
        if not 0 <= self.bilevel_blur <= 5:
            raise ValueError(f"bilevel_blur must be between 0 and 5 px, not {self.bilevel_blur}")
        if not 36 <= self.dpi <= 1200:
            raise ValueError(f"dpi must be between 36 and 1200, not {self.dpi}")
        from polyocr.languages import LANGUAGES

        bad = [code for code in (*self.languages, *self.reread_languages) if code not in LANGUAGES]
        if bad:
            raise ValueError(f"unknown language(s) {', '.join(bad)}; known: {', '.join(LANGUAGES)}")
        if not all(0.5 <= w <= 2.0 for w in self.reread_widths):
            raise ValueError(f"reread widths must be between 0.5 and 2.0, not {self.reread_widths}")
        if self.lm_weight is not None and not 0 <= self.lm_weight <= 10:
            raise ValueError(f"lm_weight must be between 0 and 10 (or None for each language's own), not {self.lm_weight}")
        if self.reread_context < -1:
            raise ValueError(f"reread_context must be -1 (whole lines) or more, not {self.reread_context}")

    def accurate(self, on: bool = True) -> "ReadConfig":
        """This configuration as ``polyocr read --accurate`` runs it (doubtful Korean, Arabic and
        traditional Chinese lines read again whole), or with ``on=False`` with the default rereading."""
        if on:
            return replace(self, reread_languages=ACCURATE_LANGUAGES, reread_context=-1)
        return replace(self, reread_languages=DEFAULT_REREAD, reread_context=DEFAULT_REREAD_CONTEXT)


def crop_line(image: np.ndarray, quad: np.ndarray, vertical: bool, margin: float = CROP_MARGIN,
              max_thickness: float = 64.0) -> np.ndarray:
    """Rectify one line quad to an upright crop (tall for vertical columns), with a margin of
    ``margin`` × thickness around it, as the recogniser's training crops have. Crops are taken at most
    ``max_thickness`` px thick (big headings are reduced here, once, with the warp)."""
    p0, p1, p2, p3 = quad.astype(np.float32)
    length, thick = quad_size(quad)
    u = (p1 - p0) / max(1e-6, np.hypot(*(p1 - p0)))
    v = (p3 - p0) / max(1e-6, np.hypot(*(p3 - p0)))
    m = margin * thick
    src = np.stack([p0 - m * u - m * v, p1 + m * u - m * v, p2 + m * u + m * v, p3 - m * u + m * v])
    s = min(1.0, max_thickness / max(1.0, thick + 2 * m))
    L = max(2, int(round((length + 2 * m) * s)))
    T = max(2, int(round((thick + 2 * m) * s)))
    if vertical:   # p0 top-right, p1 bottom-right, p2 bottom-left, p3 top-left of a T × L crop
        dst = np.float32([[T, 0], [T, L], [0, L], [0, 0]])
        size = (T, L)
    else:
        dst = np.float32([[0, 0], [L, 0], [L, T], [0, T]])
        size = (L, T)
    matrix = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    return cv2.warpPerspective(image, matrix, size, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def ink_rows(image: np.ndarray, line: DetectedLine, min_gap: int = 2) -> list[DetectedLine]:
    """The rows of ink inside a vertical detection's box, as horizontal lines (top to bottom).

    Ink is what is darker than Otsu's threshold on the box; rows are runs of pixel rows holding ink,
    split where at least ``min_gap`` rows hold none. A row thinner than a quarter of the box's width
    is noise (a dot leader's dot, a rule) and is left out."""
    x0, y0 = np.floor(line.quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(line.quad.max(axis=0)).astype(int)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return []
    gray = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    rows = ink.sum(axis=1) > 0
    out: list[DetectedLine] = []
    k = 0
    while k < len(rows):
        if not rows[k]:
            k += 1
            continue
        j = k
        while j < len(rows) and (rows[j] or rows[j:j + min_gap].any()):
            j += 1
        cols = np.nonzero(ink[k:j].any(axis=0))[0]
        if j - k >= 0.25 * (x1 - x0) and len(cols):
            pad = 0.1 * (j - k)
            ax0, ax1 = x0 + cols[0] - pad, x0 + cols[-1] + 1 + pad
            ay0, ay1 = y0 + k - pad, y0 + j + pad
            quad = np.array([[ax0, ay0], [ax1, ay0], [ax1, ay1], [ax0, ay1]], np.float32)
            out.append(DetectedLine(quad, line.score, False))
        k = j
    return out


LEADER_DOT = 0.3    # in line thicknesses: a leader dot is at most this wide and tall
LEADER_GAP = 0.8    # ... and at most this far from the next dot


def _runs(cols: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of True in ``cols``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], cols.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), (edges[1::2] - 1).tolist()))


def trim_leaders(image: np.ndarray, lines: Sequence[DetectedLine], margin: float = CROP_MARGIN,
                 reach: float = 4.0) -> list[DetectedLine]:
    """Horizontal lines followed by a dot leader, shortened so that their crops stop before it.

    A contents entry runs into a row of leader dots up to its page number. The detector leaves the
    leader out, but its box (grown by 0.3 thicknesses) and the crop's margin took the first dot or
    two, read as a trailing "." or "…" on 56 of the 141 lines of a generated English contents page
    (Korean: 51; the ground truth has none). Where at least three dots, each at most
    :data:`LEADER_DOT` thicknesses across and :data:`LEADER_GAP` from the next, run on past the box's
    end (past its start on a right-to-left page), the chain is followed back into the box and the
    box ends a crop margin before its first dot."""
    out = list(lines)
    gray = None
    H, W = image.shape[:2]
    for k, ln in enumerate(lines):
        q = ln.quad
        if not level(ln):
            continue
        x0, y0, x1, y1 = aabb(q)
        t = y1 - y0
        if t < 6:
            continue
        if gray is None:
            gray = gray_page(image)
        iy0, iy1 = max(0, int(y0)), min(H, int(math.ceil(y1)))
        bx0, bx1 = max(0, int(x0)), min(W, int(math.ceil(x1)))
        if iy1 - iy0 < 4 or bx1 - bx0 < 4:
            continue
        thr, _ = cv2.threshold(gray[iy0:iy1, bx0:bx1], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        new = q.copy()
        for side in (1, -1):
            # a strip from inside the box to ``reach`` thicknesses past its end, oriented so that
            # column 0 is inside the box and the leader, if any, runs towards higher columns
            end = int(math.ceil(x1)) if side > 0 else int(x0)
            inner = int(2 * t)
            a, b = (max(0, end - inner), min(W, end + int(reach * t))) if side > 0 else \
                (max(0, end - int(reach * t)), min(W, end + inner))
            if b - a < 4:
                continue
            ink = gray[iy0:iy1, a:b] < thr
            if side < 0:
                ink = ink[:, ::-1]
            at_end = (end - a) if side > 0 else (b - end)           # the box's end, in strip columns
            runs = _runs(ink.any(axis=0))
            dots = []
            for r0, r1 in runs:
                rows = np.flatnonzero(ink[:, r0:r1 + 1].any(axis=1))
                dots.append(r1 - r0 + 1 <= LEADER_DOT * t and rows[-1] - rows[0] + 1 <= LEADER_DOT * t)
            first_out = next((i for i, (r0, _) in enumerate(runs) if r0 >= at_end), None)
            if first_out is None:
                continue
            chain_end = first_out
            while (chain_end + 1 < len(runs) and dots[chain_end + 1]
                   and runs[chain_end + 1][0] - runs[chain_end][1] <= LEADER_GAP * t):
                chain_end += 1
            if not all(dots[first_out:chain_end + 1]) or chain_end - first_out + 1 < 3:
                continue                                              # no leader past the end
            start = first_out
            while start > 0 and dots[start - 1] and runs[start][0] - runs[start - 1][1] <= LEADER_GAP * t:
                start -= 1
            first_dot = runs[start][0]
            cut = first_dot - margin * t - 1.0                        # the crop stops a pixel short of it
            if side > 0:
                new[1, 0] = new[2, 0] = max(x0 + t, min(new[1, 0], a + cut))
            else:
                new[0, 0] = new[3, 0] = min(x1 - t, max(new[0, 0], b - cut))
        if not np.array_equal(new, q):
            out[k] = DetectedLine(new, ln.score, ln.vertical)
    return out


def part_neighbours(image: np.ndarray, lines: Sequence[DetectedLine], margin: float = CROP_MARGIN) -> list[DetectedLine]:
    """Same-row detections whose crops would overlap, cut apart at the emptiest ink column between them.

    In letter-spaced and monospaced text the detector returns a line as word fragments whose grown
    boxes overlap (509 same-row pairs on 144 generated and real pages, 35-68 on each of six
    monospaced or letter-spaced pages). A crop takes its box plus ``margin`` × its thickness, so it
    held its neighbour's first or last glyph, which was read twice ("\\catcode‘\\/3 %" and
    "% : and /"). Each pair's boxes are shortened so that their crops meet at the column of least
    ink between the two ends, and each glyph is read once."""
    if len(lines) < 2:
        return list(lines)
    boxes = [aabb(ln.quad) for ln in lines]
    usable = np.array([level(ln) for ln in lines])
    x0s, y0s, x1s, y1s = np.array(boxes, np.float64).T
    hs = y1s - y0s
    small = np.minimum(hs[:, None], hs[None, :])
    overlap = np.minimum(y1s[:, None], y1s[None, :]) - np.maximum(y0s[:, None], y0s[None, :])
    # (i, j): j starts and ends right of i, on i's row (as fragments.py judges one row), and the
    # two crops (box ± margin × thickness) reach into each other
    pairs = (usable[:, None] & usable[None, :] & (x0s[:, None] < x0s[None, :]) & (x1s[:, None] < x1s[None, :])
             & (small > 0) & (overlap >= 0.6 * small) & (np.maximum(hs[:, None], hs[None, :]) <= 1.45 * small)
             & (x0s[None, :] - margin * hs[None, :] < x1s[:, None] + margin * hs[:, None] + 1))
    quads = [ln.quad.copy() for ln in lines]
    gray = None
    H, W = image.shape[:2]
    for i, j in zip(*np.nonzero(pairs)):
        a, b = boxes[i], boxes[j]
        ha, hb = a[3] - a[1], b[3] - b[1]
        ma, mb = margin * ha, margin * hb
        lo, hi = int(math.floor(b[0] - mb)), int(math.ceil(a[2] + ma))
        if hi <= lo:
            continue                                # their crops do not meet
        if gray is None:
            gray = gray_page(image)
        y0, y1 = max(0, int(min(a[1], b[1]))), min(H, int(math.ceil(max(a[3], b[3]))))
        x0, x1 = max(0, int(a[0])), min(W, int(math.ceil(b[2])))
        lo, hi = max(lo, x0), min(hi, x1)
        if y1 - y0 < 2 or hi - lo < 1:
            continue
        thr, _ = cv2.threshold(gray[y0:y1, x0:x1], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        ink = (gray[y0:y1, lo:hi] < thr).sum(axis=0)
        # the middle of the longest run of emptiest columns
        r0, r1 = max(_runs(ink == ink.min()), key=lambda r: r[1] - r[0])
        cut = lo + float(r0 + (r1 - r0 + 1) // 2) + 0.5
        qa, qb = quads[i], quads[j]
        end_a = max(float(a[0]) + 1.0, min(float(qa[1, 0]), cut - ma))
        start_b = min(float(b[2]) - 1.0, max(float(qb[0, 0]), cut + mb))
        qa[1, 0] = qa[2, 0] = min(float(qa[1, 0]), end_a)
        qb[0, 0] = qb[3, 0] = max(float(qb[0, 0]), start_b)
    return [ln if np.array_equal(q, ln.quad) else DetectedLine(q, ln.score, ln.vertical) for q, ln in zip(quads, lines)]


def _words(reading: LineReading, quad: np.ndarray, margin: float) -> list[Word]:
    """Words from the display-order characters and their positions; in logical order.

    Each display-order token (a run between spaces) is mapped to its characters in the logical text
    through the bidirectional levels the line was decoded with, so a right-to-left line with a
    left-to-right run inside ("... load_token() Fantastic ...") still gets one word per token, in
    logical order (reversing the tokens, as before, put such a run's words the wrong way round and
    the line fell back to one word: then nothing could cut it at a column gutter).
    """
    from polyocr.bidi import resolve_levels, visual_order
    from polyocr.pipeline.recognize import infer_direction

    text = reading.line.text
    if not text:
        return []
    length, thick = quad_size(quad)
    m = margin * thick
    total = length + 2 * m
    visual, spans = reading.visual, reading.spans
    if text == visual:
        logical = list(range(len(visual)))
    elif len(text) == len(visual):   # visual position v shows logical character logical[v]
        logical = list(visual_order(resolve_levels(text, reading.direction or infer_direction(visual))))
    else:
        logical = []
    tokens: list[tuple[int, int, float, float]] = []  # (logical start, end, t0, t1)
    i = 0
    while i < len(visual):
        if visual[i] == " ":
            i += 1
            continue
        j = i
        while j < len(visual) and visual[j] != " ":
            j += 1
        t0 = (spans[i][0] * total - m) / max(1e-6, length)
        t1 = (spans[j - 1][1] * total - m) / max(1e-6, length)
        at = [logical[v] for v in range(i, j)] if logical else []
        if not at or max(at) - min(at) != j - i - 1:
            # a token whose characters are not one run of the logical text: one word per line
            return [Word(text=text, polygon=[tuple(map(float, p)) for p in quad], confidence=reading.line.confidence)]
        tokens.append((min(at), max(at) + 1, float(np.clip(t0, 0, 1)), float(np.clip(t1, 0, 1))))
        i = j
    tokens.sort()
    conf = reading.line.char_confidences
    # all word quads at once: points at t0/t1 along the top (p0→p1) and bottom (p3→p2) edges
    p0, p1, p2, p3 = np.asarray(quad, dtype=np.float64)
    ts = np.array([[t0, t1] for _, _, t0, t1 in tokens]).reshape(-1, 2, 1)
    top, bottom = (p0 + (p1 - p0) * ts).tolist(), (p3 + (p2 - p3) * ts).tolist()
    words: list[Word] = []
    for k, (a, b, _, _) in enumerate(tokens):
        c = conf[a:b]
        (x0, x1), (y0, y1) = top[k], bottom[k]
        words.append(Word(text=text[a:b], polygon=[tuple(x0), tuple(x1), tuple(y1), tuple(y0)],
                          confidence=math.exp(sum(math.log(max(x, 1e-6)) for x in c) / len(c)) if len(c) else 0.0))
    return words


def _rotate_quads(quads: list[np.ndarray], k: int, shape: tuple[int, int]) -> list[np.ndarray]:
    """Map quads in an image turned by ``np.rot90(image, k)`` back to the original image's pixels."""
    h, w = shape  # of the ORIGINAL image
    out = []
    for q in quads:
        x, y = q[:, 0], q[:, 1]
        k4 = k % 4
        if k4 == 0:
            xo, yo = x, y
        elif k4 == 1:   # rot90 ccw: original (x, y) went to (y, w - x)
            xo, yo = w - y, x
        elif k4 == 2:
            xo, yo = w - x, h - y
        else:           # rot90 cw: original (x, y) went to (h - y, x)
            xo, yo = y, h - x
        out.append(np.stack([xo, yo], axis=1).astype(np.float32))
    return out


class GlyphOrientation:
    """The glyph-orientation classifier on onnxruntime: prepare_line strips → (N, 4) log-probabilities.

    Loaded from ``orientation.onnx`` in ``weights`` (a folder), else from the packaged weights. One
    thread: a page's probe is a handful of short strips, too little work to share out."""

    def __init__(self, weights: str | os.PathLike[str] | None = None, threads: int = 1) -> None:
        candidates = ([Path(weights)] if weights else []) + [DEFAULT_WEIGHTS]
        path = next((d / "orientation.onnx" for d in candidates if (d / "orientation.onnx").is_file()), None)
        if path is None:
            raise NoWeights(f"no orientation.onnx in {' or '.join(map(str, candidates))}")
        info = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        if info.get("format") != "polyocr-orientation":
            raise ValueError(f"{path.with_suffix('.json')}: not a polyocr orientation model")
        self.classes: tuple[str, ...] = tuple(info["classes"])
        self.path = path
        self.session = cpu_session(path, threads)

    def __call__(self, strips: Sequence[np.ndarray]) -> np.ndarray:
        images, widths = pad_batch(strips)
        return self.session.run(None, {"image": images, "widths": widths})[0]


@dataclass
class _Timings:
    detect: float = 0.0
    recognize: float = 0.0
    order: float = 0.0
    rotate: float = 0.0


class Pipeline:
    """Detector + recogniser + reading order, loaded once; ``read_image`` per page."""

    def __init__(self, config: ReadConfig | None = None, detector: LineDetector | None = None,
                 recognizer: Recognizer | None = None, orderer: Any = None,
                 orientation: "GlyphOrientation | None" = None) -> None:
        from polyocr.pipeline.order import Orderer

        self.config = config = config or ReadConfig()
        self.detector = detector or LineDetector(config.weights, threads=config.threads)
        self.recognizer = recognizer or Recognizer(config.weights, threads=config.threads)
        self.orderer = orderer or Orderer(method=config.order)
        self.orientation = orientation or (GlyphOrientation(config.weights) if config.orientation else None)
        self.lms = language_models(config.weights) if config.language_model and config.lm_weight != 0 else None
        self.rescoring = RescoreConfig(weight=config.lm_weight)   # the first reading and a reread judged alike
        self.calibration = load_calibration(config.weights) if config.calibrated else None
        self.margin = CROP_MARGIN
        self._single: Pipeline | None = None
        self._single_lock = threading.Lock()
        self._base: Pipeline | None = None    # read(): the cached pipeline this one shares its models with

    def single_threaded(self) -> "Pipeline":
        """This pipeline with sessions of one thread each, to read ``config.threads`` pages of one
        source at once (:mod:`polyocr.pipeline.pages`); itself when it already runs on one thread.
        Built on first need; the language models and calibration are shared (cached by path)."""
        if self.config.threads <= 1:
            return self
        if self._base is not None:           # reading pages does not depend on dpi, pdf_text or pages
            return self._base.single_threaded()
        with self._single_lock:
            if self._single is None:
                self._single = Pipeline(replace(self.config, threads=1), orderer=self.orderer,
                                        orientation=self.orientation)   # both on one thread already
            return self._single

    # -- orientation --------------------------------------------------------------------------------

    def _probe(self, rgb: np.ndarray, lines: list[DetectedLine], n: int = 6) -> int:
        """Quarter turns (np.rot90 k) that make the page upright, judged on its longest lines."""
        is_vertical, crops = probe_crops(rgb, lines, self.margin, n)
        if not crops:
            return 0
        strips = [prepare_line(c, vertical=is_vertical) for c in crops]
        log_probs = self.orientation(strips)                                  # (n, 4)
        # Summed, floored log-probabilities: a majority vote that confident lines weigh more in, but
        # one confidently wrong line (a sideways Latin run in a column, a logo) cannot outvote the rest.
        score = np.maximum(log_probs, np.log(1e-3)).sum(axis=0)
        turn = TURNS[is_vertical, self.orientation.classes[int(score.argmax())]]
        if turn == 2 and self._reads_better_as_is(crops, is_vertical):
            return 0
        return turn

    def _reads_better_as_is(self, crops: list[np.ndarray], vertical: bool) -> bool:
        """Whether the recogniser reads the probe crops more confidently as they lie than turned 180°.

        The classifier's upside-down verdicts are checked by reading: a face whose every line it
        takes for upside down (a bold italic Cyrillic, whose т, д and и look like m, g and u turned
        over) would otherwise turn a whole upright page over and read nothing. Between 0° and 180°,
        unlike between a row and a column, the recogniser's confidence is a safe judge: on 120
        generated pages in held-out fonts and the 8 samples, upright and turned, it chose right
        every time (BENCHMARKS.md, session 24). Only pages judged upside down pay for the two readings."""
        gray = [to_gray(c) for c in crops]
        flags = [vertical] * len(gray)
        as_is = self.recognizer.read(gray, flags)
        turned = self.recognizer.read([np.ascontiguousarray(g[::-1, ::-1]) for g in gray], flags)
        mean_log = lambda rs: float(np.mean([math.log(max(r.line.confidence, 1e-4)) for r in rs]))  # noqa: E731
        return mean_log(as_is) > mean_log(turned)

    def _level(self, rgb: np.ndarray, gray: np.ndarray, lines: list[DetectedLine]
               ) -> tuple[np.ndarray, list[DetectedLine], np.ndarray | None, float]:
        """The page turned level when its text is tilted past what the detector reads (about 7°):
        (image, its lines, the affine back to the image as given or None, the tilt in radians).

        A cheap check first, on what detection already gave: a page whose lines cover its ink and
        lie within a few degrees of level is read as it is. Otherwise the ink's projection profile
        (:func:`~polyocr.pipeline.skew.page_skew`, ~12 ms) says how far the text is tilted, and from
        ``DESKEW_FROM`` on the page is turned level and detected again. The levelled page replaces
        the original only if its lines lie level and are whole: nearly as much line length as
        before where the detector's own lines tilted the same way, clearly more where they did not.
        """
        quads = [ln.quad for ln in lines]
        drift = quad_tilt(quads, [ln.vertical for ln in lines]) if lines else 0.0
        if abs(drift) < LOOK_FROM and ink_coverage(gray, quads) >= LOW_COVER:
            return rgb, lines, None, 0.0
        found = page_skew(gray)
        if found is None or abs(found[0]) < DESKEW_FROM or found[1] < DESKEW_GAIN:
            return rgb, lines, None, 0.0
        angle = found[0]
        turned, back = level_page(rgb, angle)
        again = self.detector.detect(turned)
        before, after = whole_length([ln.quad for ln in lines]), whole_length([ln.quad for ln in again])
        # the detector's own lines tilted the same way (they lag a large tilt: -10° to -14° at -20°)
        agrees = drift * angle > 0 and abs(drift) >= LOOK_FROM
        if (after < (0.9 if agrees else 1.1) * before
                or abs(quad_tilt([ln.quad for ln in again], [ln.vertical for ln in again])) > AGREE):
            return rgb, lines, None, 0.0
        # The turned canvas grew by the corners the turn brought in. Cut it back to the text and a
        # page-like margin: reading order measures boxes in page units, and on the whole canvas it
        # read a levelled form's rows out of order (0.87 NED; cut, 0.05).
        pts = np.concatenate([ln.quad for ln in again])
        hh, ww = turned.shape[:2]
        m = 0.06 * max(hh, ww)
        x0, y0 = int(max(0.0, pts[:, 0].min() - m)), int(max(0.0, pts[:, 1].min() - m))
        x1, y1 = int(min(ww, pts[:, 0].max() + m + 1)), int(min(hh, pts[:, 1].max() + m + 1))
        turned = np.ascontiguousarray(turned[y0:y1, x0:x1])
        again = [DetectedLine(ln.quad - np.array([x0, y0], ln.quad.dtype), ln.score, ln.vertical) for ln in again]
        back = back.copy()
        back[:, 2] += back[:, :2] @ np.array([x0, y0], np.float64)
        return turned, again, back, angle

    # -- one page -------------------------------------------------------------------------------------

    def _restack(self, rgb: np.ndarray, lines: list[DetectedLine], readings: list[LineReading],
                 gray: np.ndarray | None = None) -> tuple[list[DetectedLine], list[LineReading]]:
        """Read again, as rows, the vertical detections of a horizontal page that read badly.

        A column of short items stacked one under another (right-aligned page numbers in a table
        of contents, a numeric table column) reaches the detector as one vertical line, which the
        recogniser then reads as junk and the confidence filter drops: those items were lost
        (measured: every page number of four generated contents pages). Such a detection is cut
        into its ink rows, each read as a horizontal line; rows read confidently replace it.
        """
        n_vertical = sum(ln.vertical for ln in lines)
        if not n_vertical or n_vertical > 0.3 * len(lines):
            return lines, readings
        low = [k for k, (ln, r) in enumerate(zip(lines, readings))
               if ln.vertical and r.line.confidence < RESTACK_BELOW]
        if not low:
            return lines, readings
        pieces: list[tuple[int, DetectedLine]] = []
        for k in low:
            pieces += [(k, d) for d in ink_rows(rgb, lines[k])]
        if not pieces:
            return lines, readings
        # the rows of a contents page's number column run into their dot leaders, as entries do
        # (".49" for 49 on an Arabic contents page, where the leader starts just right of the number)
        trimmed = trim_leaders(gray if gray is not None else gray_page(rgb), [d for _, d in pieces], self.margin)
        pieces = [(k, d) for (k, _), d in zip(pieces, trimmed)]
        crops = [crop_line(rgb, d.quad, False, self.margin) for _, d in pieces]
        again = self.recognizer.read(crops, [False] * len(crops))
        rows: dict[int, list[float]] = {}
        for (k, _), r in zip(pieces, again):
            rows.setdefault(k, []).append(r.line.confidence)
        # rows replace the column when one reads confidently and together they read better than it did
        replaced = {k for k, conf in rows.items()
                    if max(conf) >= self.config.min_confidence and np.mean(conf) > readings[k].line.confidence}
        out_lines = [ln for k, ln in enumerate(lines) if k not in replaced]
        out_readings = [r for k, r in enumerate(readings) if k not in replaced]
        for (k, d), r in zip(pieces, again):
            if k in replaced:
                out_lines.append(d)
                out_readings.append(r)
        return out_lines, out_readings

    def _reread(self, kept: list[tuple[DetectedLine, LineReading]], langs: Sequence[str],
                masks: Sequence[np.ndarray | None] | None,
                crop_of: Callable[[DetectedLine], np.ndarray]) -> list[tuple[DetectedLine, LineReading]]:
        """Read the doubtful stretches of a horizontal line of ``reread_languages`` again at each of
        ``reread_widths`` (constrained and rescored as the first reading was) and keep the line
        :func:`line_score` likes best; a stretch is a doubtful word with ``reread_context`` words
        either side, or the whole line (:mod:`polyocr.pipeline.reread`).

        The recogniser's errors in an unseen face depend on the line's scale: of six widths, the best
        reading of each held-out line would cut its error by a quarter (session 17). Korean, Arabic
        and traditional Chinese lines gain from choosing between 1.0 and 1.2 on held-out synthetic
        lines, on realdev's real ones and on whole pages alike (:data:`ACCURATE_LANGUAGES`); the
        others do not everywhere. Reading whole lines again, their pages take about twice as long,
        so that is opt-in (``polyocr read --accurate``; BENCHMARKS.md, session 18); Korean's doubtful
        words alone are read again by default (session 21)."""
        cfg = self.config
        todo: list[tuple[int, Window]] = []     # (kept line, stretch of it) to read again
        for i, ((det, r), lang) in enumerate(zip(kept, langs)):
            if lang in cfg.reread_languages and not det.vertical:
                todo += [(i, wn) for wn in doubtful_windows(r, cfg.reread_below, cfg.reread_context)]
        if not todo:
            return kept
        charset = self.recognizer.charset
        rcfg = self.rescoring
        crops = []
        for i, wn in todo:
            crop = crop_of(kept[i][0])
            w = crop.shape[1]
            crops.append(crop[:, int(wn.x0 * w):max(int(wn.x0 * w) + 1, int(np.ceil(wn.x1 * w)))])
        sub_langs = [langs[i] for i, _ in todo]
        sub_masks = [masks[i] if masks is not None else None for i, _ in todo]
        parts: list[list[LineReading]] = [[] for _ in todo]
        for width in cfg.reread_widths:
            again = self.recognizer.read(crops, [False] * len(todo), [kept[i][1].direction for i, _ in todo],
                                         [width] * len(todo))
            again = [redecode(r, m, charset) if m is not None else r for r, m in zip(again, sub_masks)]
            again = rescore_page(again, sub_langs, self.lms, charset, rcfg, sub_masks)
            for k, r in enumerate(again):
                parts[k].append(r)
        out = list(kept)
        # right to left along each line, so the windows still to splice keep their character indices
        for k in sorted(range(len(todo)), key=lambda k: (todo[k][0], -todo[k][1].first)):
            i, wn = todo[k]
            lm, lcfg = self.lms.get(langs[i]), rcfg.for_language(langs[i])
            best = out[i][1]
            best_score = line_score(best, lm, lcfg)
            for part in parts[k]:
                cand = splice(out[i][1], wn, part, charset)
                score = line_score(cand, lm, lcfg)
                if score > best_score:
                    best, best_score = cand, score
            out[i] = (kept[i][0], best)
        return out

    def read_image(self, image: Image.Image | np.ndarray, index: int = 0, dpi: float = 0.0) -> Page:
        """One page image → Page (polygons in the pixels of ``image`` as given)."""
        rgb = _to_rgb(image)
        page_h, page_w = rgb.shape[:2]
        square = corners = None                   # the homography from a squared page back to the image
        if self.config.keystone:                  # first: a desk around the page is neither a dark page nor shade
            corners = find_page(rgb)
            if corners is not None:
                rgb, square = square_page(rgb, corners)
        rgb = _dark_on_light_page(rgb)
        if self.config.even_light:            # after: a negative's dark margins are not shade
            rgb = even_out(rgb)
        rgb = soften_bilevel(rgb, self.config.bilevel_blur)
        if self.config.despeckle:
            rgb = despeckle(rgb)
        if self.config.refocus:                   # after: dots and shade would mislead the blur estimate
            rgb = refocus(rgb)
        t = _Timings()
        t0 = time.perf_counter()
        lines = self.detector.detect(rgb)
        gray = gray_page(rgb)                     # the ink: levelling, trimming, parting, skew
        back = None                                 # the affine from a levelled page back to the image
        tilt = 0.0
        if self.config.deskew:
            rgb, lines, back, tilt = self._level(rgb, gray, lines)
        h, w = rgb.shape[:2]
        t.detect = time.perf_counter() - t0
        k = 0
        if self.config.orientation and self.orientation is not None and lines:
            t0 = time.perf_counter()
            k = self._probe(rgb, lines)
            if k:
                rgb = np.ascontiguousarray(np.rot90(rgb, k))
                lines = self.detector.detect(rgb)
            t.rotate = time.perf_counter() - t0
        t0 = time.perf_counter()
        # crops (and the words placed in them) come from the parted boxes; each line keeps the
        # detector's own box as its polygon, which is what fragment joining and ordering were built on
        if back is not None or k:                 # the page was turned: its ink with it
            gray = gray_page(rgb)
        parted = part_neighbours(gray, trim_leaders(gray, lines, self.margin), self.margin)
        drawn = {id(p): ln for p, ln in zip(parted, lines)}
        lines = parted
        # gray once: the recogniser, the dot and ink checks and a second reading all look at gray pixels
        crops = [to_gray(crop_line(rgb, ln.quad, ln.vertical, self.margin)) for ln in lines]
        readings = self.recognizer.read(crops, [ln.vertical for ln in lines]) if crops else []
        t.recognize = time.perf_counter() - t0
        read_from = {id(ln): (ln, c) for ln, c in zip(lines, crops)}   # the crop each line was read from
        lines, readings = self._restack(rgb, lines, list(readings), gray)
        kept = [(ln, r) for ln, r in zip(lines, readings)
                if r.line.text.strip() and r.line.confidence >= self.config.min_confidence]
        langs, main = page_languages([r.line.text for _, r in kept], self.config.languages)
        page_dir = "rtl" if main in ("ar", "he") else "ltr"
        if page_dir == "rtl":
            # a line without letters (a phone number, a total) takes the page's direction: the decoder
            # inferred left to right for it, but it was laid out inside right-to-left paragraphs
            kept = [(det, with_direction(r, "rtl", self.recognizer.charset) if _letterless(r.visual) else r)
                    for det, r in kept]
        masks: list[np.ndarray] | None = None      # per kept line, the classes its language admits
        if kept and (self.config.constrain_scripts or self.lms is not None):
            readings2 = [r for _, r in kept]
            if self.config.constrain_scripts:
                cons = page_constraints(readings2, langs, main, self.recognizer.charset)
                readings2, langs = constrain_page(readings2, langs, main, self.recognizer.charset, cons)
                masks = [ok for _, ok in cons]
            if self.lms is not None:
                readings2 = rescore_page(readings2, langs, self.lms, self.recognizer.charset, self.rescoring,
                                         masks)
            kept = [(det, r) for (det, _), r in zip(kept, readings2)]

        def crop_of(det: DetectedLine) -> np.ndarray:
            """The gray crop ``det`` was read from."""
            ln, crop = read_from.get(id(det), (None, None))
            return crop if ln is det else to_gray(crop_line(rgb, det.quad, det.vertical, self.margin))  # restacked

        if self.config.reread_languages and self.lms is not None and kept:
            t0 = time.perf_counter()
            kept = self._reread(kept, langs, masks, crop_of)
            t.recognize += time.perf_counter() - t0
        if self.config.unify_scripts:
            kept = [(det, unify_reading(r, self.recognizer.charset)) for det, r in kept]
        if self.config.typed_quotes:
            kept = [(det, typed_quotes(r, lang)) for (det, r), lang in zip(kept, langs)]
        if self.config.settle_dots:
            kept = [(det, r if det.vertical or not any(c in DOTS for c in r.visual) else
                     settle_dots(r, crop_of(det), self.recognizer.charset))
                    for det, r in kept]
        if self.config.inked_characters:
            kept = [(det, r if det.vertical else drop_inkless(r, crop_of(det), self.recognizer.charset))
                    for det, r in kept]
        uh, uw = rgb.shape[:2]   # the upright frame: ordering happens here, polygons go back afterwards
        page_lines: list[Line] = []
        for (det, r), lang in zip(kept, langs):
            direction = "rtl" if lang in ("ar", "he") or _mostly_rtl(r.line.text) else "ltr"
            words = _words(r, det.quad, self.margin)
            page_lines.append(Line(text=r.line.text, polygon=_poly(drawn.get(id(det), det).quad), words=words,
                                   language=lang, direction=direction,
                                   writing_mode="vertical-rl" if det.vertical else "horizontal-tb",
                                   confidence=float(r.line.confidence)))
        t0 = time.perf_counter()
        if self.config.join_fragments:
            page_lines = join_fragments(page_lines)
        skew = None                                 # the orderer takes the quads' angle
        if self.config.ink_skew and page_lines:
            prior = skew_angle(page_lines)
            measured = ink_skew(gray, page_lines, prior, vertical_page(page_lines))
            skew = prior if measured is None else measured
        blocks = self.orderer(page_lines, uw, uh, page_dir, skew) if page_lines else []
        t.order = time.perf_counter() - t0

        def to_image(poly: Any) -> list[tuple[float, float]]:
            """A polygon of the upright frame in the pixels of the image as given: back through the
            quarter turn, the levelling turn and the squaring of a photographed page, and kept on the
            page (a line at the edge reaches past it by its crop margin)."""
            if k:
                poly = _back(poly, k, (h, w))
            if back is not None:
                poly = _affine(poly, back)
            if square is not None:
                poly = _poly(project(poly, square))
            return _on_page(poly, page_w, page_h)

        for b in blocks:
            b.language = _majority([ln.language for ln in b.lines]) or main
            b.polygon = to_image(b.polygon)
            for ln in b.lines:
                ln.polygon = to_image(ln.polygon)
                for wd in ln.words:
                    wd.polygon = to_image(wd.polygon)
        page = Page(width=page_w, height=page_h, blocks=blocks, language=main if page_lines else "", direction=page_dir,
                    dpi=float(dpi), index=index,
                    meta={"engine": "polyocr", "rotation": (k % 4) * 90, "deskew": round(float(np.degrees(tilt)), 2),
                          "seconds": {"detect": round(t.detect, 4), "orientation": round(t.rotate, 4),
                                      "recognize": round(t.recognize, 4), "order": round(t.order, 4)}})
        if corners is not None:                   # where the photographed page was found, for the caller
            page.meta["page_corners"] = [[round(float(x), 1), round(float(y), 1)] for x, y in corners]
        if self.calibration is not None:
            self.calibration.apply(page)
        return page.assign_ids()

    def read(self, source: Any) -> Document:
        """A file path, bytes, PIL image or array (a PDF or multi-page TIFF gives several pages)."""
        from polyocr.pipeline.inputs import load_pages
        from polyocr.pipeline.pages import in_order, side_by_side

        cfg = self.config
        items, at_once = side_by_side(load_pages(source, dpi=cfg.dpi, pdf_text=cfg.pdf_text, pages=cfg.pages),
                                      cfg.threads)
        reader = self.single_threaded() if at_once > 1 else self

        def one(item: PageImage) -> Page:
            if cfg.pdf_text and item.text_layer is not None:
                page = item.text_layer
                page.index = item.index
                return page
            return reader.read_image(item.image, index=item.index, dpi=item.dpi)

        pages = [page for _, page in in_order(one, items, at_once)]
        name = os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else ""
        return Document(pages=pages, source=name, meta={"engine": "polyocr"})


def probe_crops(rgb: np.ndarray, lines: Sequence[DetectedLine], margin: float,
                n: int = 6) -> tuple[bool, list[np.ndarray]]:
    """The page's majority box direction (vertical?) and the middles of its ``n`` longest lines of
    that direction: what orientation is judged on. The middle of a line (at most 8 heights) is
    plenty to see which way its glyphs lie."""
    vertical = [ln for ln in lines if ln.vertical and ln.length > 2 * ln.thickness]
    horizontal = [ln for ln in lines if not ln.vertical and ln.length > 2 * ln.thickness]
    is_vertical = len(vertical) > len(horizontal)
    group = sorted(vertical if is_vertical else horizontal, key=lambda ln: -ln.length)[:n]
    return is_vertical, [_middle(crop_line(rgb, ln.quad, ln.vertical, margin), 8.0) for ln in group]


def _middle(crop: np.ndarray, ratio: float) -> np.ndarray:
    """The central part of a line crop, at most ``ratio`` times as long as it is thick."""
    h, w = crop.shape[:2]
    if w >= h and w > ratio * h:
        n = int(ratio * h)
        return np.ascontiguousarray(crop[:, (w - n) // 2:(w - n) // 2 + n])
    if h > w and h > ratio * w:
        n = int(ratio * w)
        return np.ascontiguousarray(crop[(h - n) // 2:(h - n) // 2 + n])
    return crop


def _poly(quad: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in quad]


def _affine(poly: Any, m: np.ndarray) -> list[tuple[float, float]]:
    pts = np.asarray(poly, np.float64)
    return _poly(pts @ m[:, :2].T + m[:, 2])


def _on_page(poly: Any, w: int, h: int) -> list[tuple[float, float]]:
    return [(min(max(float(x), 0.0), float(w)), min(max(float(y), 0.0), float(h))) for x, y in poly]


def _back(poly: Any, k: int, shape: tuple[int, int]) -> list[tuple[float, float]]:
    """A polygon in the upright frame → the pixels of the image as given (turned by ``np.rot90(·, k)``)."""
    return _poly(_rotate_quads([np.asarray(poly, np.float32)], k, shape)[0])


def _to_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))   # convert() would copy
    arr = np.asarray(image)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return np.ascontiguousarray(arr[..., :3])
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    raise ValueError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {arr.shape}")


def _dark_on_light_page(rgb: np.ndarray) -> np.ndarray:
    """A page of light lettering on a dark ground (a dark slide, a dark-mode screenshot, a negative)
    inverted, as the detector and recogniser were trained on dark on light. Judged on every fourth
    pixel; lines of the other polarity on a page (a reversed heading) are turned by the recogniser."""
    small = cv2.cvtColor(np.ascontiguousarray(rgb[::4, ::4]), cv2.COLOR_RGB2GRAY)
    return cv2.bitwise_not(rgb) if small.size and light_on_dark(small) else rgb


def _letterless(text: str) -> bool:
    """No character with a strong direction (letters of any script): digits, punctuation, symbols."""
    return not any(bidi_class(c) in ("L", "R", "AL") for c in text)


def _mostly_rtl(text: str) -> bool:
    from polyocr.bidi import rtl_share

    return rtl_share(text) > 0.5


def _majority(items: Sequence[str]) -> str:
    from collections import Counter

    c = Counter(i for i in items if i)
    return c.most_common(1)[0][0] if c else ""


_PIPELINES: dict[ReadConfig, Pipeline] = {}


def read(source: Any, **options: Any) -> Document:
    """Read an image, PDF, bytes or array into a Document with the packaged models.

    The models are loaded on first use and kept for later calls with the same options."""
    cfg = ReadConfig(**options)
    key = replace(cfg, dpi=200, pdf_text=False, pages=None)
    if key not in _PIPELINES:
        _PIPELINES[key] = Pipeline(key)
    pipe = _PIPELINES[key]
    if (cfg.dpi, cfg.pdf_text, cfg.pages) != (pipe.config.dpi, pipe.config.pdf_text, pipe.config.pages):
        base = pipe
        pipe = Pipeline(cfg, base.detector, base.recognizer, base.orderer, base.orientation)
        pipe._base = base
    return pipe.read(source)
