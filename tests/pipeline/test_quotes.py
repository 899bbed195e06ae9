"""Quotation marks as the line's language types them."""

from __future__ import annotations

from polyocr.bidi import to_visual
from polyocr.pipeline.quotes import TYPED_QUOTES, typed_quotes
from polyocr.pipeline.recognize import LineReading, RecognizedLine


def _reading(text: str, direction: str) -> LineReading:
    visual = to_visual(text, direction)
    conf = tuple(0.5 + 0.01 * i for i in range(len(text)))
    spans = tuple((i / len(text), (i + 1) / len(text)) for i in range(len(text)))
    return LineReading(RecognizedLine(text, 0.8, conf), visual, spans, direction=direction)


def test_a_hebrew_lines_closing_quote_is_written_as_hebrew_text_types_it():
    r = _reading('המאכל "גפילטה פיש”, מנצח', "rtl")
    out = typed_quotes(r, "he")
    assert out.line.text == 'המאכל "גפילטה פיש", מנצח'
    assert out.visual == to_visual(out.line.text, "rtl")           # display order changed in step
    assert out.spans == r.spans and out.line.char_confidences == r.line.char_confidences
    # the opening and low marks are drawn differently and stay as read
    assert typed_quotes(_reading("הוא אמר „שלום“ לכולם", "rtl"), "he").line.text == "הוא אמר „שלום“ לכולם"


def test_other_languages_and_lines_without_the_mark_are_left_alone():
    en = _reading("He said “hello” twice", "ltr")
    assert typed_quotes(en, "en") is en
    plain = _reading("שלום עולם", "rtl")
    assert typed_quotes(plain, "he") is plain
    assert set(TYPED_QUOTES) == {"he"}
