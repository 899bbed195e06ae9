"""An out-of-focus page brought back into focus before detection.

A phone photo taken too close, or a scan through a dirty lens, blurs every stroke. The detector and
recogniser learnt pages at most lightly blurred (the generator's profiles stop at 1.2 px), and past
that they fall apart: held-out pages blurred by σ 2 px read 0.22 page NED, at σ 2.5 px 0.54 (clean
0.028). Session 26 sharpened blurred line crops, which helps the recogniser but never reached the
detector, which lost lines on such pages.

The page's blur is estimated as the σ of the Gaussian that would soften a sharp edge into its
sharpest edges: the contrast (ink at the 0.5th percentile to paper at the 95th) over the 90th
percentile of the gradient among pixels on edges, times 1/√(2π), on each of ``BANDS`` strips of
``ROWS`` rows (a fifth of an A4 page's rows; ~4 ms), and the median over the strips taken. Sharp
200-dpi pages measure 0.8-1.3 px (80 generated, 64 realdev; the samples at 150 dpi 0.86-0.98); σ 1.5
px more gives 1.5-1.8, σ 2 px more 2.0-2.3.

A page over ``BLURRED`` px is deconvolved: a Wiener filter for a Gaussian of σ √(blur² − ``SHARP``²)
(the blur beyond what a sharp page already has) on its gray levels, the change added to each colour
channel. An unsharp mask was weaker at every blur level (BENCHMARKS.md, "Out-of-focus pages
deconvolved"). The filter's noise-to-signal ratio decides how much it restores and how much noise it
raises with it. The strongest of ``NOISES`` whose result keeps blank paper's grain (:func:`mottle`)
under ``MOTTLE`` is taken; none, and the page is left as it is. A page saved as JPEG after it was
blurred (:func:`blockiness` over ``BLOCKY``) gets only the gentlest: at quality 60, every stronger
ratio read worse, even with little grain on the paper, as the noise sits along the strokes. It costs
0.1-0.3 s on an A4 page at 200 dpi, paid only by blurred pages.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from polyocr.pipeline.recognize import percentiles

__all__ = ["page_blur", "blockiness", "mottle", "refocus", "BLURRED", "SHARP", "NOISES", "MOTTLE", "BLOCKY", "BANDS"]

BLURRED = 1.5    # px of estimated blur above which a page is deconvolved
SHARP = 0.85     # px a sharp page measures: what deconvolution leaves
NOISES = (0.001, 0.003, 0.01, 0.03)  # Wiener noise-to-signal ratios tried in turn, strongest first...
MOTTLE = 2.5     # ...until the paper's fine texture (gray levels, std) stays under this
BLOCKY = 1.15    # JPEG block edges this much stronger than other pixel steps: only the gentlest ratio
BANDS = 16       # strips of the page the blur is measured on...
ROWS = 32        # ...each this many rows


def _strips(h: int) -> list[slice]:
    """The rows the blur and the grain are measured on: ``BANDS`` strips of ``ROWS`` rows spread over
    the page, or the whole of a small one."""
    if h <= 2 * BANDS * ROWS:
        return [slice(0, h)]
    return [slice(int(s), int(s) + ROWS) for s in np.linspace(0, h - ROWS, BANDS).astype(int)]


def _strip_blur(strip: np.ndarray) -> float | None:
    """One strip's blur σ in px, or None when it has too little contrast or too few edges."""
    lo, hi = percentiles(strip, (0.005, 0.95))
    if hi - lo < 40:
        return None
    gx = cv2.Sobel(strip, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(strip, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.magnitude(gx, gy)[1:-1].astype(np.uint16)      # a strip's edge rows see past it
    edge = grad[grad > (hi - lo) * 8 // 10]                  # Sobel gains 8 on a step: a tenth of the contrast
    if edge.size < 100:
        return None
    (top,) = percentiles(edge, (0.9,))
    return (hi - lo) / (max(top / 8.0, 1e-3) * math.sqrt(2 * math.pi))


def page_blur(gray: np.ndarray) -> float:
    """The page's blur σ in px: the median over its strips, each judged against its own contrast (a
    photo's contrast differs from strip to strip, and pooled it read 2.9 px where the strips agree on
    2.2). 0 when fewer than 3 strips can be judged."""
    strips = _strips(gray.shape[0])
    found = [_strip_blur(np.ascontiguousarray(gray[rows])) for rows in strips]
    judged = [f for f in found if f is not None]
    if len(strips) == 1:                      # a small image is judged whole
        return float(judged[0]) if judged else 0.0
    return float(np.median(judged)) if len(judged) >= 3 else 0.0


def mottle(before: np.ndarray, after: np.ndarray) -> float:
    """The fine texture (std of the difference from a σ 2 blur, in gray levels) that ``after`` has on
    blank paper of ``before``: where a page's 9 × 9 neighbourhood is bright and flat. Deconvolution
    raises the paper's grain and a JPEG's block noise with the strokes; past ``MOTTLE`` the page read
    worse than not deconvolved at all."""
    (level,) = percentiles(before, (0.95,))
    found = []
    for rows in _strips(before.shape[0]):
        b, a = np.ascontiguousarray(before[rows]), np.ascontiguousarray(after[rows], dtype=np.float32)
        lo, hi = cv2.erode(b, np.ones((9, 9), np.uint8)), cv2.dilate(b, np.ones((9, 9), np.uint8))
        paper = (lo.astype(np.int16) > level - 25) & (hi.astype(np.int16) - lo < 12)
        paper[:4], paper[-4:] = False, False          # the blur sees past the strip
        found.append((a - cv2.GaussianBlur(a, (0, 0), 2.0))[paper])
    grain = np.concatenate(found)
    return float(grain.std()) if grain.size >= 1000 else 0.0


def blockiness(gray: np.ndarray) -> float:
    """How much stronger the steps between pixels are across JPEG's 8 × 8 block edges than elsewhere
    (about 1 for a page never saved as JPEG or resampled since: at most 1.11 for 16 held-out pages
    blurred by σ 1.5 px; saved at quality 60 after the blur, 1.18-2.18, at quality 90 1.05-1.39). A
    JPEG of a blurred page has lost the fine detail deconvolution would restore, and its block noise
    is what gets restored instead."""
    g = gray.astype(np.int16)
    dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
    across = dx[:, :dx.shape[1] // 8 * 8].reshape(dx.shape[0], -1, 8).mean(axis=(0, 1))
    down = dy[:dy.shape[0] // 8 * 8].reshape(-1, 8, dy.shape[1]).mean(axis=(0, 2))
    return float(np.mean([c[7] / max(float(np.median(c[:7])), 1e-3) for c in (across, down)]))


def refocus(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` deconvolved when its blur is over ``BLURRED`` px, else ``rgb`` itself."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    blur = page_blur(gray)
    if blur <= BLURRED:
        return rgb
    sigma = math.sqrt(blur * blur - SHARP * SHARP)
    h, w = gray.shape
    fh, fw = cv2.getOptimalDFTSize(h), cv2.getOptimalDFTSize(w)
    padded = cv2.copyMakeBorder(gray.astype(np.float32), 0, fh - h, 0, fw - w, cv2.BORDER_REFLECT)
    spectrum = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)
    a = 2.0 * math.pi ** 2 * sigma ** 2                  # the Gaussian's transfer function, separable
    transfer = np.outer(np.exp(-a * np.fft.fftfreq(fh) ** 2), np.exp(-a * np.fft.fftfreq(fw) ** 2)).astype(np.float32)
    for noise in (NOISES[-1:] if blockiness(gray) > BLOCKY else NOISES):
        gain = transfer / (transfer * transfer + np.float32(noise))
        sharp = cv2.idft(spectrum * gain[..., None], flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)[:h, :w]
        if mottle(gray, sharp) <= MOTTLE:
            out = rgb.astype(np.float32)
            out += (sharp - gray)[..., None]
            return np.clip(out, 0, 255, out=out).astype(np.uint8)
    return rgb                                            # too noisy to sharpen without harm
