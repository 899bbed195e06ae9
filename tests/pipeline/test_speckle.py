"""Salt-and-pepper dots removed before reading: found exactly, only on noisy pages, strokes kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polyocr.eval.metrics import score_text
from polyocr.pipeline.pipeline import Pipeline, ReadConfig
from polyocr.pipeline.speckle import NOISY, despeckle, dot_share, dots
from render_util import render

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _salt_and_pepper(rgb: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    draw = np.random.default_rng(seed).random(rgb.shape[:2])
    out = rgb.copy()
    out[draw < share / 2] = 0
    out[draw > 1 - share / 2] = 255
    return out


def test_dots_are_lone_pixels_and_strokes_are_not():
    for size, most in ((12, 0.005), (16, 0.001), (22, 0.001)):             # small type, thin strokes
        line = render("Thin strokes: il1|.,;: 我们的表格", lang="zh-Hans", size=size)
        assert dots(line).mean() < most, size      # one-pixel counters or junctions only, hence the gate
    page = np.full((60, 80), 240, np.uint8)
    page[10, 10] = page[30, 50] = 0                                        # pepper
    page[20:40, 60:70] = 20
    page[30, 65] = 255                                                      # salt inside a dark patch
    assert sorted(zip(*np.nonzero(dots(page)))) == [(10, 10), (30, 50), (30, 65)]


def test_only_a_noisy_page_is_cleaned():
    clean = np.asarray(Image.open(SAMPLES / "zh-Hans-table.jpg").convert("RGB"))
    assert dot_share(clean) < NOISY / 2 and despeckle(clean) is clean
    noisy = _salt_and_pepper(clean, 0.02)
    assert dot_share(noisy) > 4 * NOISY
    cleaned = despeckle(noisy)
    assert dot_share(cleaned) < NOISY / 5
    # what was clean to begin with is (nearly) untouched: the dots went, not the strokes
    gray = [np.asarray(Image.fromarray(x).convert("L"), np.int16) for x in (clean, noisy, cleaned)]
    flipped = np.abs(gray[1] - gray[0]) > 60                               # dots that show
    changed = gray[2] != gray[1]
    assert changed[~flipped].mean() < 0.002 and changed[flipped].mean() > 0.8   # dots in ink or in clumps may stay


@pytest.mark.parametrize("name", ["ko-form", "ja-vertical"])
def test_pages_with_two_percent_salt_and_pepper_read_as_clean_ones(name):
    """Real models: 2 % dots took the Korean form 0.036 → 0.47 NED and the vertical Japanese page
    0.007 → 0.60; cleaned, they read within 0.01 of the clean page."""
    rgb = np.asarray(Image.open(SAMPLES / f"{name}.jpg").convert("RGB"))
    truth = (SAMPLES / f"{name}.txt").read_text(encoding="utf-8")
    pipe = Pipeline(ReadConfig())
    raw = Pipeline(ReadConfig(despeckle=False), pipe.detector, pipe.recognizer, pipe.orderer, pipe.orientation)
    noisy = _salt_and_pepper(rgb, 0.02)
    clean_ned = score_text(pipe.read_image(rgb).text, truth).ned_nows
    cleaned_ned = score_text(pipe.read_image(noisy).text, truth).ned_nows
    raw_ned = score_text(raw.read_image(noisy).text, truth).ned_nows
    assert cleaned_ned < clean_ned + 0.01 and raw_ned > 0.2, (clean_ned, cleaned_ned, raw_ned)
