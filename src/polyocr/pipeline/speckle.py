"""Impulse noise (salt and pepper) removed before a page is read.

Dust on a scanner glass, a fax line, a worn photocopier: lone black and white pixels over the page.
The models never saw them at that density. With 2 % of the pixels flipped to black or white, the
sample pages read 0.06-0.60 NED instead of 0.006-0.086, and the vertical Japanese page lost its
columns.
A 3 × 3 median filter removes the dots but also thins small type: the Chinese table sample went
0.028 → 0.103 clean. So only the dots are replaced. A dot is a pixel darker than every one of its
eight neighbours by more than ``STEP`` levels, or lighter than every one by as much. A stroke
pixel has a neighbour along its stroke. Only a one-pixel feature of very small type (a counter closed
to one pixel, a junction) looks like a dot: under 0.1 % of a text line's pixels from 16 px, 0.3 % in
12 px Chinese. Dots are replaced by
their 3 × 3 median, in two passes, so that two touching dots go as well. The same samples then read
0.009-0.091 (BENCHMARKS.md).

The step runs only on pages with many dots: more than ``NOISY`` of their pixels. Clean pages have
at most 0.00066 (the benchmark's 80 held-out pages, 64 realdev pages and the samples), and 0.5 %
salt and pepper gives 0.0022. Two-level scans are softened first (:mod:`polyocr.pipeline.bilevel`).
A dither pattern is made of lone dots that stand for gray, and the blur turns them back into gray
before this step could take them for noise.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["dots", "dot_share", "despeckle", "STEP", "NOISY"]

STEP = 60        # gray levels a dot stands out from all eight neighbours
NOISY = 0.0015   # share of a page's pixels that are dots above which the page is cleaned
_RING = np.ones((3, 3), np.uint8)
_RING[1, 1] = 0


def _dot_map(gray: np.ndarray) -> np.ndarray:
    """uint8, 255 where a pixel is a dot (saturating uint8 differences: no wider copies of the page)."""
    lowest = cv2.erode(gray, _RING, borderType=cv2.BORDER_REPLICATE)
    highest = cv2.dilate(gray, _RING, borderType=cv2.BORDER_REPLICATE)
    dark = cv2.threshold(cv2.subtract(lowest, gray), STEP, 255, cv2.THRESH_BINARY)[1]
    light = cv2.threshold(cv2.subtract(gray, highest), STEP, 255, cv2.THRESH_BINARY)[1]
    return cv2.bitwise_or(dark, light)


def dots(gray: np.ndarray) -> np.ndarray:
    """Boolean mask of the pixels darker or lighter than all eight neighbours by more than ``STEP``."""
    return _dot_map(np.ascontiguousarray(gray, dtype=np.uint8)) > 0


def dot_share(rgb: np.ndarray) -> float:
    """The share of a page's pixels that are dots."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else np.ascontiguousarray(rgb, dtype=np.uint8)
    return cv2.countNonZero(_dot_map(gray)) / max(gray.size, 1)


def _bands(rgb: np.ndarray, n: int = 4) -> np.ndarray:
    """``n`` horizontal bands spread over the page, an eighth of its height each, stacked: half the
    pixels to judge the page's dot share on (dots are spread over the page, not gathered)."""
    h = rgb.shape[0]
    if h < 64:
        return rgb
    step, band = h // n, max(3, h // (2 * n))
    return np.concatenate([rgb[i * step:i * step + band] for i in range(n)])


def despeckle(rgb: np.ndarray, passes: int = 2) -> np.ndarray:
    """``rgb`` with its dots replaced by their 3 × 3 median when it has more than ``NOISY`` of them
    (judged on half the page, :func:`_bands`), else ``rgb`` itself."""
    if rgb.size == 0 or min(rgb.shape[:2]) < 3 or dot_share(_bands(rgb)) <= NOISY:
        return rgb
    out = rgb.copy()
    for _ in range(passes):
        mask = dots(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY))
        if not mask.any():
            break
        out[mask] = cv2.medianBlur(out, 3)[mask]
    return out
