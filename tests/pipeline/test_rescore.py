"""Language-model rescoring: doubtful characters settled by context, nothing else touched."""

from __future__ import annotations

import numpy as np
import pytest

from polyocr.charset import Charset
from polyocr.models.charlm import LMSet, fit, save_lms
from polyocr.pipeline.constrain import LANG_SCRIPTS, allowed_classes
from polyocr.pipeline.recognize import LineReading, RecognizedLine, redecode
from polyocr.pipeline.rescore import RescoreConfig, rescore, rescore_page

CS = Charset.load()
EN = fit(["the cat sat on the mat", "then the cat ate", "the hat is there", "they the them"] * 5, order=4)
# ע is three times as common as ש here, so only the context after ש (read from the right) can pick it
HE = fit(["שלום עולם", "שלום לכם", "עולם ומלואו", "עוגה עגולה", "עיר ועם"] * 5, order=4)


def _reading(frames: list[list[tuple[str, float]]], direction: str | None = "ltr") -> LineReading:
    """A reading from per-frame alternatives (character, or '' for blank), in display order."""
    k = max(len(f) for f in frames)
    frames = [f + [("", 0.0)] * (k - len(f)) for f in frames]
    ids = np.array([[CS.encode(c)[0][0] if c else 0 for c, _ in f] for f in frames], np.int64)
    probs = np.array([[p for _, p in f] for f in frames], np.float32)
    empty = LineReading(RecognizedLine("", 0.0, ()), "", (), ids, probs, direction)
    return redecode(empty, np.ones(len(CS), bool), CS)


def _word(text: str, doubt: dict[int, list[tuple[str, float]]] | None = None) -> list[list[tuple[str, float]]]:
    """One frame per character (its alternatives when listed in ``doubt``) and a blank after each."""
    frames = []
    for i, ch in enumerate(text):
        frames.append((doubt or {}).get(i, [(ch, 0.99)]))
        frames.append([("", 0.99)])
    return frames


def test_context_settles_a_doubtful_character():
    r = _reading(_word("tbe cat", {1: [("b", 0.55), ("h", 0.40), ("k", 0.03)]}))
    assert r.line.text == "tbe cat"
    out = rescore(r, EN, CS)
    assert out.line.text == "the cat"
    assert len(out.spans) == len(r.spans) and out.spans == r.spans          # characters stay where they were
    assert out.line.char_confidences[1] == pytest.approx(0.40, abs=1e-6)      # the chosen class's own probability
    assert rescore(r, EN, CS, RescoreConfig(weight=0.0)).line.text == "tbe cat"


def test_confident_and_implausible_alternatives_are_left_alone():
    sure = _reading(_word("tbe cat", {1: [("b", 0.98), ("h", 0.015)]}))
    assert rescore(sure, EN, CS).line.text == "tbe cat"                 # the network is sure
    faint = _reading(_word("tbe cat", {1: [("b", 0.90), ("h", 0.01)]}))
    assert rescore(faint, EN, CS).line.text == "tbe cat"                # 'h' below min_alt
    plain = _reading(_word("the cat"))
    assert rescore(plain, EN, CS) is plain                                # nothing in doubt: same object


def test_admitted_classes_limit_the_candidates():
    r = _reading(_word("tbe cat", {1: [("b", 0.55), ("h", 0.40)]}))
    no_h = np.ones(len(CS), bool)
    no_h[CS.encode("h")[0][0]] = False
    assert rescore(r, EN, CS, allowed=no_h).line.text == "tbe cat"
    assert rescore(r, EN, CS, allowed=allowed_classes(CS, LANG_SCRIPTS["en"])).line.text == "the cat"


def test_touching_runs_never_merge_into_one_character():
    # 'e' and 'e' with no blank between would collapse under CTC: the alternative must not be taken
    frames = [[("t", 0.99)], [("", 0.99)], [("h", 0.99)], [("e", 0.99)], [("n", 0.5), ("e", 0.45)], [("", 0.99)]]
    r = _reading(frames)
    assert r.line.text == "then"
    thee = fit(["thee thee", "to thee"] * 10, order=3)          # a model that wants "thee"
    out = rescore(r, thee, CS, RescoreConfig(weight=5.0))
    assert out.line.text == "then"                                # "thee" would collapse to "the"
    apart = _reading(frames[:4] + [[("", 0.99)]] + frames[4:])   # with a blank between, "thee" is fine
    assert rescore(apart, thee, CS, RescoreConfig(weight=5.0)).line.text == "thee"


