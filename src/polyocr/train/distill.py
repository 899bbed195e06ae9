"""A smaller, faster recogniser from a trained one: keep some transformer layers, prune the MLPs, distil.

Why: on a CPU without int8 dot-product instructions the recogniser's transformer is most of a
page's time (BENCHMARKS.md, Speed). Training a small model from scratch costs days of this machine;
starting it from the big one's own layers and teaching it the big one's per-frame distributions
recovers most of the accuracy in a few thousand steps.

* :func:`shrink` copies the convolutional front, the kept transformer layers and the head, and keeps
  in each MLP the hidden units that carry the most signal: mean |GELU activation| on real lines
  times the norm of the unit's output weights (weights alone when no lines are given).
* :func:`distill_loss` is the per-frame KL divergence from the teacher's class distribution to the
  student's, over valid frames. Both share the width stride, so frame t of one is frame t of the
  other and CTC alignments carry over.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from polyocr.models.recognizer import RecognizerNet, frame_lengths
from polyocr.pipeline.recognize import pad_batch

__all__ = ["shrink", "mlp_importance", "distill_loss"]


def mlp_importance(model: RecognizerNet, lines: Sequence[np.ndarray] = (), batch: int = 16) -> list[torch.Tensor]:
    """Per layer, a score for each MLP hidden unit: E|GELU(h)| × ||W_out[:, j]|| (or ||W_in[j]|| × ||W_out[:, j]||).

    ``lines``: prepared line arrays (:func:`polyocr.pipeline.recognize.prepare_line`); frames beyond a
    line's width are left out of the mean.
    """
    out_norm = [b.mlp[2].weight.detach().norm(dim=0) for b in model.blocks]          # (hidden,) per layer
    if not len(lines):
        return [b.mlp[0].weight.detach().norm(dim=1) * n for b, n in zip(model.blocks, out_norm)]
    sums = [torch.zeros_like(n) for n in out_norm]
    count = 0
    mask_holder: dict[str, torch.Tensor] = {}
    hooks = []
    for i, b in enumerate(model.blocks):
        def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor, i: int = i) -> None:
            valid = mask_holder["m"]                                                # (B, T) bool
            sums[i] += out.detach().abs()[valid].sum(0)
        hooks.append(b.mlp[1].register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(lines), batch):
                images, widths = pad_batch(list(lines[s:s + batch]))
                x, w = torch.from_numpy(images), torch.from_numpy(widths)
                t = -(-images.shape[-1] // model.cfg.width_stride)
                mask_holder["m"] = torch.arange(t)[None, :] < frame_lengths(w, len(model.cfg.stem))[:, None]
                count += int(mask_holder["m"].sum())
                model.encode(x, w)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return [s / max(count, 1) * n for s, n in zip(sums, out_norm)]


def shrink(model: RecognizerNet, layers: Sequence[int], ffn_mult: int = 0,
           lines: Sequence[np.ndarray] = ()) -> RecognizerNet:
    """A new model with only ``layers`` of ``model``'s transformer blocks, each MLP cut to
    ``ffn_mult`` × d_model hidden units (0 = keep them all); everything else is copied."""
    n = len(model.blocks)
    if not layers or any(not 0 <= i < n for i in layers) or len(set(layers)) != len(layers):
        raise ValueError(f"layers must be distinct indices in 0..{n - 1}, got {list(layers)}")
    cfg = model.cfg
    hidden = cfg.ffn_mult * cfg.d_model
    new_mult = ffn_mult or cfg.ffn_mult
    if new_mult > cfg.ffn_mult:
        raise ValueError(f"ffn_mult {new_mult} is larger than the model's {cfg.ffn_mult}")
    keep_units = new_mult * cfg.d_model
    scores = mlp_importance(model, lines) if keep_units < hidden else None
    student = RecognizerNet(replace(cfg, n_layers=len(layers), ffn_mult=new_mult))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("blocks.")}
    missing = student.load_state_dict(state, strict=False)
    assert all(k.startswith("blocks.") for k in missing.missing_keys), missing
    for j, i in enumerate(layers):
        src, dst = model.blocks[i], student.blocks[j]
        if scores is not None:
            idx = scores[i].topk(keep_units).indices.sort().values
            fc1, fc2 = src.mlp[0], src.mlp[2]
            with torch.no_grad():
                dst.mlp[0].weight.copy_(fc1.weight[idx])
                dst.mlp[0].bias.copy_(fc1.bias[idx])
                dst.mlp[2].weight.copy_(fc2.weight[:, idx])
                dst.mlp[2].bias.copy_(fc2.bias)
            rest = {k: v for k, v in src.state_dict().items() if not k.startswith("mlp.")}
            dst.load_state_dict(rest, strict=False)
        else:
            dst.load_state_dict(src.state_dict())
    return student


def distill_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, lengths: torch.Tensor,
                 temperature: float = 1.0, lines: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over valid frames of τ²·KL(teacher ‖ student) at temperature τ; logits (T, B, C) time-major.
    ``lines`` (B,) bool: only these lines' frames count (None: all)."""
    T, B, _ = student_logits.shape
    valid = (torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]).to(torch.float32)            # (T, B)
    if lines is not None:
        valid = valid * lines.to(valid)[None, :]
    logp_s = torch.log_softmax(student_logits.float() / temperature, -1)
    logp_t = torch.log_softmax(teacher_logits.float() / temperature, -1)
    kl = (logp_t.exp() * (logp_t - logp_s)).sum(-1)                                    # (T, B)
    return (kl * valid).sum() / valid.sum().clamp(min=1.0) * temperature ** 2
