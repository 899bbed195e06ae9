"""Detector targets and post-processing invert each other: perfect maps give back the page's lines."""

from dataclasses import replace

import numpy as np
import pytest

from polyocr.eval.detection import match_lines
from polyocr.pipeline.detect import maps_to_lines
from polyocr.synth.page import Resources, SynthConfig
from polyocr.train.det_targets import core_quad, line_quads, make_targets, quad_size
from polyocr.train.detector import _turn

from render_util import first_page

CFG = SynthConfig(seed=5, width=1240, height=1754, dpi=150, degrade="clean")


@pytest.fixture(scope="module")
def res():
    return Resources(CFG)


def _page(res, lang, layout):
    return first_page(replace(CFG, languages=(lang,), layouts=(layout,)), res, tries=8)


def _roundtrip(quads, h, w, stride=2, scale=0.5, shrink=0.3):
    """Draw targets at the output resolution, then read them back with the inference post-processing."""
    s = scale / stride
    kernel, thick, _ = make_targets([q * s for q in quads], int(h * s) + 1, int(w * s) + 1, shrink)
    prob = np.where(kernel > 0, 0.99, 0.01).astype(np.float32)
    return maps_to_lines(prob, thick, shrink, stride, scale)


@pytest.mark.parametrize("lang,layout", [("en", "columns"), ("ja", "vertical"), ("ar", "prose"), ("ko", "table")])
def test_perfect_maps_give_back_the_lines(res, lang, layout):
    sample = _page(res, lang, layout)
    h, w = sample.image.shape[:2]
    gt = line_quads(sample.page)
    # lines too thin for the output stride are "don't care" in training; leave them out here too
    gt = [g for g in gt if quad_size(g.points)[1] * 0.25 >= 2.5]
    found = _roundtrip([g.points for g in gt], h, w)
    # IoU 0.5: the maps are 4 input px per pixel, so a one- or two-character table cell (17-40 px
    # long, 19 px thick) comes back up to one map pixel off per side, IoU 0.55-0.59; merged or lost
    # lines still fail. (With the 97 % font rule the ko table page has seven such cells.)
    score = match_lines([d.quad for d in found], [g.points for g in gt], iou=0.5)
    assert score.recall >= 0.95 and score.precision >= 0.95, vars(score)
    # the writing direction survives: vertical lines come back vertical, horizontal ones horizontal
    for mode in (True, False):
        n_gt = sum(g.vertical == mode for g in gt)
        n_found = sum(d.vertical == mode for d in found)
        assert abs(n_found - n_gt) <= max(1, 0.05 * n_gt), (mode, n_found, n_gt)


def test_vertical_quads_start_top_right_and_horizontal_top_left():
    q_h = np.float32([[10, 10], [110, 10], [110, 30], [10, 30]])
    q_v = np.float32([[260, 10], [260, 210], [240, 210], [240, 10]])  # top-right, bottom-right, bottom-left, top-left
    found = _roundtrip([q_h, q_v], 400, 400, scale=1.0)
    by_v = {d.vertical: d for d in found}
    assert set(by_v) == {False, True}
    h, v = by_v[False].quad, by_v[True].quad
    assert h[0][0] < h[1][0] and h[0][1] < h[3][1]         # p0 left of p1, above p3
    assert v[0][1] < v[1][1] and v[0][0] > v[3][0]         # p0 above p1, right of p3
    assert np.abs(h - q_h).max() < 3 and np.abs(v - q_v).max() < 3


def test_quarter_turn_moves_quads_with_pixels():
    img = np.zeros((100, 200, 3), np.uint8)
    img[20:30, 40:90] = 255
    q = np.float32([[40, 20], [90, 20], [90, 30], [40, 30]])
    for k in (1, 2, 3):
        turned, (tq,) = _turn(img, [q], k)
        x0, y0 = tq.min(0).astype(int)
        x1, y1 = tq.max(0).astype(int)
        patch = turned[y0:y1, x0:x1]
        assert patch.size and patch.mean() > 250, k


