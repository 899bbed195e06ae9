"""Page backgrounds (paper photos, washed-out textures, procedural paper, flat colours) and ink compositing.

Everything expensive happens at low resolution: pointwise colour work is done on the (≤1024 px) source
image or on a 1/8-resolution noise field *before* the single upscale to page size, because tint, blend
and linear interpolation commute. Pages are RGB uint8.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

__all__ = [
    "BackgroundLibrary", "BackgroundParams", "sample_background", "render_background", "mean_luma",
    "is_dark", "composite", "composite_layers", "tiled_noise", "luma_of",
]

DARK_LUMA = 110.0          # below this the caller should pick a light ink
_OVERLAY_STD = 20.0        # library images with more luma spread than this are shading maps, not paper
_NOISE_PATCH = 509         # prime-ish side so tiling repeats are not aligned with anything
_NOISE_STD = 32.0          # std of the stored noise patches (uint8 around 128)


def luma_of(rgb: Sequence[float]) -> float:
    """Rec. 601 luma: the caller only needs "is this dark", not colorimetry."""
    return 0.299 * float(rgb[0]) + 0.587 * float(rgb[1]) + 0.114 * float(rgb[2])


@functools.lru_cache(maxsize=16)
def _noise_patch(index: int, mono: bool) -> np.ndarray:
    """A fixed gaussian patch (a pure function of index): tiling it beats full-res normal draws 15x."""
    gen = np.random.default_rng(0x5EED_0000 + 2 * index + int(mono))
    shape = (_NOISE_PATCH, _NOISE_PATCH, 1 if mono else 3)
    patch = gen.standard_normal(shape, dtype=np.float32) * _NOISE_STD + 128.0
    patch = np.clip(np.rint(patch), 0, 255).astype(np.uint8)
    if mono:
        patch = np.repeat(patch, 3, axis=2)
    patch.flags.writeable = False
    return patch


def tiled_noise(height: int, width: int, index: int, offset: tuple[int, int], mono: bool) -> np.ndarray:
    """HxWx3 uint8 noise, mean ~128, std ~32: a cached patch tiled from a (dx, dy) offset."""
    patch = _noise_patch(index % 8, mono)
    dx, dy = offset[0] % _NOISE_PATCH, offset[1] % _NOISE_PATCH
    reps_y = (height + dy) // _NOISE_PATCH + 1
    reps_x = (width + dx) // _NOISE_PATCH + 1
    return np.tile(patch, (reps_y, reps_x, 1))[dy:dy + height, dx:dx + width]


def add_noise(image: np.ndarray, noise: np.ndarray, sigma: float) -> np.ndarray:
    """image + sigma * standard noise, saturated; one SIMD addWeighted instead of int16 arithmetic."""
    k = sigma / _NOISE_STD
    return cv2.addWeighted(image, 1.0, noise, k, -128.0 * k)


# ----------------------------------------------------------------------------------------------- library

@dataclass
class BackgroundLibrary:
    """Background images from ``<shared>/data/backgrounds``; decoded lazily and kept (they are small)."""

    root: Path | None = None
    kinds: dict[str, str] = field(default_factory=dict)          # file name -> "paper" | "texture"
    _images: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _stats: dict[str, tuple[tuple[float, float, float], float]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, shared: Path | None) -> "BackgroundLibrary":
        if shared is None:
            return cls()
        root = Path(shared) / "data" / "backgrounds"
        if not root.is_dir():
            return cls()
        kinds: dict[str, str] = {}
        manifest = root / "manifest.json"
        if manifest.is_file():
            for entry in json.loads(manifest.read_text(encoding="utf-8")):
                if (root / entry["file"]).is_file():
                    kinds[entry["file"]] = str(entry.get("kind", "paper"))
        else:  # no manifest: the file name prefix says the kind
            for p in sorted(root.glob("*.jpg")):
                kinds[p.name] = "texture" if p.name.startswith("texture") else "paper"
        return cls(root=root, kinds=dict(sorted(kinds.items())))

    def files(self, kind: str) -> list[str]:
        return [f for f, k in self.kinds.items() if k == kind]

    def __len__(self) -> int:
        return len(self.kinds)

    def image(self, name: str, rotated: bool = False) -> np.ndarray:
        """RGB uint8, read-only (shared between pages); ``rotated`` = turned 90° clockwise (cached too)."""
        if rotated:
            img = self._images.get(name + "@90")
            if img is None:
                img = cv2.rotate(self.image(name), cv2.ROTATE_90_CLOCKWISE)
                img.flags.writeable = False
                self._images[name + "@90"] = img
            return img
        img = self._images.get(name)
        if img is None:
            if self.root is None or name not in self.kinds:
                raise KeyError(f"background {name!r} is not in the library")
            bgr = cv2.imread(str(self.root / name), cv2.IMREAD_COLOR)
            if bgr is None:
                raise OSError(f"cannot decode background {self.root / name}")
            img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            img.flags.writeable = False
            self._images[name] = img
        return img

    def stats(self, name: str) -> tuple[tuple[float, float, float], float]:
        """(mean RGB, luma std): decides overlay vs paper and predicts the page luma."""
        s = self._stats.get(name)
        if s is None:
            img = self.image(name)
            small = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA).reshape(-1, 3).astype(np.float32)
            mean = tuple(float(v) for v in small.mean(axis=0))
            luma = small @ np.array([0.299, 0.587, 0.114], np.float32)
            s = ((mean[0], mean[1], mean[2]), float(luma.std()))
            self._stats[name] = s
        return s


# ------------------------------------------------------------------------------------------------ params

@dataclass(frozen=True)
class BackgroundParams:
    kind: str = "flat"                         # "flat" | "paper_image" | "texture_image" | "procedural"
    color: tuple[int, int, int] = (255, 255, 255)  # flat colour, procedural base, or what images blend onto
    file: str | None = None                    # library file for *_image kinds
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, x1, y1 as source fractions
    flip_h: bool = False
    flip_v: bool = False
    scale: float = 1.0                         # texture: page pixels per texture pixel (tiled, mirrored)
    blend: str = "normal"                      # image onto colour: "normal" (lerp) | "multiply" (shading)
    opacity: float = 1.0                       # image weight in the blend
    gray: bool = False                         # desaturate the image before tinting
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel gain on the image
    mottle: float = 0.0                        # procedural low-frequency variation (fraction of colour)
    grain: float = 0.0                         # fine grain std in grey levels (tiled noise)
    fibres: int = 0                            # number of thin paper fibres drawn
    seed: int = 0                              # procedural noise / grain offset / fibre placement
    luma: float = 255.0                        # predicted mean luma (sampler fills it; see mean_luma)

    @property
    def dark(self) -> bool:
        return self.luma < DARK_LUMA


# ---------------------------------------------------------------------------------------------- sampling

def _paper_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """White through cream to aged yellow: blue drops fastest, as in real paper."""
    r = rng.uniform(228, 254)
    age = rng.uniform(0, 1) ** 2
    return (int(round(r)), int(round(r - age * 10 - rng.uniform(0, 3))), int(round(r - age * 30 - rng.uniform(0, 4))))


def _hsv_colour(h: float, s: float, v: float) -> tuple[int, int, int]:
    px = cv2.cvtColor(np.array([[[h * 180.0, s * 255.0, v * 255.0]]], np.float32).clip(0, 255).astype(np.uint8),
                      cv2.COLOR_HSV2RGB)[0, 0]
    return (int(px[0]), int(px[1]), int(px[2]))


def _crop(rng: np.random.Generator, min_side: float) -> tuple[float, float, float, float]:
    w, h = rng.uniform(min_side, 1.0), rng.uniform(min_side, 1.0)
    x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
    return (round(x0, 4), round(y0, 4), round(min(1.0, x0 + w), 4), round(min(1.0, y0 + h), 4))


def sample_background(rng: np.random.Generator, library: BackgroundLibrary) -> BackgroundParams:
    """Mostly paper (procedural or photographed), some flat white, a few tinted/dark slides and textures."""
    papers, textures = library.files("paper"), library.files("texture")
    kinds = ["procedural", "paper_image", "flat", "colored", "texture_image"]
    weights = np.array([0.35, 0.30 if papers else 0.0, 0.20, 0.08, 0.07 if textures else 0.0])
    kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    seed = int(rng.integers(0, 2**31 - 1))
    if kind == "flat":
        colour = (255, 255, 255) if rng.random() < 0.5 else _paper_colour(rng)
        p = BackgroundParams(kind="flat", color=colour, seed=seed)
    elif kind == "colored":  # receipts, forms, slides
        if rng.random() < 0.65:
            colour = _hsv_colour(rng.random(), rng.uniform(0.05, 0.3), rng.uniform(0.86, 1.0))
        else:
            colour = _hsv_colour(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.35))
        p = BackgroundParams(kind="flat", color=colour, seed=seed)
    elif kind == "procedural":
        p = BackgroundParams(kind="procedural", color=_paper_colour(rng), mottle=float(rng.uniform(0.004, 0.025)),
                             grain=float(rng.uniform(0.0, 4.0)),
                             fibres=int(rng.integers(20, 120)) if rng.random() < 0.4 else 0, seed=seed)
    elif kind == "paper_image":
        name = papers[int(rng.integers(len(papers)))]
        overlay = library.stats(name)[1] > _OVERLAY_STD
        tint = tuple(float(v) for v in rng.uniform(0.95, 1.02, 3)) if rng.random() < 0.3 else (1.0, 1.0, 1.0)
        p = BackgroundParams(kind="paper_image", color=_paper_colour(rng), file=name, crop=_crop(rng, 0.5),
                             flip_h=bool(rng.random() < 0.5), flip_v=bool(rng.random() < 0.5),
                             blend="multiply" if overlay else "normal",
                             opacity=float(rng.uniform(0.06, 0.25)) if overlay else 1.0, tint=tint,  # type: ignore[arg-type]
                             grain=float(rng.uniform(0.0, 3.0)), seed=seed)
    else:
        name = textures[int(rng.integers(len(textures)))]
        p = BackgroundParams(kind="texture_image", color=_paper_colour(rng), file=name, crop=_crop(rng, 0.6),
                             flip_h=bool(rng.random() < 0.5), flip_v=bool(rng.random() < 0.5),
                             scale=float(rng.uniform(0.6, 2.0)), blend="multiply" if rng.random() < 0.6 else "normal",
                             opacity=float(rng.uniform(0.08, 0.3)), gray=bool(rng.random() < 0.5), seed=seed)
    return replace(p, luma=round(mean_luma(p, library), 2))


def _blend_rgb(img_rgb: Sequence[float], p: BackgroundParams) -> tuple[float, float, float]:
    src = np.asarray(img_rgb, np.float64)
    if p.gray:
        src = np.full(3, luma_of(src))
    src = src * np.asarray(p.tint)
    col = np.asarray(p.color, np.float64)
    out = col * (1 - p.opacity * (1 - src / 255.0)) if p.blend == "multiply" else col * (1 - p.opacity) + src * p.opacity
    return (float(out[0]), float(out[1]), float(out[2]))


def mean_luma(params: BackgroundParams, library: BackgroundLibrary) -> float:
    """Predicted mean luma of the rendered page, without rendering it (for choosing the ink colour)."""
    if params.kind in ("flat", "procedural") or params.file is None:
        return luma_of(params.color)
    return luma_of(np.clip(_blend_rgb(library.stats(params.file)[0], params), 0, 255))


def is_dark(params: BackgroundParams, library: BackgroundLibrary) -> bool:
    return mean_luma(params, library) < DARK_LUMA


# --------------------------------------------------------------------------------------------- rendering

def _source(params: BackgroundParams, library: BackgroundLibrary, portrait: bool,
            shrink_to: tuple[int, int] | None = None, keep: tuple[int, int] | None = None) -> np.ndarray:
    """The cropped, flipped, blended image (uint8), oriented like the page.

    ``shrink_to`` (w, h) resizes the crop down before blending when the output is smaller (line
    crops: blending a 1024-px source in float for a 40-px line cost most of a line's budget);
    ``keep`` (w, h) keeps only the top-left part a tiled texture will use.
    """
    img = library.image(params.file or "")
    if params.kind == "paper_image" and (img.shape[0] >= img.shape[1]) != portrait:
        img = library.image(params.file or "", rotated=True)
    h, w = img.shape[:2]
    x0, y0, x1, y1 = params.crop
    xa, xb = int(round(x0 * w)), max(int(round(x0 * w)) + 8, int(round(x1 * w)))
    ya, yb = int(round(y0 * h)), max(int(round(y0 * h)) + 8, int(round(y1 * h)))
    img = img[ya:min(h, yb), xa:min(w, xb)]
    if params.flip_h and params.flip_v:
        img = cv2.flip(img, -1)
    elif params.flip_h:
        img = cv2.flip(img, 1)
    elif params.flip_v:
        img = cv2.flip(img, 0)
    if shrink_to is not None and shrink_to[0] * shrink_to[1] < img.shape[0] * img.shape[1]:
        both = shrink_to[0] <= img.shape[1] and shrink_to[1] <= img.shape[0]
        img = cv2.resize(img, shrink_to, interpolation=cv2.INTER_AREA if both else cv2.INTER_LINEAR)
    if keep is not None:
        img = img[:keep[1], :keep[0]]
    # The blend is affine per channel (out = a + b * src, src optionally grey), so one cv2.transform
    # with a 3x4 matrix does it in uint8 with rounding and saturation.
    col = np.asarray(params.color, np.float64)
    tint = np.asarray(params.tint, np.float64)
    if params.blend == "multiply":
        gain, offset = col * (params.opacity / 255.0) * tint, col * (1.0 - params.opacity)
    else:
        gain, offset = params.opacity * tint, col * (1.0 - params.opacity)
    mix = np.outer(gain, [0.299, 0.587, 0.114]) if params.gray else np.diag(gain)
    matrix = np.hstack([mix, offset[:, None]]).astype(np.float32)
    return cv2.transform(np.ascontiguousarray(img), matrix)


def _procedural(params: BackgroundParams, width: int, height: int, gen: np.random.Generator) -> np.ndarray:
    """Paper mottling: three octaves of smooth noise at 1/8 resolution, slightly warmer where darker."""
    h8, w8 = max(2, math.ceil(height / 8)), max(2, math.ceil(width / 8))
    field_ = np.zeros((h8, w8), np.float32)
    for div, amp in ((16, 1.0), (4, 0.5), (1, 0.2)):
        hs, ws = max(2, math.ceil(h8 / div)), max(2, math.ceil(w8 / div))
        n = gen.standard_normal((hs, ws), dtype=np.float32)
        field_ += amp * cv2.resize(n, (w8, h8), interpolation=cv2.INTER_CUBIC)
    field_ = cv2.GaussianBlur(field_, (0, 0), 1.0)
    field_ *= params.mottle / max(1e-6, float(field_.std()))
    col = np.asarray(params.color, np.float32)
    warm = np.array([1.0, 1.1, 1.4], np.float32)  # blue varies most: yellowing
    low = col * (1.0 + field_[..., None] * warm)
    low = np.clip(low + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)


def _fibres(img: np.ndarray, params: BackgroundParams, gen: np.random.Generator) -> None:
    """Thin short curved strokes a little darker or lighter than the paper, drawn in place."""
    h, w = img.shape[:2]
    base = np.asarray(params.color, np.float64)
    # params.fibres is the count for a full page; smaller images (line crops) get their share.
    count = int(round(params.fibres * min(1.0, (h * w) / (1654 * 2339))))
    for _ in range(count):
        n = 4
        x, y = gen.uniform(0, w), gen.uniform(0, h)
        ang, length = gen.uniform(0, 2 * math.pi), gen.uniform(8, 40)
        pts = []
        for _k in range(n):
            pts.append((x, y))
            ang += gen.normal(0, 0.4)
            x += math.cos(ang) * length / (n - 1)
            y += math.sin(ang) * length / (n - 1)
        shade = base * (1.0 + gen.uniform(-0.07, 0.03))
        colour = tuple(float(c) for c in np.clip(shade, 0, 255))
        cv2.polylines(img, [np.round(np.array(pts) * 4).astype(np.int32)], False, colour, 1, cv2.LINE_AA, shift=2)


def render_background(params: BackgroundParams, width: int, height: int, library: BackgroundLibrary) -> np.ndarray:
    """HxWx3 RGB uint8; deterministic given params (noise comes from params.seed)."""
    gen = np.random.default_rng(params.seed)
    if params.kind == "flat":
        row = np.tile(np.asarray(params.color, np.uint8), (1, width, 1))
        out = cv2.repeat(row, height, 1)  # 50x faster than numpy broadcast assignment
    elif params.kind == "procedural":
        out = _procedural(params, width, height, gen)
    elif params.kind == "paper_image":
        out = cv2.resize(_source(params, library, height >= width, shrink_to=(width, height)), (width, height),
                         interpolation=cv2.INTER_LINEAR)
    elif params.kind == "texture_image":
        tw, th = max(1, math.ceil(width / params.scale)), max(1, math.ceil(height / params.scale))
        src = _source(params, library, height >= width, keep=(tw, th))
        pad_y, pad_x = max(0, th - src.shape[0]), max(0, tw - src.shape[1])
        while pad_y or pad_x:  # mirrored tiling hides seams; reflect pads at most one source size per pass
            py, px = min(pad_y, src.shape[0]), min(pad_x, src.shape[1])
            src = cv2.copyMakeBorder(src, 0, py, 0, px, cv2.BORDER_REFLECT)
            pad_y, pad_x = pad_y - py, pad_x - px
        out = cv2.resize(src[:th, :tw], (width, height), interpolation=cv2.INTER_LINEAR)
    else:
        raise ValueError(f"unknown background kind {params.kind!r}")
    if params.grain > 0:
        noise = tiled_noise(height, width, int(gen.integers(8)), (int(gen.integers(1 << 16)), int(gen.integers(1 << 16))), True)
        out = add_noise(out, noise, params.grain)
    if params.fibres > 0:
        _fibres(out, params, gen)
    return out


# -------------------------------------------------------------------------------------------- compositing

def composite(background: np.ndarray, alpha: np.ndarray, ink_rgb: tuple[int, int, int]) -> np.ndarray:
    """bg * (1 - a) + ink * a with a in 0..255; integer cv2 ops, ≤1 level rounding error, new array."""
    if alpha.shape != background.shape[:2]:
        raise ValueError(f"alpha {alpha.shape} does not match background {background.shape[:2]}")
    a3 = cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGB)
    out = cv2.multiply(background, cv2.bitwise_not(a3), scale=1.0 / 255.0)
    # ink * a per channel: convertScaleAbs is a SIMD path, a 3-channel scalar multiply is not
    ink = cv2.merge([cv2.convertScaleAbs(alpha, alpha=float(c) / 255.0) for c in ink_rgb])
    return cv2.add(out, ink, dst=out)


def composite_layers(background: np.ndarray, layers: Sequence[tuple[np.ndarray, tuple[int, int, int]]]) -> np.ndarray:
    """Each (alpha, colour) layer over the result so far, in order (later layers on top)."""
    out = background
    for alpha, colour in layers:
        out = composite(out, alpha, colour)
    return out.copy() if out is background else out
