"""The unified charset: the committed file, its builder, encode/decode."""

from __future__ import annotations

import unicodedata

import pytest

from polyocr.charset import BLANK, CHARSET_FILE, SPACE, Charset, build_charset
from polyocr.languages import shared_dir


@pytest.fixture(scope="module")
def cs() -> Charset:
    return Charset.load()


def test_file_is_what_the_builder_makes(cs):
    shared = shared_dir()
    if shared is None or not (shared / "data" / "charsets" / "all.txt").is_file():
        pytest.skip("shared charsets absent: the committed file cannot be rebuilt here")
    assert list(cs.chars) == build_charset(), "charset-v1.txt is stale: regenerate it with polyocr.charset.write_charset()"


def test_covers_the_shared_core_charsets(cs):
    shared = shared_dir()
    if shared is None:
        pytest.skip("no shared data")
    core = {ln for ln in (shared / "data" / "charsets" / "all.txt").read_text(encoding="utf-8").splitlines() if ln}
    assert len(core) == 9993
    assert core <= set(cs.chars)


def test_file_shape(cs):
    chars = cs.chars
    assert 10_000 <= len(chars) <= 13_000
    assert len(set(chars)) == len(chars) and list(chars) == sorted(chars)
    assert all(len(c) == 1 and not c.isspace() and unicodedata.normalize("NFC", c) == c for c in chars)
    # the repertoires named in the design: GB2312 L2, Big5 L1, kana, KS X 1001 hangul, Arabic-Indic digits, Hebrew finals
    samples = [bytes(b).decode(c) for c, b in [("gb2312", (0xD8, 0xA1)), ("gb2312", (0xF7, 0xFE)), ("big5", (0xC6, 0x7E)),
                                               ("euc_jp", (0xCF, 0xD3)), ("euc_kr", (0xC8, 0xFE))]]
    for ch in [*samples, *"あヴ한ё٣ךםןףץ€①"]:
        assert ch in cs, ch
    assert len(cs) == len(chars) + 2 and CHARSET_FILE.name == "charset-v1.txt"


def test_encode_decode_round_trip(cs):
    for text in ["Hello, world 123!", "价格：¥45.50（含税）", "價格與數量", "縦書きの日本語、カタカナ", "한국어 문장입니다.",
                 "Съешь же ещё", "السعر ٤٥٫٥٠ دولار", "מחיר 120 ש״ח ב-2024"]:
        ids, missing = cs.encode(text)
        assert missing == [] and BLANK not in ids
        assert cs.decode(ids) == unicodedata.normalize("NFC", text)


def test_unknown_characters_are_dropped_and_counted():
    cs = Charset.load()
    ids, missing = cs.encode("a☃b\u3000c\tᚠ")
    assert cs.decode(ids) == "ab c "
    assert [cs.decode([i]) for i in ids] == ["a", "b", " ", "c", " "]
    assert missing == ["☃", "ᚠ"] and cs.unknown == {"☃": 1, "ᚠ": 1}
    assert ids[2] == SPACE


def test_nfc_before_lookup(cs):
    decomposed = "e\u0301"  # é as e + combining acute
    ids, missing = cs.encode(decomposed)
    assert missing == [] and cs.decode(ids) == "é"


def test_ctc_collapse(cs):
    a, b = cs.encode("ab")[0]
    assert cs.ctc_collapse([0, a, a, 0, a, b, b, 0]) == [a, a, b]


def test_refuses_another_charset(cs):
    cs.check(cs.sha256)
    with pytest.raises(ValueError, match="charset"):
        cs.check("0" * 64)
