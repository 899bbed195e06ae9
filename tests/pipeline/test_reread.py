"""Windows of doubtful words and splicing their second reading back into the line."""

from __future__ import annotations

import pytest

from polyocr.charset import Charset
from polyocr.pipeline.recognize import LineReading, finish_line
from polyocr.pipeline.reread import Window, doubtful_windows, splice


@pytest.fixture(scope="module")
def charset() -> Charset:
    return Charset.load()


def reading(charset: Charset, visual: str, conf: list[float], direction: str = "ltr") -> LineReading:
    """A reading whose characters sit evenly along the line, each over the middle 80 % of its cell."""
    n = len(visual)
    spans = tuple(((i + 0.1) / n, (i + 0.9) / n) for i in range(n))
    ids, _ = charset.encode(visual)
    line = finish_line(charset, ids, conf, 0.9, direction)
    return LineReading(line, visual, spans, None, None, direction)


def test_windows_cover_the_doubtful_words_and_their_neighbours(charset):
    #        0123456789012345678901
    text = "한국 어는 세계 여러 나라 사람"
    conf = [0.99] * len(text)
    conf[text.index("세")] = 0.4          # the third word is doubtful
    r = reading(charset, text, conf)
    n = len(text)
    [w0] = doubtful_windows(r, below=0.7, context=0)
    assert text[w0.first:w0.end] == "세계"
    # cut halfway between the last character before and the first of the window, and likewise after
    a, b = text.index("세"), text.index("세") + 2
    assert w0.x0 == pytest.approx(((a - 2 + 0.9) / n + (a + 0.1) / n) / 2)
    assert w0.x1 == pytest.approx(((b - 1 + 0.9) / n + (b + 1 + 0.1) / n) / 2)
    [w1] = doubtful_windows(r, below=0.7, context=1)
    assert text[w1.first:w1.end] == "어는 세계 여러"
    # a second doubtful word two words on: context 1 merges the two windows, context 0 keeps two
    conf[text.index("나")] = 0.5
    r = reading(charset, text, conf)
    assert [text[w.first:w.end] for w in doubtful_windows(r, 0.7, 0)] == ["세계", "나라"]
    assert [text[w.first:w.end] for w in doubtful_windows(r, 0.7, 1)] == ["어는 세계 여러 나라 사람"]
    # the window reaching the line's end takes the rest of the line, up to its very end
    last = doubtful_windows(r, 0.7, 1)[0]
    assert last.end == n and last.x1 == 1.0
    # -1: the whole line; nothing doubtful: nothing to read again; a doubtful space alone: nothing
    assert doubtful_windows(r, 0.7, -1) == [Window(0, n, 0.0, 1.0)]
    assert doubtful_windows(r, 0.3, 0) == []
    spaced = [0.99] * n
    spaced[text.index(" ")] = 0.2
    assert doubtful_windows(reading(charset, text, spaced), 0.7, 0) == []


def test_right_to_left_lines_are_read_whole(charset):
    text = "שלום עולם גדול"
    conf = [0.99] * len(text)
    conf[6] = 0.3
    r = reading(charset, text[::-1], conf, "rtl")          # display order is reversed
    assert r.line.text != r.visual
    assert doubtful_windows(r, 0.7, 0) == [Window(0, len(text), 0.0, 1.0)]


def test_splice_replaces_exactly_the_window(charset):
    text = "한국 어는 세계 여러"
    conf = [0.9] * len(text)
    conf[text.index("세")] = 0.3
    r = reading(charset, text, conf)
    [w] = doubtful_windows(r, 0.7, 0)
    part = reading(charset, "세개", [0.95, 0.6])
    out = splice(r, w, part, charset)
    assert out.line.text == out.visual == "한국 어는 세개 여러"
    k = text.index("세")
    assert out.line.char_confidences[k:k + 2] == (0.95, 0.6)
    assert out.line.char_confidences[:k] == r.line.char_confidences[:k]
    assert out.spans[:k] == r.spans[:k] and out.spans[k + 2:] == r.spans[k + 2:]
    # the part's positions are mapped into the window's stretch of the line, in order
    assert w.x0 <= out.spans[k][0] < out.spans[k][1] <= out.spans[k + 1][0] < out.spans[k + 1][1] <= w.x1
    # a window read as a different number of characters still lines up
    longer = splice(r, w, reading(charset, "세 계", [0.9, 0.9, 0.9]), charset)
    assert longer.visual == "한국 어는 세 계 여러" and len(longer.spans) == len(longer.visual)
    # nothing read, or a stretch read right to left: the first reading stays
    empty = LineReading(finish_line(charset, [], [], 0.1, "ltr"), "", (), None, None, "ltr")
    assert splice(r, w, empty, charset) is r
    # the whole-line window hands back the second reading itself
    whole = reading(charset, "다른 줄", [0.9] * 4)
    assert splice(r, Window(0, len(text), 0.0, 1.0), whole, charset) is whole
