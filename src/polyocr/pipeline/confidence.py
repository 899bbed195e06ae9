"""Confidences as probabilities: the chance that a word, or a line, was read exactly right.

The recogniser's own score for a word is the geometric mean of its characters' probabilities. It
ranks words fairly well but overstates them: on held-out generated pages the words scored 0.93 on
average and 0.85 were right; lines scored 0.94 and 0.62 were right, Arabic lines 0.85 and 0.21
(BENCHMARKS.md, session 24). A threshold on such a number means something different in every
language and at every length, and Tesseract users have long asked for confidences they can trust.

So the last step of reading a page maps each raw score to a probability with a small logistic
model per unit (word, line) fitted on generated pages in held-out fonts (``polyocr train
confidence``; never the benchmark's pages). Its inputs are what the page model already holds: the
raw score, the number of characters, the language, and for a line its weakest word. The fit lives
in ``weights/confidence.json``; a weights folder without one keeps the raw scores.

Everything inside the pipeline that filters or orders by confidence (the noise floor, the
reading-order features) still sees the raw scores: the mapping is applied once the page is built.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from polyocr.document import Line, Page
from polyocr.pipeline.runtime import optional_weights

__all__ = ["CONFIDENCE_FILE", "WORD_FEATURES", "LINE_FEATURES", "Calibrator", "Calibration", "word_features",
           "line_features", "load_calibration"]

CONFIDENCE_FILE = "confidence.json"
FORMAT = "polyocr-confidence"
FORMAT_VERSION = 1
FLOOR = 1e-4        # raw scores below this are taken as this (log of 0)

WORD_FEATURES = ("log_conf", "chars_x_log_conf")
LINE_FEATURES = ("log_conf", "chars_x_log_conf", "log_chars", "log_min_word_conf", "log_words")


def _chars(text: str) -> int:
    return max(1, sum(not c.isspace() for c in text))


def word_features(confidence: float, text: str) -> list[float]:
    """A word's inputs: its raw score's log, and that times its length: the log of the product of its
    characters' probabilities (the raw score is their geometric mean), so a long word pays for each
    doubtful character. (Its length on its own made the ranking worse on held-out pages.)"""
    lc = math.log(max(FLOOR, confidence))
    return [lc, _chars(text) * lc]


def line_features(line: Line) -> list[float]:
    """A line's inputs: as a word's, plus the log of its weakest word's raw score and of its word count
    (a line is right only if every word is)."""
    lc = math.log(max(FLOOR, line.confidence))
    n = _chars(line.text)
    words = [w.confidence for w in line.words if w.text.strip()]
    weakest = math.log(max(FLOOR, min(words))) if words else lc
    return [lc, n * lc, math.log(n), weakest, math.log(max(1, len(words)))]


@dataclass(frozen=True)
class Calibrator:
    """P(right) = sigmoid(w · features + b), with (w, b) per language; ``models[""]``, fitted on all
    languages together, serves a language without its own."""

    features: tuple[str, ...]
    models: dict[str, tuple[tuple[float, ...], float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "" not in self.models:
            raise ValueError("the models need a default entry (key '')")
        for lang, (w, _) in self.models.items():
            if len(w) != len(self.features):
                raise ValueError(f"{lang or 'default'}: {len(w)} weights for {len(self.features)} features")

    def probability(self, features: Sequence[float], language: str) -> float:
        w, b = self.models.get(language) or self.models[""]
        z = float(np.dot(w, features)) + b
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features),
                "models": {k: {"weights": [round(x, 6) for x in w], "bias": round(b, 6)}
                           for k, (w, b) in sorted(self.models.items())}}

    @classmethod
    def from_dict(cls, d: dict[str, Any], expected: Sequence[str], where: str) -> "Calibrator":
        feats = tuple(d.get("features", ()))
        if feats != tuple(expected):
            raise ValueError(f"{where}: features {list(feats)} are not this version's {list(expected)}; "
                             "refit with `polyocr train confidence`")
        models = {str(k): (tuple(float(x) for x in m["weights"]), float(m["bias"])) for k, m in d["models"].items()}
        return cls(feats, models)


@dataclass(frozen=True)
class Calibration:
    """The word and line mappings, with where they came from (recogniser, pages, scores)."""

    word: Calibrator
    line: Calibrator
    provenance: dict[str, Any] = field(default_factory=dict)

    def line_probabilities(self, line: Line, language: str) -> tuple[float, list[float]]:
        """The chance that ``line`` (scored raw) is right, and each of its words."""
        words = [self.word.probability(word_features(w.confidence, w.text), language) for w in line.words]
        return self.line.probability(line_features(line), language), words

    def apply(self, page: Page) -> Page:
        """Replace every word's and line's raw score on ``page`` by its probability of being right,
        and record the page's expected share of words read right (``meta["expected_word_accuracy"]``:
        their mean; it tracked the actual share at r = 0.78 on generated pages and 0.83 on real ones,
        off by 0.05-0.06 on average: a way to send a batch's doubtful pages to a person)."""
        probs: list[float] = []
        for block in page.blocks:
            for line in block.lines:
                p_line, p_words = self.line_probabilities(line, line.language or block.language or page.language)
                for w, p in zip(line.words, p_words):
                    w.confidence = round(p, 6)
                    if w.text.strip():
                        probs.append(p)
                line.confidence = round(p_line, 6)
        if probs:
            page.meta["expected_word_accuracy"] = round(float(np.mean(probs)), 4)
        return page

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "word": self.word.to_dict(),
                           "line": self.line.to_dict(), "provenance": self.provenance},
                          ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = CONFIDENCE_FILE) -> "Calibration":
        d = json.loads(text)
        if d.get("format") != FORMAT or d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{where}: not a {FORMAT} v{FORMAT_VERSION} file")
        return cls(Calibrator.from_dict(d["word"], WORD_FEATURES, f"{where} (word)"),
                   Calibrator.from_dict(d["line"], LINE_FEATURES, f"{where} (line)"), d.get("provenance", {}))


def _read(path: Path) -> Calibration:
    return Calibration.from_json(path.read_text(encoding="utf-8"), str(path))


def load_calibration(weights: str | os.PathLike[str] | None = None) -> Calibration | None:
    """The calibration in a weights folder (default: the packaged one), loaded once per process; None
    when the folder has none (then confidences stay the recogniser's raw scores)."""
    return optional_weights(weights, CONFIDENCE_FILE, _read)
