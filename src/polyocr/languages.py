"""The language registry: one row per language; adding a language is one row plus data.

Each row names where its text comes from, which characters it needs, how it is written and how
fonts are filtered for it. Charsets come from ``<shared>/data/charsets/<code>.txt`` when present,
and otherwise from the national standards Python's codecs enumerate (GB2312, Big5, JIS X 0208,
KS X 1001), so the generator also works on a machine without the shared data.
"""

from __future__ import annotations

import functools
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = ["Language", "LANGUAGES", "get_language", "language_codes", "shared_dir", "charset", "codec_chars"]


@dataclass(frozen=True)
class Language:
    code: str                      # BCP-47 tag used everywhere (file names, JSON, CLI)
    name: str
    script: str                    # ISO 15924
    direction: str                 # "ltr" | "rtl"
    writing_modes: tuple[str, ...]  # first is the default
    uses_spaces: bool              # whether words are separated by spaces (word boxes come from spaces)
    wordfreq: str                  # wordfreq language code for the registry-only text fallback
    faker: str                     # Faker locale for names, addresses, companies
    tesseract: str                 # Tesseract language pack (the eval baseline)
    required_gsub: str = ""        # OpenType script tag a font must have in GSUB (Arabic joining)
    font_sample: str = ""          # characters every font for this language must map (beyond charset coverage)


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in [
    Language("en", "English", "Latn", "ltr", ("horizontal-tb",), True, "en", "en_US", "eng",
             font_sample="AZaz09@{}"),
    Language("zh-Hans", "Chinese (Simplified)", "Hans", "ltr", ("horizontal-tb", "vertical-rl"), False, "zh",
             "zh_CN", "chi_sim", font_sample="的是国说这们"),
    Language("zh-Hant", "Chinese (Traditional)", "Hant", "ltr", ("horizontal-tb", "vertical-rl"), False, "zh",
             "zh_TW", "chi_tra", font_sample="的是國說這們"),
    Language("ja", "Japanese", "Jpan", "ltr", ("horizontal-tb", "vertical-rl"), False, "ja", "ja_JP", "jpn",
             font_sample="あいアイ日本語対"),
    Language("ko", "Korean", "Kore", "ltr", ("horizontal-tb",), True, "ko", "ko_KR", "kor",
             font_sample="한국어의는"),
    Language("ru", "Russian", "Cyrl", "ltr", ("horizontal-tb",), True, "ru", "ru_RU", "rus",
             font_sample="АЯаяЁё"),
    Language("ar", "Arabic", "Arab", "rtl", ("horizontal-tb",), True, "ar", "ar_AA", "ara",
             required_gsub="arab", font_sample="ابتثجحخ"),
    Language("he", "Hebrew", "Hebr", "rtl", ("horizontal-tb",), True, "he", "he_IL", "heb",
             font_sample="אבגדהוזת"),
]}


def get_language(code: str) -> Language:
    try:
        return LANGUAGES[code]
    except KeyError:
        raise ValueError(f"unknown language {code!r}; known: {', '.join(LANGUAGES)}") from None


def language_codes() -> list[str]:
    return list(LANGUAGES)


def shared_dir(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The shared data folder (holding ``data/``), or None when it is absent.

    Order: the explicit argument, ``$POLYOCR_SHARED``, then ``../shared`` beside the source checkout
    or beside the current directory.
    """
    if explicit:
        if (Path(explicit) / "data").is_dir():
            return Path(explicit)
        raise FileNotFoundError(f"shared data folder {explicit} has no data/ inside")
    candidates: list[Path] = []
    env = os.environ.get("POLYOCR_SHARED")
    if env:
        candidates.append(Path(env))
    here = Path(__file__).resolve()
    candidates += [here.parents[3] / "shared" if len(here.parents) > 3 else Path("/nonexistent"),
                   Path.cwd().parent / "shared", Path.cwd() / "shared"]
    for c in candidates:
        if (c / "data").is_dir():
            return c
    return None


_ASCII = set(string.digits + string.punctuation)
_CJK_PUNCT = set("、。〈〉《》「」『』【】〔〕！（），．：；？～・ー々〆〇“”‘’…—")


def codec_chars(codec: str, rows: Iterable[int], cols: Iterable[int] = range(0xA1, 0xFF)) -> set[str]:
    """Every single character a double-byte codec decodes in the given lead/trail byte rows."""
    cols = list(cols)
    out: set[str] = set()
    for r in rows:
        for c in cols:
            try:
                ch = bytes([r, c]).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(ch) == 1:
                out.add(ch)
    return out


def _builtin_charset(code: str) -> set[str]:
    """Charset from standards alone, for machines without the shared data."""
    base = set(_ASCII)
    if code == "en":
        return base | set(string.ascii_letters) | set("‘’“”–—…•·°±×÷€£¥§©®™№")
    if code == "ru":
        return base | {chr(c) for c in range(0x410, 0x450)} | set("Ёё«»„“”—–…№")
    if code == "ar":
        return base | {chr(c) for c in range(0x621, 0x63B)} | {chr(c) for c in range(0x640, 0x653)} | \
            {chr(c) for c in range(0x660, 0x66B)} | set("،؛؟«»")
    if code == "he":
        return base | {chr(c) for c in range(0x5D0, 0x5EB)} | set("־׳״")
    if code == "zh-Hans":  # GB2312 level 1: rows 0xB0-0xD7
        return base | _CJK_PUNCT | codec_chars("gb2312", range(0xB0, 0xD8))
    if code == "zh-Hant":  # Big5 level 1: A440-C67E
        big5 = {bytes([r, c]).decode("big5", "ignore") for r in range(0xA4, 0xC7)
                for c in list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF))}
        return base | _CJK_PUNCT | {c for c in big5 if len(c) == 1}
    if code == "ja":  # JIS X 0208 kana rows + level-1 kanji (rows 0xB0-0xCF)
        return base | _CJK_PUNCT | codec_chars("euc_jp", range(0xA4, 0xA6)) | codec_chars("euc_jp", range(0xB0, 0xD0))
    if code == "ko":  # KS X 1001 Hangul rows 0xB0-0xC8
        return base | set("ㆍ≪≫∼") | codec_chars("euc_kr", range(0xB0, 0xC9))
    raise ValueError(f"no built-in charset for {code!r}")


@functools.lru_cache(maxsize=None)
def charset(code: str, shared: str | None = None) -> frozenset[str]:
    """The characters a language's text may contain (space implied)."""
    get_language(code)
    root = shared_dir(shared)
    if root is not None:
        path = root / "data" / "charsets" / f"{code}.txt"
        if path.is_file():
            return frozenset(ln for ln in path.read_text(encoding="utf-8").splitlines() if ln)
    return frozenset(_builtin_charset(code))
