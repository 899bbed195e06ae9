"""Fitting the confidence calibration: the logistic fit recovers what made the data, a fitted
calibration turns overstated scores into honest ones, and `polyocr train confidence` works on
generated pages (and refuses real ones)."""

import json

import numpy as np
import pytest

from polyocr.cli import main
from polyocr.document import Line, Word, quad_from_box
from polyocr.eval.confidence import LabelledLine, score_confidences, units
from polyocr.eval.datasets import generate_heldout_pages
from polyocr.pipeline.confidence import CONFIDENCE_FILE, Calibration
from polyocr.train.confidence import FitConfig, fit_calibration, fit_logistic


def test_logistic_fit_recovers_its_parameters():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40000, 2))
    z = x @ np.array([2.0, -1.0]) + 0.5
    y = rng.uniform(size=len(z)) < 1 / (1 + np.exp(-z))
    w, b = fit_logistic(x, y, l2=0.0)
    assert w == pytest.approx([2.0, -1.0], abs=0.08) and b == pytest.approx(0.5, abs=0.06)
    with pytest.raises(ValueError, match="both"):
        fit_logistic(x[:10], np.ones(10))


def _synthetic_lines(rng, n_lines, lang, slope, bias):
    """Lines of words whose raw score overstates them: P(right) = sigmoid(slope * log(raw) + bias)."""
    out = []
    for _ in range(n_lines):
        words = []
        for _ in range(int(rng.integers(1, 8))):
            raw = float(rng.beta(8, 1))
            p = 1 / (1 + np.exp(-(slope * np.log(raw) + bias)))
            words.append((Word("word", quad_from_box(0, 0, 10, 10), raw), bool(rng.uniform() < p)))
        conf = float(np.exp(np.mean([np.log(w.confidence) for w, _ in words])))
        line = Line(" ".join(w.text for w, _ in words), quad_from_box(0, 0, 100, 10), [w for w, _ in words],
                    language=lang, confidence=conf)
        out.append(LabelledLine(line, lang, all(ok for _, ok in words), words))
    return out


def test_a_fitted_calibration_makes_overstated_scores_honest(tmp_path):
    rng = np.random.default_rng(2)
    fit = _synthetic_lines(rng, 3000, "en", 8, 2.0) + _synthetic_lines(rng, 3000, "ar", 5, 0.5)
    test = _synthetic_lines(rng, 2000, "en", 8, 2.0) + _synthetic_lines(rng, 2000, "ar", 5, 0.5)
    cal = fit_calibration(fit, {"pages": "synthetic"}, FitConfig(), weights=tmp_path)
    assert set(cal.word.models) == {"", "en", "ar"}
    for kind, limit in (("word", 0.03), ("line", 0.05)):
        raw = score_confidences(*units(test, kind)[:2])
        honest = score_confidences(*units(test, kind, cal)[:2])
        assert raw.ece > 0.1 and honest.ece < limit, (kind, raw.ece, honest.ece)
    again = Calibration.from_json(cal.to_json())
    (w1, b1), (w2, b2) = again.word.models["ar"], cal.word.models["ar"]
    assert w1 == pytest.approx(w2, abs=1e-5) and b1 == pytest.approx(b2, abs=1e-5)
    assert again.provenance["pages"] == "synthetic"


def test_train_confidence_command(tmp_path, capsys):
    pages = generate_heldout_pages(tmp_path / "cache", ["en", "ru"], 1, seed=888, degrade="clean")
    folder = pages[0].image.parent
    out = tmp_path / "weights"
    out.mkdir()
    assert main(["train", "confidence", "--pages", str(folder), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["fit_set"]["word"]["calibrated"]["ece"] <= report["fit_set"]["word"]["raw"]["ece"]
    cal = Calibration.from_json((out / CONFIDENCE_FILE).read_text(encoding="utf-8"))
    assert cal.provenance["pages"] == folder.name and len(cal.provenance["recogniser_sha256"]) == 64
    # real pages are for evaluation only
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "index.tsv").write_text("id\tlang\n", encoding="utf-8")
    assert main(["train", "confidence", "--pages", str(tmp_path / "real"), "--out", str(out)]) != 0
    assert "evaluation only" in capsys.readouterr().err
