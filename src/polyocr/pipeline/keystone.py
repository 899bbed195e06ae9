"""A photographed page found on its desk and drawn square before it is read.

A page photographed at an angle is a keystone: its rows run together on one side and apart on the
other. Prose survives it, but tables and forms do not: their cells are ordered by rows that no longer
share one slope. Keystone 12 % took the Chinese table sample from 0.028 to 0.130 NED and the Korean
form from 0.036 to 0.118; drawn square again with the true transform, they read 0.032 and 0.041
(BENCHMARKS.md, "Photographed pages drawn square").

The page is found by its outline against what it lies on, on a copy at most ``SIDE`` px long whose
text has been closed away: the edges there are the page's border, the desk's texture and shadows.
The image's own border is added to the edges (so a region reaching the frame is closed), and the
largest region between edges, whose hull simplifies to four corners, is the candidate. It must look like a
page on a desk, or nothing is done:

- it covers ``MIN_AREA`` to ``MAX_AREA`` of the image, so a page filling the frame (nothing to undo)
  and a small card or a framed table are left alone;
- its corners are roughly right angles (``MAX_SKEW``), as a page seen at a moderate angle has;
- its sides lie on edges of the image for most of their length (``MIN_SUPPORT``), as a hull drawn
  around scattered things does not;
- the paper inside is clearly lighter than the ground outside (``MIN_STEP`` levels), which is not so
  for a table frame on a page;
- all four of its sides are edges in the picture, none the frame: where the frame cuts the page, the
  page's corners lie outside the picture and the cut is no side of it (squared along the cut, a
  generated desk photo read 0.014 → 0.092). A hand's shadow across a page, which parts lit paper from
  darker ground along one edge only, is refused by this too (cropped to the lit part, the shaded text
  was lost: 0.03 → 0.41 NED);
- the ground outside is not written on (under ``MAX_INK`` of it darker than the closed image around it
  by ``INK_STEP``), as shaded paper is (3-11 % of a hand's shadow on the held-out pages; 0 of a plain desk).

A page found square on and upright (each corner within ``UPRIGHT`` of its bounding box: a screenshot of
a document viewer, a scan with a dark lid around the page) is left as it is: there is nothing to undo,
and cropping would only cut away what lies around it. Any other is warped to the rectangle its sides
measure, and the caller maps polygons back through the inverse homography, so every polygon is still
in the pixels of the image as given.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["find_page", "square_page", "project", "SIDE", "MIN_AREA", "MAX_AREA"]

SIDE = 512          # px, long side of the copy the page is looked for on
MIN_AREA = 0.2      # share of the image the page must cover...
MAX_AREA = 0.97     # ...and at most this (a page filling the frame has nothing to undo)
MAX_SKEW = 25.0     # degrees a corner may be off a right angle
MIN_SUPPORT = 0.7   # share of each side that must lie on an edge
MIN_STEP = 40       # gray levels the paper must be lighter than its surround
UPRIGHT = 0.01      # corners this close (share of the long side) to an upright box: left as it is
MAX_INK = 0.02      # share of the surround that may be ink (text on shaded paper is not a desk)...
INK_STEP = 20       # ...ink being this many gray levels darker than the text-free copy


def _corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    s, d = points.sum(axis=1), points[:, 0] - points[:, 1]
    return np.array([points[s.argmin()], points[d.argmax()], points[s.argmax()], points[d.argmin()]], np.float32)


def _angles_ok(quad: np.ndarray) -> bool:
    for i in range(4):
        a, b, c = quad[i - 1], quad[i], quad[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(np.dot(u, v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-6))
        if abs(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) - 90.0) > MAX_SKEW:
            return False
    return True


def _support(quad: np.ndarray, edges: np.ndarray) -> float:
    """The least share, over the four sides, of points along a side that have an edge within 4 px
    (the region's hull lies a few px inside the edges it was cut out by)."""
    near = cv2.dilate(edges, np.ones((9, 9), np.uint8)) > 0
    h, w = edges.shape
    least = 1.0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        t = np.linspace(0.05, 0.95, 64)[:, None]
        pts = np.rint(a + (b - a) * t).astype(int)
        pts[:, 0] = pts[:, 0].clip(0, w - 1)
        pts[:, 1] = pts[:, 1].clip(0, h - 1)
        least = min(least, float(near[pts[:, 1], pts[:, 0]].mean()))
    return least


def _refine(quad: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The corners again, where lines fitted to the edge pixels along each side meet: the region's
    hull lies a few px inside the edges, and its simplified corners cut them."""
    ys, xs = np.nonzero(edges)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    lines = []
    for i in range(4):
        a, b = quad[i].astype(np.float64), quad[(i + 1) % 4].astype(np.float64)
        d = b - a
        length = float(np.linalg.norm(d))
        u = d / max(length, 1e-6)
        rel = pts - a
        along = rel @ u
        across = np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0])
        near = pts[(across < 6) & (along > 0.1 * length) & (along < 0.9 * length)]
        if len(near) < 0.3 * length:
            return quad
        vx, vy, x0, y0 = cv2.fitLine(near.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    out = []
    for i in range(4):                     # corner i joins side i-1 and side i
        (p, r), (q, s) = lines[i - 1], lines[i]
        den = r[0] * s[1] - r[1] * s[0]
        if abs(den) < 1e-6:
            return quad
        t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / den
        out.append(p + t * r)
    refined = np.array(out, np.float32)
    return refined if np.abs(refined - quad).max() < 12 else quad


def _framed_sides(quad: np.ndarray, shape: tuple[int, ...]) -> int:
    """How many sides of ``quad`` run along the image's own border (within 1.5 % of its size)."""
    h, w = shape[:2]
    tol = 0.015 * max(h, w)
    count = 0
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        for axis, edge in ((0, 0.0), (0, w - 1.0), (1, 0.0), (1, h - 1.0)):
            if abs(a[axis] - edge) < tol and abs(b[axis] - edge) < tol:
                count += 1
                break
    return count


def find_page(rgb: np.ndarray) -> np.ndarray | None:
    """The corners (top-left, top-right, bottom-right, bottom-left; float32 4 × 2, in the pixels of
    ``rgb``) of a page photographed on a darker ground, or None."""
    h, w = rgb.shape[:2]
    step = max(1, int(max(h, w) // (2 * SIDE)))       # nearest first: the area resize is then cheap
    small = cv2.resize(rgb, (max(1, w // step), max(1, h // step)), interpolation=cv2.INTER_NEAREST) if step > 1 else rgb
    f = min(1.0, SIDE / max(small.shape[:2]))
    gray = cv2.cvtColor(cv2.resize(small, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else small,
                        cv2.COLOR_RGB2GRAY)
    f = gray.shape[1] / w                               # page px → copy px
    if min(gray.shape) < 64:
        return None
    paper = cv2.GaussianBlur(cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)), (5, 5), 0)
    edges = cv2.Canny(paper, 20, 60)
    edges[[0, -1], :] = 255               # a page cut by the frame is closed by the frame
    edges[:, [0, -1]] = 255
    # the regions between edges: the page's inside is the largest (its text was closed away)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (cv2.dilate(edges, np.ones((3, 3), np.uint8)) == 0).astype(np.uint8), connectivity=4)
    area = float(gray.shape[0] * gray.shape[1])
    for k in 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:2]:
        if not MIN_AREA <= stats[k, cv2.CC_STAT_AREA] / area <= MAX_AREA:
            continue                          # a page filling the frame: one region, nearly all of it
        outline, _ = cv2.findContours((labels == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.convexHull(max(outline, key=cv2.contourArea))
        share = cv2.contourArea(hull) / area
        if not MIN_AREA <= share <= MAX_AREA:
            continue
        approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True).reshape(-1, 2)
        if len(approx) != 4:
            continue
        quad = _corners(approx.astype(np.float32))
        if not _angles_ok(quad) or _support(quad, edges) < MIN_SUPPORT:
            continue
        inside = np.zeros(gray.shape, np.uint8)
        cv2.fillConvexPoly(inside, np.rint(quad).astype(np.int32), 1)
        inner = cv2.erode(inside, np.ones((15, 15), np.uint8)) > 0
        outer = cv2.dilate(inside, np.ones((15, 15), np.uint8)) == 0
        if inner.sum() == 0 or outer.sum() < 0.01 * area:
            continue
        if float(np.median(paper[inner])) < float(np.median(paper[outer])) + MIN_STEP:
            continue
        if _framed_sides(quad, gray.shape):
            continue
        box = np.array([[quad[:, 0].min(), quad[:, 1].min()], [quad[:, 0].max(), quad[:, 1].min()],
                        [quad[:, 0].max(), quad[:, 1].max()], [quad[:, 0].min(), quad[:, 1].max()]])
        if np.abs(quad - box).max() < UPRIGHT * max(gray.shape):
            return None                       # a page seen square on: nothing to undo, and nothing cut away
        ink = (paper.astype(np.int16) - gray) > INK_STEP        # strokes the closing took away
        if float(ink[outer].mean()) > MAX_INK:
            continue
        return _refine(quad, edges) / np.float32(f)
    return None


def square_page(rgb: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The page inside ``quad`` warped to the rectangle its sides measure, and the homography from
    that rectangle back to the pixels of ``rgb``."""
    tl, tr, br, bl = quad.astype(np.float64)
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    w, h = int(round(width)), int(round(height))
    square = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    forward = cv2.getPerspectiveTransform(quad.astype(np.float32), square)
    page = cv2.warpPerspective(rgb, forward, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return page, np.linalg.inv(forward)


def project(poly: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Points (N × 2) through a 3 × 3 homography."""
    return cv2.perspectiveTransform(np.asarray(poly, np.float64).reshape(-1, 1, 2), homography).reshape(-1, 2)
