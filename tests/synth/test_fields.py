"""Structured fields and mixed-in content: every kind in every language, local formats, mixing, seeding.

Tests parametrized by ``mode`` run on the fallback path and, where the shared corpus exists, on the corpus path.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from polyocr.synth.fields import FIELD_KINDS, mix_content
from text_util import LANGS, MODES, bad_chars, src


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lang", LANGS)
def test_fields_every_kind(lang: str, mode: str) -> None:
    ts = src(lang, mode)
    rng = np.random.default_rng(6)
    for kind in FIELD_KINDS:
        vals = [ts.field(rng, kind) for _ in range(6)]
        assert all(v.strip() for v in vals), kind
        assert not bad_chars(vals, ts.allowed), (kind, vals)
        assert len(set(vals)) > 1 or kind == "key", (kind, vals)
    dates = [ts.field(rng, "date") for _ in range(30)]
    assert all(re.search(r"[0-9\u0660-\u0669]", d) for d in dates), dates
    assert all(re.search(r"[0-9\u0660-\u0669]", ts.field(rng, k)) for k in ("price", "number", "percent", "phone", "id")
               for _ in range(5))
    assert "@" in ts.field(rng, "email") and "://" in ts.field(rng, "url")
    with pytest.raises(ValueError):
        ts.field(rng, "nonsense")


def test_field_formats() -> None:
    rng = np.random.default_rng(9)
    f = lambda lang, kind, n=60: {src(lang, "fallback").field(rng, kind) for _ in range(n)}  # noqa: E731
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", d) for d in f("ja", "date"))
    assert any(re.fullmatch(r"\d{4}년 \d{1,2}월 \d{1,2}일", d) for d in f("ko", "date"))
    assert any(re.fullmatch(r"\d{1,2} марта \d{4} г\.", d) or " г." in d for d in f("ru", "date"))
    assert any(re.search(r"[\u0660-\u0669]", d) for d in f("ar", "date"))
    assert any("ש״ח" in p or "₪" in p for p in f("he", "price"))
    assert any(p.endswith("円") or p.startswith("¥") for p in f("ja", "price"))
    assert any("ر.س" in p or "د.إ" in p for p in f("ar", "price"))


@pytest.mark.parametrize("mode", MODES)
def test_mix_content(mode: str) -> None:
    en = src("en", mode)
    for lang in ("zh-Hans", "ja", "ar", "he", "ru", "ko"):
        ts = src(lang, mode)
        rng = np.random.default_rng(11)
        latin = 0
        for i in range(30):
            text = ts.sentence(rng, 120)
            assert mix_content(rng, text, lang, en, 0.0) == text
            mixed = mix_content(rng, text, lang, en, 1.0, allowed=ts.allowed)
            assert mixed != text and len(mixed) > len(text)
            assert not bad_chars([mixed], ts.allowed)
            latin += len(re.findall(r"[A-Za-z]", mixed)) > len(re.findall(r"[A-Za-z]", text))
            if lang in ("ar", "he", "ru", "ko"):  # spaced scripts: the original words all survive, in order
                words = text.split(" ")
                it = iter(mixed.split(" "))
                assert all(any(w == m for m in it) for w in words)
        assert latin >= 10, (lang, latin)
    # CJK: inserted Latin is sometimes spaced, sometimes glued; never glued onto another ASCII word
    rng = np.random.default_rng(12)
    outs = [mix_content(rng, "我们今天在北京开会，讨论明年的计划。", "zh-Hans", en, 2.0) for _ in range(60)]
    assert any(re.search(r"[\u4e00-\u9fff] [A-Za-z0-9]", o) for o in outs)
    assert any(re.search(r"[\u4e00-\u9fff][A-Za-z]", o) for o in outs)



def test_no_global_random_state() -> None:
    """Faker is seeded per instance; neither Python's nor numpy's global generator is touched."""
    import random

    py, npy = random.getstate(), np.random.get_state()[1].copy()
    rng = np.random.default_rng(13)
    for lang in LANGS:
        ts = src(lang, "fallback")
        for kind in ("name", "address", "company", "phone", "email", "url"):
            ts.field(rng, kind)
        ts.sentence(rng)
        mix_content(rng, ts.sentence(rng), lang, None, 1.0)
    assert random.getstate() == py
    assert (np.random.get_state()[1] == npy).all()
