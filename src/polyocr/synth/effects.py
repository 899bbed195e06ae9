"""Ink morphology before compositing and page degradations after it, with polygons kept exact.

Sampling draws every choice into a frozen params object (JSON-serialisable via ``asdict``); applying is
deterministic given that object: any random field comes from ``params.seed``. Anything that could make
small text unreadable is gated on ``min_text_px`` (the smallest text height on the page, in pixels, after
the geometric shrink), so a 10 px line stays legible.

Coordinates: polygons and :func:`homography` use pixel-*edge* coordinates, (0, 0) being the top-left corner
of the top-left pixel and (W, H) the bottom-right corner of the page; the warp accounts for OpenCV's
pixel-centre convention internally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import cv2
import numpy as np

from polyocr.synth.background import add_noise, tiled_noise

__all__ = [
    "InkParams", "sample_ink", "apply_ink", "DegradeParams", "Profile", "PROFILES", "MIXED_WEIGHTS",
    "sample_degradations", "apply_degradations", "homography", "warp_matrix", "fit_scale", "transform_polygons",
]

_FIELD_SCALE = 200.0  # lighting fields are uint8 with 200 = x1.0, so they can also brighten up to x1.275


# -------------------------------------------------------------------------------------------------- ink

@dataclass(frozen=True)
class InkParams:
    op: str = "none"            # "none" | "dilate" (bolder, ink bleed) | "erode" (thinner, faint toner)
    ksize: int = 2              # square kernel side: 2 moves each edge by ~0.5 px, 3 by 1 px
    opacity: float = 0.0        # strength of random-field alpha modulation (0 = off, 0.3 = up to 30 % fainter)
    opacity_cell: float = 24.0  # size in px of the modulation blobs
    seed: int = 0


def sample_ink(rng: np.random.Generator, min_text_px: float) -> InkParams:
    """Erode only where strokes are thick enough to survive (≥28 px text), dilate from 16 px."""
    op, ksize = "none", 2
    u = rng.random()
    if min_text_px >= 28 and u < 0.10:
        op = "erode"                       # 2x2: thins strokes by 1 px in total
    elif min_text_px >= 16 and u < 0.25:
        op, ksize = "dilate", 3 if (min_text_px >= 24 and rng.random() < 0.5) else 2
    opacity = float(rng.uniform(0.08, 0.35 if min_text_px >= 16 else 0.2)) if rng.random() < 0.3 else 0.0
    return InkParams(op=op, ksize=ksize, opacity=round(opacity, 4), opacity_cell=float(rng.uniform(8, 48)),
                     seed=int(rng.integers(0, 2**31 - 1)))


def apply_ink(alpha: np.ndarray, params: InkParams) -> np.ndarray:
    """HxW uint8 alpha in, same shape out (a new array)."""
    out = alpha
    if params.op != "none" and params.ksize > 1:
        kernel = np.ones((params.ksize, params.ksize), np.uint8)
        out = cv2.erode(out, kernel) if params.op == "erode" else cv2.dilate(out, kernel)
    if params.opacity > 0:
        h, w = alpha.shape
        gen = np.random.default_rng(params.seed)
        cell = max(2.0, params.opacity_cell)
        low = gen.random((max(2, math.ceil(h / cell) + 1), max(2, math.ceil(w / cell) + 1)), dtype=np.float32)
        low = 255.0 * (1.0 - params.opacity * low)
        up = cv2.resize(low.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.multiply(out, up, scale=1.0 / 255.0)
    return out.copy() if out is alpha else out


# -------------------------------------------------------------------------------------------- profiles

@dataclass(frozen=True)
class Profile:
    """Probabilities and ranges of one kind of capture; ``sample_degradations`` reads one of these."""
    p_rotate: float = 0.0
    rotate_sigma: float = 0.0      # degrees, normal then clipped to ±3
    p_perspective: float = 0.0
    perspective: float = 0.0       # max corner move, fraction of the page side
    p_shrink: float = 0.0          # extra zoom-out (page smaller than frame, photo of a sheet on a desk)...
    zoom_min: float = 0.85         # ...down to this
    desk: float = 0.0              # chance that what shows around a warped page is a desk (a plain colour)
    p_lighting: float = 0.0
    lighting: float = 0.0          # max darkening of the gradient
    p_shadow: float = 0.0
    p_tone: float = 0.0
    p_cast: float = 0.0
    cast: float = 0.0              # max per-channel gain deviation
    p_blur: float = 0.0
    blur_max: float = 1.2          # px: the largest gaussian σ drawn ...
    blur_per_px: float = 0.06      # ... and at most this × the smallest text height, whichever is less
    p_motion: float = 0.0
    p_noise: float = 0.0
    noise: float = 0.0             # max gaussian sigma in grey levels
    p_salt_pepper: float = 0.0
    p_speckle: float = 0.0
    p_downscale: float = 0.0
    p_jpeg: float = 0.0
    p_binarize: float = 0.0


PROFILES: dict[str, Profile] = {
    "clean": Profile(),
    "scan": Profile(p_rotate=0.6, rotate_sigma=0.8, p_perspective=0.2, perspective=0.006, p_lighting=0.25,
                    lighting=0.12, p_shadow=0.05, p_tone=0.6, p_cast=0.3, cast=0.03, p_blur=0.3, p_noise=0.4,
                    noise=8.0, p_salt_pepper=0.1, p_speckle=0.15, p_downscale=0.15, p_jpeg=0.4, p_binarize=0.05),
    "photo": Profile(p_rotate=1.0, rotate_sigma=1.5, p_perspective=0.9, perspective=0.03, p_shrink=0.4, desk=0.5,
                     p_lighting=0.8, lighting=0.3, p_shadow=0.3, p_tone=0.8, p_cast=0.8, cast=0.08, p_blur=0.5,
                     p_motion=0.15, p_noise=0.6, noise=12.0, p_downscale=0.3, p_jpeg=0.7),
}
# A phone photo out of focus: the photo profile's geometry and light, and always a gaussian blur of up
# to 2.5 px (0.12 text heights). The pipeline reads such pages badly (σ 2 px at 200 dpi: 0.22 page NED
# with blurred lines sharpened; BENCHMARKS.md), so training data should show them. Not part of "mixed",
# whose draws stay as they were: make such pages with --degrade defocus and mix the shards.
PROFILES["defocus"] = replace(PROFILES["photo"], p_blur=1.0, blur_max=2.5, blur_per_px=0.12, p_motion=0.0, desk=0.0)
# A page photographed on a desk at an angle: always a desk around it (the whole sheet in frame, 3 % of
# desk at least on every side), a keystone up to 8 % of the side (the photo profile stops at 3 %), the
# page down to 70 % of the frame, strong uneven light and often a
# hand's or phone's shadow. The pipeline finds, squares and evens out such pages (pipeline.keystone,
# pipeline.shading); this profile measures that and gives the detector such pages to learn. Not part of
# "mixed" either.
PROFILES["desk"] = replace(PROFILES["photo"], p_perspective=1.0, perspective=0.08, p_shrink=1.0, zoom_min=0.7,
                           desk=1.0, p_lighting=0.9, lighting=0.5, p_shadow=0.5)
MIXED_WEIGHTS: dict[str, float] = {"clean": 0.15, "scan": 0.55, "photo": 0.30}


@dataclass(frozen=True)
class DegradeParams:
    """Everything drawn for one page; the defaults are the identity."""
    profile: str = "clean"
    seed: int = 0                                         # noise, speckles, salt & pepper
    # geometry: one homography (see `homography`)
    rotation: float = 0.0                                 # degrees, counter-clockwise on screen
    corners: tuple[float, ...] = (0.0,) * 8               # (dx, dy) per corner TL, TR, BR, BL, fractions of W, H
    scale: float = 1.0                                    # zoom about the centre (≤1 keeps content in frame)
    border: str = "replicate"                             # "replicate" | "page" (corner colour) | "color"
    border_rgb: tuple[int, int, int] = (0, 0, 0)
    # illumination: one multiplicative field
    lighting: str = "none"                                # "none" | "linear" | "radial"
    light_strength: float = 0.0                           # max darkening fraction
    light_angle: float = 0.0                              # radians: direction the linear gradient darkens to
    light_center: tuple[float, float] = (0.5, 0.5)        # radial centre, page fractions
    light_radius: float = 1.0                             # radial falloff radius, fraction of the diagonal
    shadow: float = 0.0                                   # darkening inside the shadow (0 = none)
    shadow_line: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)  # x0, y0, x1, y1 fractions; dark on the left
    shadow_softness: float = 0.03                         # penumbra width, fraction of the diagonal
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)    # per-channel gains (colour cast)
    # tone curve: y = (255 (x/255)^gamma - 128) * contrast + 128 + brightness
    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    # sharpness and resolution
    blur_sigma: float = 0.0
    motion_length: int = 0                                # px (odd), 0 = none
    motion_angle: float = 0.0                             # degrees
    downscale: float = 1.0                                # down by this factor, then back up
    # noise
    noise_sigma: float = 0.0
    noise_mono: bool = False
    salt_pepper: float = 0.0                              # fraction of pixels flipped dark/white
    speckles: int = 0                                     # small dark dots (dust, toner)
    speckle_radius: int = 1
    # output
    binarize: str = "none"                                # "none" | "otsu" | "adaptive"
    binarize_block: int = 31
    binarize_c: float = 10.0
    jpeg_quality: int = 0                                 # 0 = no JPEG round trip


# -------------------------------------------------------------------------------------------- geometry

def homography(params: DegradeParams, width: int, height: int) -> np.ndarray:
    """3x3 float64 mapping input edge coordinates to output edge coordinates (same page size)."""
    w, h = float(width), float(height)
    cx, cy = w / 2, h / 2
    src = np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float64)
    t = math.radians(params.rotation)
    c, s = math.cos(t), math.sin(t)
    rel = src - (cx, cy)
    rot = np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]], axis=1)
    jitter = np.asarray(params.corners, np.float64).reshape(4, 2) * (w, h)
    dst = (cx, cy) + params.scale * (rot + jitter)
    return cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32)).astype(np.float64)


def warp_matrix(params: DegradeParams, width: int, height: int) -> np.ndarray:
    """The same map for ``cv2.warpPerspective`` of a same-size array (OpenCV samples at pixel centres)."""
    return _edge_to_centre(homography(params, width, height))


def _edge_to_centre(matrix: np.ndarray) -> np.ndarray:
    centre = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    return np.linalg.inv(centre) @ matrix @ centre


def _is_identity_geometry(params: DegradeParams) -> bool:
    return params.rotation == 0 and params.scale == 1 and not any(params.corners)


def transform_polygons(polygons: Sequence[np.ndarray], matrix: np.ndarray) -> list[np.ndarray]:
    out = []
    for poly in polygons:
        pts = np.asarray(poly, np.float64).reshape(-1, 1, 2)
        out.append(cv2.perspectiveTransform(pts, matrix).reshape(-1, 2).astype(np.float32) if len(pts)
                   else np.zeros((0, 2), np.float32))
    return out


def fit_scale(params: DegradeParams, width: int, height: int,
              box: tuple[float, float, float, float] | None = None, margin: float = 2.0) -> float:
    """Largest zoom ≤ params.scale keeping ``box`` (default: the whole page) ``margin`` px inside the frame.

    Zooming about the centre is a similarity after the rest of the homography, so each mapped box corner
    gives a linear bound on the zoom; the perspective image of a box is convex, so corners suffice.
    """
    x0, y0, x1, y1 = box if box is not None else (0.0, 0.0, float(width), float(height))
    unit = homography(replace(params, scale=1.0), width, height)
    pts = transform_polygons([np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], np.float32)], unit)[0]
    cx, cy = width / 2, height / 2
    s = params.scale
    for x, y in pts.astype(np.float64):
        if abs(x - cx) > 1e-6:
            s = min(s, (cx - margin) / abs(x - cx))
        if abs(y - cy) > 1e-6:
            s = min(s, (cy - margin) / abs(y - cy))
    return max(1e-3, s)


def _border_colour(img: np.ndarray) -> tuple[float, float, float]:
    """Median of the four 16x16 corner patches: the paper colour, robust to one dark corner."""
    k = max(1, min(16, img.shape[0] // 4, img.shape[1] // 4))
    patches = [img[:k, :k], img[:k, -k:], img[-k:, :k], img[-k:, -k:]]
    med = np.median(np.stack([p.reshape(-1, 3).mean(axis=0) for p in patches]), axis=0)
    return (float(med[0]), float(med[1]), float(med[2]))


def _warp(img: np.ndarray, matrix: np.ndarray, size: tuple[int, int], params: DegradeParams) -> np.ndarray:
    """One bilinear warpPerspective; 4-channel images take OpenCV's SIMD path (~30 % faster than 3)."""
    m = _edge_to_centre(matrix)
    if params.border == "replicate":
        mode, value = cv2.BORDER_REPLICATE, (0.0, 0.0, 0.0, 0.0)
    else:
        rgb = _border_colour(img) if params.border == "page" else tuple(float(v) for v in params.border_rgb)
        mode, value = cv2.BORDER_CONSTANT, (*rgb, 255.0)
    rgba = cv2.cvtColor(img, cv2.COLOR_RGB2RGBA)
    out = cv2.warpPerspective(rgba, m, size, flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=value)
    return cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)


