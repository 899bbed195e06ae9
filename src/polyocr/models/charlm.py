"""Character n-gram language models, one per language, for rescoring the recogniser's alternatives.

The line recogniser sees a few dozen pixels per character and no context beyond its receptive field,
so look-alikes it cannot separate from pixels alone (敦/教, 己/已, 종/중, ب/ي) are often settled
by what usually follows what. A small n-gram model over characters carries exactly that and costs
microseconds per query, where a neural language model would cost more than the recogniser.

**Estimate.** Interpolated Witten-Bell, stored in back-off form: for a history ``h`` (the last
``order - 1`` characters, shorter at the start of a line) and a character ``c``::

    P(c | h) = (C(h c) + T(h) · P(c | h')) / (C(h) + T(h))

where ``h'`` drops the oldest character of ``h``, ``C`` counts and ``T(h)`` is the number of distinct
characters seen after ``h``. An n-gram seen in training stores that interpolated value; an unseen one
falls back to ``bow(h) · P(c | h')`` with ``bow(h) = T(h) / (C(h) + T(h))``, which is the same number,
so the model is normalised over its vocabulary. The unigram level is add-½ over the vocabulary plus
one shared "other" slot for characters training never saw (the recogniser's charset has 12.8K classes
and a line may rightly hold a character the corpus lacks).

**Storage** (``charlm.safetensors``): per language, its vocabulary (code points, index 1..V; 0 is the
line start) and, per n-gram length, one sorted ``int64`` key per stored n-gram (the indices packed
oldest first, ``bits`` bits each: just enough for that language's vocabulary, so a 40-letter
alphabet fits n-grams of up to 8 characters in 63 bits while Han vocabularies stop at 4; files
written before the width was stored use 14), a ``float16`` natural-log probability and a
``float16`` log back-off weight. Loading maps the arrays; a query is a ``numpy.searchsorted``, so a
batch of histories × candidates is scored in a few vectorised calls.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from polyocr.fileio import atomic_write

__all__ = ["CharLM", "LMSet", "fit", "BOS", "save_lms", "load_lms"]

BOS = 0                 # vocabulary index of the line start
_KEY_BITS = 63          # an n-gram's key packs its n indices into one non-negative int64
_OLD_SHIFT = 14         # bits per index in files written before the width was stored
MAX_ORDER = 8
FORMAT = "polyocr-charlm"


def index_bits(vocab_size: int) -> int:
    """Bits per character index: enough for 0 (BOS) .. vocab_size."""
    return max(1, int(vocab_size).bit_length())


def max_order(vocab_size: int) -> int:
    """The longest n-gram whose key fits: a small alphabet (Arabic, 160 letters: 8 bits) reaches
    whole words at order 6-7, while a Han vocabulary (13 bits) stops at 4."""
    return min(MAX_ORDER, _KEY_BITS // index_bits(vocab_size))


def _key(grams: np.ndarray, bits: int) -> np.ndarray:
    """(M, n) vocabulary indices, oldest first → (M,) int64 keys (one table per length n)."""
    k = np.zeros(len(grams), dtype=np.int64)
    for j in range(grams.shape[1]):
        k = (k << bits) | grams[:, j].astype(np.int64)
    return k


@dataclass
class CharLM:
    """One language's model. ``keys[n-1]``, ``logp[n-1]`` and ``logbow[n-1]`` hold the stored n-grams
    of length n: sorted keys, log probabilities and log back-off weights (0 where the n-gram was never
    a history)."""

    vocab: np.ndarray                       # (V,) int32 code points; index i + 1 in the model
    order: int
    keys: list[np.ndarray]                  # per length n = 1..order: (M_n,) int64, sorted
    logp: list[np.ndarray]                  # (M_n,) float32
    logbow: list[np.ndarray]                # (M_n,) float32
    unk_logp: float                         # log P of a character outside the vocabulary
    bits: int = _OLD_SHIFT                  # bits per index in the keys

    def __post_init__(self) -> None:
        self._index = {int(cp): i + 1 for i, cp in enumerate(self.vocab.tolist())}

    @property
    def size(self) -> int:
        return sum(len(k) for k in self.keys)

    def encode(self, text: str) -> list[int]:
        """Characters → vocabulary indices; -1 for a character the model never saw."""
        return [self._index.get(ord(c), -1) for c in text]

    def index(self, ch: str) -> int:
        return self._index.get(ord(ch), -1)

    def _lookup(self, n: int, grams: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found, logp, logbow) for (M, n) index arrays; rows with a -1 are never found."""
        keys, lp, lb = self.keys[n - 1], self.logp[n - 1], self.logbow[n - 1]
        zeros = np.zeros(len(grams))
        if not len(keys):
            return np.zeros(len(grams), bool), zeros, zeros
        k = _key(np.where(grams >= 0, grams, 0), self.bits)
        pos = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
        found = (grams >= 0).all(1) & (keys[pos] == k)
        return found, np.where(found, lp[pos], 0.0), np.where(found, lb[pos], 0.0)

    def logprob(self, history: np.ndarray, chars: np.ndarray) -> np.ndarray:
        """Natural-log P(chars[i] | history[i]) for (M, order-1) histories (oldest first; BOS pads the
        start of a line; -1 marks an unknown character, which cuts the history there) and (M,) chars."""
        history = np.asarray(history, dtype=np.int64).reshape(len(chars), -1)[:, -(self.order - 1):] \
            if self.order > 1 else np.zeros((len(chars), 0), np.int64)
        chars = np.asarray(chars, dtype=np.int64)
        m = len(chars)
        # the usable history of each row: characters after its last unknown one
        h = history.shape[1]
        usable = np.full(m, h)
        for j in range(h):
            usable = np.where(history[:, j] < 0, h - 1 - j, usable)
        out = np.zeros(m, np.float64)
        done = np.zeros(m, bool)
        bow = np.zeros(m, np.float64)      # accumulated back-off of the longer histories tried
        for ctx in range(h, -1, -1):       # longest history first
            active = ~done & (usable >= ctx)
            if not active.any():
                continue
            idx = np.where(active)[0]
            grams = np.concatenate([history[idx, h - ctx:], chars[idx, None]], axis=1)
            found, lp, _ = self._lookup(ctx + 1, grams)
            hit = idx[found]
            out[hit] = bow[hit] + lp[found]
            done[hit] = True
            if ctx > 0:
                miss = idx[~found]
                if len(miss):
                    hfound, _, hbow = self._lookup(ctx, history[miss, h - ctx:])
                    bow[miss] += np.where(hfound, hbow, 0.0)
        rest = ~done
        out[rest] = bow[rest] + self.unk_logp
        return out


