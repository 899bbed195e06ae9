"""Fit the confidence calibration (:mod:`polyocr.pipeline.confidence`) on read generated pages.

The pages are generated in held-out fonts with their own seed (not the benchmark's), read by the
shipped pipeline with raw confidences, and labelled right or wrong word by word and line by line
against their page models (:mod:`polyocr.eval.confidence`). Each unit kind then gets a logistic
regression per language (languages differ in how far their raw scores overstate them, and in how
much a word's length matters), and one over all languages for any other. A small L2 penalty on the
weights (not the intercepts) keeps the fit stable where a language has few units.

Newton's method on a handful of parameters converges in a few steps; no library is needed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from polyocr.eval.confidence import LabelledLine, each_unit
from polyocr.pipeline.confidence import (LINE_FEATURES, WORD_FEATURES, Calibration, Calibrator, line_features,
                                         word_features)

__all__ = ["FitConfig", "fit_logistic", "fit_calibrator", "fit_calibration", "unit_table", "labelled_pages"]


@dataclass(frozen=True)
class FitConfig:
    l2: float = 1.0            # penalty on the feature weights, in units of one example's log loss
    min_language: int = 100    # a language with fewer units (or all right, or all wrong) takes the default
    iterations: int = 50


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Weights and intercept minimising log loss + l2·|w|²/2 (the intercept is not penalised)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError("x must be (n, k) with one label per row")
    if len(y) == 0 or y.min() == y.max():
        raise ValueError("need both right and wrong units to fit")
    a = np.hstack([x, np.ones((len(y), 1))])
    theta = np.zeros(a.shape[1])
    penalty = np.append(np.full(x.shape[1], l2), 1e-6)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -30, 30)))
        grad = a.T @ (p - y) + penalty * theta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def fit_calibrator(x: np.ndarray, y: np.ndarray, languages: Sequence[str], features: Sequence[str],
                   config: FitConfig = FitConfig()) -> Calibrator:
    """One model per language with enough units of both kinds, and a default fitted on them all."""
    langs = np.asarray(languages, dtype=object).astype(str)
    w, b = fit_logistic(x, y, config.l2, config.iterations)
    models = {"": (tuple(map(float, w)), b)}
    for lang in sorted(set(langs)):
        sel = langs == lang
        if sel.sum() >= config.min_language and 0 < y[sel].sum() < sel.sum():
            w, b = fit_logistic(x[sel], y[sel], config.l2, config.iterations)
            models[lang] = (tuple(map(float, w)), b)
    return Calibrator(tuple(features), models)


def unit_table(lines: Sequence[LabelledLine], kind: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features (from the raw scores), verdicts and languages of every ``kind`` unit."""
    rows, ys, langs = [], [], []
    for ll, unit, ok in each_unit(lines, kind):
        rows.append(line_features(unit) if kind == "line" else word_features(unit.confidence, unit.text))
        ys.append(ok)
        langs.append(ll.language)
    width = len(LINE_FEATURES if kind == "line" else WORD_FEATURES)
    return np.asarray(rows, dtype=np.float64).reshape(-1, width), np.asarray(ys, dtype=np.float64), langs


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def fit_calibration(lines: Sequence[LabelledLine], provenance: dict | None = None,
                    config: FitConfig = FitConfig(), weights: str | Path | None = None) -> Calibration:
    """Word and line calibrators fitted on labelled lines read with raw confidences."""
    from polyocr.pipeline.recognize import DEFAULT_WEIGHTS

    cals = {}
    for kind, feats in (("word", WORD_FEATURES), ("line", LINE_FEATURES)):
        x, y, langs = unit_table(lines, kind)
        cals[kind] = fit_calibrator(x, y, langs, feats, config)
    folder = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    prov = {"recogniser_sha256": _sha256(folder / "model.onnx"), "detector_sha256": _sha256(folder / "detector.onnx"),
            "lines": len(lines), "words": sum(len(ll.words) for ll in lines), "l2": config.l2,
            **(provenance or {})}
    return Calibration(cals["word"], cals["line"], prov)


def labelled_pages(pages: str | Path, readings: str | Path | None = None, weights: str | Path | None = None,
                   echo=None) -> list[LabelledLine]:
    """Generated pages (``<id>.jpg|png`` + ``<id>.json`` page model, as ``polyocr eval --generated``
    caches them) read with raw confidences and labelled against their page models. ``readings``: a
    folder of ``<id>.json`` readings made before (``polyocr read --raw-confidence -f json``) instead of
    reading here."""
    from polyocr.document import Document, SchemaError
    from polyocr.eval.confidence import label_page, truth_from_page

    folder = Path(pages)
    if (folder / "index.tsv").is_file():
        raise ValueError(f"{folder} is a realdev build: real pages are for evaluation only, never for fitting")
    items = []
    for truth_path in sorted(folder.glob("*.json")):
        image = next((truth_path.with_suffix(s) for s in (".jpg", ".png") if truth_path.with_suffix(s).is_file()), None)
        if image is None:
            continue     # a manifest, not a page
        try:
            truth = Document.from_json(truth_path.read_text(encoding="utf-8"))
        except (SchemaError, ValueError) as exc:
            raise ValueError(f"{truth_path}: not a page model ({exc})") from None
        items.append((truth_path.stem, image, truth.pages[0]))
    if not items:
        raise ValueError(f"{folder}: no generated pages (<id>.jpg or .png beside <id>.json)")
    pipe = None
    if readings is None:
        from polyocr.pipeline.pipeline import Pipeline, ReadConfig

        pipe = Pipeline(ReadConfig(calibrated=False, weights=str(weights) if weights else None))
    out: list[LabelledLine] = []
    for n, (pid, image, truth_page) in enumerate(items, 1):
        if pipe is not None:
            doc = pipe.read(image)
        else:
            path = Path(readings) / f"{pid}.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no reading of {pid}")
            doc = Document.from_json(path.read_text(encoding="utf-8"), check=False)
        for page in doc.pages:
            out += label_page(page, truth_from_page(truth_page))
        if echo and (n % 20 == 0 or n == len(items)):
            echo(f"{n}/{len(items)} pages")
    return out
