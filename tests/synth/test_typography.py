"""Typeset marks: each language's conventions, only allowed characters, deterministic, and line crops
that carry them still pass the label checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from polyocr.languages import LANGUAGES
from polyocr.synth.charsets import _default_allowed
from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line
from polyocr.synth.text import TextSource
from polyocr.synth.typography import typeset_marks


def _draws(lang: str, n: int = 400, seed: int = 5) -> list[tuple[str, str]]:
    source = TextSource(lang)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = source.sentence(rng, max_chars=60)
        out.append((s, typeset_marks(rng, s, lang, source.allowed)))
    return out


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_only_allowed_characters_and_text_kept(lang):
    allowed = _default_allowed(lang)
    changed = 0
    for before, after in _draws(lang, 200):
        assert set(after) <= allowed, (before, after)
        assert after == " ".join(after.split())
        changed += after != before
        # the sentence's letters survive: marks are added around them, not instead of them
        letters = [c for c in before if c.isalpha()]
        assert len([c for c in after if c.isalpha()]) >= len(letters) - 2
    assert changed > 100


def test_english_gets_the_marks_real_pages_use():
    text = "".join(a for _, a in _draws("en"))
    for mark in "’“”–—•\\{}…§":
        assert mark in text, mark


def test_russian_uses_guillemets_and_em_dash():
    text = "".join(a for _, a in _draws("ru"))
    assert "«" in text and "»" in text and "—" in text


def test_japanese_also_gets_technical_punctuation():
    """「，」「．」 (technical and official writing) appear in a share of Japanese lines, never in Chinese."""
    ja = _draws("ja")
    academic = [a for b, a in ja if "，" in a and "、" not in a and "、" in b]
    assert 0.15 * sum("、" in b for b, _ in ja) < len(academic) < 0.6 * sum("、" in b for b, _ in ja)
    assert any("．" in a for _, a in ja) and any("。" in a for a in academic)
    assert not any("．" in a for _, a in _draws("zh-Hans"))


def test_hebrew_gets_the_maqaf_between_hebrew_words_only():
    he = _draws("he")
    joined = [a for _, a in he if "\u05be" in a]
    assert 0.1 * len(he) < len(joined) < 0.5 * len(he)
    for a in joined:  # always between two Hebrew letters
        for i, c in enumerate(a):
            if c == "\u05be":
                assert "\u05d0" <= a[i - 1] <= "\u05ea" and "\u05d0" <= a[i + 1] <= "\u05ea", a
    out = typeset_marks(np.random.default_rng(1), "ABC-12 ו-3", "he", _default_allowed("he"))
    assert "\u05be" not in out  # Latin and digit hyphens stay hyphens
    assert not any("\u05be" in a for _, a in _draws("ar"))


def test_same_seed_same_output():
    assert _draws("ko", 50, seed=9) == _draws("ko", 50, seed=9)
    assert _draws("ko", 50, seed=9) != _draws("ko", 50, seed=10)


def test_hebrew_gershayim_inside_a_word_is_kept():
    allowed = _default_allowed("he")
    kept = 0
    for seed in range(40):
        out = typeset_marks(np.random.default_rng(seed), 'צה"ל אמר "שלום" לכולם', "he", allowed)
        assert 'צה"ל' in out
        kept += "שלום" in out
    assert kept == 40


def test_straight_quotes_become_pairs():
    allowed = _default_allowed("en")
    seen = set()
    for seed in range(60):
        out = typeset_marks(np.random.default_rng(seed), 'He said "yes" and left.', "en", allowed)
        for o, c in (("“", "”"), ("‘", "’")):
            if o + "yes" + c in out:
                seen.add(o)
    assert seen == {"“", "‘"}


def test_line_crops_with_marks_pass_the_label_checks():
    cfg = SynthConfig(seed=3, languages=("en", "ru"), typeset_marks=1.0)
    res = Resources(cfg)
    labels = []
    for i in range(40):
        try:  # label checks run on every crop (cfg.check); a crop that fails one is Rejected
            s = generate_line(cfg, res, i)
        except Rejected:
            continue
        assert s.line.text == " ".join(w.text for w in s.line.words)
        labels.append(s.line.text)
    assert len(labels) >= 30
    marks = set("’“”«»„–—•\\{}…§°×")
    assert sum(bool(marks & set(t)) for t in labels) >= len(labels) // 3
    plain = []
    for i in range(40):
        try:
            plain.append(generate_line(replace(cfg, typeset_marks=0.0), res, i).line.text)
        except Rejected:
            continue
    assert len(plain) >= 30 and not any("\\" in t or "{" in t for t in plain)