def fit(lines: Iterable[str], order: int = 4, min_count: int = 2, unigram_alpha: float = 0.5) -> CharLM:
    """Count ``lines`` and build the interpolated Witten-Bell model.

    ``min_count`` prunes n-grams of length >= 2 seen fewer times (their mass goes to the back-off);
    every character of the corpus stays in the vocabulary.
    """
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be 1..{MAX_ORDER}, not {order}")
    chars: Counter[str] = Counter()
    lines = [ln for ln in lines if ln]
    for ln in lines:
        chars.update(ln)
    vocab = np.array(sorted(ord(c) for c in chars), dtype=np.int32)
    bits = index_bits(len(vocab))
    if bits * 2 > _KEY_BITS:
        raise ValueError(f"vocabulary of {len(vocab)} characters is too large for bigram keys")
    order = min(order, max_order(len(vocab)))   # the longest that fits this vocabulary
    counts: list[Counter[tuple[int, ...]]] = [Counter() for _ in range(order)]
    index = {int(cp): i + 1 for i, cp in enumerate(vocab.tolist())}
    pad = (BOS,) * (order - 1)
    for ln in lines:
        seq = pad + tuple(index[ord(c)] for c in ln)
        for i in range(order - 1, len(seq)):
            for n in range(1, order + 1):
                g = seq[i - n + 1:i + 1]
                if n > 1 and BOS in g[1:]:
                    continue  # BOS only leads
                counts[n - 1][g] += 1
    # unigram: add-alpha over the vocabulary + one unknown slot
    total = sum(counts[0].values())
    denom = total + unigram_alpha * (len(vocab) + 1)
    uni = {g: (c + unigram_alpha) / denom for g, c in counts[0].items()}
    unk_p = unigram_alpha / denom
    uni[(BOS,)] = unk_p   # only ever a history; stored so its back-off weight has a row
    probs: list[dict[tuple[int, ...], float]] = [uni]
    bows: list[dict[tuple[int, ...], float]] = [dict() for _ in range(order)]

    def lower(g: tuple[int, ...]) -> float:
        """P(g[-1] | g[:-1]) by the already built lower orders (back-off for unseen)."""
        n = len(g)
        if n == 1:
            return uni.get(g, unk_p)
        p = probs[n - 1].get(g)
        if p is not None:
            return p
        return bows[n - 2].get(g[:-1], 1.0) * lower(g[1:])

    for n in range(2, order + 1):
        kept = {g: c for g, c in counts[n - 1].items() if c >= min_count}
        hist_total: Counter[tuple[int, ...]] = Counter()
        hist_types: Counter[tuple[int, ...]] = Counter()
        for g, c in counts[n - 1].items():   # totals over ALL counts, pruned or not
            hist_total[g[:-1]] += c
            hist_types[g[:-1]] += 1
        level: dict[tuple[int, ...], float] = {}
        for g, c in kept.items():
            h = g[:-1]
            ct, t = hist_total[h], hist_types[h]
            level[g] = (c + t * lower(g[1:])) / (ct + t)
        probs.append(level)
        # back-off weight of each history: the mass its stored continuations leave, spread over the
        # lower-order distribution of the rest (exactly normalised)
        kept_mass: dict[tuple[int, ...], float] = {}
        kept_lower: dict[tuple[int, ...], float] = {}
        for g, p in level.items():
            h = g[:-1]
            kept_mass[h] = kept_mass.get(h, 0.0) + p
            kept_lower[h] = kept_lower.get(h, 0.0) + lower(g[1:])
        for h in hist_total:
            if h in kept_mass:
                b = max(1e-9, 1.0 - kept_mass[h]) / max(1e-9, 1.0 - kept_lower[h])
            else:
                b = 1.0
            bows[n - 2][h] = b
    keys, logp, logbow = [], [], []
    for n in range(1, order + 1):
        grams = list(probs[n - 1])
        if not grams:
            keys.append(np.zeros(0, np.int64)); logp.append(np.zeros(0, np.float32)); logbow.append(np.zeros(0, np.float32))
            continue
        arr = np.array(grams, dtype=np.int64).reshape(len(grams), n)
        k = _key(arr, bits)
        order_ix = np.argsort(k)
        lp = np.log(np.array([probs[n - 1][g] for g in grams]))
        lb = np.log(np.array([bows[n - 1].get(g, 1.0) if n < order else 1.0 for g in grams]))
        keys.append(k[order_ix]); logp.append(lp[order_ix].astype(np.float32)); logbow.append(lb[order_ix].astype(np.float32))
    # A pruned history has no stored continuation (C(h c) <= C(h) < min_count), so b = 1 is exact
    # for its back-off mass: those lines use the lower order, still normalised.
    return CharLM(vocab=vocab, order=order, keys=keys, logp=logp, logbow=logbow, unk_logp=float(np.log(unk_p)),
                  bits=bits)