def test_core_is_inside_the_line():
    q = np.float32([[0, 0], [100, 0], [100, 20], [0, 20]])
    c = core_quad(q, 0.3)
    assert np.allclose(c, [[6, 6], [94, 6], [94, 14], [6, 14]], atol=1e-4)
    one_char = np.float32([[0, 0], [20, 0], [20, 20], [0, 20]])
    c = core_quad(one_char, 0.3)
    assert (c[1][0] - c[0][0]) > 0 and (c[3][1] - c[0][1]) > 0


def _maps(h, w, stripes, thick_px, strip=None):
    """A core map with horizontal stripes (y0, y1, x0, x1) and optionally a thin vertical strip (x0, x1, y0, y1)."""
    prob = np.full((h, w), 0.01, np.float32)
    for y0, y1, x0, x1 in stripes:
        prob[y0:y1, x0:x1] = 0.99
    if strip is not None:
        x0, x1, y0, y1 = strip
        prob[y0:y1, x0:x1] = 0.99
    return prob, np.full((h, w), np.log(thick_px), np.float32)


def test_lines_joined_by_a_river_strip_are_cut_apart():
    # two lines' cores (4 px thick, as a 10 px line shrunk by 0.3 per side) joined by a 2 px wide strip
    # in the gap: one component whose rectangle spans both rows
    prob, thick = _maps(60, 200, [(10, 14, 20, 180), (30, 34, 20, 180)], 10.0, strip=(100, 102, 10, 34))
    lines = maps_to_lines(prob, thick, 0.3, 1, 1.0)
    assert len(lines) == 2
    for ln in lines:
        assert not ln.vertical
        ys = ln.quad[:, 1]
        assert ys.max() - ys.min() < 12          # one line thick, not the two rows and the gap
    assert sorted(round(float(ln.quad[:, 1].mean())) for ln in lines) == [12, 32]


@pytest.mark.parametrize("short_at", ["below", "between"])
def test_a_short_line_joined_to_long_ones_is_kept(short_at):
    # a paragraph's short last line (40 px of core under 180: 22 % of the long line's count per row)
    # joined to the line above by a thin strip; cut at 30 % of the widest row it was dropped as "gap"
    rows = [(10, 14, 20, 200), (30, 34, 150, 190)]
    if short_at == "between":
        rows.append((50, 54, 20, 200))
    prob, thick = _maps(80, 220, rows, 10.0, strip=(160, 162, 10, 54 if short_at == "between" else 34))
    lines = maps_to_lines(prob, thick, 0.3, 1, 1.0)
    assert len(lines) == len(rows), [ln.quad.tolist() for ln in lines]
    short = [ln for ln in lines if ln.quad[:, 0].max() - ln.quad[:, 0].min() < 80]
    assert len(short) == 1 and abs(float(short[0].quad[:, 1].mean()) - 32) < 1.5
    assert all(ln.quad[:, 1].max() - ln.quad[:, 1].min() < 12 for ln in lines)


def test_line_bins_keeps_what_one_threshold_kept_and_short_lines_besides():
    from polyocr.pipeline.detect import line_bins

    nabox = np.array([1, 23, 57, 226, 387, 397, 398, 346, 59, 15, 1, 3, 3, 1, 3, 4, 11, 25, 57, 105, 105, 105,
                      103, 85, 50, 18, 2])                  # the realdev Arabic component, rows at stride 2
    keep = line_bins(nabox, 4.5)
    assert keep[3:8].all() and keep[18:25].all()            # both lines
    assert not keep[9:17].any() and not keep[[0, 1, 26]].any()   # the joint and the thin edges
    rng = np.random.default_rng(0)
    for _ in range(200):
        profile = rng.integers(0, 60, rng.integers(3, 40))
        old_rule = profile >= 0.3 * profile.max()
        assert not (old_rule & ~line_bins(profile, 4.0)).any()


