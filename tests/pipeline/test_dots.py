"""Full stop or middle dot, by the height of the dot: real fonts, real ONNX readings."""

from __future__ import annotations

import numpy as np
import pytest

from polyocr.charset import Charset
from polyocr.pipeline.dots import FULL_STOP_BELOW, MIDDLE_DOT_ABOVE, dot_heights, settle_dots
from polyocr.pipeline.recognize import LineReading, Recognizer, finish_line


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    return Recognizer(threads=1)


def _swapped(reading: LineReading, i: int, ch: str, cs: Charset) -> LineReading:
    """The reading with its ``i``-th character read as ``ch`` instead: the misreading to undo."""
    visual = reading.visual[:i] + ch + reading.visual[i + 1:]
    ids, _ = cs.encode(visual)
    return reading._replace(visual=visual, line=finish_line(cs, ids, list(reading.line.char_confidences),
                                                            reading.line.confidence, "ltr"))


@pytest.mark.parametrize("font_seed", [0, 1, 2])
@pytest.mark.parametrize("text,dot,other", [("読み込みます．次に", "．", "・"), ("コピー・削除と作成", "・", "．")])
def test_a_dot_read_as_the_other_one_is_put_back_by_its_height(rec, font_seed, text, dot, other):
    from render_util import render

    img = render(text, "ja", font_seed=font_seed)
    reading = rec.read([img], [False], ["ltr"])[0]
    assert len(reading.visual) == len(text), reading.visual    # one character per character (some
    i = text.index(dot)                                         # fonts' "．" reads as "，")
    right = _swapped(reading, i, dot, rec.charset)
    y = dot_heights(img, right.visual, right.spans)[i]
    assert (y >= FULL_STOP_BELOW) if dot == "．" else (y <= MIDDLE_DOT_ABOVE), y
    assert settle_dots(right, img, rec.charset) == right                      # the right one is kept ...
    fixed = settle_dots(_swapped(reading, i, other, rec.charset), img, rec.charset)
    assert fixed.visual == right.visual and fixed.line.text == right.line.text  # ... the other put back
    assert fixed.line.char_confidences == reading.line.char_confidences


def test_no_dot_no_change_and_vertical_or_unclear_dots_stay(rec):
    from render_util import render

    img = render("日本語の文章", "ja")
    reading = rec.read([img], [False], ["ltr"])[0]
    assert settle_dots(reading, img, rec.charset) is reading
    blank = np.full((40, 300), 255, np.uint8)                # no ink where the dot should be: kept as read
    cs = rec.charset
    ids, _ = cs.encode("あ・い")
    fake = LineReading(finish_line(cs, ids, [0.9, 0.9, 0.9], 0.9, "ltr"), "あ・い",
                       ((0.0, 0.3), (0.4, 0.6), (0.7, 1.0)), None, None, "ltr")
    assert dot_heights(blank, fake.visual, fake.spans) == {}
    assert settle_dots(fake, blank, cs) is fake
