"""Build the per-language character n-gram models (``polyocr train lm``) from the generator's text.

The text is exactly what the line generator draws from, training split only: the corpus lines of
``<shared>/data/corpus/<lang>.txt`` that the held-out rule keeps for training, or, without the shared
data, sentences the fallback source builds from wordfreq. Held-out lines and evaluation pages are
never counted, so the line and page benchmarks stay fair to the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyocr.languages import LANGUAGES
from polyocr.models.charlm import CharLM, fit, save_lms

__all__ = ["LMConfig", "training_text", "build_lms"]


@dataclass
class LMConfig:
    out: str = "charlm.safetensors"
    languages: tuple[str, ...] = tuple(LANGUAGES)
    order: int = 4
    orders: tuple[tuple[str, int], ...] = ()   # (language, order) overrides: Arabic gains from 5 (BENCHMARKS.md)
    min_count: int = 2                # n-grams (n >= 2) seen fewer times are pruned
    shared: str | None = None         # folder holding data/ (None: the usual search)
    fallback_sentences: int = 20000   # sentences per language when there is no corpus
    wordfreq_sentences: int = 0       # with a corpus: this many wordfreq sentences added (training half)
    seed: int = 0


def training_text(lang: str, cfg: LMConfig) -> tuple[list[str], str]:
    """(lines, source) for one language: the corpus's training split, else fallback sentences."""
    from polyocr.synth.text import TextSource

    ts = TextSource(lang, shared=cfg.shared, split="train")
    rng = np.random.default_rng(cfg.seed)
    if ts.corpus_path is not None and ts.lines:
        source = f"corpus {ts.corpus_path.name} (train split, {len(ts.lines)} lines)"
        if cfg.wordfreq_sentences <= 0:
            return list(ts.lines), source
        # the corpora's registers are narrow (see TextSource): everyday words teach the model that
        # 您 follows 请 more often than 悠 does, as the recogniser's training text now does too
        everyday = TextSource(lang, shared=cfg.shared, split="train", wordfreq_share=1.0)
        extra = [everyday.sentence(rng) for _ in range(cfg.wordfreq_sentences)]
        return list(ts.lines) + extra, f"{source} + {len(extra)} wordfreq sentences"
    return [ts.sentence(rng) for _ in range(cfg.fallback_sentences)], f"fallback sentences ({cfg.fallback_sentences})"


def build_lms(cfg: LMConfig, log=print) -> dict[str, CharLM]:
    """Fit one model per language and write them to ``cfg.out`` (atomically)."""
    models: dict[str, CharLM] = {}
    sources: dict[str, str] = {}
    for lang in cfg.languages:
        t0 = time.time()
        lines, source = training_text(lang, cfg)
        lm = fit(lines, order=dict(cfg.orders).get(lang, cfg.order), min_count=cfg.min_count)
        models[lang] = lm
        sources[lang] = source
        log(f"{lang}: {source}; vocabulary {len(lm.vocab)}, n-grams {[len(k) for k in lm.keys]} "
            f"({time.time() - t0:.1f} s)")
    save_lms(models, Path(cfg.out), info={"order": cfg.order, "orders": dict(cfg.orders), "min_count": cfg.min_count,
                                          "sources": sources})
    return models