class LMSet:
    """The per-language models of one ``charlm.safetensors``; each is loaded on first use."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from safetensors.numpy import safe_open  # type: ignore[attr-defined]

        self.path = Path(path)
        self._file = safe_open(str(self.path), framework="np")
        meta = self._file.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{self.path}: not a polyocr character LM (format={meta.get('format')!r})")
        self.info: dict = json.loads(meta.get("info", "{}"))
        self.languages: tuple[str, ...] = tuple(self.info.get("languages", {}))
        self._models: dict[str, CharLM] = {}
        self._lock = threading.Lock()

    def __contains__(self, lang: object) -> bool:
        return lang in self.languages

    def get(self, lang: str) -> CharLM | None:
        if lang not in self.languages:
            return None
        with self._lock:
            lm = self._models.get(lang)
            if lm is None:
                lm = self._models[lang] = _from_tensors(self._file, lang, self.info["languages"][lang])
        return lm


def _from_tensors(f, lang: str, info: dict) -> CharLM:
    order = int(info["order"])
    t = lambda name: f.get_tensor(f"{lang}/{name}")  # noqa: E731
    return CharLM(vocab=t("vocab").astype(np.int32), order=order,
                  keys=[t(f"keys{n}").astype(np.int64) for n in range(1, order + 1)],
                  logp=[t(f"logp{n}").astype(np.float32) for n in range(1, order + 1)],
                  logbow=[t(f"logbow{n}").astype(np.float32) for n in range(1, order + 1)],
                  unk_logp=float(info["unk_logp"]), bits=int(info.get("bits", _OLD_SHIFT)))


def save_lms(models: dict[str, CharLM], path: str | os.PathLike[str], info: dict | None = None) -> Path:
    """Write the models to one safetensors file (fp16 log values), atomically."""
    from safetensors.numpy import save

    tensors: dict[str, np.ndarray] = {}
    langs: dict[str, dict] = {}
    for lang, lm in models.items():
        tensors[f"{lang}/vocab"] = lm.vocab.astype(np.int32)
        for n in range(1, lm.order + 1):
            tensors[f"{lang}/keys{n}"] = lm.keys[n - 1].astype(np.int64)
            tensors[f"{lang}/logp{n}"] = lm.logp[n - 1].astype(np.float16)
            tensors[f"{lang}/logbow{n}"] = lm.logbow[n - 1].astype(np.float16)
        langs[lang] = {"order": lm.order, "bits": lm.bits, "unk_logp": lm.unk_logp, "vocab": int(len(lm.vocab)),
                       "ngrams": [int(len(k)) for k in lm.keys]}
    meta = {"format": FORMAT, "info": json.dumps({**(info or {}), "languages": langs})}
    return atomic_write(path, save(tensors, metadata=meta))


def load_lms(path: str | os.PathLike[str]) -> LMSet:
    return LMSet(path)
