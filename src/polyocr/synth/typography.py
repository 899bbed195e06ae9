"""Typographic marks that typeset documents use and the text corpora rarely contain.

The corpora are plain web text: straight quotes and hyphens, almost no bullets, no markup. Typeset
pages (books, manuals, papers) use curly or guillemet quotes, en and em dashes, list bullets,
ellipses, section and degree signs, and technical text shows backslashes, braces and brackets. In
400K training lines the recogniser had seen a backslash 0 times, ``}`` never, ``’`` 13 times per
20K lines and ``•`` twice; on real pages it read ``\\`` as ``l``, ``{}`` as ``()`` and ``’`` as ``'``.
:func:`typeset_marks` rewrites a line with those marks in each language's own conventions.

Every function takes an explicit ``numpy.random.Generator``; output is NFC and only uses ``allowed``.
"""

from __future__ import annotations

import re

import numpy as np

from polyocr.synth.charsets import _sanitize

__all__ = ["typeset_marks", "QUOTES"]

# (open, close) pairs per language, most common first; each language's own usage
QUOTES: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("“", "”"), ("‘", "’"), ('"', '"')),
    "ru": (("«", "»"), ("„", "“"), ("“", "”")),
    "he": (('"', '"'), ("”", "”"), ("„", "”"), ("'", "'")),
    "ar": (("«", "»"), ('"', '"'), ("“", "”")),
    "zh-Hans": (("“", "”"), ("‘", "’"), ("《", "》")),
    "zh-Hant": (("「", "」"), ("『", "』"), ("“", "”")),
    "ja": (("「", "」"), ("『", "』"), ("“", "”")),
    "ko": (("“", "”"), ("‘", "’"), ("「", "」")),
}
_CJK = ("zh-Hans", "zh-Hant", "ja")
_BULLETS = ("• ", "– ", "— ", "· ", "* ", "- ", "▪ ", "○ ", "● ", "■ ", "□ ", "→ ", "✓ ")
_SYMBOLS = ("§ {n}", "{n} °C", "{n}°", "{n} × {m}", "± {n}", "{n}–{m}", "→", "…", "№ {n}", "{n} ‰",
            "© {y}", "®", "™", "{n}′", "{n}″", "½", "¼", "≈ {n}", "≤ {n}", "≥ {n}", "€{n}", "£{n}", "¥{n}")
# markup around a word w: LaTeX, shell, programming, templating
_MARKUP = ("\\textbf{{{w}}}", "\\emph{{{w}}}", "\\{w}", "\\{w}{{{v}}}", "{{{w}}}", "[{w}]", "<{w}>", "</{w}>",
           "`{w}`", "{w}_{v}", "${w}$", "|{w}|", "~/{w}/{v}", "C:\\{w}\\{v}", "{w}::{v}", "{w}->{v}",
           "#{w}", "@{w}", "{w}[{n}]", "{w}({v})", "{{{w}: {n}}}", "%{w}", "&{w};", "{w}^{n}", "\\\\")