# ---------------------------------------------------------------------------------------- photometric

def _light_field(params: DegradeParams, width: int, height: int) -> np.ndarray | None:
    """HxWx3 uint8 gain field (200 = x1) for lighting x shadow x cast, built at 1/8 res and upscaled."""
    lit, shadow = params.lighting != "none" and params.light_strength > 0, params.shadow > 0
    if not (lit or shadow):
        return None
    h8, w8 = max(2, math.ceil(height / 8)), max(2, math.ceil(width / 8))
    diag = math.hypot(width, height)
    xs = (np.arange(w8, dtype=np.float32) + 0.5) * (width / w8)
    ys = (np.arange(h8, dtype=np.float32) + 0.5) * (height / h8)
    gx, gy = np.meshgrid(xs, ys)
    f = np.ones((h8, w8), np.float32)
    if lit and params.lighting == "linear":
        proj = gx * math.cos(params.light_angle) + gy * math.sin(params.light_angle)
        corners = [x * math.cos(params.light_angle) + y * math.sin(params.light_angle)
                   for x, y in ((0, 0), (width, 0), (0, height), (width, height))]
        lo, hi = min(corners), max(corners)
        f *= 1.0 - params.light_strength * (proj - lo) / max(1e-6, hi - lo)
    elif lit:
        cx, cy = params.light_center[0] * width, params.light_center[1] * height
        d = np.hypot(gx - cx, gy - cy) / max(1e-6, params.light_radius * diag)
        f *= 1.0 - params.light_strength * np.minimum(d, 1.0) ** 2
    if shadow:
        x0, y0, x1, y1 = params.shadow_line
        ax, ay, bx, by = x0 * width, y0 * height, x1 * width, y1 * height
        n = math.hypot(bx - ax, by - ay) or 1.0
        side = ((bx - ax) * (gy - ay) - (by - ay) * (gx - ax)) / n       # > 0: left of a->b (dark)
        soft = max(1e-3, params.shadow_softness) * diag
        f *= 1.0 - params.shadow / (1.0 + np.exp(np.clip(-side / (0.25 * soft), -30.0, 30.0)))
    low = f[..., None] * (np.asarray(params.cast, np.float32) * _FIELD_SCALE)
    low = np.clip(low + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)