def test_right_to_left_lines_are_scored_in_logical_order():
    # display order of "שלום עולם" is reversed; the doubtful letter is ש (first in logical order),
    # read as ע at 0.52. Scored left to right its context would be "םולע" reversed, unseen, and the
    # unigrams favour ע; scored in logical order "שלום" is a known word.
    logical = "שלום עולם"
    display = logical[::-1]
    doubt = {len(display) - 1: [("ע", 0.52), ("ש", 0.46)]}
    r = _reading(_word(display, doubt), direction="rtl")
    assert r.line.text == "עלום עולם"
    assert rescore(r, HE, CS).line.text == logical


def test_rescore_page_uses_each_line_s_language(tmp_path):
    lms = LMSet(save_lms({"en": EN, "he": HE}, tmp_path / "charlm.safetensors"))
    en = _reading(_word("tbe cat", {1: [("b", 0.55), ("h", 0.40)]}))
    ko = _reading(_word("tbe cat", {1: [("b", 0.55), ("h", 0.40)]}))
    out = rescore_page([en, ko], ["en", "ko"], lms, CS)
    assert [o.line.text for o in out] == ["the cat", "tbe cat"]          # no Korean model: as read


def test_each_language_is_searched_with_its_own_weight_unless_one_is_given(tmp_path, monkeypatch):
    from polyocr.languages import LANGUAGES
    from polyocr.pipeline import rescore as rescore_module

    assert set(rescore_module.LM_WEIGHTS) == set(LANGUAGES)              # every language chose its own
    assert RescoreConfig().for_language("ko").weight == rescore_module.LM_WEIGHTS["ko"]
    assert RescoreConfig(weight=0.7).for_language("ko").weight == 0.7    # one weight given: every language
    lms = LMSet(save_lms({"en": EN}, tmp_path / "charlm.safetensors"))
    line = _reading(_word("tbe cat", {1: [("b", 0.55), ("h", 0.40)]}))
    monkeypatch.setitem(rescore_module.LM_WEIGHTS, "en", 0.0)             # English: the model has no say
    assert rescore_page([line], ["en"], lms, CS)[0].line.text == "tbe cat"
    assert rescore_page([line], ["en"], lms, CS, RescoreConfig(weight=0.3))[0].line.text == "the cat"
    monkeypatch.setitem(rescore_module.LM_WEIGHTS, "en", 0.4)
    assert rescore_page([line], ["en"], lms, CS)[0].line.text == "the cat"


def test_an_inserted_character_can_be_read_as_nothing():
    # "ftorm": the t is doubtful and blank is its runner-up; the model knows "form"
    form = fit(["the form", "a form for them", "forms of the form"] * 5, order=4)
    r = _reading(_word("ftorm", {1: [("t", 0.55), ("", 0.42)]}))
    assert r.line.text == "ftorm"
    out = rescore(r, form, CS)
    assert out.line.text == "form"
    assert len(out.spans) == 4
    assert rescore(r, form, CS, RescoreConfig(deletions=False)).line.text == "ftorm"


def test_a_space_between_numbers_stays_while_one_inside_a_word_may_go():
    # a model that has only seen numbers run together and the word "form" whole
    joined = fit(["the 4.45.1 form", "in 12.34.5 forms", "4.45.1", "form 1.23.4"] * 5, order=4)
    numbers = _reading(_word("4.4 5.1", {3: [(" ", 0.6), ("", 0.38)]}))
    assert numbers.line.text == "4.4 5.1"
    assert rescore(numbers, joined, CS).line.text == "4.4 5.1"          # not joined into "4.45.1"
    word = _reading(_word("fo rm", {2: [(" ", 0.6), ("", 0.38)]}))
    assert rescore(word, joined, CS).line.text == "form"                 # a space between letters still may
    # on a right-to-left line, joining the two numbers would also swap them in logical order
    rtl = _reading(_word("ىلع 4.4 5.1", {7: [(" ", 0.6), ("", 0.38)]}), direction="rtl")
    assert rtl.line.text.startswith("5.1 4.4")
    assert rescore(rtl, fit(["على 4.45.1"] * 20, order=4), CS).line.text.startswith("5.1 4.4")


def test_a_run_of_doubtful_characters_shortens_the_searched_history():
    from polyocr.pipeline.rescore import _history

    assert _history([1, 3, 1, 1, 1, 1, 1], 5, 243) == 5          # one choice in any window: the full history
    assert _history([3] * 8, 5, 243) == 4                          # 3^6 combinations > 243: five positions a window
    assert _history([3] * 8, 5, 27) == 2
    assert _history([3] * 8, 3, 243) == 3                          # order 4 never needs the cap at 3 candidates