def _curly_quotes(rng: np.random.Generator, text: str, lang: str) -> str:
    """Straight quotes in the text become the language's pairs; English apostrophes become ’."""
    pairs = QUOTES.get(lang, QUOTES["en"])
    o, c = pairs[int(rng.integers(len(pairs)))]
    if lang == "en" and rng.random() < 0.8:
        text = re.sub(r"(?<=[A-Za-z])'(?=[A-Za-z])", "’", text)
    # a " between two letters is a Hebrew gershayim (ה"א) or a typo: left alone
    marks = [m.start() for m in re.finditer('"', text)
             if not (0 < m.start() < len(text) - 1 and text[m.start() - 1].isalpha() and text[m.start() + 1].isalpha())]
    out = list(text)
    for k, pos in enumerate(marks[:len(marks) // 2 * 2]):
        out[pos] = o if k % 2 == 0 else c
    return "".join(out)


def _quote_span(rng: np.random.Generator, toks: list[str], lang: str) -> list[str]:
    """Put one to three consecutive tokens in quotes."""
    if not toks:
        return toks
    pairs = QUOTES.get(lang, QUOTES["en"])
    o, c = pairs[int(rng.integers(len(pairs)))]
    words = [k for k, t in enumerate(toks) if any(ch.isalnum() for ch in t)]
    if not words:
        return toks
    i = words[int(rng.integers(len(words)))]
    j = min(len(toks), i + int(rng.integers(1, 4)))
    while j - 1 > i and not any(ch.isalnum() for ch in toks[j - 1]):
        j -= 1
    toks = list(toks)
    toks[i] = o + toks[i]
    toks[j - 1] = toks[j - 1] + c
    return toks


def _dashes(rng: np.random.Generator, text: str, lang: str) -> str:
    """Spaced hyphens become en or em dashes; number ranges take an en dash; sometimes a dash clause."""
    dash = "—" if lang in ("ru", "he") or rng.random() < 0.5 else "–"
    text = text.replace(" - ", f" {dash} ")
    text = re.sub(r"(?<=\d)-(?=\d)", "–", text)
    if " " in text and rng.random() < 0.5:
        toks = text.split(" ")
        i = int(rng.integers(1, len(toks)))
        spaced = lang != "en" or rng.random() < 0.4
        if toks[i - 1] in "–—" or toks[i] in "–—":
            pass
        elif spaced:
            toks.insert(i, dash)
        else:
            toks[i - 1] = toks[i - 1] + "—" + toks[i]
            del toks[i]
        text = " ".join(toks)
    elif lang in _CJK and len(text) > 2 and rng.random() < 0.5:
        i = int(rng.integers(1, len(text)))
        text = text[:i] + ("——" if lang != "ja" else "―") + text[i:]
    return text


def _symbol(rng: np.random.Generator) -> str:
    pat = _SYMBOLS[int(rng.integers(len(_SYMBOLS)))]
    return pat.format(n=int(rng.integers(1, 100)), m=int(rng.integers(100, 1000)), y=int(rng.integers(1990, 2027)))


def _markup(rng: np.random.Generator, w: str, v: str) -> str:
    pat = _MARKUP[int(rng.integers(len(_MARKUP)))]
    return pat.format(w=w, v=v, n=int(rng.integers(0, 64)))


def _ja_academic(rng: np.random.Generator, text: str) -> str:
    """Japanese technical and official writing punctuates with full-width comma and full stop
    (「，」「．」, or 「，」 with 「。」) instead of 「、」「。」. The corpora never do (0 「．」 in the ja
    corpus), and on real manuals the recogniser read every 「．」 as 「。」 or 「、」."""
    text = text.replace("、", "，")
    return text.replace("。", "．") if rng.random() < 0.7 else text


_HEBREW_LETTER = "[\u05d0-\u05ea]"


def _he_maqaf(rng: np.random.Generator, text: str) -> str:
    """Formal Hebrew typesetting joins a short word to the next with the maqaf 「־」 (כל־, על־ידי, בית־ספר)
    and writes it for a hyphen between Hebrew letters. The corpus has 34 in 594K characters; a
    niqqud-less book on realdev has 65 in 21K, which the recogniser read as "-"."""
    text = re.sub(f"(?<={_HEBREW_LETTER})-(?={_HEBREW_LETTER})", "\u05be", text)
    toks = text.split(" ")
    for i in range(len(toks) - 1):
        a, b = toks[i], toks[i + 1]
        if (a and b and 1 <= len(a) <= 3 and re.fullmatch(f"{_HEBREW_LETTER}+", a) and re.match(_HEBREW_LETTER, b)
                and rng.random() < 0.35):
            toks[i], toks[i + 1] = "", a + "\u05be" + b
    return " ".join(t for t in toks if t)


def typeset_marks(rng: np.random.Generator, text: str, lang: str, allowed: frozenset[str]) -> str:
    """Rewrite ``text`` with the marks of typeset documents: curly/guillemet quotes, dashes, a list
    bullet or number, symbols, for Latin words markup (LaTeX commands, braces, paths, tags), for
    Japanese the full-width comma and full stop of technical writing, and for Hebrew the maqaf. Each kind is drawn
    independently; characters outside ``allowed`` are dropped."""
    if not text:
        return text
    if lang == "ja" and rng.random() < 0.35:
        text = _ja_academic(rng, text)
    if lang == "he" and rng.random() < 0.35:
        text = _he_maqaf(rng, text)
    if rng.random() < 0.6:
        text = _curly_quotes(rng, text, lang)
    spaced = lang not in _CJK
    toks = text.split(" ") if spaced else [text]
    if spaced and rng.random() < 0.35:
        toks = _quote_span(rng, toks, lang)
    if rng.random() < 0.25:
        toks.insert(int(rng.integers(0, len(toks) + 1)), _symbol(rng))
    if rng.random() < 0.3:
        latin = [i for i, t in enumerate(toks) if t.isascii() and t.isalpha()]
        v = ("x", "y", "i", "n", "data", "cm", "1", "src", "tmp")[int(rng.integers(9))]
        if latin and rng.random() < 0.5:  # a word of the line takes the markup
            i = latin[int(rng.integers(len(latin)))]
            toks[i] = _markup(rng, toks[i], v)
        else:
            words = [toks[i] for i in latin] or ["section", "item", "x", "id", "value", "begin", "end", "path"]
            m = _markup(rng, words[int(rng.integers(len(words)))], v)
            toks.insert(int(rng.integers(0, len(toks) + 1)), m)
    text = (" " if spaced else "").join(toks)
    if rng.random() < 0.4:
        text = _dashes(rng, text, lang)
    if rng.random() < 0.15:
        text = text.rstrip(".。") + ("…" if rng.random() < 0.7 else "...")
    if rng.random() < 0.2:
        r = rng.random()
        if r < 0.6:
            lead = _BULLETS[int(rng.integers(len(_BULLETS)))]
        elif r < 0.8:
            lead = f"{int(rng.integers(1, 30))}{')' if rng.random() < 0.5 else '.'} "
        else:
            lead = f"({'abcdefghij'[int(rng.integers(10))]}) "
        text = lead + text
    return _sanitize(text, allowed)
