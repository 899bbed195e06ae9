"""Read a line again with only the characters its language writes, once the page's language is known.

The unified recogniser chooses among 12.8K classes in every frame, so on an unseen font it sometimes
picks a look-alike from another script: a Cyrillic и inside an English word, kana or Hangul inside a
Chinese line, a Traditional form on a Simplified page. Nothing in one line's pixels forbids that; the
page does. After language identification (:mod:`polyocr.pipeline.language`) each line is decoded
again (:func:`polyocr.pipeline.recognize.redecode`) from each frame's K best classes, admitting:

* digits, punctuation and symbols (no script), Latin (every language's text carries it), and the
  scripts of the line's language (ja: kana + Han, ko: Hangul + Han, zh: Han, ru: Cyrillic, ...);
* any script that makes up at least half the letters of one of the line's words (two letters or more
  of a script the page hardly writes, :func:`page_scripts`), so a real Russian word or a "(北京)" in
  an English line stays as read, while a lone 一 read for a dash in a Russian line does not;
* on a page whose Han characters decisively say Simplified (or Traditional), not the other
  standard's own forms on its Chinese lines (decided per page: one line has too few such characters).

A line takes the page's main language for this when its own label rests on a minority of its letters
(a Chinese line misread with three kana is not Japanese). Measured on held-out synthetic lines with the
language known: mean NED 0.181 → 0.175 (en 0.103 → 0.087, zh-Hans 0.274 → 0.254, he 0.121 → 0.115).
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from polyocr.charset import Charset
from polyocr.pipeline.language import han_variant, rtl_block, script_of
from polyocr.pipeline.recognize import LineReading, redecode

__all__ = ["LANG_SCRIPTS", "bound_script", "constraint_language", "line_scripts", "page_scripts", "page_variant", "allowed_classes", "page_constraints", "constrain_page"]

LANG_SCRIPTS: dict[str, frozenset[str]] = {
    "en": frozenset({"latin"}), "ru": frozenset({"latin", "cyrillic"}), "ar": frozenset({"latin", "arabic"}),
    "he": frozenset({"latin", "hebrew"}), "ko": frozenset({"latin", "hangul", "han"}),
    "ja": frozenset({"latin", "kana", "han"}), "zh-Hans": frozenset({"latin", "han"}),
    "zh-Hant": frozenset({"latin", "han"}),
}
# The script that tells a line is in this language rather than in the page's main one.
_DISTINCT = {"en": "latin", "ru": "cyrillic", "ar": "arabic", "he": "hebrew", "ko": "hangul", "ja": "kana",
             "zh-Hans": "han", "zh-Hant": "han"}
MIN_OWN_SHARE = 0.3          # of a line's letters in its language's distinctive script, to keep its label
MIN_WORD_SHARE = 0.5         # of a word's letters, for a foreign script to be admitted on that line
# A script the page hardly writes (fewer letters than this share of the page's, or this count) is a
# stray: a line keeps a label in it on STRAY_LINE_LETTERS letters, a word admits it on STRAY_WORD_LETTERS.
STRAY_SHARE, STRAY_COUNT = 0.02, 10
STRAY_LINE_LETTERS, STRAY_WORD_LETTERS = 3, 2
VARIANT_MIN_VOTES, VARIANT_RATIO = 8, 3.0


def page_scripts(texts: Sequence[str]) -> frozenset[str]:
    """The scripts a page writes: each with at least :data:`STRAY_SHARE` of its letters and
    :data:`STRAY_COUNT` of them. The others are strays: one or two letters in a script the page does
    not write (子, ロ or ي on an English page, 우국 on an Arabic one, a lone 一 read for a dash in a
    Russian line) are mostly specks, bullets or a piece of a word in an unseen font, read as the
    nearest glyph of any script. A Japanese form whose many Latin lines make English its main
    language still writes Han and kana, so its one-letter names (林) stay."""
    counts = Counter(s for t in texts for s in map(script_of, t) if s)
    total = sum(counts.values())
    return frozenset(s for s, n in counts.items() if n >= max(STRAY_COUNT, STRAY_SHARE * total))


def constraint_language(text: str, lang: str, main: str, written: frozenset[str] | None = None) -> str:
    """The language whose characters the line is decoded with: its own label, unless that label
    rests on less than :data:`MIN_OWN_SHARE` of its letters, or, where the page does not write the
    label's script (``written``: :func:`page_scripts`; None: every script), on fewer than three
    letters of the language's own scripts; then the page's main language."""
    if lang == main or lang not in _DISTINCT:
        return lang if lang in LANG_SCRIPTS else main
    letters = [s for s in map(script_of, text) if s]
    if not letters:
        return main
    own = sum(1 for s in letters if s == _DISTINCT[lang])
    if own < MIN_OWN_SHARE * len(letters):
        return main
    if written is not None and _DISTINCT[lang] not in written:
        scripts = LANG_SCRIPTS[lang] - {"latin"}
        if sum(1 for s in letters if s in scripts) < STRAY_LINE_LETTERS:
            return main
    return lang


def line_scripts(text: str, lang: str, written: frozenset[str] | None = None) -> frozenset[str]:
    """Scripts admitted on a line of language ``lang`` whose first reading is ``text``: a word's
    script where it holds half the word's letters, and two or more of them if the page does not
    write it (``written``; None: every script)."""
    scripts = set(LANG_SCRIPTS.get(lang, frozenset()))
    for word in text.split():
        letters = Counter(s for s in map(script_of, word) if s)
        total = sum(letters.values())
        scripts.update(s for s, n in letters.items() if n >= MIN_WORD_SHARE * total
                       and (written is None or s in written or n >= STRAY_WORD_LETTERS))
    return frozenset(scripts)


def page_variant(texts: Sequence[str]) -> str:
    """'hans' or 'hant' when the page's Han characters decisively say so, else ''."""
    votes = Counter(han_variant(c) for t in texts for c in t if script_of(c) == "han")
    hans, hant = votes["hans"], votes["hant"]
    if max(hans, hant) < VARIANT_MIN_VOTES:
        return ""
    if hans >= VARIANT_RATIO * hant:
        return "hans"
    if hant >= VARIANT_RATIO * hans:
        return "hant"
    return ""


