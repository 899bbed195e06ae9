"""Language-constrained re-decoding: the second choice replaces a character from a foreign script."""

from __future__ import annotations

import numpy as np

from polyocr.charset import Charset
from polyocr.pipeline.constrain import (allowed_classes, bound_script, constrain_page, constraint_language, line_scripts, page_scripts,
                                        page_variant, LANG_SCRIPTS)
from polyocr.pipeline.recognize import LineReading, RecognizedLine, redecode


def _reading(cs: Charset, frames: list[list[tuple[str, float]]], direction: str | None = "ltr") -> LineReading:
    """A reading built from per-frame alternatives (character or '' for blank, probability)."""
    k = max(len(f) for f in frames)
    frames = [f + [("", 0.0)] * (k - len(f)) for f in frames]
    ids = np.array([[cs.encode(c)[0][0] if c else 0 for c, _ in f] for f in frames], np.int64)
    probs = np.array([[p for _, p in f] for f in frames], np.float32)
    empty = LineReading(RecognizedLine("", 0.0, ()), "", (), ids, probs, direction)
    everything = np.ones(len(cs), bool)
    return redecode(empty, everything, cs)          # the unconstrained greedy reading


def test_redecode_takes_the_best_admitted_alternative():
    cs = Charset.load()
    r = _reading(cs, [[("a", .9), ("", .05)], [("", .8), ("r", .1)], [("g", .9), ("q", .05)],
                      [("и", .6), ("m", .3)], [("", .9), ("и", .05)], [("e", .9), ("c", .05)]])
    assert r.line.text == "agиe"                      # the first reading, with a Cyrillic look-alike
    en = allowed_classes(cs, LANG_SCRIPTS["en"])
    fixed = redecode(r, en, cs)
    assert fixed.line.text == "agme" and fixed.visual == "agme"
    assert len(fixed.spans) == 4 and fixed.line.confidence < r.line.confidence
    assert redecode(r, np.ones(len(cs), bool), cs).line.text == "agиe"   # everything admitted: unchanged
    # no admitted class among the alternatives: that frame becomes blank
    only_cyr = _reading(cs, [[("a", .9), ("", .05)], [("и", .7), ("л", .2)]])
    assert redecode(only_cyr, en, cs).line.text == "a"


def test_redecode_keeps_right_to_left_logical_order():
    cs = Charset.load()
    # display order "םולש" (visual, as the model reads) with a Latin look-alike 'O' for 'ו'
    frames = [[("ם", .9)], [("", .9)], [("O", .6), ("ו", .35)], [("ל", .9)], [("", .9)], [("ש", .9)]]
    r = _reading(cs, frames, direction="rtl")
    assert r.line.text == "שלOם"
    # Latin is admitted everywhere, so a Hebrew line keeps it ...
    assert redecode(r, allowed_classes(cs, LANG_SCRIPTS["he"]), cs).line.text == "שלOם"
    # ... and only a line restricted to Hebrew letters swaps it
    assert redecode(r, allowed_classes(cs, frozenset({"hebrew"})), cs).line.text == "שלום"


def test_which_language_and_scripts_a_line_is_decoded_with():
    assert constraint_language("議據無当暴が論論學語總業諺教", "ja", "zh-Hans") == "zh-Hans"   # 1 kana of 14
    assert constraint_language("東京では、雨が降っています", "ja", "zh-Hans") == "ja"
    assert constraint_language("Hello world", "en", "ru") == "en"
    assert line_scripts("Beijing (北京) is big", "en") == frozenset({"latin", "han"})   # a whole Han word
    assert line_scripts("argиents", "en") == frozenset({"latin"})                      # one letter in a word
    assert line_scripts("слово word", "en") == frozenset({"latin", "cyrillic"})


def test_one_or_two_letters_of_a_script_the_page_does_not_write_follow_the_page():
    english = ["Contents of the report", "Chapter one and its sections", "子", "ロ"] * 3
    written = page_scripts(english)
    assert written == frozenset({"latin"})
    # whole lines of 1-2 letters: specks, bullets, pieces of words in an unseen font (generated pages)
    assert constraint_language("子", "zh-Hans", "en", written) == "en"
    assert constraint_language("우국", "ko", "ar", frozenset({"arabic", "latin"})) == "ar"
    assert constraint_language("ですね", "ja", "zh-Hans", frozenset({"han"})) == "ja"     # three letters
    # a lone 一 read for a dash is no Chinese word in a Russian line; two Han letters are
    russian = frozenset({"cyrillic", "latin"})
    assert line_scripts("Ревность 一- разновидность", "ru", russian) == russian
    assert line_scripts("Ревность (北京) разновидность", "ru", russian) == frozenset({"latin", "cyrillic", "han"})
    assert line_scripts("子", "en", written) == frozenset({"latin"})
    # a Japanese form whose Latin lines make English its main language still writes Han and kana:
    # its short lines and one-letter names keep them
    form = ["例えば", "林 裕美子", "請求書番号", "2024-01-05", "tanaka@example.com", "No. 12345"] * 6
    written = page_scripts(form)
    assert {"han", "kana", "latin"} <= written
    assert constraint_language("例えば", "ja", "en", written) == "ja"
    assert "han" in line_scripts("林 裕美子", "en", written)
    assert constraint_language("えば", "ja", "en", frozenset({"latin"})) == "en"           # two stray letters


