import pytest

from polyocr.eval.metrics import cer, edit_distance, ned, normalize


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("日本語", "日本") == 1


def test_ned_and_cer():
    assert ned("abc", "abc") == 0.0
    assert ned("", "") == 0.0
    assert ned("abd", "abc") == pytest.approx(1 / 3)
    assert cer("ab", "abcd") == pytest.approx(0.5)
    assert ned("ab", "abcd") == pytest.approx(0.5)
    assert cer("x", "") == 1.0


def test_normalisation_rules():
    assert normalize("ＡＢＣ  d\u200f") == "ABC d"          # NFKC, bidi mark dropped, spaces collapsed
    assert normalize("日 本 語", "remove") == "日本語"
    assert ned("日 本語", "日本 語", whitespace="remove") == 0.0
    assert normalize("عـربي") == "عربي"                   # tatweel is decoration
    with pytest.raises(ValueError):
        normalize("x", "squash")
