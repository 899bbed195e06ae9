"""Unevenly lit pages: held-out pages read under shade, with and without evening the light out.

    .venv/bin/python benchmarks/bench_shading.py [--per-language 2] [--cache out/bench-shading/pages]

A phone photo of a page is lit unevenly, and often a little out of focus. Each held-out generated
page (200 dpi) is read as it is and under five kinds of light: a gradual shade from 100 % on the right
to 35 % on the left; the same with a blur of σ 1.5 px; a hand's hard shadow (55 % darker, soft edge
σ 12 px) over the left 40 %; that with the blur; and a photo (keystone 12 %, the gradual shade, blur
σ 1.5, JPEG quality 60, the desk around the page showing). Each is read by the pipeline with its
defaults, once with ``even_light`` off and once on (pipeline.shading). The table prints page NED
(whitespace removed) per language and how many pages the step touched.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from polyocr.eval.datasets import generate_heldout_pages  # noqa: E402
from polyocr.eval.metrics import score_text  # noqa: E402
from polyocr.languages import LANGUAGES  # noqa: E402
from polyocr.pipeline.pipeline import Pipeline, ReadConfig  # noqa: E402
from polyocr.pipeline.shading import even_out  # noqa: E402


def shade(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    light = np.linspace(0.35, 1.0, w)[None, :, None] * np.linspace(0.8, 1.0, h)[:, None, None]
    return (rgb * light).astype(np.uint8)


def hard_shadow(rgb: np.ndarray) -> np.ndarray:
    mask = np.zeros(rgb.shape[:2], np.float32)
    mask[:, :int(0.4 * rgb.shape[1])] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), 12)
    return (rgb * (1.0 - 0.55 * mask)[..., None]).astype(np.uint8)


def blur(rgb: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), 1.5)


def photo(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    k = 0.12
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    seen = np.float32([[w * k, h * 0.03], [w * (1 - k * 0.6), 0], [w, h], [0, h * 0.98]])
    warped = cv2.warpPerspective(rgb, cv2.getPerspectiveTransform(corners, seen), (w, h), borderValue=(90, 80, 70))
    buf = io.BytesIO()
    Image.fromarray(blur(shade(warped))).save(buf, "JPEG", quality=60)
    return np.asarray(Image.open(buf).convert("RGB"))


LIGHTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "even": lambda rgb: rgb,
    "shade": shade,
    "shade + blur 1.5": lambda rgb: blur(shade(rgb)),
    "hard shadow": hard_shadow,
    "hard shadow + blur 1.5": lambda rgb: blur(hard_shadow(rgb)),
    "photo": photo,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default="out/bench-shading/pages")
    a = ap.parse_args()

    pages = generate_heldout_pages(a.cache, list(LANGUAGES), a.per_language, seed=a.seed, degrade="mixed")
    on = Pipeline(ReadConfig())
    off = Pipeline(ReadConfig(even_light=False), on.detector, on.recognizer, on.orderer, on.orientation)
    ned: dict[tuple[str, str, str], list[float]] = {}
    touched: dict[str, int] = {}
    for light, make in LIGHTS.items():
        touched[light] = 0
        for page in pages:
            with Image.open(page.image) as im:
                lit = make(np.asarray(im.convert("RGB")))
            touched[light] += even_out(lit) is not lit
            for name, pipe in (("off", off), ("on", on)):
                ned.setdefault((light, name, page.language), []).append(
                    score_text(pipe.read_image(lit).text, page.text).ned_nows)
        print(f"{light} done", file=sys.stderr, flush=True)
    langs = list(dict.fromkeys(p.language for p in pages))
    print(f"Page NED (whitespace removed), {a.per_language} held-out pages a language, seed {a.seed}\n")
    print("| light | evened | " + " | ".join(langs) + " | mean | pages touched |")
    print("|---|---|" + "---|" * (len(langs) + 2))
    for light in LIGHTS:
        for name in ("off", "on"):
            means = [float(np.mean(ned[(light, name, lang)])) for lang in langs]
            extra = f"{touched[light]}/{len(pages)}" if name == "on" else ""
            print(f"| {light} | {name} | " + " | ".join(f"{m:.4f}" for m in means) + f" | {np.mean(means):.4f} | {extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
