"""Dithered two-level scans (a 1-bit scan of a gray page) softened before they are read.

The models learned on anti-aliased renders and camera-like degradations: gray edges, smooth
backgrounds. A dithered page has neither: a gray background, a tint or a halftone became a pattern
of lone black dots, every pixel is an edge, and the detector and recogniser see noise. On the
benchmark's held-out pages made 1-bit by Floyd-Steinberg dithering, pages read 0.49 NED; a Gaussian
blur of one pixel, which turns the dots back into the gray they stood for, brought them to 0.065
(BENCHMARKS.md, session 24). A thresholded page (a fax, an Otsu scan) is left alone: the same blur
made its small CJK type worse (0.041 → 0.051), since its strokes are already solid. What tells the
two apart is how many of the ink pixels stand alone (no ink pixel above, below or beside them):
at most 0.02 on thresholded pages, 0.31-0.96 on dithered ones.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["is_bilevel", "lone_dot_share", "soften_bilevel", "SIGMA", "TWO_LEVEL_SHARE", "DITHERED"]

SIGMA = 1.0             # px: the blur that undoes a dither pattern without blurring 200-dpi strokes
TWO_LEVEL_SHARE = 0.999  # share of (sampled) pixels at the image's darkest or lightest value
DITHERED = 0.1          # share of ink pixels standing alone above which a two-level page is dithered


def is_bilevel(rgb: np.ndarray) -> bool:
    """Whether the page holds only two gray values (a 1-bit scan, or one saved as 8-bit)."""
    sample = rgb[::3, ::3]
    if sample.size == 0:
        return False
    if sample.ndim == 3:
        if not (np.array_equal(sample[..., 0], sample[..., 1]) and np.array_equal(sample[..., 0], sample[..., 2])):
            return False
        sample = sample[..., 0]
    lo, hi = int(sample.min()), int(sample.max())
    if hi - lo < 64:
        return False       # a blank or nearly uniform page: nothing to soften
    return float(np.mean((sample == lo) | (sample == hi))) >= TWO_LEVEL_SHARE


def lone_dot_share(gray: np.ndarray) -> float:
    """Share of a two-level page's ink pixels (the rarer level) with no ink pixel as a 4-neighbour."""
    lo, hi = int(gray.min()), int(gray.max())
    ink = gray == lo
    if ink.mean() > 0.5:
        ink = gray == hi            # light print on a dark page: the rarer level is the ink
    n = int(ink.sum())
    if n == 0:
        return 0.0
    cross = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.uint8)
    neighbours = cv2.filter2D(ink.view(np.uint8), -1, cross, borderType=cv2.BORDER_CONSTANT)
    return float(np.count_nonzero(ink & (neighbours == 0))) / n


def soften_bilevel(rgb: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """``rgb`` blurred by ``sigma`` pixels when it is a dithered two-level page, else ``rgb`` itself."""
    if sigma <= 0 or not is_bilevel(rgb):
        return rgb
    gray = np.ascontiguousarray(rgb[..., 0] if rgb.ndim == 3 else rgb)
    if lone_dot_share(gray) < DITHERED:
        return rgb
    soft = cv2.GaussianBlur(gray, (0, 0), sigma)
    return np.ascontiguousarray(np.repeat(soft[..., None], 3, axis=2))
