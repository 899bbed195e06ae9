"""Shrinking a recogniser (fewer layers, pruned MLPs) and distilling it from the full one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polyocr.charset import Charset
from polyocr.models.recognizer import RecognizerConfig, RecognizerNet, save_safetensors
from polyocr.pipeline.recognize import pad_batch, prepare_line
from polyocr.train.distill import distill_loss, mlp_importance, shrink
from polyocr.train.loop import train
from polyocr.train.recipes import TrainConfig
from render_util import tiny_lines, write_shard

torch.set_num_threads(1)

SMALL = {"stem": (16, 32), "stages": (48, 64), "blocks": (1, 0), "d_model": 64, "n_layers": 3, "n_heads": 2,
         "head_dim": 0, "ffn_mult": 4}


def _model(n_classes: int = 50) -> RecognizerNet:
    torch.manual_seed(0)
    m = RecognizerNet(RecognizerConfig(**SMALL, n_classes=n_classes)).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity, so copying them matters
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
    return m


def _batch(n: int = 6):
    return pad_batch([prepare_line(img) for img, _, _ in tiny_lines(n, seed=3)])


def test_shrink_keeping_everything_is_the_same_model():
    m = _model()
    images, widths = _batch()
    x, w = torch.from_numpy(images), torch.from_numpy(widths)
    same = shrink(m, [0, 1, 2]).eval()
    with torch.no_grad():
        a, la = m(x, w)
        b, lb = same(x, w)
    assert torch.equal(la, lb) and torch.allclose(a, b, atol=1e-6)


def test_shrink_drops_layers_and_keeps_the_most_important_mlp_units():
    m = _model()
    lines = [prepare_line(img) for img, _, _ in tiny_lines(8, seed=5)]
    scores = mlp_importance(m, lines)
    assert [s.shape[0] for s in scores] == [256] * 3 and all(bool((s >= 0).all()) for s in scores)
    small = shrink(m, [0, 2], ffn_mult=2, lines=lines)
    assert small.cfg.n_layers == 2 and small.cfg.ffn_mult == 2 and len(small.blocks) == 2
    assert small.blocks[0].mlp[0].weight.shape == (128, 64) and small.blocks[1].mlp[2].weight.shape == (64, 128)
    kept = scores[2].topk(128).indices.sort().values
    assert torch.equal(small.blocks[1].mlp[0].weight, m.blocks[2].mlp[0].weight[kept])
    assert torch.equal(small.blocks[1].attn.qkv.weight, m.blocks[2].attn.qkv.weight)
    assert torch.equal(small.head.weight, m.head.weight) and torch.equal(small.stem[0][0].weight, m.stem[0][0].weight)
    # pruning by importance loses less of the output than pruning the least important units
    images, widths = _batch()
    x, w = torch.from_numpy(images), torch.from_numpy(widths)
    worst = shrink(m, [0, 1, 2], ffn_mult=2, lines=lines)
    best = shrink(m, [0, 1, 2], ffn_mult=2, lines=lines)
    with torch.no_grad():
        for b_blk, m_blk, s in zip(worst.blocks, m.blocks, scores):
            low = s.topk(128, largest=False).indices.sort().values
            b_blk.mlp[0].weight.copy_(m_blk.mlp[0].weight[low])
            b_blk.mlp[0].bias.copy_(m_blk.mlp[0].bias[low])
            b_blk.mlp[2].weight.copy_(m_blk.mlp[2].weight[:, low])
        ref, _ = m(x, w)
        err_best = (best.eval()(x, w)[0] - ref).abs().mean()
        err_worst = (worst.eval()(x, w)[0] - ref).abs().mean()
    assert err_best < err_worst
    with pytest.raises(ValueError):
        shrink(m, [0, 3])
    with pytest.raises(ValueError):
        shrink(m, [1, 1])


def test_distill_loss_is_zero_for_the_teacher_itself_and_ignores_padding():
    torch.manual_seed(1)
    t = torch.randn(7, 3, 20)
    lengths = torch.tensor([7, 4, 2])
    assert float(distill_loss(t, t, lengths)) == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(7, 3, 20)
    assert float(distill_loss(s, t, lengths)) > 0.1
    s2 = s.clone()
    s2[5:, 1] = 100.0  # beyond line 1's 4 frames
    assert float(distill_loss(s2, t, lengths)) == pytest.approx(float(distill_loss(s, t, lengths)), rel=1e-6)


def test_training_a_shrunk_student_with_a_teacher(tmp_path):
    charset = Charset.load()
    teacher = _model(len(charset))
    save_safetensors(teacher, str(tmp_path / "teacher.safetensors"), {"charset_sha256": charset.sha256})
    shard = write_shard(tmp_path / "shard-00000.tar", tiny_lines(32, seed=0))
    cfg = TrainConfig(synth_ratio=0, shards=(str(shard),), batch_size=8, pool_batches=2, steps=6, lr=1e-3, warmup=1,
                      threads=1, eval_every=0, log_every=3, augment=False, ckpt_minutes=1e9,
                      init=str(tmp_path / "teacher.safetensors"), init_layers=(0, 2), init_ffn_mult=2,
                      teacher=str(tmp_path / "teacher.safetensors"))
    train(cfg, tmp_path / "run", echo=None)
    log = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    start = next(r for r in log if r.get("event") == "start")  # (after a bf16 warning on CPUs without it)
    assert start["config"]["model"]["n_layers"] == 2 and start["config"]["model"]["ffn_mult"] == 2
    kl = [r["distill_kl"] for r in log if "distill_kl" in r]
    assert len(kl) == 2 and all(np.isfinite(kl)) and all(v >= 0 for v in kl)


def test_distill_loss_counts_only_the_lines_it_is_told():
    torch.manual_seed(2)
    s, t = torch.randn(6, 3, 20), torch.randn(6, 3, 20)
    lengths = torch.tensor([6, 3, 5])
    keep = torch.tensor([True, False, True])
    sub = distill_loss(s[:, [0, 2]], t[:, [0, 2]], lengths[[0, 2]])
    assert float(distill_loss(s, t, lengths, lines=keep)) == pytest.approx(float(sub), rel=1e-6)
    assert float(distill_loss(s, t, lengths, lines=keep)) != pytest.approx(float(distill_loss(s, t, lengths)), rel=1e-3)
    assert float(distill_loss(s, t, lengths, lines=torch.zeros(3, dtype=torch.bool))) == 0.0


def test_distill_skip_frees_a_language_from_the_teacher(tmp_path):
    """A fine-tune that moves one language: its lines get no KL term, so a batch of only that
    language logs a KL of zero, while the same run without the skip pulls towards the teacher."""
    charset = Charset.load()
    teacher = _model(len(charset))
    save_safetensors(teacher, str(tmp_path / "teacher.safetensors"), {"charset_sha256": charset.sha256})
    shard = write_shard(tmp_path / "shard-00000.tar", tiny_lines(32, seed=0))   # all "en"
    kls = {}
    for skip in ((), ("en",)):
        cfg = TrainConfig(synth_ratio=0, shards=(str(shard),), batch_size=8, pool_batches=2, steps=4, lr=1e-3,
                          warmup=1, threads=1, eval_every=0, log_every=2, augment=False, ckpt_minutes=1e9,
                          init=str(tmp_path / "teacher.safetensors"), teacher=str(tmp_path / "teacher.safetensors"),
                          distill_skip=skip)
        run = tmp_path / f"run-{len(skip)}"
        train(cfg, run, echo=None)
        log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
        kls[skip] = [r["distill_kl"] for r in log if "distill_kl" in r]
    assert kls[("en",)] and all(v == 0.0 for v in kls[("en",)])
    assert kls[()] and kls[()][-1] > 0.0          # the student has moved off the teacher by its last steps
    with pytest.raises(ValueError, match="distill_skip"):
        train(TrainConfig(synth_ratio=0, shards=(str(shard),), steps=1, distill_skip=("xx",),
                          teacher=str(tmp_path / "teacher.safetensors")), tmp_path / "run-bad", echo=None)
