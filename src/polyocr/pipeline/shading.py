"""Uneven lighting evened out before a page is read.

A phone photo of a page is lit unevenly: the hand, the phone or a lamp shade part of it. The models
cope with shade alone, and with blur alone, but not with both: shade lowers the contrast of blurred
strokes until the detector loses them. The sample pages shaded from 100 % to 35 % across and blurred
by σ 2 px read 0.21-0.69 NED, against 0.032-0.39 blurred in even light; a phone-photo composite
(keystone, shade, blur, JPEG) read 0.32-0.75 (BENCHMARKS.md, "Shade evened out").

The paper's brightness is estimated on a coarse grid: the brightest pixel of each cell (paper shows
between the strokes of any text), closed over 3 cells to fill large glyphs, then a median over 15
cells, which keeps the broad slope and sharp edge of a shadow but drops dark features smaller than
half its window (a black rule, a table header, a dark photo in a corner). It is smoothed by only
0.6 cells: smoothed over 2, a hard shadow's edge left a dark band along it. Each pixel is then
scaled by the brightest paper level over the paper under it, so lit paper is left as it is.

Three things must not be lightened, and each is found and left alone:

- **A page lit evenly.** Only a page where more than ``SHADED`` of the grid lies below ``DIM`` of the
  brightest paper level is touched. No page of the benchmark sets comes near it (152 pages: 80
  generated, 64 realdev, the 8 samples).
- **Light lettering on a dark box** (a slide's banner, a dark sidebar, a web page's footer). Such a
  box is as dark as a shadow, but its lettering is lighter than its ground, where in a shadow the
  paper is the lightest thing. Dense lettering needs no care: it lifts the cells' maxima, so the
  paper level found there is the letters' own and the box is scaled by little, and a ground scaled
  by level/paper never rises above the lit paper while its lettering stays at or above it. Sparse
  lettering (a title in a large dark panel) is left out of that level by the median, and the ground
  would rise to the paper's white around it; so cells holding pixels far lighter than the paper level
  around them, and ``KEEP`` cells around those, keep their pixels. The rest of a dark box is
  lightened, which loses nothing. A page whose only dark region is such lettering is left as it is.
- **What is not written on**: a desk around a photographed page, a blank shadow. A shaded region
  (cells connected) changes only if ``WRITTEN`` of its cells hold ink (a darkest pixel ``INKED``
  below the paper level); a desk holds ink only where it meets the page. Lifting the desk around
  generated desk photos to paper white made them read worse (0.079 → 0.108 page NED; BENCHMARKS.md).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["paper_level", "even_out", "CELLS", "DIM", "SHADED", "KEEP", "INKED", "WRITTEN"]

CELLS = 160      # grid cells along the page's long side
DIM = 0.8        # paper darker than this share of the brightest paper level counts as shaded
SHADED = 0.05    # share of the grid that must be shaded before a page is evened out
KEEP = 6         # cells around light lettering that keep their pixels, and around ink that may change
INKED = 0.3      # a cell whose darkest pixel is this share below the paper level holds ink...
WRITTEN = 0.05   # ...and a shaded region with this share of such cells is paper written on


def paper_level(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(the paper's brightness per grid cell, smoothed; the same before smoothing, with its sharp
    edges; each cell's brightest and darkest pixel; the cell size in px). The page's ragged edge is
    left out of the grid: it takes its neighbours' values when the map is enlarged."""
    size = max(4, int(round(max(gray.shape) / CELLS)))
    if min(gray.shape) < 16 * size:           # too small to hold a shadow worth evening out
        flat = np.full((1, 1), float(gray.max()), np.float32)
        return flat, flat, flat, flat, max(gray.shape)
    h, w = gray.shape
    block = np.ones((size, size), np.uint8)

    def cells(img: np.ndarray) -> np.ndarray:  # read at the cells' centres (a reshaped max is 3× slower)
        return np.ascontiguousarray(img[size // 2::size, size // 2::size][:h // size, :w // size])

    top, low = cells(cv2.dilate(gray, block)), cells(cv2.erode(gray, block))
    closed = cv2.morphologyEx(top, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    edged = cv2.medianBlur(closed, 15)
    paper = cv2.GaussianBlur(edged, (0, 0), 0.6).astype(np.float32)
    return paper, edged.astype(np.float32), top.astype(np.float32), low.astype(np.float32), size


def even_out(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` with shaded paper brought up to the brightest paper level, or ``rgb`` itself when the
    page is evenly lit (nearly every page: the check costs ~3 ms on an A4 page at 200 dpi)."""
    # every other pixel: paper still shows between the strokes, and the check costs a quarter
    half = cv2.resize(rgb, ((rgb.shape[1] + 1) // 2, (rgb.shape[0] + 1) // 2), interpolation=cv2.INTER_NEAREST)
    gray = cv2.cvtColor(half, cv2.COLOR_RGB2GRAY)
    paper, edged, top, low, size = paper_level(gray)
    level = float(np.percentile(paper, 90))
    shaded = paper < DIM * level
    if level < 64 or shaded.mean() <= SHADED:
        return rgb
    ring = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * KEEP + 1,) * 2)
    lettered = (top > 1.3 * edged + 16).astype(np.uint8)
    keep = cv2.dilate(lettered, ring).astype(bool)
    # only shaded paper that is written on: a desk or a blank shadow holds no text to read. A shaded
    # region counts when WRITTEN of its cells hold ink; a desk holds ink only along the page's edge
    inked = (edged - low) > np.maximum(INKED * edged, 20.0)
    count, labels = cv2.connectedComponents(shaded.astype(np.uint8), connectivity=8)
    # counted two cells in from a region's rim: the cells where a desk meets the page hold the
    # page's edge, which looks like ink, and a thin strip of desk is mostly rim
    inner = cv2.erode(shaded.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    cells = np.bincount(labels[inner], minlength=count)
    share = np.bincount(labels[inked & inner], minlength=count) / np.maximum(cells, 1)
    written = (share >= WRITTEN)[labels] & shaded
    if (written & ~keep).mean() <= SHADED:
        return rgb
    gain = np.maximum(np.float32(level) / np.maximum(paper, 8.0), 1.0)   # never darken: only shade is undone
    gain[keep | (shaded & ~written)] = 1.0
    gain = cv2.GaussianBlur(gain, (0, 0), 1.0)
    h, w = rgb.shape[:2]
    size *= 2
    full = cv2.resize(gain, (gain.shape[1] * size, gain.shape[0] * size), interpolation=cv2.INTER_LINEAR)[:h, :w]
    full = cv2.copyMakeBorder(full, 0, h - full.shape[0], 0, w - full.shape[1], cv2.BORDER_REPLICATE)
    out = rgb.astype(np.float32)
    out *= full[..., None]
    return np.clip(out, 0, 255, out=out).astype(np.uint8)
