"""Joining line fragments split at wide word gaps, and never across gutters or table cells."""

from __future__ import annotations

import pytest

from polyocr.document import Line, Word
from polyocr.pipeline.fragments import find_gutters, join_fragments, split_at_gutters


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


def worded(x0: float, x1: float, y: float, words: list[str], h: float = 20.0, direction: str = "ltr") -> Line:
    """A line whose words fill [x0, x1] with a 0.4-height space between words; word lengths vary with
    the row (as text does), so word gaps do not line up from row to row the way a gutter does."""
    sizes = [3 + (int(y) // 30 * 7 + k * 5) % 4 for k in range(len(words))]
    gap = 0.4 * h
    unit = (x1 - x0 - gap * (len(words) - 1)) / sum(sizes)
    ws, x = [], x0
    for t, n in zip(words, sizes):
        ws.append(Word(text=t, polygon=[(x, y), (x + n * unit, y), (x + n * unit, y + h), (x, y + h)]))
        x += n * unit + gap
    if direction == "rtl":
        ws = ws[::-1]
    return Line(text=" ".join(w.text for w in ws), polygon=[(x0, y), (x1, y), (x1, y + h), (x0, y + h)],
                words=ws, direction=direction)


def test_a_line_run_across_a_gutter_is_cut_there():
    # Two columns (x 100-500 and 540-940, a 2-height gutter) of 4-word lines; in the top two rows
    # the detector returned one line across both columns, as it does when their rows line up.
    left = [worded(100, 500, 100 + 30 * r, [f"l{r}{k}" for k in range(4)]) for r in range(2, 10)]
    right = [worded(540, 940, 100 + 30 * r, [f"r{r}{k}" for k in range(4)]) for r in range(2, 10)]
    across = []
    for r in range(2):
        a = worded(100, 500, 100 + 30 * r, [f"l{r}{k}" for k in range(4)])
        b = worded(540, 940, 100 + 30 * r, [f"r{r}{k}" for k in range(4)])
        across.append(Line(text=f"{a.text} {b.text}", polygon=[a.polygon[0], b.polygon[1], b.polygon[2], a.polygon[3]],
                           words=a.words + b.words))
    lines = across + left + right
    gutters = find_gutters(lines)
    assert len(gutters) == 1 and 460 <= gutters[0][0] and gutters[0][1] <= 560   # between the columns' ink
    out = join_fragments(lines)
    texts = sorted(ln.text for ln in out)
    assert len(out) == 20 and "l00 l01 l02 l03" in texts and "r10 r11 r12 r13" in texts
    piece = next(ln for ln in out if ln.text == "r00 r01 r02 r03")
    assert 520 <= piece.polygon[0][0] <= 540 and piece.polygon[1][0] == 940 and len(piece.words) == 4
    assert max(p[0] for p in next(ln for ln in out if ln.text == "l00 l01 l02 l03").polygon) <= 505   # + margin


def test_right_to_left_line_across_a_gutter_keeps_logical_order():
    rows = [worded(100, 500, 100 + 30 * r, [f"a{r}{k}" for k in range(4)], direction="rtl") for r in range(1, 9)]
    rows += [worded(540, 940, 100 + 30 * r, [f"b{r}{k}" for k in range(4)], direction="rtl") for r in range(1, 9)]
    left = worded(100, 500, 100, ["a00", "a01", "a02", "a03"], direction="rtl")    # words listed right to left
    right = worded(540, 940, 100, ["b00", "b01", "b02", "b03"], direction="rtl")
    # one RTL line across both columns: logical order starts at the right column
    rows.append(Line(text=f"{right.text} {left.text}", polygon=[left.polygon[0], right.polygon[1], right.polygon[2],
                                                               left.polygon[3]],
                     words=right.words + left.words, direction="rtl"))
    out = {ln.text for ln in join_fragments(rows)}
    assert len(out) == 18
    assert {right.text, left.text} <= out and right.text == "b03 b02 b01 b00"


@pytest.mark.parametrize("direction", ["ltr", "rtl"])
def test_a_word_read_across_a_gutter_is_cut_there(direction):
    """The recogniser read the last word of a left-column row and the first of the right column's row as
    one ("meaccidentally;": no space across the gutter's white). The line is cut inside that word, its
    characters shared out by the ink each side holds, and each piece keeps the rest of its words."""
    rtl = direction == "rtl"
    rows = [worded(100, 500, 100 + 30 * r, [f"a{r}{k}" for k in range(4)], direction=direction) for r in range(1, 9)]
    rows += [worded(540, 940, 100 + 30 * r, [f"b{r}{k}" for k in range(4)], direction=direction) for r in range(1, 9)]
    left = worded(100, 500, 100, ["let", "me", "know", "soon"], direction=direction)
    right = worded(540, 940, 100, ["ever", "since", "then", "ok"], direction=direction)
    lw = sorted(left.words, key=lambda w: w.polygon[0][0])
    rw = sorted(right.words, key=lambda w: w.polygon[0][0])
    # the word at the left column's end and the one at the right column's start, read as one word
    x0, x1 = lw[-1].polygon[0][0], rw[0].polygon[1][0]
    one = Word(text=(rw[0].text + lw[-1].text) if rtl else (lw[-1].text + rw[0].text),
               polygon=[(x0, 100), (x1, 100), (x1, 120), (x0, 120)])
    visual = lw[:-1] + [one] + rw[1:]
    words = visual[::-1] if rtl else visual
    merged = Line(text=" ".join(w.text for w in words), polygon=[left.polygon[0], right.polygon[1], right.polygon[2],
                                                                 left.polygon[3]], words=words, direction=direction)
    out = {ln.text for ln in join_fragments(rows + [merged])}
    assert len(out) == 18
    assert {left.text, right.text} <= out, sorted(out)[:4]


def test_a_heading_over_the_columns_is_not_cut_at_the_gutter():
    """A heading set larger than the body over a two-column page, its words evenly spaced, one word gap
    falling in the gutter: it stays one line. The same words at body size, or below another line (two
    columns' rows the detector ran together), are cut there."""
    rows = [worded(100, 500, 160 + 30 * r, [f"a{r}{k}" for k in range(4)]) for r in range(8)]
    rows += [worded(540, 940, 160 + 30 * r, [f"b{r}{k}" for k in range(4)]) for r in range(8)]

    def heading(y: float, h: float) -> Line:
        """Four words across both columns, 20 px apart, the middle gap over the gutter."""
        spans = [(300, 400), (420, 510), (530, 640), (660, 760)]
        words = [Word(text=t, polygon=[(x0, y), (x1, y), (x1, y + h), (x0, y + h)])
                 for t, (x0, x1) in zip(("Later", "the", "agency", "confirmed"), spans)]
        return Line(text="Later the agency confirmed", polygon=[(290, y), (770, y), (770, y + h), (290, y + h)], words=words)

    gutters = find_gutters(rows)
    assert len(gutters) == 1
    assert [ln.text for ln in split_at_gutters([heading(100, 40)] + rows, gutters)[:1]] == ["Later the agency confirmed"]
    assert len(split_at_gutters([heading(100, 20)] + rows, gutters)) == len(rows) + 2        # body size: cut
    assert len(split_at_gutters(rows + [heading(300, 40)], gutters)) == len(rows) + 2        # lines above it: cut


def test_touching_fragments_are_joined_on_the_words_evidence():
    # A justified column; in row 4 the detector split the line at a wide word gap, and grew both
    # boxes (0.3 heights each way) so they touch. The words leave a gap that the rows above and
    # below run across: one line.
    rows = [worded(100, 500, 100 + 30 * r, [f"w{r}{k}" for k in range(4)]) for r in range(8) if r != 4]
    whole = worded(100, 500, 220, ["a", "b", "c", "d"])
    ws = whole.words
    gap0, gap1 = max(p[0] for p in ws[1].polygon), min(p[0] for p in ws[2].polygon)
    left = Line(text="a b", polygon=[(100, 220), (gap0 + 6, 220), (gap0 + 6, 240), (100, 240)], words=ws[:2])
    right = Line(text="c d", polygon=[(gap0 + 6, 220), (500, 220), (500, 240), (gap0 + 6, 240)], words=ws[2:])
    assert gap1 - gap0 > 5
    out = join_fragments(rows + [left, right])
    assert len(out) == 8 and "a b c d" in {ln.text for ln in out}


def test_touching_fragments_across_a_narrow_gutter_stay_apart():
    # Two columns, ink 8 px apart; boxes grown into each other. No row runs across the gap.
    left = [worded(100, 500, 100 + 30 * r, [f"l{r}{k}" for k in range(4)]) for r in range(6)]
    right = [worded(508, 900, 100 + 30 * r, [f"r{r}{k}" for k in range(4)]) for r in range(6)]
    for ln in left:
        ln.polygon = [(100, ln.polygon[0][1]), (504, ln.polygon[0][1]), (504, ln.polygon[2][1]), (100, ln.polygon[2][1])]
    for ln in right:
        ln.polygon = [(504, ln.polygon[0][1]), (900, ln.polygon[0][1]), (900, ln.polygon[2][1]), (504, ln.polygon[2][1])]
    assert len(join_fragments(left + right)) == 12


def test_a_left_to_right_run_cut_from_a_right_to_left_line_keeps_its_word_order():
    # A Hebrew page's reference line: English text in the left column, its number "[23]" beyond the
    # gutter at the right. The line is labelled right to left (the page's direction) but its words,
    # listed in logical order, read left to right within the English run: the cut piece keeps that.
    rows = [worded(100, 500, 100 + 30 * r, [f"a{r}{k}" for k in range(4)], direction="rtl") for r in range(1, 9)]
    rows += [worded(540, 940, 100 + 30 * r, [f"b{r}{k}" for k in range(4)], direction="rtl") for r in range(1, 9)]
    english = worded(100, 500, 100, ["Web", "as", "a", "Corpus"])              # left to right
    ref = worded(540, 940, 100, ["[23]"])
    rows.append(Line(text=f"[23] {english.text}", polygon=[english.polygon[0], ref.polygon[1], ref.polygon[2],
                                                          english.polygon[3]],
                     words=ref.words + english.words, direction="rtl"))
    out = {ln.text for ln in join_fragments(rows)}
    assert "Web as a Corpus" in out and "[23]" in out and "Corpus a as Web" not in out
