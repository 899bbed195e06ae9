"""The page skew measured on the ink (pipeline.skew), on pages from the real generator turned by known angles."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from polyocr.document import Line
from polyocr.eval.metrics import order_accuracy
from polyocr.pipeline.detect import gray_page
from polyocr.pipeline.order import Orderer, skew_angle
from polyocr.pipeline.skew import MIN_GAIN, ink_skew, search_skew
from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_page

CFG = SynthConfig(seed=5, degrade="clean")      # A4 at 200 dpi, no degradations: the turn is ours alone


@pytest.fixture(scope="module")
def res():
    return Resources(CFG)


def _page(res, lang: str, layout: str):
    cfg = replace(CFG, languages=(lang,), layouts=(layout,))
    for i in range(6):
        try:
            return generate_page(cfg, res, i)
        except Rejected:
            continue
    pytest.fail(f"no {lang} {layout} page in 6 tries")


def _turned(sample, angle: float) -> tuple[np.ndarray, list[Line]]:
    """The page image turned by ``angle`` radians about its centre (its reading direction then runs
    at +angle, y down) and its truth lines turned with it, in reading order."""
    h, w = sample.image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -np.rad2deg(angle), 1.0)
    image = cv2.warpAffine(sample.image, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    lines = []
    for ln in sample.page.lines:
        pts = np.asarray(ln.polygon, np.float64) @ m[:, :2].T + m[:, 2]
        lines.append(Line(text=ln.text, polygon=[tuple(p) for p in pts], language=ln.language, direction=ln.direction,
                          writing_mode=ln.writing_mode, id=ln.id))
    return image, lines


@pytest.mark.parametrize("lang,layout,angle", [("ar", "contents", -0.006), ("en", "columns", 0.015),
                                               ("ru", "prose", -0.02), ("zh-Hant", "table", 0.008)])
def test_ink_skew_finds_the_turn_the_quads_miss(res, lang, layout, angle):
    """Given a prior off by 0.012 rad (what short detector quads gave on a contents page), the ink gives
    the page's angle back to within 0.0015 rad (1.2 px over a 1654 px row)."""
    image, lines = _turned(_page(res, lang, layout), angle)
    truth = skew_angle(lines)
    assert abs(truth - angle) < 0.002                 # the generator's clean pages lie level before the turn
    gray = gray_page(image)
    for off in (0.012, -0.012):
        got = ink_skew(gray, lines, truth + off)
        assert got is not None and abs(got - truth) < 0.0015, (off, got, truth)


@pytest.mark.parametrize("angle", [0.0, 0.01])
def test_vertical_tiers_do_not_pull_the_angle(res, angle):
    """A vertical page in two tiers whose columns do not line up: the whole page's profile is sharpest
    at a slant that lays one tier's columns over the other's (0.016 rad off here), while every column
    alone is sharpest upright. The columns' own profiles veto that slant: the prior stays (None)."""
    sample = _page(res, "ja", "vertical")
    image, lines = _turned(sample, angle)
    truth = skew_angle(lines)
    gray = gray_page(image)
    slant, _ = search_skew(gray, lines, truth, vertical=True)
    assert abs(slant - truth) < 0.002                 # vetoed: the prior is given back
    assert ink_skew(gray, lines, truth, vertical=True) is None


def test_ink_skew_keeps_a_right_prior(res):
    """A prior already at the page's angle: the profile is no sharper elsewhere, so there is nothing to replace."""
    image, lines = _turned(_page(res, "en", "prose"), 0.01)
    truth = skew_angle(lines)
    angle, gain = search_skew(gray_page(image), lines, truth)
    assert abs(angle - truth) < 0.0015 and gain < MIN_GAIN
    assert ink_skew(gray_page(image), lines, truth) in (None, pytest.approx(truth, abs=0.0015))


def test_too_little_ink_gives_no_opinion():
    blank = np.full((600, 800), 255, np.uint8)
    box = Line(text="x", polygon=[(100, 100), (700, 100), (700, 130), (100, 130)])
    assert ink_skew(blank, [box], 0.0) is None
    assert ink_skew(blank, [], 0.0) is None
    speck = blank.copy()
    speck[110:113, 200:203] = 0
    assert ink_skew(speck, [box], 0.0) is None


