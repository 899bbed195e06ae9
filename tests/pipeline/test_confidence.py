"""Calibrated confidences: the shipped calibration belongs to the shipped recogniser, never ranks a
surer reading lower, and the pipeline applies it to the raw scores it would otherwise give."""

import copy
import hashlib
import json
from dataclasses import replace

import pytest

from polyocr.languages import LANGUAGES
from polyocr.pipeline.confidence import (CONFIDENCE_FILE, LINE_FEATURES, WORD_FEATURES, Calibration,
                                         load_calibration)
from polyocr.pipeline.pipeline import Pipeline, ReadConfig
from polyocr.pipeline.recognize import DEFAULT_WEIGHTS
from polyocr.synth.page import Resources, SynthConfig

from render_util import first_page

CFG = SynthConfig(seed=21, width=1240, height=1754, dpi=150, degrade="clean", split="heldout")


def test_shipped_calibration_belongs_to_the_shipped_models():
    cal = load_calibration()
    assert cal is not None
    assert cal.word.features == WORD_FEATURES and cal.line.features == LINE_FEATURES
    # a new recogniser or detector reads differently: refit (polyocr train confidence) when they change
    for name in ("model.onnx", "detector.onnx"):
        digest = hashlib.sha256((DEFAULT_WEIGHTS / name).read_bytes()).hexdigest()
        key = "recogniser_sha256" if name == "model.onnx" else "detector_sha256"
        assert cal.provenance[key] == digest, f"{CONFIDENCE_FILE} was fitted for another {name}"
    assert set(cal.word.models) >= {"", *LANGUAGES} and set(cal.line.models) >= {"", *LANGUAGES}


def test_a_surer_reading_never_gets_a_lower_probability():
    cal = load_calibration()
    for lang in ["", *LANGUAGES]:
        (a, b), _ = cal.word.models[lang]
        for n in range(1, 200):                  # d/d log(raw) at a word of n characters
            assert a + n * b > 0, (lang, n)
        w, _ = cal.line.models[lang]
        f = dict(zip(LINE_FEATURES, w))
        assert f["log_min_word_conf"] >= 0 and f["chars_x_log_conf"] >= 0, lang
        for n in range(1, 500):                  # every score of the line rising together
            assert f["log_conf"] + n * f["chars_x_log_conf"] + f["log_min_word_conf"] > 0, (lang, n)


def test_calibration_files_are_checked():
    text = (DEFAULT_WEIGHTS / CONFIDENCE_FILE).read_text(encoding="utf-8")
    d = json.loads(text)
    d["word"]["features"] = ["log_conf"]
    with pytest.raises(ValueError, match="refit"):
        Calibration.from_json(json.dumps(d))
    d = json.loads(text)
    d["format_version"] = 99
    with pytest.raises(ValueError, match="not a polyocr-confidence"):
        Calibration.from_json(json.dumps(d))
    d = json.loads(text)
    del d["line"]["models"][""]
    with pytest.raises(ValueError, match="default"):
        Calibration.from_json(json.dumps(d))


@pytest.fixture(scope="module")
def sample():
    res = Resources(CFG)
    return first_page(replace(CFG, languages=("ru",), layouts=("prose",)), res)


def test_pipeline_applies_the_calibration_to_its_raw_scores(sample):
    raw = Pipeline(ReadConfig(threads=2, calibrated=False)).read_image(sample.image)
    calibrated = Pipeline(ReadConfig(threads=2)).read_image(sample.image)
    assert calibrated.text == raw.text and len(raw.lines) > 5
    cal = load_calibration()
    expected = cal.apply(copy.deepcopy(raw))
    got = [(ln.confidence, [w.confidence for w in ln.words]) for ln in calibrated.lines]
    want = [(ln.confidence, [w.confidence for w in ln.words]) for ln in expected.lines]
    assert got == want
    assert [ln.polygon for ln in calibrated.lines] == [ln.polygon for ln in raw.lines]
    conf = [w.confidence for ln in calibrated.lines for w in ln.words]
    assert all(0.0 <= c <= 1.0 for c in conf) and conf != [w.confidence for ln in raw.lines for w in ln.words]
    probs = [p for ln, lang in ((ln, ln.language) for ln in raw.lines) for p in cal.line_probabilities(ln, lang)[1]]
    assert calibrated.meta["expected_word_accuracy"] == pytest.approx(sum(probs) / len(probs), abs=1e-4)
    assert "expected_word_accuracy" not in raw.meta


def test_a_weights_folder_without_a_calibration_keeps_raw_scores(sample, tmp_path):
    for f in DEFAULT_WEIGHTS.iterdir():
        if f.name != CONFIDENCE_FILE:
            (tmp_path / f.name).symlink_to(f)
    assert load_calibration(tmp_path) is None
    plain = Pipeline(ReadConfig(threads=2, weights=str(tmp_path))).read_image(sample.image)
    raw = Pipeline(ReadConfig(threads=2, calibrated=False)).read_image(sample.image)
    assert [ln.confidence for ln in plain.lines] == [ln.confidence for ln in raw.lines]
