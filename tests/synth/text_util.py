"""Text sources shared by the text and field tests: one TextSource per (lang, mode, split) per session.

Every test runs on the fallback path (wordfreq + Faker only, forced with ``fallback=True``) and, where
the shared corpus exists on this machine, on the corpus path too (``MODES``).
"""

from __future__ import annotations

import pytest

from polyocr.languages import shared_dir
from polyocr.synth.text import TextSource

LANGS = ["en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "ar", "he"]
_ROOT = shared_dir()
HAS_CORPUS = _ROOT is not None and (_ROOT / "data" / "corpus" / "en.txt").is_file()
MODES = ["fallback", pytest.param("corpus", marks=pytest.mark.skipif(not HAS_CORPUS, reason="no shared corpus"))]

_SOURCES: dict[tuple[str, str, str], TextSource] = {}


def src(lang: str, mode: str, split: str = "train") -> TextSource:
    """One TextSource per (lang, mode, split) for the whole session (loading is the slow part)."""
    key = (lang, mode, split)
    if key not in _SOURCES:
        ts = TextSource(lang, split=split, fallback=(mode == "fallback"))
        assert ts.mode == mode
        _SOURCES[key] = ts
    return _SOURCES[key]


def bad_chars(texts: list[str], allowed: frozenset[str]) -> set[str]:
    return {c for t in texts for c in t if c not in allowed}
