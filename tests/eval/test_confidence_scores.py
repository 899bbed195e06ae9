"""Readings labelled right or wrong against the truth, and the scores of confidences as probabilities."""

import numpy as np
import pytest

from polyocr.document import Block, Line, Page, Word, quad_from_box
from polyocr.eval.confidence import TruthLine, label_page, score_confidences, units


def _line(text, box, conf=0.9, words=None, lang="en"):
    x0, y0, x1, y1 = box
    toks = text.split() if words is None else words
    step = (x1 - x0) / max(1, len(toks))
    ws = [Word(t, quad_from_box(x0 + i * step, y0, x0 + (i + 1) * step, y1), conf) for i, t in enumerate(toks)]
    return Line(text, quad_from_box(*box), words=ws, language=lang, confidence=conf)


def _page(*lines):
    return Page(width=1000, height=1000, blocks=[Block(list(lines), quad_from_box(0, 0, 1000, 1000))])


def test_words_and_lines_are_judged_against_the_truth_line_they_overlap():
    truth = [TruthLine("The quick brown fox", (100, 100, 600, 130)),
             TruthLine("jumps over the dog.", (100, 150, 600, 180))]
    page = _page(_line("The quick brown fox", (102, 101, 598, 129)),
                 _line("jumps ovcr the dog.", (101, 151, 597, 180)),
                 _line("stray", (800, 800, 900, 830)))          # nothing there in the truth
    lines = label_page(page, truth)
    assert [ll.correct for ll in lines] == [True, False, False]
    assert [ok for _, ok in lines[0].words] == [True] * 4
    assert [(w.text, ok) for w, ok in lines[1].words] == [("jumps", True), ("ovcr", False), ("the", True),
                                                          ("dog.", True)]
    assert [ok for _, ok in lines[2].words] == [False]


def test_a_piece_of_a_line_is_right_when_the_truth_line_holds_it():
    # the detector cut a Chinese line in two: each piece is one token, held by the truth line
    truth = [TruthLine("我们今天在北京学习中文。", (100, 100, 700, 130))]
    page = _page(_line("我们今天在", (100, 100, 350, 130), lang="zh-Hans"),
                 _line("北京学习中文。", (370, 100, 700, 130), lang="zh-Hans"),
                 _line("北京学刁中文。", (370, 100, 700, 130), lang="zh-Hans"))
    assert [ll.correct for ll in label_page(page, truth)] == [True, True, False]
    # whole (not a piece), a line must match all of it
    whole = _page(_line("我们今天在北京学习中文", (100, 100, 700, 130), lang="zh-Hans"))
    assert [ll.correct for ll in label_page(whole, truth)] == [False]


def test_whitespace_and_compatibility_forms_do_not_count():
    truth = [TruthLine("氏名: 山田", (0, 0, 300, 30))]
    page = _page(_line("氏名：  山田", (0, 0, 300, 30), lang="ja"))
    (ll,) = label_page(page, truth)
    assert ll.correct and all(ok for _, ok in ll.words)


def test_units_give_raw_or_calibrated_confidences():
    truth = [TruthLine("a b", (0, 0, 100, 20))]
    lines = label_page(_page(_line("a b", (0, 0, 100, 20), conf=0.8)), truth)
    assert units(lines, "word") == ([0.8, 0.8], [True, True], ["en", "en"])
    assert units(lines, "line") == ([0.8], [True], ["en"])

    class Halve:
        def line_probabilities(self, line, language):
            return line.confidence / 2, [w.confidence / 2 for w in line.words]

    assert units(lines, "word", Halve())[0] == [0.4, 0.4]
    with pytest.raises(ValueError, match="kind"):
        units(lines, "page")


def test_calibration_scores():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20000)
    honest = rng.uniform(0, 1, p.size) < p
    s = score_confidences(p, honest)
    assert s.ece < 0.02 and s.auroc > 0.8
    assert s.brier == pytest.approx(np.mean((p - honest) ** 2))
    boastful = score_confidences(np.sqrt(p), honest)                     # the same ranking, overstated
    assert boastful.ece > 0.1 and boastful.auroc == pytest.approx(s.auroc)
    kept, right = score_confidences(p, honest).kept[0.9]
    assert kept == pytest.approx(0.1, abs=0.01) and right == pytest.approx(0.95, abs=0.02)
    # AUROC by hand: right units at 0.35 and 0.8, wrong at 0.1 and 0.4 -> 3 of 4 pairs in order
    assert score_confidences([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]).auroc == pytest.approx(0.75)
    assert score_confidences([0.5, 0.5], [0, 1]).auroc == pytest.approx(0.5)   # ties count half
    with pytest.raises(ValueError):
        score_confidences([], [])
