"""Whole pages and line crops from the real generator: real fonts, real corpora, real checks."""

from dataclasses import replace

import numpy as np
import pytest

from polyocr.bidi import word_visual_order
from polyocr.document import Document, polygon_bounds
from polyocr.synth.checks import check_ink, check_rtl_order, check_tofu, check_vertical
from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line, generate_page

CFG = SynthConfig(seed=11, width=827, height=1170, dpi=100)  # half-size A4 keeps the tests fast


@pytest.fixture(scope="module")
def res():
    return Resources(CFG)


def _page(res, lang, layout, index=0, **kw):
    cfg = replace(CFG, languages=(lang,), layouts=(layout,), **kw)
    for i in range(index, index + 6):
        try:
            return generate_page(cfg, res, i)
        except Rejected:
            continue
    pytest.fail(f"no {lang} {layout} page in 6 tries")


def test_same_seed_same_bytes(res):
    a = _page(res, "ja", "columns", 3)
    b = _page(res, "ja", "columns", 3)
    assert a.encode(CFG, "k") == b.encode(CFG, "k")
    c = _page(res, "ja", "columns", 4)
    assert c.encode(CFG, "k")["json"] != a.encode(CFG, "k")["json"]


@pytest.mark.parametrize("lang,layout", [("en", "prose"), ("ar", "columns"), ("he", "table"), ("ja", "vertical"),
                                         ("zh-Hant", "vertical"), ("ko", "form"), ("ru", "contents"),
                                         ("zh-Hans", "slide"), ("en", "scattered")])
def test_labels_pass_every_check(res, lang, layout):
    s = _page(res, lang, layout, reject_bad=False)
    assert s.problems == []
    assert s.page.lines, "page has text"
    doc = Document.from_json(s.encode(CFG, "x")["json"])  # schema-valid after degradations too
    assert doc.pages[0].meta["layout"] == layout


def test_rtl_page_is_logical_and_right_to_left(res):
    s = _page(res, "ar", "columns", reject_bad=False)
    page = s.page
    assert page.direction == "rtl"
    cols = [b for b in page.blocks if b.region.startswith("col")]
    regions = sorted({b.region for b in cols})
    if len(regions) > 1:
        # Column 0 (read first) lies to the right of column 1.
        x0 = np.mean([polygon_bounds(b.polygon)[0] for b in cols if b.region == "col0"])
        x1 = np.mean([polygon_bounds(b.polygon)[0] for b in cols if b.region == "col1"])
        assert x0 > x1
    line = max(page.lines, key=lambda ln: len(ln.words))
    # The first logical word sits rightmost, as Arabic is read.
    first, last = line.words[0], line.words[-1]
    order = word_visual_order([w.text for w in line.words], "rtl")
    assert order[-1] == 0 or not any("\u0600" <= c <= "\u06ff" for c in first.text)
    assert polygon_bounds(first.polygon)[0] >= polygon_bounds(last.polygon)[0] or order[-1] != 0


def test_mixed_direction_line_is_checked_against_python_bidi(res):
    s = _page(res, "he", "prose", 0, reject_bad=False)
    mixed = [ln for ln in s.page.lines if any(c.isascii() and c.isalnum() for c in ln.text)]
    assert check_rtl_order(s.page) == []
    # Swap two words of a mixed line: the independent check must notice.
    if mixed and len(mixed[0].words) > 2:
        ln = mixed[0]
        ln.words[0].polygon, ln.words[1].polygon = ln.words[1].polygon, ln.words[0].polygon
        assert check_rtl_order(s.page)


def test_vertical_columns_read_top_to_bottom_right_to_left(res):
    s = _page(res, "ja", "vertical", reject_bad=False)
    cols = [ln for ln in s.page.lines if ln.writing_mode == "vertical-rl"]
    assert len(cols) > 3
    assert check_vertical(s.page) == []
    xs = [polygon_bounds(ln.polygon)[0] for ln in s.page.blocks[0].lines]
    assert xs == sorted(xs, reverse=True)
    # Column polygons start at the top-right corner (the frame's top-left).
    (x, y), *_ = cols[0].polygon
    b = polygon_bounds(cols[0].polygon)
    assert (x, y) == pytest.approx((b[2], b[1]), abs=8)


def test_ink_check_catches_a_shifted_box(res):
    s = _page(res, "en", "prose", reject_bad=False, degrade="clean")  # clean: final boxes = clean-layer boxes
    assert check_ink(s.page, s.text_alpha) == []
    w = s.page.words[5]
    w.polygon = tuple((x + 300, y) for x, y in w.polygon)
    assert any("outside every word" in p for p in check_ink(s.page, s.text_alpha))


def test_tofu_check_detects_missing_glyphs(res):
    latin = [f for f in res.fonts.for_language("en") if not res.fonts.covers(f, "日本")][0]
    assert check_tofu({(latin, "日本")})
    assert check_tofu({(latin, "Hello")}) == []


def test_line_crops(res):
    cfg = replace(CFG, languages=("ar", "ja"))
    seen = set()
    for i in range(30):
        try:
            s = generate_line(cfg, res, i)
        except Rejected:
            continue
        assert s.image.ndim == 3 and s.image.shape[0] > 4 and s.image.shape[1] > 4
        assert s.line.text and s.line.text == " ".join(w.text for w in s.line.words)
        files = s.encode(cfg, f"{i:09d}")
        assert files["txt"].decode() == s.line.text
        seen.add((s.line.language, s.line.writing_mode))
    assert ("ar", "horizontal-tb") in seen and ("ja", "horizontal-tb") in seen
