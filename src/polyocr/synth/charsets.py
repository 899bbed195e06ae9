"""Which characters generated text may use, and cleaning text down to them.

A language's allowed set is ``charset(lang) | charset("en") | {" "}`` (English rides along because real
documents mix it in). Shared by :mod:`polyocr.synth.text` (corpus lines, generated sentences) and
:mod:`polyocr.synth.fields` (formatted snippets, mixed-in content), which is why it is its own module.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from polyocr.languages import _builtin_charset, charset, shared_dir

_CJK = ("zh-Hans", "zh-Hant", "ja")          # written without spaces
_LATIN = re.compile(r"[A-Za-z]")


@functools.lru_cache(maxsize=None)
def _allowed_for(lang: str, root: str | None) -> frozenset[str]:
    """``charset(lang) | charset("en") | {" "}``; root None means the built-in (standards-only) charsets."""
    if root is None:
        return frozenset(_builtin_charset(lang)) | frozenset(_builtin_charset("en")) | {" "}
    return charset(lang, root) | charset("en", root) | {" "}


def _default_allowed(lang: str) -> frozenset[str]:
    root = shared_dir()
    return _allowed_for(lang, str(root) if root is not None else None)


@functools.lru_cache(maxsize=None)
def _helpers(allowed: frozenset[str]) -> tuple[re.Pattern[str] | None, str]:
    """Per-charset helpers: a regex for combining marks left without a base, and the punctuation and
    symbol characters to strip from word edges."""
    comb = "".join(sorted(c for c in allowed if unicodedata.combining(c)))
    orphan = re.compile(f"(?:(?<= )|^)[{re.escape(comb)}]+") if comb else None
    punct = "".join(sorted(c for c in allowed if unicodedata.category(c)[0] in "PS"))
    return orphan, punct


def _sanitize(text: str, allowed: frozenset[str]) -> str:
    """NFC, whitespace collapsed, characters outside ``allowed`` removed (for generated snippets)."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if not allowed.issuperset(text):
        text = "".join(c if c in allowed else (" " if c.isspace() else "") for c in text)
        orphan = _helpers(allowed)[0]
        text = " ".join(text.split())
        if orphan is not None:
            text = orphan.sub("", text)
    return " ".join(text.split())


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _has_alnum(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _fits(text: str, allowed: frozenset[str]) -> bool:
    return bool(text) and allowed.issuperset(text)