def _tone_lut(params: DegradeParams, cast: tuple[float, float, float] | None) -> np.ndarray | None:
    """256-entry table (or 256x1x3 with a colour cast folded in): one LUT pass for all tone changes."""
    if params.brightness == 0 and params.contrast == 1 and params.gamma == 1 and cast is None:
        return None
    x = np.arange(256, dtype=np.float64)
    def tone(v: np.ndarray) -> np.ndarray:
        y = 255.0 * (np.clip(v, 0, 255) / 255.0) ** params.gamma
        return np.clip(np.rint((y - 128.0) * params.contrast + 128.0 + params.brightness), 0, 255)
    if cast is None:
        return tone(x).astype(np.uint8)
    return np.stack([tone(x * g) for g in cast], axis=1).reshape(256, 1, 3).astype(np.uint8)


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c, r = (length - 1) / 2, (length - 1) / 2
    dx, dy = math.cos(math.radians(angle)) * r, -math.sin(math.radians(angle)) * r
    cv2.line(k, (round((c - dx) * 16), round((c - dy) * 16)), (round((c + dx) * 16), round((c + dy) * 16)),
             1.0, 1, cv2.LINE_AA, shift=4)
    return k / max(1e-6, float(k.sum()))


def apply_degradations(image: np.ndarray, polygons: list[np.ndarray],
                       params: DegradeParams) -> tuple[np.ndarray, list[np.ndarray]]:
    """Degrade an HxWx3 uint8 RGB page; returns a new same-size image and the mapped polygons.

    Order: warp (straight to the reduced size when ``downscale`` < 1) → lighting/shadow/cast field →
    tone LUT → blur → motion blur → gaussian noise → back up to full size → speckles, salt & pepper →
    binarisation → JPEG.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected HxWx3 uint8, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    gen = np.random.default_rng(params.seed)
    ds = min(1.0, max(0.1, params.downscale))
    size = (max(1, round(width * ds)), max(1, round(height * ds)))
    small = size != (width, height)
    out = image
    if _is_identity_geometry(params):
        polys = [np.asarray(p, np.float32).reshape(-1, 2).copy() for p in polygons]
        if small:
            out = cv2.resize(out, size, interpolation=cv2.INTER_LINEAR)
    else:
        hmat = homography(params, width, height)
        polys = transform_polygons(polygons, hmat)
        to_size = np.diag([size[0] / width, size[1] / height, 1.0])
        out = _warp(out, to_size @ hmat, size, params)
    cur_h, cur_w = out.shape[:2]
    field = _light_field(params, cur_w, cur_h)
    cast = None if tuple(params.cast) == (1.0, 1.0, 1.0) else tuple(float(c) for c in params.cast)
    if field is not None:
        out = cv2.multiply(out, field, scale=1.0 / _FIELD_SCALE)
        cast = None                                             # folded into the field
    lut = _tone_lut(params, cast)  # type: ignore[arg-type]
    if lut is not None:
        out = cv2.LUT(out, lut)
    if params.blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), params.blur_sigma * ds)
    if params.motion_length > 1:
        out = cv2.filter2D(out, -1, _motion_kernel(params.motion_length, params.motion_angle))
    if params.noise_sigma > 0:
        noise = tiled_noise(cur_h, cur_w, int(gen.integers(8)), (int(gen.integers(1 << 16)), int(gen.integers(1 << 16))),
                            params.noise_mono)
        out = add_noise(out, noise, params.noise_sigma)
    if small:
        out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
    if out is image:
        out = image.copy()
    if params.speckles > 0:
        for _ in range(params.speckles):
            v = float(gen.integers(20, 100))
            centre = (int(gen.integers(0, width * 4)), int(gen.integers(0, height * 4)))
            cv2.circle(out, centre, max(1, params.speckle_radius) * 4, (v, v, v), -1, cv2.LINE_AA, shift=2)
    if params.salt_pepper > 0:
        n = int(params.salt_pepper * width * height)
        ys, xs = gen.integers(0, height, n), gen.integers(0, width, n)
        vals = np.where(gen.random(n) < 0.7, gen.integers(0, 60, n), 255).astype(np.uint8)
        out[ys, xs] = vals[:, None]
    if params.binarize != "none":
        gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        if params.binarize == "otsu":
            bw = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
        else:
            block = max(3, params.binarize_block | 1)
            bw = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block,
                                       params.binarize_c)
        out = cv2.cvtColor(bw, cv2.COLOR_GRAY2RGB)
    if params.jpeg_quality > 0:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(params.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out, polys


# ---------------------------------------------------------------------------------------------- sampling

def _odd(v: float) -> int:
    return int(v) | 1


def sample_degradations(rng: np.random.Generator, width: int, height: int, min_text_px: float,
                        profile: str = "mixed",
                        content_box: tuple[float, float, float, float] | None = None) -> DegradeParams:
    """Draw one page's degradations. ``content_box`` (x0, y0, x1, y1, edge coordinates) is what must stay in
    frame: the zoom is reduced until it does (without it, the whole page is kept in frame, which costs ~7 %
    zoom at 3° rotation). Gating uses the text height after that zoom."""
    name = profile
    if profile == "mixed":
        names = list(MIXED_WEIGHTS)
        w = np.array([MIXED_WEIGHTS[k] for k in names])
        name = names[int(rng.choice(len(names), p=w / w.sum()))]
    if name not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: mixed, {', '.join(PROFILES)}")
    pr = PROFILES[name]
    kw: dict[str, object] = {"profile": name, "seed": int(rng.integers(0, 2**31 - 1))}
    margin = 2.0
    if pr.desk >= 1.0:   # the whole sheet in frame with desk on every side, as a photo of a page shows it
        content_box, margin = None, 0.03 * min(width, height)

    # geometry first: the zoom it needs shrinks the text that everything else is gated on
    if rng.random() < pr.p_rotate:
        kw["rotation"] = round(float(np.clip(rng.normal(0.0, pr.rotate_sigma), -3.0, 3.0)), 4)
    if rng.random() < pr.p_perspective:
        kw["corners"] = tuple(round(float(v), 5) for v in rng.uniform(-pr.perspective, pr.perspective, 8))
    zoom = float(rng.uniform(pr.zoom_min, 1.0)) if rng.random() < pr.p_shrink else 1.0
    geo = DegradeParams(rotation=float(kw.get("rotation", 0.0)), corners=kw.get("corners", (0.0,) * 8), scale=zoom)  # type: ignore[arg-type]
    for _ in range(8):  # elongated frames (line crops) cannot take 3°: halve the tilt until ≤10 % zoom-out fits
        if _is_identity_geometry(geo) or fit_scale(geo, width, height, content_box, margin) >= 0.9 * zoom:
            break
        geo = replace(geo, rotation=round(geo.rotation / 2, 4), corners=tuple(round(c / 2, 5) for c in geo.corners))
    else:
        geo = DegradeParams()
    kw["rotation"], kw["corners"] = geo.rotation, geo.corners
    if not _is_identity_geometry(geo):
        kw["scale"] = round(fit_scale(geo, width, height, content_box, margin), 5)
        if pr.desk > 0 and rng.random() < pr.desk:  # a desk around the sheet
            hsv = np.array([[[rng.uniform(5, 25), rng.uniform(20, 150), rng.uniform(30, 160)]]], np.uint8)
            kw["border"], kw["border_rgb"] = "color", tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])
        else:
            kw["border"] = "replicate" if rng.random() < 0.5 else "page"
    m = min_text_px * float(kw.get("scale", 1.0)) * (1.0 - 2.0 * max(abs(c) for c in geo.corners))

    # illumination and colour
    if rng.random() < pr.p_lighting:
        kw["lighting"] = "radial" if rng.random() < 0.4 else "linear"
        kw["light_strength"] = round(float(rng.uniform(0.03, pr.lighting)), 4)
        kw["light_angle"] = round(float(rng.uniform(0, 2 * math.pi)), 4)
        kw["light_center"] = (round(float(rng.uniform(0.2, 0.8)), 4), round(float(rng.uniform(0.2, 0.8)), 4))
        kw["light_radius"] = round(float(rng.uniform(0.5, 1.0)), 4)
    if rng.random() < pr.p_shadow:
        edge = int(rng.integers(4))
        d0, d1 = rng.uniform(0.02, 0.35, 2)
        # a line roughly parallel to one page edge, ordered so that the edge side is the dark (left) side
        line = [(d0, 0.0, d1, 1.0), (1.0, d0, 0.0, d1), (1 - d0, 1.0, 1 - d1, 0.0), (0.0, 1 - d0, 1.0, 1 - d1)][edge]
        kw["shadow"] = round(float(rng.uniform(0.1, 0.4)), 4)
        kw["shadow_line"] = tuple(round(float(v), 4) for v in line)
        kw["shadow_softness"] = round(float(rng.uniform(0.005, 0.06)), 4)
    if rng.random() < pr.p_tone:
        kw["brightness"] = round(float(np.clip(rng.normal(0, 10), -25, 25)), 3)
        kw["contrast"] = round(float(rng.uniform(0.8, 1.15)), 4)
        kw["gamma"] = round(float(rng.uniform(0.8, 1.25)), 4)
    if rng.random() < pr.p_cast:
        warm = rng.uniform(-pr.cast, pr.cast)        # warm/cool light tilts red against blue
        gains = 1.0 + np.array([warm, 0.0, -warm]) + rng.uniform(-pr.cast / 3, pr.cast / 3, 3)
        kw["cast"] = tuple(round(float(g), 4) for g in gains)

    # sharpness: the blur-like effects compound, so text under 16 px gets at most one of them
    blurs = []
    if m >= 5 and rng.random() < pr.p_blur:
        blurs.append(("blur_sigma", round(float(rng.uniform(0.3, min(pr.blur_max, pr.blur_per_px * m))), 4)))
    if m >= 16 and rng.random() < pr.p_motion:
        blurs.append(("motion_length", int(rng.choice([v for v in (3, 5, 7) if v <= max(3, m / 6)]))))
        kw["motion_angle"] = round(float(rng.uniform(0, 180)), 3)
    lo = max(0.5, 9.0 / m) if m > 0 else 1.0
    if lo <= 0.8 and rng.random() < pr.p_downscale:
        blurs.append(("downscale", round(float(rng.uniform(lo, 0.8)), 4)))
    if m < 16 and len(blurs) > 1:
        blurs = [blurs[int(rng.integers(len(blurs)))]]
    kw.update(blurs)
    if "motion_length" not in kw:
        kw.pop("motion_angle", None)

    # noise and output
    if rng.random() < pr.p_noise:
        kw["noise_sigma"] = round(float(rng.uniform(1.0, max(1.0, min(pr.noise, 4.0 + 0.5 * m)))), 3)
        kw["noise_mono"] = bool(rng.random() < 0.5)
    if rng.random() < pr.p_salt_pepper:
        kw["salt_pepper"] = round(float(rng.uniform(1e-5, 1e-3 if m >= 16 else 2e-4)), 7)
    if rng.random() < pr.p_speckle:
        kw["speckles"] = int(rng.integers(5, 200))
        kw["speckle_radius"] = 2 if (m >= 20 and rng.random() < 0.3) else 1
    if m >= 14 and rng.random() < pr.p_binarize:
        kw["binarize"] = "otsu" if rng.random() < 0.5 else "adaptive"
        kw["binarize_block"] = max(15, _odd(2.5 * m))
        kw["binarize_c"] = round(float(rng.uniform(6, 20)) + 2.0 * float(kw.get("noise_sigma", 0.0)), 3)  # type: ignore[arg-type]
    if rng.random() < pr.p_jpeg:
        kw["jpeg_quality"] = int(rng.integers(30 if m >= 16 else 50, 91))
    return DegradeParams(**kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- benchmark

def benchmark(n: int = 20, width: int = 1650, height: int = 2340, seed: int = 0) -> dict[str, float]:
    """Single-threaded ms/page of sampled background + ink + degradations (text drawing and compositing untimed)."""
    import statistics
    import time

    from polyocr.languages import shared_dir
    from polyocr.synth.background import BackgroundLibrary, composite, render_background, sample_background

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        library, rng, times = BackgroundLibrary.load(shared_dir()), np.random.default_rng(seed), []
        for i in range(n + 1):                    # page 0 only warms the caches (decodes, noise patches)
            px = float(rng.choice([10, 14, 20, 28, 40]))
            alpha, polys = np.zeros((height, width), np.uint8), []
            for y in range(150, height - 100, int(px * 1.6)):
                cv2.putText(alpha, "The quick brown fox 0123", (100, y), cv2.FONT_HERSHEY_SIMPLEX, px / 33, 255,
                            max(1, round(px / 22)), cv2.LINE_AA)
                polys.append(np.array([(100, y - px), (900, y - px), (900, y), (100, y)], np.float32))
            t0 = time.perf_counter()
            bg = sample_background(rng, library)
            page = render_background(bg, width, height, library)
            alpha = apply_ink(alpha, sample_ink(rng, px))
            t1 = time.perf_counter()
            page = composite(page, alpha, (235, 235, 235) if bg.dark else (20, 20, 30))
            t2 = time.perf_counter()
            apply_degradations(page, polys, sample_degradations(rng, width, height, px, content_box=(80, 80, width - 80, height - 80)))
            if i:
                times.append((t1 - t0 + time.perf_counter() - t2) * 1000)
        return {"median_ms": statistics.median(times), "mean_ms": statistics.fmean(times), "max_ms": max(times)}
    finally:
        cv2.setNumThreads(threads)


if __name__ == "__main__":
    print(benchmark())