def test_long_histories_settle_what_short_ones_cannot():
    # after "the " a hat is six times as common as a mat; only "on the " (seven characters) tells "mat"
    text = ["sat on the mat"] * 3 + ["the hat"] * 12 + ["see the hat"] * 6
    short, long = fit(text, order=3), fit(text, order=7)
    assert long.order == 7
    r = _reading(_word("sat on the hat", {11: [("h", 0.5), ("m", 0.45), ("c", 0.04)]}))
    assert rescore(r, short, CS).line.text == "sat on the hat"
    assert rescore(r, long, CS).line.text == "sat on the mat"
    # every character in doubt: the search stays bounded (a shorter history) and keeps the line's length
    doubts = {i: [(c, 0.5), ("x", 0.3), ("q", 0.2)] for i, c in enumerate("sat on the mat") if c != " "}
    many = _reading(_word("sat on the mat", doubts))
    out = rescore(many, long, CS, RescoreConfig(max_window=81))
    assert len(out.line.text) == len("sat on the mat") and out.line.text.count("x") + out.line.text.count("q") == 0


def test_a_lines_first_letter_takes_its_case_from_the_image():
    """The models learned sentences, which mostly start with a capital; most lines of a page start inside
    one. The first letter's own term is asked in lower case, so its case is the recogniser's call; the
    case of the letters after it still gets the model's view."""
    lm = fit(["The cat sat on the mat.", "The hat is there.", "They ate."] * 8 + ["the cat ate", "then the hat"] * 2,
             order=4)
    wrapped = _reading(_word("the cat", {0: [("t", 0.55), ("T", 0.44)]}))
    assert rescore(wrapped, lm, CS).line.text == "the cat"
    start = _reading(_word("The cat", {0: [("T", 0.55), ("t", 0.44)]}))
    assert rescore(start, lm, CS).line.text == "The cat"
    inner = _reading(_word("tHe cat", {1: [("H", 0.55), ("h", 0.44)]}))     # not the first letter: context decides
    assert rescore(inner, lm, CS).line.text == "the cat"


def test_russian_yo_is_read_from_the_image_not_from_the_corpus_spelling():
    """Russian prints ё or е in the same word as its editor chose and corpora mostly write е: the model
    asks about ё as е, so it cannot talk the recogniser out of the two dots it saw."""
    lm = fit(["все еще здесь", "еще раз", "все хорошо", "вот еще"] * 5, order=4)
    r = _reading(_word("все ещё", {6: [("ё", 0.60), ("е", 0.38)]}))
    assert rescore(r, lm, CS, RescoreConfig(weight=1.0)).line.text == "все ещё"
    other = _reading(_word("все ещк", {6: [("к", 0.60), ("е", 0.38)]}))     # any other letter: context still decides
    assert rescore(other, lm, CS, RescoreConfig(weight=1.0)).line.text == "все еще"


def test_a_word_in_a_script_the_model_did_not_learn_stays_as_read(tmp_path):
    """The Russian model knows few Latin words and spells them with Cyrillic habits ("true" → "сгие" on
    realdev). A word whose distinctive letters are mostly foreign to the line's model is left as read;
    a Cyrillic word on the same line is still settled, and a word of look-alike twins only ("С." for an
    initial) is still the model's to judge."""
    ru = fit(["всё сгие сгие в сгие", "с грустью", "сгие дом", "С. Иванов сказал"] * 5, order=4)
    lms = LMSet(save_lms({"ru": ru}, tmp_path / "charlm.safetensors"))
    latin = _reading(_word("в true", {2: [("t", 0.55), ("с", 0.44)], 3: [("r", 0.55), ("г", 0.44)]}))
    assert rescore(latin, ru, CS, RescoreConfig(weight=1.0)).line.text == "в сгue"          # no language given: as before
    assert rescore_page([latin], ["ru"], lms, CS, RescoreConfig(weight=1.0))[0].line.text == "в true"
    cyrillic = _reading(_word("в сгиe", {5: [("e", 0.55), ("е", 0.44)]}))                    # Latin e in a Cyrillic word
    assert rescore_page([cyrillic], ["ru"], lms, CS, RescoreConfig(weight=1.0))[0].line.text == "в сгие"
    initial = _reading(_word("C. Иванов", {0: [("C", 0.55), ("С", 0.44)]}))
    assert rescore_page([initial], ["ru"], lms, CS, RescoreConfig(weight=1.0))[0].line.text == "С. Иванов"


