"""One script per word among Latin/Cyrillic look-alikes: the rule, and its place in the page pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from polyocr.pipeline.homoglyph import TO_CYRILLIC, TO_LATIN, unify_reading, unify_scripts
from polyocr.pipeline.pipeline import Pipeline, ReadConfig
from polyocr.pipeline.recognize import LineReading, RecognizedLine
from polyocr.synth.page import Resources, SynthConfig

from render_util import first_page


@pytest.mark.parametrize("read, right", [
    ("Dеbiаn", "Debian"),                       # Cyrillic е, а in a Latin word (distinctive D, b, n vote Latin)
    ("на Mojаve)", "на Mojave)"),
    ("12bр, за", "12bp, за"),                   # only the letter run changes; digits and punctuation stay
    ("legасу", "legacy"),
    ("ПАРAMЕТР", "ПАРАМЕТР"),                   # Latin A, M in a Cyrillic word (distinctive П)
    ("сaмый", "самый"),                         # ы and й vote Cyrillic
])
def test_mixed_words_take_the_script_their_distinctive_letters_vote_for(read, right):
    fixed = unify_scripts(read)
    assert fixed == right and len(fixed) == len(read)


@pytest.mark.parametrize("text", [
    "обычный текст и Debian 12",               # each word in one script: nothing to do
    "Тоуоса",                                   # all Cyrillic look-alikes, but one script: left alone
    "plain English text",
    "שלום Debian",
    "",
])
def test_words_in_one_script_are_never_touched(text):
    assert unify_scripts(text) == text


def test_ties_go_to_the_majority_then_to_the_line():
    assert unify_scripts("Mас") == "Мас"                      # 2 Cyrillic letters against 1 Latin
    assert unify_scripts("аo ложь") == "ао ложь"              # 1:1, the line's distinctive letters say Cyrillic
    assert unify_scripts("аo bold") == "ao bold"              # ... or Latin


def test_the_tables_are_inverse_look_alikes():
    assert all(TO_LATIN[c] == lat for lat, c in TO_CYRILLIC.items())
    assert all(ch.isascii() or ch in "ë" or ch in "Ë" for ch in TO_CYRILLIC)
    assert all(0x0400 <= ord(c) <= 0x04FF for c in TO_LATIN)


def _reading(text: str, visual: str) -> LineReading:
    conf = tuple(0.9 for _ in text)
    return LineReading(RecognizedLine(text, 0.9, conf), visual, tuple((i / len(text), (i + 1) / len(text)) for i in range(len(text))))


def test_readings_keep_positions_and_confidences_and_rtl_lines_are_left_alone():
    r = unify_reading(_reading("Dеbiаn 12", "Dеbiаn 12"))
    assert r.line.text == r.visual == "Debian 12" and len(r.spans) == 9 and len(r.line.char_confidences) == 9
    rtl = _reading("שלום Dеbiаn", "Dеbiаn םולש")               # display order differs from logical
    assert unify_reading(rtl) is rtl


def _with_alternatives(text: str, alts: dict[int, list[tuple[str, float]]], charset) -> LineReading:
    """A reading with one frame per character: the character read, then the alternatives listed for it."""
    ids = np.zeros((len(text), 4), np.int64)
    probs = np.zeros((len(text), 4), np.float32)
    for k, ch in enumerate(text):
        row = [(ch, 0.6)] + alts.get(k, [])
        for j, (c, p) in enumerate(row):
            ids[k, j], probs[k, j] = charset.encode(c)[0][0], p
    r = _reading(text, text)
    return r._replace(alt_ids=ids, alt_probs=probs)


def test_a_letter_without_a_twin_takes_the_words_script_from_the_recognisers_alternatives():
    from polyocr.charset import Charset

    cs = Charset.load()
    # "Linиx": Latin L, n outvote Cyrillic и; of the Latin letters its frames also saw, u is the likeliest
    r = unify_reading(_with_alternatives("в Linиx", {5: [("u", 0.2), ("n", 0.1)]}, cs), cs)
    assert r.line.text == r.visual == "в Linux" and len(r.spans) == 7
    # no Latin letter among its alternatives: it stays (nothing invented)
    kept = unify_reading(_with_alternatives("в Linиx", {5: [("й", 0.3)]}, cs), cs)
    assert kept.line.text == "в Linиx"
    # a tie of distinctive letters (п against n) replaces nothing; twins still follow the majority
    tie = unify_reading(_with_alternatives("поn-US", {0: [("n", 0.3)], 2: [("п", 0.3)]}, cs), cs)
    assert tie.line.text == "поn-US"
    # without the charset (no alternatives to read), only twins are swapped, as before
    assert unify_reading(_with_alternatives("в Linиx", {5: [("u", 0.1)]}, cs)).line.text == "в Linиx"


def _rtl_with_alternatives(visual: str, alts: dict[int, list[tuple[str, float]]], charset) -> LineReading:
    """A right-to-left line as the recogniser gives it: display order in, logical text out, one frame
    per display character with the alternatives listed for it."""
    from polyocr.pipeline.recognize import finish_line

    ids, _ = charset.encode(visual)
    line = finish_line(charset, ids, [0.9] * len(visual), 0.9, "rtl")
    r = _with_alternatives(visual, alts, charset)
    return r._replace(line=line, direction="rtl")


def test_a_hebrew_letter_inside_a_latin_word_of_a_hebrew_line_is_mended_and_the_word_put_back_in_order():
    from polyocr.bidi import to_visual
    from polyocr.charset import Charset
    from polyocr.pipeline.homoglyph import stray_rtl_letters

    cs = Charset.load()
    truth = "שם החיה הוא Kanguru בגרמנית"
    misread = to_visual(truth, "rtl").replace("Kanguru", "Kanguזu")     # r read as zayin
    k = misread.index("ז")
    assert stray_rtl_letters(misread) == [k]
    r = _rtl_with_alternatives(misread, {k: [("r", 0.2), ("ר", 0.1)]}, cs)
    assert r.line.text != truth and "uזKangu" in r.line.text            # the stray letter cut the word in two
    fixed = unify_reading(r, cs)
    assert fixed.line.text == truth and fixed.visual == to_visual(truth, "rtl")
    assert len(fixed.line.char_confidences) == len(truth) and fixed.spans == r.spans
    # no Latin letter among its alternatives: nothing is invented, the reading stays as it was
    assert unify_reading(_rtl_with_alternatives(misread, {k: [("ר", 0.2)]}, cs), cs).line.text == r.line.text


@pytest.mark.parametrize("visual", [
    "WiFi-ב םיחטשב",          # a prefix letter at the word's edge (display order: its right end)
    "WiFiב םיחטשב",
    "Debian 12 םולש",         # words in one script each
    "a ב c",                  # letters apart, not one word
])
def test_right_to_left_letters_at_a_words_edge_or_alone_are_not_strays(visual):
    from polyocr.charset import Charset
    from polyocr.pipeline.homoglyph import stray_rtl_letters

    cs = Charset.load()
    assert stray_rtl_letters(visual) == []
    r = _rtl_with_alternatives(visual, {k: [("l", 0.3)] for k in range(len(visual))}, cs)
    assert unify_reading(r, cs).line.text == r.line.text


def test_look_alikes_in_a_right_to_left_line_take_their_words_script():
    from polyocr.charset import Charset

    cs = Charset.load()
    # "Кыргызстан" inside a Hebrew line, its p and K read as Latin: Cyrillic ы, г, з outvote them
    r = _rtl_with_alternatives("(Kыpгызстан) תיזיגריקה", {}, cs)
    fixed = unify_reading(r, cs)
    assert fixed.line.text == "הקירגיזית (Кыргызстан)" and r.line.text == "הקירגיזית (Kыpгызстан)"


class _LookAlikes:
    """The real recogniser, with Latin a/e/o written as their Cyrillic look-alikes in every reading: the
    error the unified model makes on real Russian pages ("Dеbiаn"), made certain."""

    def __init__(self, rec):
        self.rec = rec
        self.charset = rec.charset

    def read(self, images, vertical=None, directions=None):
        out = []
        for r in self.rec.read(images, vertical, directions):
            swap = str.maketrans({"a": "а", "e": "е", "o": "о"})
            text, visual = r.line.text.translate(swap), r.visual.translate(swap)
            out.append(r._replace(line=r.line._replace(text=text), visual=visual, alt_ids=None, alt_probs=None))
        return out


@pytest.fixture(scope="module")
def english_page():
    cfg = SynthConfig(seed=21, width=1240, height=1754, dpi=150, degrade="clean", split="heldout",
                      languages=("en",), layouts=("prose",))
    return first_page(cfg, Resources(cfg), tries=10)


def _mixed_words(text: str) -> int:
    cyr = {c for c in TO_LATIN}
    return sum(1 for w in text.split() if any(c in cyr for c in w) and any(c.isascii() and c.isalpha() for c in w))


def test_the_page_pipeline_writes_each_word_in_one_script(english_page):
    base = Pipeline(ReadConfig(threads=2, language_model=False, constrain_scripts=False, unify_scripts=False))
    broken = _LookAlikes(base.recognizer)
    on = Pipeline(ReadConfig(threads=2, language_model=False, constrain_scripts=False), detector=base.detector,
                  recognizer=broken, orderer=base.orderer, orientation=base.orientation)
    off = Pipeline(ReadConfig(threads=2, language_model=False, constrain_scripts=False, unify_scripts=False),
                   detector=base.detector, recognizer=broken, orderer=base.orderer, orientation=base.orientation)
    # the reference is the real recogniser with the same rule: it also mends the model's own mixed words
    ref = Pipeline(ReadConfig(threads=2, language_model=False, constrain_scripts=False), detector=base.detector,
                   recognizer=base.recognizer, orderer=base.orderer, orientation=base.orientation)
    image = np.asarray(english_page.image)
    text_on, text_off, text_ref = (p.read_image(image).text for p in (on, off, ref))
    assert _mixed_words(text_off) > 50                          # the injected error is there without the rule
    assert _mixed_words(text_on) <= 0.05 * _mixed_words(text_off)
    # what stays: words made only of look-alike letters ("а", "ѕее"), which no letter of theirs can settle
    # (compared without whitespace: which lines the order model puts in one block may differ
    # with a line's text, and a paragraph break would shift every character after it)
    on_chars, ref_chars = "".join(text_on.split()), "".join(text_ref.split())
    assert on_chars == ref_chars or \
        (len(on_chars) == len(ref_chars) and sum(a != b for a, b in zip(on_chars, ref_chars)) <= 0.01 * len(text_ref))