def test_tight_rows_running_off_the_axis_are_cut_apart():
    # two rows' cores (4 px thick, as 10 px lines) rising 2° to the right, 4 px apart, touching at
    # one spot: counted straight across, every row of the mask holds core, so only a sheared count
    # separates them (a warped page's tightly set Chinese rows came out as one diagonal detection)
    h, w = 70, 240
    prob = np.full((h, w), 0.01, np.float32)
    tan = np.tan(np.deg2rad(2.0))
    for x in range(20, 220):
        y = 40 - x * tan
        for top in (y, y + 8):
            prob[int(round(top)):int(round(top)) + 4, x] = 0.99
    prob[int(round(40 - 120 * tan)) + 4:int(round(40 - 120 * tan)) + 8, 120:122] = 0.99   # the touch
    thick = np.full((h, w), np.log(10.0), np.float32)
    lines = maps_to_lines(prob, thick, 0.3, 1, 1.0)
    assert len(lines) == 2, [ln.quad.tolist() for ln in lines]
    for ln in lines:
        assert not ln.vertical
        assert ln.quad[:, 0].max() - ln.quad[:, 0].min() > 190      # each row whole, end to end
    assert sorted(round(float(ln.quad[:, 1].mean())) for ln in lines) == [round(42 - 120 * tan), round(50 - 120 * tan)]


def test_a_normal_line_and_a_vertical_column_stay_whole():
    prob, thick = _maps(120, 200, [(10, 14, 20, 180)], 10.0, strip=(100, 104, 30, 110))
    lines = maps_to_lines(prob, thick, 0.3, 1, 1.0)
    assert sorted(ln.vertical for ln in lines) == [False, True]


def _det(x0, y0, x1, y1, vertical=False):
    from polyocr.pipeline.detect import DetectedLine
    q = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    if vertical:
        q = np.array([[x1, y0], [x1, y1], [x0, y1], [x0, y0]], np.float32)
    return DetectedLine(q, 0.9, vertical)


def test_a_vertical_detection_across_horizontal_lines_is_dropped():
    from polyocr.pipeline.detect import drop_crossing
    rows = [_det(100, 100 + 40 * k, 600, 130 + 40 * k) for k in range(4)]
    river = _det(300, 95, 330, 255, vertical=True)          # runs down through all four rows
    column = _det(700, 95, 730, 400, vertical=True)         # real vertical text beside them
    kept = {id(d) for d in drop_crossing(rows + [river, column])}
    assert id(river) not in kept and id(column) in kept and all(id(r) in kept for r in rows)


def test_stacked_first_characters_go_back_to_their_lines():
    from polyocr.pipeline.detect import absorb_stacked
    # three rows whose first syllable stands apart: the detector saw the syllables as one vertical line
    rows = [_det(160, 100 + 40 * k, 600, 130 + 40 * k) for k in range(3)]
    stack = _det(100, 100, 130, 210, vertical=True)
    other = _det(900, 100, 930, 600, vertical=True)         # a real column far away stays
    out = absorb_stacked(rows + [stack, other])
    assert len(out) == 4 and sum(d.vertical for d in out) == 1
    for d in out:
        if not d.vertical:
            assert d.quad[:, 0].min() == 100 and d.quad[:, 0].max() == 600


def test_a_list_mark_left_out_by_the_detector_goes_back_to_its_line():
    from polyocr.pipeline.detect import take_marks
    from render_util import list_page

    rgb, items = list_page()
    lines = [_det(x0 + 4, y0 + 3, x1 - 2, y1 - 3) for _, (x0, y0, x1, y1) in items]
    out = take_marks(rgb, lines)
    for d, ((xm, _), (x0, _, x1, _)) in zip(out, items):
        assert d.quad[0, 0] == d.quad[3, 0] and xm - 6 <= d.quad[0, 0] <= xm + 4, d.quad
        assert d.quad[1, 0] == x1 - 2                      # nothing to take at the other end
        assert not d.vertical


