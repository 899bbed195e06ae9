"""Full stop or middle dot, by the height of the dot: real fonts, real ONNX readings."""

from __future__ import annotations

import numpy as np
import pytest

from polyocr.charset import Charset
from polyocr.pipeline.dots import FULL_STOP_BELOW, MIDDLE_DOT_ABOVE, dot_heights, drop_inkless, faint_ink, settle_dots
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


def _with(reading: LineReading, at: int, ch: str, span: tuple[float, float], cs: Charset) -> LineReading:
    """The reading with ``ch`` inserted at display position ``at``, its frames at ``span``."""
    visual = reading.visual[:at] + ch + reading.visual[at:]
    conf = list(reading.line.char_confidences)
    conf.insert(at, 0.8)
    ids, _ = cs.encode(visual)
    spans = reading.spans[:at] + (span,) + reading.spans[at:]
    return reading._replace(visual=visual, spans=spans, line=finish_line(cs, ids, conf, reading.line.confidence, "ltr"))


def _widened(img: np.ndarray, at: int, width: int) -> np.ndarray:
    """``img`` with ``width`` columns of paper inserted before column ``at``."""
    return np.concatenate([img[:, :at], np.full((img.shape[0], width), 255, np.uint8), img[:, at:]], axis=1)


@pytest.mark.parametrize("lang,text", [("ko", "나가야 할 길을 제대로"), ("en", "calling the assembly a Welsh")])
def test_a_mark_over_blank_paper_is_dropped_and_inked_characters_stay(rec, lang, text):
    """Real fonts, real readings: a "." after the line's last letter over blank paper and a "·" in the
    middle of a wide word gap are the recogniser's inventions and go; every character it read off
    the ink stays, the line's own full stop included."""
    from render_util import render

    cs = rec.charset
    img = _widened(render(text, lang), -1, 60)                # paper after the last letter
    # over 60 px of paper the recogniser may invent marks (it read "제대로 ——…" here): they go
    reading = drop_inkless(rec.read([img], [False], ["ltr"])[0], img, cs)
    assert reading.visual == text, reading.visual
    assert drop_inkless(reading, img, cs) is reading           # nothing left to drop
    w = img.shape[1]
    tail = _with(reading, len(text), ".", ((w - 30) / w, (w - 27) / w), cs)
    assert tail.line.text == text + "."
    out = drop_inkless(tail, img, cs)
    assert out.visual == text and out.line.text == text and out.spans == reading.spans
    assert out.line.char_confidences == reading.line.char_confidences
    stop = render(text + ".", lang)                            # the line's own full stop, inked
    real = rec.read([stop], [False], ["ltr"])[0]
    assert real.visual.endswith(".") and drop_inkless(real, stop, cs).visual == real.visual
    # a wide gap between two words with a mark read in its middle
    gap = text.index(" ")
    x = int(round(reading.spans[gap][0] * img.shape[1]))
    wide = _widened(img, x, 80)
    spaced = drop_inkless(rec.read([wide], [False], ["ltr"])[0], wide, cs)
    # (at this spacing a letter may read otherwise, or a mark appear beside the next word: the
    # test is about the gap's middle, 40 px from any ink)
    mid = (x + 40) / wide.shape[1]
    k = next(i for i, (s0, _) in enumerate(spaced.spans) if s0 > mid)
    dotted = _with(spaced, k, "·", (mid, mid + 2 / wide.shape[1]), cs)
    assert "·" in dotted.line.text
    assert drop_inkless(dotted, wide, cs).line.text == spaced.line.text


def test_faint_coloured_text_counts_as_ink_and_right_to_left_lines_are_tested_in_display_order(rec):
    """A link's digits in a light colour beside black text are ink (Otsu's threshold puts them with
    the paper). On a right-to-left line a full stop over the paper left of its last word goes, and the
    text comes back in logical order with each character's own confidence."""
    from render_util import render

    cs = rec.charset
    img = render("see pages 2,10 and more")
    reading = rec.read([img], [False], ["ltr"])[0]
    w = img.shape[1]
    s0, s1 = reading.spans[reading.visual.index("2")][0], reading.spans[reading.visual.index("0")][1]
    light = img.copy()
    part = light[:, int(s0 * w) - 2:int(s1 * w) + 2]
    part[:] = 255 - (255 - part) * 0.3                          # the digits at 30 % of black: a pale link
    assert faint_ink(light)[:, int(s0 * w):int(s1 * w)].any()
    assert drop_inkless(reading, light, cs).visual == reading.visual
    he = _widened(render("שלום עולם", "he", direction="rtl"), 1, 60)   # paper where the line ends
    rtl = drop_inkless(rec.read([he], [False], ["rtl"])[0], he, cs)
    assert rtl.line.text == "שלום עולם", rtl.line.text
    w = he.shape[1]
    stop = _with(rtl, 0, ".", (20 / w, 23 / w), cs)          # display position 0: the line's logical end
    stop = stop._replace(line=finish_line(cs, cs.encode(stop.visual)[0], [0.8] + list(rtl.line.char_confidences)[::-1],
                                          rtl.line.confidence, "rtl"), direction="rtl")
    assert stop.line.text == "שלום עולם."
    out = drop_inkless(stop, he, cs)
    assert out.line.text == "שלום עולם" and out.line.char_confidences == rtl.line.char_confidences
    blank = np.full_like(he, 255)
    assert drop_inkless(rtl, blank, cs) is rtl                  # nothing left: not this rule's to empty a line