def test_han_variant_is_dropped_only_on_decisive_pages():
    cs = Charset.load()
    hans = ["这个国家的经济发展说明了问题", "简体中文的书写"]
    assert page_variant(hans) == "hans"
    assert page_variant(["中文"]) == ""                                  # no distinguishing characters
    assert page_variant(["这个国家", "這個國家"]) == ""                  # split vote
    ok = allowed_classes(cs, LANG_SCRIPTS["zh-Hans"], "hant")
    assert ok[cs.encode("说")[0][0]] and not ok[cs.encode("說")[0][0]] and ok[cs.encode("中")[0][0]]
    assert not ok[cs.encode("の")[0][0]] and ok[cs.encode("A")[0][0]] and ok[cs.encode("，")[0][0]]


def test_constrain_page_relabels_only_lines_it_changed():
    cs = Charset.load()
    good = _reading(cs, [[("中", .9)], [("", .9)], [("文", .9)]])
    bad = _reading(cs, [[("中", .9)], [("国", .9)], [("人", .9)], [("が", .5), ("民", .4)]])   # 1 kana of 4
    readings, langs = constrain_page([good, bad], ["zh-Hans", "ja"], "zh-Hans", cs)
    assert [r.line.text for r in readings] == ["中文", "中国人民"] and langs == ["zh-Hans", "zh-Hans"]
    assert readings[0] is good


def test_digits_and_marks_of_one_script_follow_that_script():
    cs = Charset.load()
    assert [bound_script(c) for c in "٠٢۵،؟״־ְ"] == ["arabic"] * 5 + ["hebrew"] * 3
    assert [bound_script(c) for c in "0.,?\"-"] == [""] * 6
    # ٠ (Arabic-Indic zero, a dot) read for a full stop on a Chinese page: the page writes no Arabic
    zh = ["设备的节点数可以通过执行得到", "如下所示的主设备号"] * 4
    dot = _reading(cs, [[("设", .9)], [("٠", .6), ("．", .3)], [("备", .9)]])
    readings, _ = constrain_page([dot] + [_reading(cs, [[(c, .9)] for c in t]) for t in zh],
                                 ["zh-Hans"] * 9, "zh-Hans", cs)
    assert readings[0].line.text == "设．备"
    # on an Arabic page an English line keeps the page's digits: "Total ١٢"
    ar = ["مرحبا بكم في الموقع الرسمي", "هذه صفحة عربية طويلة"] * 4
    total = _reading(cs, [[(c, .9)] for c in "Total "] + [[("١", .8), ("1", .1)], [("", .9)], [("٢", .8), ("r", .1)]])
    readings, _ = constrain_page([total] + [_reading(cs, [[(c, .9)] for c in t]) for t in ar], ["en"] + ["ar"] * 8, "ar", cs)
    assert readings[0].line.text == "Total ١٢" and readings[0] is total
    # with no page given the old rule holds: every digit and mark admitted
    assert allowed_classes(cs, LANG_SCRIPTS["en"])[cs.encode("٢")[0][0]]
    assert not allowed_classes(cs, LANG_SCRIPTS["en"], page=frozenset({"latin"}))[cs.encode("٢")[0][0]]


def test_shipped_recogniser_returns_alternatives_for_every_frame():
    """The packaged graph exports 4 alternatives per frame; a real rendered line's reading carries them,
    and redecoding with every class admitted reproduces the first reading."""
    from polyocr.pipeline.recognize import Recognizer
    from render_util import render

    rec = Recognizer(threads=1)
    assert rec.alternatives
    r = rec.read([render("Alternatives 2026", size=30)], directions=["ltr"])[0]
    assert r.alt_ids is not None and r.alt_ids.shape[1] == 4 and r.alt_ids.shape == r.alt_probs.shape
    assert (np.diff(r.alt_probs, axis=1) <= 1e-6).all()
    again = redecode(r, np.ones(len(rec.charset), bool), rec.charset)
    assert again.line.text == r.line.text and again.spans == r.spans