def test_latin_words_on_a_line_whose_model_does_not_spell_latin_are_judged_by_the_english_model(tmp_path):
    """"Deblan" on a Russian line: the Russian model leaves Latin words as read, the English one knows
    "Debian". Both models settle their own words of the same line, and neither undoes the other."""
    ru = fit(["все сгие в доме", "сгие дом", "в доме все"] * 5, order=4)
    en = fit(["debian is free", "install debian now", "the debian project"] * 5, order=4)
    lms = LMSet(save_lms({"ru": ru, "en": en}, tmp_path / "charlm.safetensors"))
    line = _reading(_word("Deblan в доие", {3: [("l", 0.55), ("i", 0.44)], 11: [("и", 0.55), ("м", 0.44)]}))
    cfg = RescoreConfig(weight=1.0)
    assert rescore_page([line], ["ru"], lms, CS, cfg)[0].line.text == "Debian в доме"
    assert rescore_page([line], ["ru"], lms, CS, RescoreConfig(weight=1.0, latin_model=""))[0].line.text == "Deblan в доме"
    # an English line is its own model's already: nothing is searched twice
    assert rescore_page([line], ["en"], lms, CS, cfg)[0].line.text == "Debian в доие"
    # on a right-to-left line the Latin word is scored in its own (display) order
    he = fit(["שלום עולם", "עולם ומלואו"] * 5, order=4)
    lms2 = LMSet(save_lms({"he": he, "en": en}, tmp_path / "charlm2.safetensors"))
    rtl = _reading(_word("Deblan םולש", {3: [("l", 0.55), ("i", 0.44)]}), direction="rtl")
    assert "Debian" in rescore_page([rtl], ["he"], lms2, CS, cfg)[0].line.text


def test_a_sentence_mark_between_words_is_settled_by_context():
    """A full stop read as a comma before a capital ("the cat, The hat"): the second choice each time on
    realdev's English lines. Between digits or after one, a mark stays as read, and a mark is never
    turned into a letter or deleted."""
    en = fit(["the cat sat. The hat is there. Then the cat ate.", "they sat, then the cat sat. The end."] * 5, order=4)
    cfg = RescoreConfig(weight=1.0)
    line = _reading(_word("the cat, The hat", {7: [(",", 0.6), (".", 0.38)]}))
    assert rescore(line, en, CS, cfg).line.text == "the cat. The hat"
    assert rescore(line, en, CS, RescoreConfig(weight=1.0, marks=False)).line.text == "the cat, The hat"
    number = _reading(_word("cat 4,19 The", {5: [(",", 0.6), (".", 0.38)]}))
    assert rescore(number, en, CS, cfg).line.text == "cat 4,19 The"
    into_letter = _reading(_word("the cat, The", {7: [(",", 0.6), ("e", 0.38)]}))
    assert rescore(into_letter, en, CS, cfg).line.text == "the cat, The"


def test_acronyms_on_a_foreign_line_stay_as_read(tmp_path):
    """The English model respells capitals-only words by its common words ("NFC" → "NEC" on a Hebrew
    page): on a line whose own model does not spell Latin, an acronym is left as read."""
    ru = fit(["в доме", "в доме все"] * 5, order=4)
    en = fit(["the nec is near", "nec nec nec"] * 5, order=4)
    lms = LMSet(save_lms({"ru": ru, "en": en}, tmp_path / "charlm.safetensors"))
    cfg = RescoreConfig(weight=1.0)
    caps = _reading(_word("в NFC", {3: [("F", 0.55), ("E", 0.44)]}))
    assert rescore_page([caps], ["ru"], lms, CS, cfg)[0].line.text == "в NFC"
    lower = _reading(_word("в nfc", {3: [("f", 0.55), ("e", 0.44)]}))
    assert rescore_page([lower], ["ru"], lms, CS, cfg)[0].line.text == "в nec"


def test_line_score_prefers_the_reading_the_model_finds_likelier():
    """Two readings of one line at different widths, equally confident: the one the model finds
    likelier scores higher; without a model only the confidences count; an empty reading never wins."""
    from polyocr.pipeline.rescore import line_score

    good, bad = _reading(_word("the cat")), _reading(_word("tbe cxt"))
    assert line_score(good, EN) > line_score(bad, EN)
    assert line_score(good, None) == pytest.approx(line_score(bad, None))
    unsure = _reading(_word("the cat", {1: [("h", 0.5), ("b", 0.4)]}))
    assert line_score(unsure, None) < line_score(good, None)
    assert line_score(_reading([[("", 0.99)]]), EN) == float("-inf")
