"""Training-time jitter of line crops, on top of the generator's own degradations.

The held-out evaluation uses font designs the model never saw; the recogniser's worst held-out lines
are legible lines in an unseen stroke weight or style, often under heavy noise. These operations vary
exactly that, per sample and per epoch (so a pre-rendered line is not seen twice the same way):

* stroke weight: erode or dilate the ink by one pixel (a lighter or bolder cut of the same design);
* slant: a horizontal shear of up to ±0.25 (oblique and italic designs), horizontal lines only;
* blur, low resolution (down- then up-sampling), lower contrast, Gaussian and salt-and-pepper noise.

Separately, :func:`remargin` redraws the margin across a line around its ink: detector boxes on real
pages are often tighter than the generator's crops (measured on realdev: detected thickness 0.6-0.9 of
the typeset line box, against 0.9-1.07 on generated pages), and a recogniser that only saw roomy crops
dropped thin letters on them ("it will" → "it wul").

Each draws its own parameters from the sample's generator, then applies them (no global random
state). ``strength`` in [0, 1] scales every operation's probability; 0 returns the crop unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from polyocr.pipeline.recognize import ink_extent  # one definition: inference cuts crops to the ink too

__all__ = ["augment_line", "ink_extent", "remargin"]


def augment_line(gray: np.ndarray, rng: np.random.Generator, strength: float, vertical: bool = False) -> np.ndarray:
    """A jittered copy of a gray line crop (uint8; dark ink on light paper, or inverted)."""
    if strength <= 0:
        return gray
    img = gray.astype(np.float32)
    h, w = img.shape
    # the background is what the crop's border shows (light paper, or the dark band of inverted text)
    paper = float(np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])))
    if rng.random() < 0.5 * strength and min(h, w) >= 12:
        k = np.ones((2, 2), np.uint8)
        # erode (min filter) thickens dark ink and thins light ink; dilate the reverse
        img = cv2.erode(img, k) if rng.random() < 0.5 else cv2.dilate(img, k)
    if not vertical and rng.random() < 0.3 * strength:
        shear = float(rng.uniform(-0.25, 0.25))
        pad = int(abs(shear) * h) + 1
        m = np.float32([[1, shear, -shear * h if shear < 0 else 0.0], [0, 1, 0]])  # x' = x + shear·y (+ shift)
        img = cv2.warpAffine(img, m, (w + pad, h), flags=cv2.INTER_LINEAR, borderValue=paper)
    if rng.random() < 0.25 * strength:
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 1.2)))
    if rng.random() < 0.2 * strength and h >= 16:
        f = float(rng.uniform(0.5, 0.8))
        small = cv2.resize(img, (max(1, round(img.shape[1] * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (img.shape[1], h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3 * strength:
        c = float(rng.uniform(0.35, 0.9))
        img = paper - (paper - img) * c
    if rng.random() < 0.3 * strength:
        img = img + rng.normal(0.0, float(rng.uniform(4, 20)), img.shape).astype(np.float32)
    if rng.random() < 0.15 * strength:
        amount = float(rng.uniform(0.005, 0.04))
        u = rng.random(img.shape)
        img[u < amount / 2] = 0.0
        img[u > 1 - amount / 2] = 255.0
    return np.clip(img, 0, 255).astype(np.uint8)


def remargin(strip: np.ndarray, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """Crop a gray strip (text running left to right) across the line to its ink plus a random margin
    (``lo``..``hi`` × the ink height; negative cuts into the ink, as tight detector boxes do) on each
    side, repeating the edge rows where the strip is too thin (as crop_line's warp does)."""
    r0, r1 = ink_extent(strip)
    t = r1 - r0 + 1
    top = r0 - int(round(rng.uniform(lo, hi) * t))
    bottom = r1 + 1 + int(round(rng.uniform(lo, hi) * t))
    pad_top, pad_bottom = max(0, -top), max(0, bottom - strip.shape[0])
    if pad_top or pad_bottom:
        strip = np.pad(strip, ((pad_top, pad_bottom), (0, 0)), mode="edge")
    return strip[top + pad_top:bottom + pad_top]
