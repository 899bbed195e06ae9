"""Image → Document: detection, rectified crops, batched recognition, reading order.

The pipeline is composed from three stages built once and reused (docTR's OCRPredictor idea):
:class:`~polyocr.pipeline.detect.LineDetector` finds line quads, the recogniser reads the rectified
crops in width-sorted batches, and :class:`~polyocr.pipeline.order.Orderer` groups lines into
paragraphs and puts them in reading order. Nothing here draws or exports: formats read the Document
this returns.

Whole-page rotation (0/90/180/270) is settled by reading: the longest lines are recognised both ways
and the reading the model is more confident in wins (upside-down text reads as garbage at low
confidence). Vertical boxes that read best turned counter-clockwise are vertical CJK columns when
the text is CJK, and a page turned 90° otherwise. A turned page is rotated upright, detected again,
and every polygon is mapped back to the pixels of the image as given.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any, Sequence

import cv2
import numpy as np
from PIL import Image

from polyocr.document import Document, Line, Page, Word
from polyocr.pipeline.detect import DetectedLine, LineDetector, quad_size
from polyocr.pipeline.language import page_languages, script_of
from polyocr.pipeline.recognize import LineReading, Recognizer

__all__ = ["ReadConfig", "Pipeline", "read", "crop_line"]

CJK_SCRIPTS = {"han", "kana", "hangul"}


@dataclass(frozen=True)
class ReadConfig:
    """Options a user can set per run (CLI flags, HTTP form fields, ``polyocr.read`` keywords)."""

    dpi: int = 200                      # PDF rasterisation
    pdf_text: bool = False              # use the PDF's own text layer instead of OCR
    order: str = "learned"              # "learned" | "xycut"
    orientation: bool = True            # detect whole-page rotation 0/90/180/270
    languages: tuple[str, ...] = ()     # hints; empty = any of the eight
    threads: int = 2
    min_confidence: float = 0.35        # lines read with less confidence are dropped (noise, pictures)
    weights: str | None = None          # folder with detector/recogniser/order weights (default: packaged)

    def __post_init__(self) -> None:
        if self.order not in ("learned", "xycut"):
            raise ValueError(f"order must be 'learned' or 'xycut', not {self.order!r}")
        if not 36 <= self.dpi <= 1200:
            raise ValueError(f"dpi must be between 36 and 1200, not {self.dpi}")
        from polyocr.languages import LANGUAGES

        bad = [code for code in self.languages if code not in LANGUAGES]
        if bad:
            raise ValueError(f"unknown language(s) {', '.join(bad)}; known: {', '.join(LANGUAGES)}")


def crop_line(image: np.ndarray, quad: np.ndarray, vertical: bool, margin: float = 0.15,
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


def _point_on(quad: np.ndarray, t: float, s: float) -> np.ndarray:
    """Point at fraction ``t`` along p0→p1 and ``s`` across p0→p3 of a quad (bilinear)."""
    p0, p1, p2, p3 = quad
    top = p0 + (p1 - p0) * t
    bottom = p3 + (p2 - p3) * t
    return top + (bottom - top) * s


def _words(reading: LineReading, quad: np.ndarray, direction: str, margin: float) -> list[Word]:
    """Words from the display-order characters and their positions; in logical order."""
    from polyocr.bidi import to_logical

    text = reading.line.text
    if not text:
        return []
    length, thick = quad_size(quad)
    m = margin * thick
    total = length + 2 * m
    tokens: list[tuple[str, float, float, float]] = []  # (logical text, t0, t1, confidence)
    visual, spans = reading.visual, reading.spans
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
        tok = visual[i:j]
        tokens.append((to_logical(tok, direction) if direction == "rtl" else tok,
                       float(np.clip(t0, 0, 1)), float(np.clip(t1, 0, 1)), 0.0))
        i = j
    if direction == "rtl":
        tokens.reverse()
    conf = reading.line.char_confidences
    words: list[Word] = []
    pos = 0
    for tok, t0, t1, _ in tokens:
        at = text.find(tok, pos)
        if at < 0:   # bidi reordering across spaces we cannot map token by token: one word per line
            return [Word(text=text, polygon=[tuple(map(float, p)) for p in quad], confidence=reading.line.confidence)]
        c = conf[at:at + len(tok)]
        wq = np.stack([_point_on(quad, t0, 0), _point_on(quad, t1, 0), _point_on(quad, t1, 1), _point_on(quad, t0, 1)])
        words.append(Word(text=tok, polygon=[(float(x), float(y)) for x, y in wq],
                          confidence=float(np.exp(np.mean(np.log(np.maximum(c, 1e-6))))) if len(c) else 0.0))
        pos = at + len(tok)
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


@dataclass
class _Timings:
    detect: float = 0.0
    recognize: float = 0.0
    order: float = 0.0
    rotate: float = 0.0


class Pipeline:
    """Detector + recogniser + reading order, loaded once; ``read_image`` per page."""

    def __init__(self, config: ReadConfig | None = None, detector: LineDetector | None = None,
                 recognizer: Recognizer | None = None, orderer: Any = None) -> None:
        from polyocr.pipeline.order import Orderer

        self.config = config = config or ReadConfig()
        self.detector = detector or LineDetector(config.weights, threads=config.threads)
        self.recognizer = recognizer or Recognizer(config.weights, threads=config.threads)
        self.orderer = orderer or Orderer(method=config.order)
        self.margin = 0.15

    # -- orientation --------------------------------------------------------------------------------

    def _probe(self, rgb: np.ndarray, lines: list[DetectedLine], n: int = 6) -> int:
        """Quarter turns (np.rot90 k) that make the page upright, judged on its longest lines."""
        if not lines:
            return 0
        vertical = [ln for ln in lines if ln.vertical and ln.length > 2 * ln.thickness]
        horizontal = [ln for ln in lines if not ln.vertical and ln.length > 2 * ln.thickness]
        is_vertical = len(vertical) > len(horizontal)
        group = sorted(vertical if is_vertical else horizontal, key=lambda ln: -ln.length)[:n]
        if not group:
            return 0
        # The middle of each line is enough to judge which way up it is: at most 8 heights of it,
        # read twice, instead of two full readings of the page's longest lines (0.15-0.4 s a page).
        crops = [_middle(crop_line(rgb, ln.quad, ln.vertical, self.margin), 8.0) for ln in group]
        if not is_vertical:
            flipped = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
            a = self.recognizer.recognize(crops, [False] * len(crops))
            b = self.recognizer.recognize(flipped, [False] * len(crops))
            wins = sum(rb.confidence > ra.confidence + 0.05 for ra, rb in zip(a, b))
            return 2 if wins > len(group) / 2 else 0
        # Vertical boxes: turned counter-clockwise (what the recogniser does to vertical columns) or clockwise?
        ccw = self.recognizer.recognize(crops, [True] * len(crops))
        cw = self.recognizer.recognize([np.ascontiguousarray(np.rot90(c, -1)) for c in crops], [False] * len(crops))
        wins = sum(rb.confidence > ra.confidence + 0.05 for ra, rb in zip(ccw, cw))
        if wins > len(group) / 2:
            return -1              # text runs bottom to top: turn the page clockwise
        letters = [script_of(ch) for r in ccw for ch in r.text if script_of(ch)]
        cjk = sum(s in CJK_SCRIPTS for s in letters)
        if letters and cjk < 0.5 * len(letters):
            return 1               # Latin/Cyrillic/Arabic/Hebrew running down: a page turned clockwise
        return 0                   # vertical CJK columns

    # -- one page -------------------------------------------------------------------------------------

    def read_image(self, image: Image.Image | np.ndarray, index: int = 0, dpi: float = 0.0) -> Page:
        """One page image → Page (polygons in the pixels of ``image`` as given)."""
        rgb = _to_rgb(image)
        h, w = rgb.shape[:2]
        t = _Timings()
        t0 = time.perf_counter()
        lines = self.detector.detect(rgb)
        t.detect = time.perf_counter() - t0
        k = 0
        if self.config.orientation and lines:
            t0 = time.perf_counter()
            k = self._probe(rgb, lines)
            if k:
                rgb = np.ascontiguousarray(np.rot90(rgb, k))
                lines = self.detector.detect(rgb)
            t.rotate = time.perf_counter() - t0
        t0 = time.perf_counter()
        crops = [crop_line(rgb, ln.quad, ln.vertical, self.margin) for ln in lines]
        readings = self.recognizer.read(crops, [ln.vertical for ln in lines]) if crops else []
        t.recognize = time.perf_counter() - t0
        kept = [(ln, r) for ln, r in zip(lines, readings)
                if r.line.text.strip() and r.line.confidence >= self.config.min_confidence]
        langs, main = page_languages([r.line.text for _, r in kept], self.config.languages)
        uh, uw = rgb.shape[:2]   # the upright frame: ordering happens here, polygons go back afterwards
        page_lines: list[Line] = []
        for (det, r), lang in zip(kept, langs):
            direction = "rtl" if lang in ("ar", "he") or _mostly_rtl(r.line.text) else "ltr"
            words = _words(r, det.quad, direction, self.margin)
            page_lines.append(Line(text=r.line.text, polygon=_poly(det.quad), words=words,
                                   language=lang, direction=direction,
                                   writing_mode="vertical-rl" if det.vertical else "horizontal-tb",
                                   confidence=float(r.line.confidence)))
        t0 = time.perf_counter()
        page_dir = "rtl" if main in ("ar", "he") else "ltr"
        blocks = self.orderer(page_lines, uw, uh, page_dir) if page_lines else []
        t.order = time.perf_counter() - t0
        for b in blocks:
            b.language = _majority([ln.language for ln in b.lines]) or main
            if k:
                b.polygon = _back(b.polygon, k, (h, w))
                for ln in b.lines:
                    ln.polygon = _back(ln.polygon, k, (h, w))
                    for wd in ln.words:
                        wd.polygon = _back(wd.polygon, k, (h, w))
        page = Page(width=w, height=h, blocks=blocks, language=main if page_lines else "", direction=page_dir,
                    dpi=float(dpi), index=index,
                    meta={"engine": "polyocr", "rotation": (k % 4) * 90,
                          "seconds": {"detect": round(t.detect, 4), "orientation": round(t.rotate, 4),
                                      "recognize": round(t.recognize, 4), "order": round(t.order, 4)}})
        return page.assign_ids()

    def read(self, source: Any) -> Document:
        """A file path, bytes, PIL image or array (a PDF or multi-page TIFF gives several pages)."""
        from polyocr.pipeline.inputs import load_pages

        cfg = self.config
        pages: list[Page] = []
        for item in load_pages(source, dpi=cfg.dpi, pdf_text=cfg.pdf_text):
            if cfg.pdf_text and item.text_layer is not None:
                page = item.text_layer
                page.index = item.index
            else:
                page = self.read_image(item.image, index=item.index, dpi=item.dpi)
            pages.append(page)
        name = os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else ""
        return Document(pages=pages, source=name, meta={"engine": "polyocr"})


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


def _back(poly: Any, k: int, shape: tuple[int, int]) -> list[tuple[float, float]]:
    """A polygon in the upright frame → the pixels of the image as given (turned by ``np.rot90(·, k)``)."""
    return _poly(_rotate_quads([np.asarray(poly, np.float32)], k, shape)[0])


def _to_rgb(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return np.ascontiguousarray(arr[..., :3])
    if arr.ndim == 3 and arr.shape[2] == 3:
        return np.ascontiguousarray(arr)
    raise ValueError(f"expected an H×W, H×W×3 or H×W×4 image, got shape {arr.shape}")


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
    key = replace(cfg, dpi=200, pdf_text=False)
    if key not in _PIPELINES:
        _PIPELINES[key] = Pipeline(key)
    pipe = _PIPELINES[key]
    if (cfg.dpi, cfg.pdf_text) != (pipe.config.dpi, pipe.config.pdf_text):
        pipe = Pipeline(cfg, pipe.detector, pipe.recognizer, pipe.orderer)
    return pipe.read(source)
