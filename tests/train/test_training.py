"""Training runs for real (tiny): it learns, and a killed run resumes at the same step with the same losses."""

from __future__ import annotations

import json
from dataclasses import replace
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from polyocr.charset import Charset
from polyocr.models.recognizer import RecognizerNet, RecognizerConfig
from polyocr.pipeline.recognize import pad_batch, prepare_line
from polyocr.train.loop import decode_batch, latest_checkpoint, load_checkpoint, train
from polyocr.train.recipes import TrainConfig, apply_overrides, get_recipe
from render_util import tiny_lines, write_shard

torch.set_num_threads(1)

TINY = {"stem": (16, 32), "stages": (48, 64), "blocks": (1, 0), "d_model": 64, "n_layers": 1, "n_heads": 2, "head_dim": 0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    lines = tiny_lines(64, seed=0)                       # 5-8 characters, one font, 22-33 px
    return write_shard(tmp_path_factory.mktemp("tiny") / "shard-00000.tar", lines), lines


def _accuracy(model: RecognizerNet, lines) -> float:
    images, widths = pad_batch([prepare_line(img) for img, _, _ in lines])
    preds = [r.text for r in decode_batch(model.eval(), images, widths, Charset.load(), ["ltr"] * len(lines))]
    return float(np.mean([p == t for p, (_, t, _) in zip(preds, lines)]))


def test_tiny_run_learns(data, tmp_path):
    """Measured (1 thread): mean loss 29.7 (steps 1-25) → 0.13 (steps 276-300); line accuracy 0 → 1.0 (64/64); ~19 s."""
    shard, lines = data
    cfg = TrainConfig(model=RecognizerConfig(**TINY, dropout=0.0), synth_ratio=0, shards=(str(shard),), batch_size=8,
                      pool_batches=4, steps=300, lr=5e-3, warmup=20, weight_decay=0.0, threads=1, eval_every=0,
                      log_every=25, augment=False, ckpt_minutes=1e9)
    torch.manual_seed(cfg.seed)
    before = _accuracy(RecognizerNet(RecognizerConfig(**TINY, n_classes=len(Charset.load()))), lines)
    train(cfg, tmp_path, echo=None)
    log = [json.loads(l) for l in (tmp_path / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < 0.5 * losses[0] and losses[-1] < 1.0, losses
    assert all(r["samples_per_s"] > 0 and r["lr"] > 0 and "elapsed" in r for r in log if "loss" in r)
    model = RecognizerNet(replace_classes(cfg.model))
    state = load_checkpoint(latest_checkpoint(tmp_path), model, None, Charset.load())
    assert state["step"] == 300
    after = _accuracy(model, lines)
    assert before == 0.0 and after >= 0.8, (before, after)


def replace_classes(mc: RecognizerConfig) -> RecognizerConfig:
    return RecognizerConfig(**{**mc.__dict__, "n_classes": len(Charset.load())})


def _cli(out: Path, shard: Path, steps: int, resume: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "polyocr.cli", "train", "rec", "--out", str(out), "--data", str(shard),
           "--steps", str(steps), "--batch-size", "8", "--threads", "1", "--eval-every", "0", "--log-every", "1",
           "--ckpt-every", "5", "--lr", "5e-3", "--set", "warmup=10", "--set", "pool_batches=3", "--quiet",
           "--set", "model.dropout=0.1"]  # dropout on: its masks must be reproduced after the resume too
    cmd += [a for k, v in TINY.items() for a in ("--set", f"model.{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}")]
    if resume:
        cmd.append("--resume")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _losses(out: Path) -> dict[int, float]:
    got: dict[int, float] = {}
    for line in (out / "log.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "loss" in r:
            got[r["step"]] = r["loss"]              # a resumed run overwrites the steps it repeats
    return got


def test_resume_after_kill_continues_at_the_same_step(data, tmp_path):
    shard, _ = data
    steps = 40
    ref = _cli(tmp_path / "ref", shard, steps)
    killed = _cli(tmp_path / "killed", shard, steps)
    deadline = time.time() + 40
    ck = None
    while time.time() < deadline:
        ck = latest_checkpoint(tmp_path / "killed")
        if ck is not None and json.loads((ck / "state.json").read_text())["step"] >= 15:
            break
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    saved = latest_checkpoint(tmp_path / "killed")
    saved_step = json.loads((saved / "state.json").read_text())["step"]
    assert 15 <= saved_step < steps
    assert ref.wait(timeout=60) == 0, ref.stderr.read()

    resumed = _cli(tmp_path / "killed", shard, steps, resume=True)
    assert resumed.wait(timeout=60) == 0, resumed.stderr.read()
    events = [json.loads(l) for l in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert {"event": "resume", "step": saved_step, "checkpoint": saved.name} in events
    a, b = _losses(tmp_path / "ref"), _losses(tmp_path / "killed")
    assert sorted(b) == list(range(1, steps + 1))
    for step in range(saved_step + 1, steps + 1):  # measured: identical to the last bit (same thread count)
        assert abs(a[step] - b[step]) <= 1e-6 * max(1.0, a[step]), (step, a[step], b[step])


def test_recipes_and_overrides():
    cfg = apply_overrides(get_recipe("unified"), ["lr=5e-4", "model.d_model=256", "languages=ja,en", "bf16=false",
                                                  "language_weights=0.8,0.2", "shared=none"])
    assert cfg.lr == 5e-4 and cfg.model.d_model == 256 and cfg.languages == ("ja", "en") and cfg.bf16 is False
    assert cfg.weights_by_language() == {"ja": 0.8, "en": 0.2} and cfg.shared is None
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert get_recipe("ja").languages == ("ja", "en")
    with pytest.raises(ValueError):
        apply_overrides(cfg, ["nope=1"])
    with pytest.raises(ValueError):
        get_recipe("klingon")


def test_heldout_sets_are_cached_and_scored(tmp_path):
    from polyocr.train.data import heldout_set
    from polyocr.train.loop import edit_distance, evaluate

    sets = heldout_set(tmp_path, ("en", "he"), 3, seed=1)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["heldout-en-s1-n3-mixed.tar", "heldout-he-s1-n3-mixed.tar"]
    again = heldout_set(tmp_path, ("en", "he"), 3, seed=1)     # read back, not re-rendered
    assert [s.text for s in again["he"]] == [s.text for s in sets["he"]] and len(sets["en"]) == 3
    cfg = TrainConfig(model=RecognizerConfig(**TINY, n_classes=len(Charset.load())))
    res = evaluate(RecognizerNet(cfg.model), sets, Charset.load(), cfg)
    assert set(res) == {"en", "he", "mean"} and all(0 <= r["cer"] and 0 <= r["acc"] <= 1 for r in res.values())
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3


def _parallel_cfg(shards: tuple[str, ...]) -> TrainConfig:
    return TrainConfig(model=RecognizerConfig(**TINY, dropout=0.1), synth_ratio=0, shards=shards, batch_size=8,
                       pool_batches=3, steps=30, lr=5e-3, warmup=10, weight_decay=0.0, threads=1, eval_every=0,
                       log_every=1, ckpt_every=5, ckpt_minutes=1e9, workers=2, augment_strength=0.5)


def test_parallel_data_processes_resume_exactly(data, tmp_path):
    """Two data processes taken in turn (the accelerator setting): a run stopped at step 15 and resumed
    gives the uninterrupted run's losses; each process reads its own shard."""
    shard, _ = data
    second = write_shard(tmp_path / "shard-00001.tar", tiny_lines(64, seed=1))
    cfg = _parallel_cfg((str(shard), str(second)))
    train(cfg, tmp_path / "ref", echo=None)
    train(cfg, tmp_path / "cut", echo=None, stop_after=15)
    state = json.loads((latest_checkpoint(tmp_path / "cut") / "state.json").read_text())
    assert state["step"] == 15 and len(state["position"]["workers"]) == 2 and state["position"]["next"] == 1
    train(cfg, tmp_path / "cut", resume=True, echo=None)
    a, b = _losses(tmp_path / "ref"), _losses(tmp_path / "cut")
    assert sorted(b) == list(range(1, 31))
    for step in range(16, 31):
        assert abs(a[step] - b[step]) <= 1e-6 * max(1.0, a[step]), (step, a[step], b[step])
    with pytest.raises(ValueError, match="workers"):  # a different process count cannot continue the sequence
        train(replace(cfg, workers=3, steps=40), tmp_path / "cut", resume=True, echo=None)
    with pytest.raises(ValueError, match="workers=2"):
        train(replace(cfg, workers=0, steps=40), tmp_path / "cut", resume=True, echo=None)


def test_parallel_batches_take_turns_and_split_shards(data, tmp_path):
    from polyocr.train.data import ParallelBatches
    from polyocr.train.loop import BatcherFactory

    shard, _ = data
    second = write_shard(tmp_path / "shard-00001.tar", tiny_lines(64, seed=1, alphabet="abcdefghkmnpqrstuvwxyz"))
    cfg = _parallel_cfg((str(shard), str(second)))
    par = ParallelBatches([BatcherFactory(cfg, (k, 2)) for k in range(2)])
    try:
        it = iter(par)
        got = [next(it) for _ in range(6)]
    finally:
        par.close()
    # process 0 reads the upper-case shard only, process 1 the lower-case one, strictly alternating
    for i, b in enumerate(got):
        assert all((t.isupper() or t.isdigit()) if i % 2 == 0 else t.islower() for t in b.texts), (i, b.texts)
    assert par.position()["next"] == 0 and par.position()["workers"][1]["index"] == 3


def test_device_must_exist():
    from polyocr.train.loop import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")
        run = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "rec", "--out", "/tmp/never", "--device", "cuda",
                              "--steps", "1"], capture_output=True, text=True)
        assert run.returncode != 0 and "no CUDA" in run.stderr and "Traceback" not in run.stderr


class _Dies:
    """A data process killed outright (as by the out-of-memory killer): no exception reaches the queue."""

    def __call__(self):
        os._exit(3)


def test_a_dead_data_process_is_an_error_not_a_hang():
    from polyocr.train.data import ParallelBatches

    par = ParallelBatches([_Dies(), _Dies()])
    t0 = time.time()
    try:
        with pytest.raises(RuntimeError, match=r"data worker 0 died \(exit code 3\)"):
            next(iter(par))
    finally:
        par.close()
    assert time.time() - t0 < 30


def test_a_batch_in_parts_gives_the_whole_batchs_gradient(data):
    """Big batches of wide lines do not fit a CPU's memory whole (max_batch_frames): split into parts,
    each part's mean loss weighted by its share of the lines, the summed gradients are the whole
    batch's, with and without a distillation teacher; and every line lands in exactly one part.
    (In eval mode: in training, batch norm normalises each part by its own statistics.)"""
    from polyocr.train.data import Batch
    from polyocr.train.loop import _backward, batch_parts

    assert batch_parts(10, 50, 0) == [(0, 10)] and batch_parts(10, 50, 500) == [(0, 10)]
    assert batch_parts(10, 50, 200) == [(0, 4), (4, 8), (8, 10)]   # 4 lines × 50 frames a part
    assert batch_parts(3, 500, 100) == [(0, 1), (1, 2), (2, 3)]    # one line a part at least
    for n, f, m in [(192, 400, 24000), (192, 37, 24000), (7, 13, 30)]:
        parts = batch_parts(n, f, m)
        assert parts[0][0] == 0 and parts[-1][1] == n and all(a < b for a, b in parts)
        assert all(p[1] == q[0] for p, q in zip(parts, parts[1:]))
        assert len(parts) == 1 or all((b - a) * f <= m for a, b in parts)
    _, lines = data
    charset = Charset.load()
    sample = lines[:6]
    images, widths = pad_batch([prepare_line(img) for img, _, _ in sample])
    ids = [charset.encode(t)[0] for _, t, _ in sample]
    batch = Batch(images=images, widths=widths, targets=np.asarray([i for x in ids for i in x], np.int64),
                  target_lengths=np.asarray([len(x) for x in ids], np.int64), texts=[t for _, t, _ in sample],
                  languages=["en"] * 6, directions=["ltr"] * 6)
    torch.manual_seed(0)
    model = RecognizerNet(RecognizerConfig(**TINY, n_classes=len(charset))).eval()
    teacher = RecognizerNet(RecognizerConfig(**TINY, n_classes=len(charset))).eval()
    frames = -(-images.shape[-1] // model.cfg.width_stride)
    for t in (None, teacher):
        grads, losses = [], []
        for max_frames in (0, 2 * frames):                     # whole, then three parts of two lines
            cfg = TrainConfig(model=model.cfg, bf16=False, max_batch_frames=max_frames)
            model.zero_grad(set_to_none=True)
            loss, kd = _backward(model, t, batch, torch.device("cpu"), cfg)
            assert (kd is None) == (t is None)
            losses.append((float(loss), None if kd is None else float(kd)))
            grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
        assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)
        if t is not None:
            assert losses[0][1] == pytest.approx(losses[1][1], rel=1e-4)
        assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)
        assert float(grads[0].abs().sum()) > 0