_CHARS: dict[str, tuple[str, ...]] = {}
_ALLOWED: dict[tuple[str, frozenset[str], str], np.ndarray] = {}


def bound_script(ch: str) -> str:
    """The script a character belongs to for admission: its letters' script (:func:`script_of`), and
    for the marks only one script's text uses, that script too: Arabic-Indic digits and Arabic
    punctuation (٠ is a dot, ٢ a hook: on a Chinese page they are a misread "." or "r"), Hebrew points,
    geresh, gershayim and maqaf. Western digits and common punctuation belong to none."""
    return script_of(ch) or rtl_block(ch)


def allowed_classes(charset: Charset, scripts: frozenset[str], drop_variant: str = "",
                    page: frozenset[str] | None = None) -> np.ndarray:
    """A bool per class: may a line restricted to ``scripts`` (minus ``drop_variant`` Han forms) emit it.
    A digit or mark bound to one script (:func:`bound_script`) is admitted with that script, or where
    the ``page`` writes it (an English line on an Arabic page may hold ١٢٣); ``page=None``: always.
    Cached per (charset, scripts, variant, page): a page asks for the same few masks on every line."""
    key = (charset.sha256, scripts, drop_variant, page)
    ok = _ALLOWED.get(key)
    if ok is None:
        if charset.sha256 not in _CHARS:
            _CHARS[charset.sha256] = tuple(charset.decode([i]) if i else "" for i in range(len(charset)))
        chars = _CHARS[charset.sha256]
        ok = np.zeros(len(chars), bool)
        for i, ch in enumerate(chars):
            s = script_of(ch[0]) if ch else ""
            if not s:                        # no letter: a digit or mark, bound to a script or to none
                b = bound_script(ch[0]) if ch else ""
                ok[i] = not b or page is None or b in scripts or b in page
                continue
            ok[i] = s in scripts and not (s == "han" and drop_variant and han_variant(ch[0]) == drop_variant)
        ok[0] = True                                                 # blank
        _ALLOWED[key] = ok
    return ok


def page_constraints(readings: Sequence[LineReading], langs: Sequence[str], main: str,
                     charset: Charset) -> list[tuple[str, np.ndarray]]:
    """(constraint language, admitted classes) for every line of a page."""
    variant = page_variant([r.line.text for r, lang in zip(readings, langs) if lang in ("zh-Hans", "zh-Hant")])
    written = page_scripts([r.line.text for r in readings])
    out = []
    for r, lang in zip(readings, langs):
        clang = constraint_language(r.line.text, lang, main, written)
        drop = {"hans": "hant", "hant": "hans"}.get(variant, "") if clang in ("zh-Hans", "zh-Hant") else ""
        out.append((clang, allowed_classes(charset, line_scripts(r.line.text, clang, written), drop, written)))
    return out


def constrain_page(readings: Sequence[LineReading], langs: Sequence[str], main: str, charset: Charset,
                   constraints: Sequence[tuple[str, np.ndarray]] | None = None
                   ) -> tuple[list[LineReading], list[str]]:
    """Every line of a page decoded again with its language's characters; returns readings and labels.
    ``constraints``: :func:`page_constraints` of these lines, when the caller has them already."""
    if constraints is None:
        constraints = page_constraints(readings, langs, main, charset)
    out_r, out_l = [], []
    for r, lang, (clang, ok) in zip(readings, langs, constraints):
        if r.alt_ids is not None and not all(ok[i] for i in charset.encode(r.visual)[0]):
            r = redecode(r, ok, charset)
            lang = clang
        out_r.append(r)
        out_l.append(lang)
    return out_r, out_l