def test_contents_page_reads_in_order_with_the_measured_skew(res):
    """The failure this module was written for: a contents page, short titles on the right and page numbers
    on the left, deskewed by a wrong angle, pairs each number with the row above. Levelled by the ink's
    angle, both order methods read it as the truth does."""
    sample = _page(res, "ar", "contents")
    image, lines = _turned(sample, -0.006)
    truth_order = [ln.id for ln in lines]
    measured = ink_skew(gray_page(image), lines, skew_angle(lines) - 0.012)
    assert measured is not None
    shuffled = [lines[i] for i in np.random.default_rng(0).permutation(len(lines))]
    w, h = image.shape[1], image.shape[0]
    for method in ("learned", "xycut"):
        blocks = Orderer(method)(shuffled, w, h, "rtl", measured)
        got = [ln.id for b in blocks for ln in b.lines]
        assert order_accuracy(got, truth_order) >= 0.95, method


def test_pipeline_orders_with_the_measured_skew(res):
    """`Pipeline` levels the lines for ordering by the ink's angle (``ReadConfig.ink_skew``). On a turned
    contents page the detector's short quads miss the angle by ~0.005 rad (session 23: both the shipped
    detector and its successor); the angle the orderer gets is the page's own."""
    from polyocr.pipeline.pipeline import Pipeline, ReadConfig

    image, lines = _turned(_page(res, "ar", "contents"), -0.006)
    truth = skew_angle(lines)
    seen: list[tuple[float, float | None]] = []
    base = Pipeline(ReadConfig(threads=2, orientation=False))

    def spy(page_lines, width, height, direction=None, skew=None):
        seen.append((skew_angle(page_lines), skew))
        return base.orderer(page_lines, width, height, direction, skew)

    for on in (True, False):
        pipe = Pipeline(ReadConfig(threads=2, orientation=False, ink_skew=on), detector=base.detector,
                        recognizer=base.recognizer, orderer=spy)
        assert pipe.read_image(image).lines
    (quads, measured), (_, off) = seen
    effective = quads if measured is None else measured
    assert abs(effective - truth) < 0.0015, (seen, truth)
    assert abs(effective - truth) <= abs(quads - truth)
    assert off is None                              # switched off: the orderer takes the quads' angle


# -- whole-page levelling before detection ------------------------------------------------------------------

@pytest.mark.parametrize("lang,layout,degrees", [("en", "columns", 25.0), ("ja", "vertical", -14.0),
                                                 ("ar", "prose", 40.0), ("zh-Hans", "table", 9.0)])
def test_page_skew_finds_a_large_tilt(res, lang, layout, degrees):
    from polyocr.pipeline.skew import level_page, page_skew

    sample = _page(res, lang, layout)
    tilted, _ = level_page(sample.image, np.radians(degrees))       # turned counter-clockwise by degrees
    angle, gain = page_skew(gray_page(tilted))
    assert np.degrees(angle) == pytest.approx(-degrees, abs=1.0) and gain > 0.2
    level, _ = page_skew(gray_page(sample.image))
    assert abs(np.degrees(level)) < 1.0


def test_level_page_maps_back_and_coverage_and_tilt_see_a_broken_detection(res):
    from polyocr.pipeline.detect import LineDetector
    from polyocr.pipeline.skew import ink_coverage, level_page, quad_tilt

    sample = _page(res, "en", "prose")
    h, w = sample.image.shape[:2]
    tilted, back = level_page(sample.image, np.radians(30.0))
    assert tilted.shape[0] > h and tilted.shape[1] > w                # grown to hold the corners
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    forward = cv2.invertAffineTransform(back)
    there = corners @ forward[:, :2].T + forward[:, 2]
    assert np.allclose(there @ back[:, :2].T + back[:, 2], corners, atol=1e-6)
    assert there.min() > -1 and there[:, 0].max() < tilted.shape[1] + 1 and there[:, 1].max() < tilted.shape[0] + 1
    det = LineDetector(threads=2)
    level_lines, tilted_lines = det.detect(sample.image), det.detect(tilted)
    assert ink_coverage(gray_page(sample.image), [ln.quad for ln in level_lines]) > 0.8
    assert ink_coverage(gray_page(tilted), [ln.quad for ln in tilted_lines]) < 0.5    # 30°: scraps
    assert ink_coverage(gray_page(sample.image), []) == 0.0
    assert abs(np.degrees(quad_tilt([ln.quad for ln in level_lines], [ln.vertical for ln in level_lines]))) < 1.0
    small, _ = level_page(sample.image, np.radians(-9.0))
    lines9 = det.detect(small)
    assert np.degrees(quad_tilt([ln.quad for ln in lines9], [ln.vertical for ln in lines9])) == pytest.approx(9.0, abs=2.0)
