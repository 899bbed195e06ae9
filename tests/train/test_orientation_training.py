"""Orientation classifier training on real generated line shards: windows carry the right labels, a
tiny run learns, and the export matches torch and loads in the pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from polyocr.cli import main
from polyocr.models.orientation import CLASSES, OrientationConfig, load_safetensors
from polyocr.pipeline.pipeline import GlyphOrientation
from polyocr.pipeline.recognize import pad_batch, prepare_line
from polyocr.train.orientation import (OrientTrainConfig, StripSampler, _Reader, cjk_share, export_orientation,
                                       heldout_windows, index_lines, strip_window, train_orientation)

TINY = OrientationConfig(stem=8, stages=(16, 24), head=32)


def _synth(out: Path, langs: str, layouts: str, count: int, split: str, seed: int) -> None:
    subprocess.run([sys.executable, "-m", "polyocr.cli", "synth", "lines", "--out", str(out), "--count", str(count),
                    "--langs", langs, "--layouts", layouts, "--line-height", "40", "--split", split, "--seed", str(seed),
                    "--workers", "1", "--shard-size", str(count), "--quiet"], check=True)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> dict[str, Path]:
    """Training lines (ja columns and lines, English lines) and held-out-font ja lines, as tar shards."""
    root = tmp_path_factory.mktemp("orient-lines")
    _synth(root / "train-ja", "ja", "vertical", 300, "train", 5)
    _synth(root / "train-en", "en", "prose", 80, "train", 6)
    _synth(root / "heldout", "ja,en", "vertical,prose", 200, "heldout", 7)
    return {"train": root, "heldout": root / "heldout"}


def test_cjk_share_counts_latin_runs_at_half_width():
    assert cjk_share("縦書きの文章。") == 1.0
    assert cjk_share("ORD-2023") == 0.0 and cjk_share("  ") == 0.0
    assert cjk_share("東京 ABCD") == pytest.approx(2 / 4)


def test_windows_are_the_recognisers_strips_with_the_right_labels(shards):
    records = index_lines([shards["train"] / "train-ja"])
    assert len(records) == 300 and any(r.vertical for r in records) and any(not r.vertical for r in records)
    assert all(r.language == "ja" for r in records)
    reader = _Reader()
    column = next(r for r in records if r.vertical and r.cjk >= 0.9)
    gray = reader.gray(column)
    assert gray.shape[0] > 2 * gray.shape[1]                       # a column, as the generator cropped it
    whole = strip_window(gray, True, heights=1000.0)
    assert np.allclose(whole, prepare_line(gray, vertical=True))   # the strip is exactly prepare_line's
    short = strip_window(gray, True, heights=2.0)
    assert short.shape == (32, 64)
    cfg = OrientTrainConfig(shards=(str(shards["train"]),), batch_size=40, min_cjk=0.9)
    sampler = StripSampler(index_lines(cfg.shards), cfg, seed=1)
    images, widths, labels = sampler.batch()
    assert images.shape[:3] == (40, 1, 32) and images.shape[3] >= widths.max()
    assert images.shape[3] <= 8 * 32 * 1.15 + 8                    # windows of at most 8 heights (± aspect)
    assert set(labels.tolist()) == {0, 1, 2, 3}                    # all four classes in one batch
    strips, held_labels, langs = heldout_windows(records[:30])
    assert len(strips) == len(held_labels) == len(langs) and len(strips) % 2 == 0
    # each window comes in its two orientations: the same pixels turned 180°
    assert np.allclose(strips[1].astype(np.float32), strips[0][::-1, ::-1])
    assert {CLASSES[held_labels[0]], CLASSES[held_labels[1]]} in ({"upright", "flip"}, {"ccw", "cw"})


def test_tiny_run_learns_and_exports(shards, tmp_path):
    cfg = OrientTrainConfig(shards=(str(shards["train"]),), max_shards=0, heldout=(str(shards["heldout"]),),
                            heldout_vertical=(), model=TINY, steps=240, minutes=0, batch_size=32, lr=4e-3, warmup=20,
                            log_every=20, eval_every=0, seed=3)
    run = tmp_path / "run"
    summary = train_orientation(cfg, run, echo=None)
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 12 and np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
    held = summary["best_heldout"]
    assert held["windows"] > 100 and held["accuracy"] > 0.45, held         # chance is 0.25; seeds 3-5 gave 0.54-0.62
    info = export_orientation(run, tmp_path / "weights")
    assert main(["export", "orient", "--ckpt", str(run), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "orientation.onnx").read_bytes() == (tmp_path / "weights" / "orientation.onnx").read_bytes()
    assert main(["export", "orient", "--ckpt", str(tmp_path), "--out", str(tmp_path / "none")]) == 2
    assert main(["train", "orient", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "missing")]) == 2
    assert info["parity"]["max_abs_diff"] < 1e-4 and info["parity"]["max_abs_diff_alone_vs_batched"] < 1e-4
    assert info["training"]["run"]["step"] == 240 and info["training"]["heldout"]["windows"] == held["windows"]
    assert info["classes"] == list(CLASSES) and info["config"] == TINY.to_dict()
    # the pipeline's runtime loads the exported graph from a weights folder and agrees with torch
    model, meta = load_safetensors(str(tmp_path / "weights" / "orientation.safetensors"))
    assert meta["step"] == "240"
    strips = [np.random.default_rng(0).normal(0, 1, (32, w)).astype(np.float32) for w in (40, 200, 77)]
    onnx = GlyphOrientation(tmp_path / "weights")(strips)
    images, widths = pad_batch(strips)
    with torch.no_grad():
        ref = torch.log_softmax(model(torch.from_numpy(images), torch.from_numpy(widths)), -1).numpy()
    assert np.abs(onnx - ref).max() < 1e-4
