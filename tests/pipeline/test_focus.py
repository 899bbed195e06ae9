"""Out-of-focus pages: the blur measured, sharp pages left alone, blurred ones deconvolved within a
noise budget, and read better for it."""

from __future__ import annotations

import io
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import polyocr.pipeline.focus as focus
from polyocr.eval.metrics import score_text
from polyocr.pipeline.pipeline import Pipeline, ReadConfig
from polyocr.pipeline.shading import even_out

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NAMES = ("en-columns", "zh-Hans-table", "ja-vertical", "ko-form", "ru-prose", "ar-columns", "he-slide", "zh-Hant-prose")


def _sample(name: str) -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / f"{name}.jpg").convert("RGB"))


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.mark.parametrize("name", NAMES)
def test_the_blur_is_measured_and_a_sharp_page_left_alone(name):
    page = _sample(name)
    sharp = focus.page_blur(_gray(page))
    assert 0.5 < sharp < 1.2
    assert focus.refocus(page) is page
    for sigma in (1.5, 2.0):
        blurred = focus.page_blur(_gray(cv2.GaussianBlur(page, (0, 0), sigma)))
        assert abs(blurred - math.hypot(sharp, sigma)) < 0.4, (sigma, blurred)


def test_a_blurred_page_is_brought_back_towards_the_sharp_one():
    page = _sample("ru-prose")
    blurred = cv2.GaussianBlur(page, (0, 0), 2.0)
    restored = focus.refocus(blurred)
    assert restored is not blurred
    assert focus.page_blur(_gray(restored)) < focus.page_blur(_gray(blurred)) - 0.6
    truth = _gray(page).astype(np.float32)
    err = [float(np.abs(_gray(x).astype(np.float32) - truth).mean()) for x in (blurred, restored)]
    assert err[1] < 0.8 * err[0], err


def test_deconvolution_stays_within_the_noise_budget(monkeypatch):
    """A shaded, blurred page, evened out: its paper's grain was lifted with the shade, and the
    strongest filter raised it past the budget; a gentler one is chosen."""
    h, w = 1754, 1240
    light = np.linspace(0.35, 1.0, w)[None, :, None] * np.linspace(0.8, 1.0, h)[:, None, None]
    page = even_out(cv2.GaussianBlur((_sample("en-columns") * light).astype(np.uint8), (0, 0), 2.0))
    gray, budget = _gray(page), focus.MOTTLE
    chosen = focus.refocus(page)
    assert chosen is not page and focus.mottle(gray, _gray(chosen).astype(np.float32)) <= budget
    monkeypatch.setattr(focus, "NOISES", focus.NOISES[:1])
    monkeypatch.setattr(focus, "MOTTLE", float("inf"))
    strongest = focus.refocus(page)
    assert focus.mottle(gray, _gray(strongest).astype(np.float32)) > budget + 0.5


def test_a_page_saved_as_jpeg_after_the_blur_gets_the_gentlest_filter(monkeypatch):
    page = cv2.GaussianBlur(_sample("ko-form"), (0, 0), 2.0)
    squeezed = _jpeg(page, 60)
    assert focus.blockiness(_gray(page)) < 1.1 < focus.BLOCKY < 1.2 < focus.blockiness(_gray(squeezed))
    gentlest = focus.refocus(squeezed)
    monkeypatch.setattr(focus, "BLOCKY", float("inf"))        # its blocks unseen: a stronger ratio is taken
    assert not np.array_equal(gentlest, focus.refocus(squeezed))
    monkeypatch.setattr(focus, "NOISES", focus.NOISES[-1:])   # the gentlest alone gives what it got
    assert np.array_equal(gentlest, focus.refocus(squeezed))


def test_a_blurred_form_reads_nearly_as_the_sharp_one():
    """Real models: blur σ 2 px took the Korean form from 0.036 to 0.175 NED; deconvolved, 0.068."""
    page = _sample("ko-form")
    truth = (SAMPLES / "ko-form.txt").read_text(encoding="utf-8")
    pipe = Pipeline(ReadConfig())
    raw = Pipeline(ReadConfig(refocus=False), pipe.detector, pipe.recognizer, pipe.orderer, pipe.orientation)
    blurred = cv2.GaussianBlur(page, (0, 0), 2.0)
    sharp_ned = score_text(pipe.read_image(blurred).text, truth).ned_nows
    raw_ned = score_text(raw.read_image(blurred).text, truth).ned_nows
    assert sharp_ned < 0.1 and raw_ned > sharp_ned + 0.05, (sharp_ned, raw_ned)