def test_a_two_stroke_dash_after_a_line_is_taken():
    # a monospaced "--" closing a quotation: two strokes with a gap between them are one mark
    from polyocr.pipeline.detect import take_marks
    from render_util import list_page

    rgb, items = list_page()
    _, (x0, y0, x1, y1) = items[0]
    page = np.full_like(rgb, 255)
    page[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    ym = (y0 + y1) // 2
    for dx in (12, 22):                                   # strokes 7 px long, 3 px apart, after a word gap
        page[ym - 1:ym + 2, x1 + dx:x1 + dx + 7] = 0
    line = _det(x0 + 4, y0 + 3, x1 - 2, y1 - 3)
    out = take_marks(page, [line])[0]
    assert x1 + 29 <= out.quad[1, 0] <= x1 + 33, out.quad
    assert out.quad[0, 0] == x0 + 4


def test_marks_are_not_taken_from_other_lines_rules_or_specks():
    from polyocr.pipeline.detect import take_marks
    from render_util import list_page

    rgb, items = list_page()
    (xm, _), (x0, y0, x1, y1) = items[0]
    line = _det(x0 + 4, y0 + 3, x1 - 2, y1 - 3)
    # the mark is another detection's: left alone
    mark_det = _det(xm - 2, y0, xm + 20, y1)
    assert take_marks(rgb, [line, mark_det])[0].quad[0, 0] == x0 + 4
    # a vertical rule through the band (a table border) is not a mark
    ruled = np.full_like(rgb, 255)
    ruled[:, x0 - 20:x0 - 17] = 0
    ruled[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    assert take_marks(ruled, [line])[0].quad[0, 0] == x0 + 4
    # a speck of noise is not a mark
    specked = np.full_like(rgb, 255)
    specked[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    specked[(y0 + y1) // 2, x0 - 15] = 0
    assert take_marks(specked, [line])[0].quad[0, 0] == x0 + 4
    # nor is the first of a row of leader dots running up to a page number
    dotted = np.full_like(rgb, 255)
    dotted[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    for x in range(x0 - 60, x0 - 8, 8):
        dotted[y1 - 10:y1 - 5, x:x + 5] = 0
    assert take_marks(dotted, [line])[0].quad[0, 0] == x0 + 4


def test_a_small_full_stop_after_a_line_is_taken_and_a_speck_elsewhere_is_not():
    # a Japanese "．" at 200 dpi: a 3×3 px dot on the baseline half an em after the line, smaller than
    # the speck rule's minimum (0.02 × thickness²); the same dot high in the band, or a 2 px speck, is noise
    from polyocr.pipeline.detect import take_marks
    from render_util import list_page

    rgb, items = list_page()
    _, (x0, y0, x1, y1) = items[0]
    line = _det(x0 + 4, y0 + 3, x1 - 2, y1 - 3)
    t = (y1 - 3) - (y0 + 3)
    assert 9 < 0.02 * t * t                                # the speck rule alone would drop the dot

    def with_ink(y, x, h, w):
        page = np.full_like(rgb, 255)
        page[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
        page[y:y + h, x:x + w] = 0
        return take_marks(page, [line])[0].quad

    base = y1 - 3 - int(0.3 * t)                           # the dot's top row: its middle sits low in the band
    q = with_ink(base, x1 + 10, 3, 3)
    assert x1 + 12 <= q[1, 0] <= x1 + 16 and q[0, 0] == x0 + 4, q
    assert with_ink(y0 + 3 + int(0.15 * t), x1 + 10, 3, 3)[1, 0] == x1 - 2   # high in the band
    assert with_ink(base, x1 + 10, 2, 2)[1, 0] == x1 - 2                     # 4 px: a speck


def test_a_small_square_core_is_read_along_the_page_not_at_45_degrees():
    # a contents page's page number at the output stride: 6 core pixels whose tightest rectangle lies
    # at -45°; its quad came out as a diamond whose crop read as nothing
    prob = np.full((20, 20), 0.01, np.float32)
    prob[8, 9:11] = prob[9, 8:11] = prob[10, 9] = 0.99
    lines = maps_to_lines(prob, np.full((20, 20), np.log(4.3), np.float32), 0.3, 1, 1.0)
    assert len(lines) == 1
    q = lines[0].quad
    assert not lines[0].vertical
    assert np.allclose(q[0, 1], q[1, 1]) and np.allclose(q[0, 0], q[3, 0])       # level, upright edges
    # a long line tilted 2° keeps its tilt
    prob = np.full((40, 220), 0.01, np.float32)
    for x in range(10, 210):
        y = int(round(25 - x * np.tan(np.deg2rad(2.0))))
        prob[y:y + 3, x] = 0.99
    (line,) = maps_to_lines(prob, np.full((40, 220), np.log(8.0), np.float32), 0.3, 1, 1.0)
    top = line.quad[1] - line.quad[0]
    assert 1.5 < -np.degrees(np.arctan2(top[1], top[0])) < 2.5
