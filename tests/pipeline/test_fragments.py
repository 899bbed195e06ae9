"""Joining line fragments split at wide word gaps, and never across gutters or table cells."""

from __future__ import annotations

from polyocr.document import Line
from polyocr.pipeline.fragments import join_fragments


def box(x0: float, x1: float, y: float, text: str, h: float = 20.0, direction: str = "ltr") -> Line:
    return Line(text=text, polygon=[(x0, y), (x1, y), (x1, y + h), (x0, y + h)], direction=direction)


def column(x0: float, x1: float, rows: int, top: float = 100.0, pitch: float = 30.0, tag: str = "") -> list[Line]:
    return [box(x0, x1, top + r * pitch, f"{tag}{r}") for r in range(rows)]


def test_a_justified_row_split_at_a_wide_gap_is_joined():
    lines = column(100, 500, 5, tag="a")
    split = [box(100, 220, 160, "left"), box(280, 500, 160, "right")]   # row 2, a 3-height gap
    lines = [ln for ln in lines if ln.text != "a2"] + split
    out = join_fragments(lines)
    assert len(out) == 5
    joined = next(ln for ln in out if "left" in ln.text)
    assert joined.text == "left right"
    assert joined.polygon[0] == (100, 160) and joined.polygon[1] == (500, 160)


def test_right_to_left_fragments_join_in_logical_order():
    lines = [box(100, 500, 100 + 30 * r, f"r{r}", direction="rtl") for r in (0, 1, 3, 4)]
    lines += [box(100, 220, 160, "second", direction="rtl"), box(280, 500, 160, "first", direction="rtl")]
    out = join_fragments(lines)
    assert "first second" in [ln.text for ln in out]


def test_never_across_a_column_gutter_even_a_narrow_one():
    # two columns, a gutter 1.5 line heights wide: narrower than the word gap above
    lines = column(100, 500, 6, tag="L") + column(530, 930, 6, tag="R")
    assert join_fragments(lines) == lines


def test_never_across_table_cells():
    table = [box(x0, x0 + 150, 100 + 30 * r, f"c{r}{k}") for r in range(5) for k, x0 in enumerate((100, 320, 540))]
    assert len(join_fragments(table)) == len(table)


def test_table_row_under_a_full_width_paragraph_stays_split():
    para = column(100, 700, 3, tag="p")
    table = [box(x0, x0 + 150, 190 + 30 * r, f"c{r}{k}") for r in range(3) for k, x0 in enumerate((100, 320, 540))]
    out = join_fragments(para + table)
    assert len(out) == len(para) + len(table)


def test_boxes_that_touch_are_not_joined():
    # the detector grows boxes: lines of two columns with a narrow gutter can nearly touch
    lines = column(100, 500, 5, tag="L") + column(505, 900, 5, tag="R")
    assert len(join_fragments(lines)) == 10


def test_vertical_and_tilted_lines_are_left_alone():
    lines = column(100, 500, 5, tag="a")
    tilted = Line(text="t", polygon=[(100, 160), (220, 185), (220, 205), (100, 180)])
    vertical = Line(text="v", polygon=[(300, 150), (320, 150), (320, 170), (300, 170)], writing_mode="vertical-rl")
    out = join_fragments([ln for ln in lines if ln.text != "a2"] + [tilted, vertical])
    assert {ln.text for ln in out} >= {"t", "v"}
