"""A tiny detector run on real generated pages: the loss falls, a killed run resumes, ONNX matches torch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polyocr.train.detector import DetTrainConfig, export_detector, page_records, train_detector


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("detpages")
    subprocess.run([sys.executable, "-m", "polyocr.cli", "synth", "pages", "--out", str(out), "--count", "6",
                    "--langs", "en,ja", "--layouts", "prose,columns", "--dpi", "72", "--seed", "3",
                    "--workers", "1", "--shard-size", "6", "--format", "tar", "--quiet"], check=True)
    return out


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_tiny_run_learns_and_exports(shards, tmp_path):
    assert len(page_records([shards])) == 6
    cfg = DetTrainConfig(shards=(str(shards),), crop=192, batch_size=4, steps=60, lr=3e-3, warmup=5,
                         log_every=5, ckpt_minutes=100, threads=1)
    run = tmp_path / "run"
    train_detector(cfg, run, echo=None)
    losses = [r["loss"] for r in _log(run) if "loss" in r]
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    meta = export_detector(run, tmp_path / "w")
    assert meta["parity_max_abs"] < 1e-3 and meta["step"] == 60
    from polyocr.pipeline.detect import LineDetector

    det = LineDetector(tmp_path / "w", threads=1)
    prob, thick, scale = det.maps(np.full((300, 200, 3), 255, np.uint8))
    assert scale == 2.0                      # small images are enlarged (at most 2×) towards the working size
    assert prob.shape == thick.shape == (300, 200) and 0.0 <= prob.min() <= prob.max() <= 1.0


def test_resume_continues_from_the_checkpoint(shards, tmp_path):
    cfg = DetTrainConfig(shards=(str(shards),), crop=128, batch_size=2, steps=6, warmup=2, log_every=2,
                         ckpt_minutes=100, threads=1)
    run = tmp_path / "run"
    train_detector(cfg, run, echo=None)
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["step"] == 6
    from dataclasses import replace

    train_detector(replace(cfg, steps=10), run, resume=True, echo=None)
    starts = [r for r in _log(run) if r.get("event") == "start"]
    assert [s["step"] for s in starts] == [0, 6]
    assert json.loads((run / "checkpoints" / "state.json").read_text())["step"] == 10
