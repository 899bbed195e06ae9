"""Which of the eight languages a recognised line is in, from its characters.

One unified model reads every line, so the language is a label we derive afterwards, not a choice
made before reading. Scripts settle most cases: Hangul → ko, kana → ja, Arabic → ar, Hebrew → he,
Cyrillic → ru. Han-only text is told apart by the national standards Python's codecs know:
characters only GB2312 has are Simplified, characters only Big5 has are Traditional. Latin-only
lines are English unless the page's other lines say otherwise (a Latin product name inside a
Korean document is labelled Korean by :func:`page_languages`).
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Sequence

__all__ = ["script_of", "rtl_block", "han_variant", "line_language", "page_languages"]


@functools.lru_cache(maxsize=65536)
def script_of(ch: str) -> str:
    """Coarse script class: latin, cyrillic, arabic, hebrew, hangul, kana, han, or '' (digits, punctuation)."""
    o = ord(ch)
    if ch.isascii():
        return "latin" if ch.isalpha() else ""
    if 0x0400 <= o <= 0x052F:
        return "cyrillic"
    rtl = rtl_block(ch)
    if rtl:
        return rtl if ch.isalpha() else ""
    if 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
        return "hangul"
    if 0x3040 <= o <= 0x30FF or 0x31F0 <= o <= 0x31FF or 0xFF66 <= o <= 0xFF9D:
        return "kana"
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if 0x00C0 <= o <= 0x024F:
        return "latin"
    return ""


def rtl_block(ch: str) -> str:
    """'arabic' or 'hebrew' for any character of those scripts' Unicode blocks (letters, digits,
    points, punctuation), else ''."""
    o = ord(ch)
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFDFF or 0xFE70 <= o <= 0xFEFF:
        return "arabic"
    if 0x0590 <= o <= 0x05FF or 0xFB1D <= o <= 0xFB4F:
        return "hebrew"
    return ""


@functools.lru_cache(maxsize=65536)
def han_variant(ch: str) -> str:
    """'hans' if only GB2312 encodes it, 'hant' if only Big5 does, '' if both or neither."""
    def has(codec: str) -> bool:
        try:
            ch.encode(codec)
            return True
        except UnicodeEncodeError:
            return False
    gb, big5 = has("gb2312"), has("big5")
    return "hans" if gb and not big5 else "hant" if big5 and not gb else ""


def _han_language(text: str, default: str = "zh-Hans") -> str:
    votes = Counter(han_variant(c) for c in text if script_of(c) == "han")
    votes.pop("", None)
    if not votes:
        return default
    return "zh-Hant" if votes["hant"] > votes["hans"] else "zh-Hans"


def line_language(text: str, default: str = "en") -> str:
    """Best guess for one line; ``default`` when the line has no letters (digits, punctuation)."""
    counts = Counter(script_of(c) for c in text)
    counts.pop("", None)
    if not counts:
        return default
    if counts["hangul"]:
        return "ko"
    if counts["kana"]:
        return "ja"
    top = counts.most_common(1)[0][0]
    if top == "han" or (counts["han"] and counts["han"] >= counts["latin"]):
        return _han_language(text, "zh-Hant" if default == "zh-Hant" else "zh-Hans")
    return {"latin": "en", "cyrillic": "ru", "arabic": "ar", "hebrew": "he"}.get(top, default)


KANA_SHARE = 0.02   # kana among a page's kana + Han letters that make it Japanese (with kana on 2+ lines)


def _kana_page(texts: Sequence[str]) -> bool:
    """Kana on at least two lines and at least KANA_SHARE of the kana + Han letters.

    Japanese prose is about two thirds kana, but a Japanese form or slide is mostly Han-only labels
    and names: three of ten generated Japanese pages had 4-7 % kana and were read as Chinese (with
    Chinese characters and Chinese language models). Chinese pages, generated and real, had at
    most 0.5 % (stray misreadings)."""
    kana = han = kana_lines = 0
    for t in texts:
        k = sum(1 for c in t if script_of(c) == "kana")
        kana += k
        han += sum(1 for c in t if script_of(c) == "han")
        kana_lines += k > 0
    return kana_lines >= 2 and kana >= KANA_SHARE * (kana + han)


def page_languages(texts: Sequence[str], hints: Sequence[str] = ()) -> tuple[list[str], str]:
    """Per-line languages and the page's main language.

    Lines without a decisive script (numbers, Latin names) take the page's main language when that
    language's documents routinely carry them; Han lines on a Japanese page are Japanese."""
    langs = [line_language(t) for t in texts]
    weight = Counter()
    for t, lang in zip(texts, langs):
        weight[lang] += sum(1 for c in t if script_of(c))
    if hints:
        allowed = [h for h in hints if h in weight] or list(hints)
        main = max(allowed, key=lambda h: weight.get(h, 0))
    else:
        main = weight.most_common(1)[0][0] if weight else "en"
    # Simplified vs Traditional is decided per page: a short line has too few distinguishing characters.
    han_page = "".join(t for t, lang in zip(texts, langs) if lang in ("zh-Hans", "zh-Hant"))
    page_han = _han_language(han_page) if han_page else ""
    if main in ("zh-Hans", "zh-Hant") and page_han:
        main = page_han
    if page_han and _kana_page(texts):
        # a Japanese form or slide: mostly Han-only labels and names, kana in a few lines
        page_han = "ja"
        if main in ("zh-Hans", "zh-Hant"):
            main = "ja"
    out = []
    for t, lang in zip(texts, langs):
        letters = [script_of(c) for c in t if script_of(c)]
        if lang in ("zh-Hans", "zh-Hant"):
            lang = "ja" if main == "ja" else (page_han or lang)
        elif not letters or (lang == "en" and main != "en") or (len(letters) <= 2 and lang != main):
            # one or two letters of another script (a stray fragment read as "№о" or "إ" on a
            # Japanese page) are too little evidence against the whole page
            lang = main
        out.append(lang)
    return out, main
