"""Do the confidences mean what they say? Readings matched to ground truth, and calibration scores.

A user who keeps the words above 0.9 confidence wants nine in ten of them right, and one who flags
the words below 0.5 wants those to be the wrong ones. This module labels every word and line of a
reading right or wrong against the ground truth, then scores the confidences as probabilities:

* expected calibration error (ECE: the gap between confidence and the share right, averaged over
  ten equal-width bins, weighted by how many units fall in each), and the Brier score;
* AUROC: how well the confidences rank right units above wrong ones, whatever their scale;
* the share kept and the share right among units at or above a threshold.

Matching. A read line belongs to the truth line its box overlaps most (at least half of the read
box's area). Its words are aligned with the truth line's words (whitespace-separated tokens,
:func:`polyocr.eval.metrics.normalize`d), and a word is right when it falls in a stretch the two
sequences share. A read line that covers only part of its truth line (the detector cut it; a
script without spaces then has its whole line as one token) counts a token right when the truth
line holds it. A line is right when its text equals the truth line's, whitespace aside. A read line
that overlaps no truth line is wrong, with all its words.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from polyocr.document import Document, Line, Page, Word, polygon_bounds
from polyocr.eval.datasets import hidden_lines
from polyocr.eval.metrics import normalize

if TYPE_CHECKING:
    from polyocr.pipeline.confidence import Calibration

__all__ = ["TruthLine", "LabelledLine", "label_page", "units", "truth_from_page", "truth_from_realdev",
           "read_labelled", "each_unit", "CalibrationScore", "score_confidences", "MIN_OVERLAP", "PIECE"]

MIN_OVERLAP = 0.5   # share of a read line's box inside its truth line's box
PIECE = 0.8         # a read line shorter than this share of its truth line is a piece of it


@dataclass(frozen=True)
class TruthLine:
    text: str
    box: tuple[float, float, float, float]
    vertical: bool = False


@dataclass
class LabelledLine:
    """A read line, whether it was read right, and each of its words with the same verdict."""

    line: Line
    language: str
    correct: bool
    words: list[tuple[Word, bool]]


def truth_from_page(page: Page) -> list[TruthLine]:
    """Truth lines of a generated page model."""
    return [TruthLine(ln.text, polygon_bounds(ln.polygon), ln.writing_mode == "vertical-rl") for ln in page.lines]


def truth_from_realdev(folder: str | Path, page_id: str) -> list[TruthLine]:
    """Truth lines of a realdev page (``<id>.lines.json``), without those whose pixels the build painted
    over (:func:`polyocr.eval.datasets.hidden_lines`): nothing can read them, so no reading matches them."""
    folder = Path(folder)
    data = json.loads((folder / f"{page_id}.lines.json").read_text(encoding="utf-8"))
    hidden = hidden_lines(data, folder / f"{page_id}.png")
    out = []
    for i, d in enumerate(data["lines"]):
        if i in hidden:
            continue
        x0, y0, x1, y1 = map(float, d["bbox"])
        out.append(TruthLine(d["text"], (x0, y0, x1, y1), (y1 - y0) > 1.5 * (x1 - x0)))
    return out


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def _tokens(text: str) -> list[str]:
    return normalize(text).split()


def _match(line: Line, truth: Sequence[TruthLine]) -> tuple[TruthLine | None, bool]:
    """The truth line ``line`` belongs to, and whether ``line`` is only a piece of it."""
    box = polygon_bounds(line.polygon)
    area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
    best, best_share = None, 0.0
    for t in truth:
        share = _overlap(box, t.box) / area
        if share > best_share:
            best, best_share = t, share
    if best is None or best_share < MIN_OVERLAP:
        return None, False
    axis = 1 if best.vertical else 0
    length = box[axis + 2] - box[axis]
    truth_length = best.box[axis + 2] - best.box[axis]
    return best, length < PIECE * truth_length


def label_page(page: Page, truth: Sequence[TruthLine]) -> list[LabelledLine]:
    """Every line of a read ``page``, and its words, labelled right or wrong against ``truth``."""
    out: list[LabelledLine] = []
    for block in page.blocks:
        for line in block.lines:
            t, piece = _match(line, truth)
            words = [w for w in line.words if normalize(w.text)]
            read_tokens = [_tokens(w.text) for w in words]
            right_words = [False] * len(words)
            if t is not None:
                flat = [(i, tok) for i, toks in enumerate(read_tokens) for tok in toks]
                truth_tokens = _tokens(t.text)
                ok = [False] * len(flat)
                sm = difflib.SequenceMatcher(None, [tok for _, tok in flat], truth_tokens, autojunk=False)
                for a, _, size in sm.get_matching_blocks():
                    for k in range(a, a + size):
                        ok[k] = True
                if piece:   # a token cut out of a longer one (no spaces in the script, or a cut word)
                    whole = "".join(truth_tokens)
                    ok = [good or tok in whole for good, (_, tok) in zip(ok, flat)]
                for i in range(len(words)):
                    mine = [good for good, (j, _) in zip(ok, flat) if j == i]
                    right_words[i] = bool(mine) and all(mine)
            text = normalize(line.text, "remove")
            if t is None:
                right = False
            elif piece:
                right = bool(text) and text in normalize(t.text, "remove")
            else:
                right = text == normalize(t.text, "remove")
            lang = line.language or block.language or page.language
            out.append(LabelledLine(line, lang, right, list(zip(words, right_words))))
    return out


def each_unit(lines: Sequence[LabelledLine], kind: str) -> Iterator[tuple[LabelledLine, Line | Word, bool]]:
    """Every ``kind`` ("word" or "line") unit of labelled lines with its line and verdict: the one
    walk that scoring (:func:`units`) and fitting (:func:`polyocr.train.confidence.unit_table`) share."""
    if kind not in ("word", "line"):
        raise ValueError(f"kind must be 'word' or 'line', not {kind!r}")
    for ll in lines:
        if kind == "line":
            yield ll, ll.line, ll.correct
        else:
            for w, ok in ll.words:
                yield ll, w, ok


def units(lines: Sequence[LabelledLine], kind: str, calibration: "Calibration | None" = None
          ) -> tuple[list[float], list[bool], list[str]]:
    """(confidences, verdicts, languages) of the ``kind`` ("word" or "line") units of labelled lines:
    the confidences as read, or as ``calibration`` maps them (the readings then hold raw scores)."""
    conf: list[float] = []
    right: list[bool] = []
    langs: list[str] = []
    mapped: dict[int, float] = {}     # id(unit) -> calibrated probability, filled a line at a time
    for ll, unit, ok in each_unit(lines, kind):
        if calibration is None:
            conf.append(unit.confidence)
        else:
            if id(unit) not in mapped:
                p_line, p_words = calibration.line_probabilities(ll.line, ll.language)
                mapped[id(ll.line)] = p_line
                mapped.update((id(w), p) for w, p in zip(ll.line.words, p_words))
            conf.append(mapped[id(unit)])
        right.append(ok)
        langs.append(ll.language)
    return conf, right, langs


@dataclass(frozen=True)
class CalibrationScore:
    n: int
    accuracy: float           # share of units right
    mean_confidence: float
    ece: float
    brier: float
    auroc: float
    kept: dict[float, tuple[float, float]]   # threshold -> (share kept, share of the kept that are right)

    def as_dict(self) -> dict[str, object]:
        return {"n": self.n, "accuracy": round(self.accuracy, 4), "mean_confidence": round(self.mean_confidence, 4),
                "ece": round(self.ece, 4), "brier": round(self.brier, 4), "auroc": round(self.auroc, 4),
                "kept": {str(k): [round(a, 4), round(b, 4)] for k, (a, b) in self.kept.items()}}


def _auroc(p: np.ndarray, y: np.ndarray) -> float:
    """Probability that a right unit outranks a wrong one (ties count half)."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sp = p[order]
    i = 0
    while i < len(sp):   # average ranks over ties
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def score_confidences(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10,
                      thresholds: Sequence[float] = (0.5, 0.9, 0.99)) -> CalibrationScore:
    """Calibration and ranking scores of ``confidence`` as the probability of ``correct``."""
    p = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(correct, dtype=np.float64)
    if len(p) == 0:
        raise ValueError("no units to score")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(p[sel].mean() - y[sel].mean())
    kept = {}
    for t in thresholds:
        sel = p >= t
        kept[float(t)] = (float(sel.mean()), float(y[sel].mean()) if sel.any() else float("nan"))
    return CalibrationScore(n=len(p), accuracy=float(y.mean()), mean_confidence=float(p.mean()), ece=float(ece),
                            brier=float(((p - y) ** 2).mean()), auroc=_auroc(p, y), kept=kept)


def read_labelled(read_dir: str | Path, truth: dict[str, list[TruthLine]]) -> list[LabelledLine]:
    """Labelled lines of every ``<id>.json`` reading in ``read_dir`` whose id has truth lines."""
    out: list[LabelledLine] = []
    for pid, lines in sorted(truth.items()):
        path = Path(read_dir) / f"{pid}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no reading {path}")
        doc = Document.from_json(path.read_text(encoding="utf-8"), check=False)   # scored, not served
        for page in doc.pages:
            out += label_page(page, lines)
    return out
