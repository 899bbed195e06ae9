"""Character n-gram models: normalised probabilities, pruning, storage, and the shipped models."""

from __future__ import annotations

import numpy as np
import pytest

from polyocr.models.charlm import BOS, LMSet, fit, index_bits, load_lms, max_order, save_lms
from polyocr.pipeline.rescore import language_models

TEXT = ["the cat sat on the mat", "the dog ate the hat", "a cat and a dog", "that is the cat",
        "then they went home", "this is the end"] * 3


def _total(lm, history: str) -> float:
    """Σ over the vocabulary and the unknown slot of P(c | history)."""
    ids = lm.encode(history)[-(lm.order - 1):]
    h = [BOS] * (lm.order - 1 - len(ids)) + ids
    chars = np.arange(1, len(lm.vocab) + 1)
    p = np.exp(lm.logprob(np.tile(h, (len(chars), 1)), chars)).sum()
    return float(p + np.exp(lm.logprob(np.array([h]), np.array([-1]))[0]))


@pytest.mark.parametrize("order,min_count", [(2, 1), (3, 2), (4, 1), (4, 2)])
def test_every_history_gives_a_distribution(order, min_count):
    lm = fit(TEXT, order=order, min_count=min_count)
    for history in ["", "t", "th", "the ", "zzz", "cat", "q t"]:   # seen, unseen and unknown characters
        assert _total(lm, history) == pytest.approx(1.0, abs=1e-6), history


def test_seen_continuations_beat_unseen_ones_and_pruning_shrinks_the_model():
    full, pruned = fit(TEXT, order=4, min_count=1), fit(TEXT, order=4, min_count=4)
    assert pruned.size < full.size
    h = np.array([full.encode("th")[-3:] if len(full.encode("th")) >= 3 else [BOS] + full.encode("th")])
    e, o = full.index("e"), full.index("o")
    assert full.logprob(h, np.array([e]))[0] > full.logprob(h, np.array([o]))[0] + 1.0
    assert full.index("ж") == -1


def test_save_and_load_round_trip(tmp_path):
    lm = fit(TEXT, order=3, min_count=1)
    path = save_lms({"en": lm}, tmp_path / "lm.safetensors", info={"note": "test"})
    lms = load_lms(path)
    assert "en" in lms and "ko" not in lms and lms.get("ko") is None
    back = lms.get("en")
    rng = np.random.default_rng(0)
    hist = rng.integers(0, len(lm.vocab) + 1, size=(200, 2))
    chars = rng.integers(-1, len(lm.vocab) + 1, size=200)
    assert np.allclose(back.logprob(hist, chars), lm.logprob(hist, chars), atol=0.02)   # fp16 storage
    assert lms.info["note"] == "test" and lms.info["languages"]["en"]["order"] == 3


def test_long_orders_fit_small_alphabets_and_stay_distributions(tmp_path):
    lm = fit(TEXT, order=7, min_count=1)          # 15 characters: 4-bit indices, 7 × 4 bits fit one key
    assert lm.order == 7 and lm.bits == 4 and len(lm.keys[6]) > 0
    for history in ["", "the ca", "zzzzzz", "q t c"]:
        assert _total(lm, history) == pytest.approx(1.0, abs=1e-6), history
    # a 6-gram the text holds is told apart from one it never saw only by its far context
    h6 = lambda s: np.array([lm.encode(s)])                       # noqa: E731
    assert lm.logprob(h6("he ca"), np.array([lm.index("t")]))[0] > lm.logprob(h6("he ca"), np.array([lm.index("m")]))[0]
    back = load_lms(save_lms({"en": lm}, tmp_path / "lm.safetensors")).get("en")
    assert back.order == 7 and back.bits == 4
    rng = np.random.default_rng(0)
    hist = rng.integers(-1, len(lm.vocab) + 1, size=(300, 6))
    chars = rng.integers(-1, len(lm.vocab) + 1, size=300)
    assert np.allclose(back.logprob(hist, chars), lm.logprob(hist, chars), atol=0.02)


def test_a_large_vocabulary_caps_the_order_where_keys_would_overflow():
    han = "".join(chr(0x4E00 + i) for i in range(5000))          # 5,000 characters: 13-bit indices
    lines = [han[i:i + 40] for i in range(0, 5000, 20)]
    assert index_bits(5000) == 13 and max_order(5000) == 4 and max_order(160) == 7
    lm = fit(lines, order=6, min_count=1)
    assert lm.order == 4 and lm.bits == 13
    assert lm.keys[3].max() < 2 ** 63 and _total(lm, han[:3]) == pytest.approx(1.0, abs=1e-6)


def test_files_written_before_the_key_width_was_stored_still_load(tmp_path):
    """Such files packed every index in 14 bits and did not say so."""
    import json

    from safetensors.numpy import save

    from polyocr.models.charlm import FORMAT, _key

    lm = fit(TEXT, order=4, min_count=1)
    tensors, n_grams = {"en/vocab": lm.vocab}, []
    for n in range(1, 5):
        grams = np.array([[(int(k) >> (lm.bits * (n - 1 - j))) & ((1 << lm.bits) - 1) for j in range(n)]
                          for k in lm.keys[n - 1]], np.int64).reshape(-1, n)
        old = _key(grams, 14)
        o = np.argsort(old)
        tensors.update({f"en/keys{n}": old[o], f"en/logp{n}": lm.logp[n - 1][o].astype(np.float16),
                        f"en/logbow{n}": lm.logbow[n - 1][o].astype(np.float16)})
        n_grams.append(len(old))
    info = {"languages": {"en": {"order": 4, "unk_logp": lm.unk_logp, "vocab": len(lm.vocab), "ngrams": n_grams}}}
    (tmp_path / "old.safetensors").write_bytes(save(tensors, metadata={"format": FORMAT, "info": json.dumps(info)}))
    back = load_lms(tmp_path / "old.safetensors").get("en")
    assert back.bits == 14
    rng = np.random.default_rng(1)
    hist = rng.integers(-1, len(lm.vocab) + 1, size=(300, 3))
    chars = rng.integers(-1, len(lm.vocab) + 1, size=300)
    assert np.allclose(back.logprob(hist, chars), lm.logprob(hist, chars), atol=0.02)


def test_a_file_that_is_not_a_language_model_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a polyocr character LM"):
        LMSet(tmp_path / "other.safetensors")


PHRASES = {"en": "the weather is fine today", "zh-Hans": "今天的天气很好，我们去公园散步",
           "zh-Hant": "今天的天氣很好，我們去公園散步", "ja": "今日はとても良い天気ですね",
           "ko": "오늘은 날씨가 아주 좋습니다", "ru": "сегодня очень хорошая погода",
           "ar": "الطقس جميل جدا اليوم", "he": "מזג האוויר יפה מאוד היום"}


@pytest.mark.parametrize("lang", sorted(PHRASES))
def test_shipped_models_prefer_real_text_to_the_same_characters_shuffled(lang):
    lms = language_models()
    assert lms is not None, "src/polyocr/weights/charlm.safetensors is missing"
    lm = lms.get(lang)
    text = PHRASES[lang]
    shuffled = "".join(np.random.default_rng(1).permutation(list(text)))

    def score(s: str) -> float:
        ids = lm.encode(s)
        k = lm.order - 1
        hist = [([BOS] * k + ids[:i])[-k:] for i in range(len(ids))]
        return float(lm.logprob(np.array(hist), np.array(ids)).sum())

    assert score(text) > score(shuffled) + 5.0
