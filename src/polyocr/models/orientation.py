"""Glyph-orientation classifier: which way do the glyphs of a recogniser-style line strip lie?

    strip (B, 1, H=32, W) + widths (B,)
      ──3×3 conv stride 2 (stem)──────────────────────────────▶ (B, 16, 16, W/2)
      ──2 stages: 3×3 conv stride 2, then 3×3 conv stride 1───▶ (B, 32, 8, W/4) ▶ (B, 64, 4, W/8)
      ──conv spanning the remaining height────────────────────▶ (B, 64, 1, W/8)
      ──mean over the valid columns, Linear───────────────────▶ (B, 4) logits over CLASSES

86K parameters; 15 M multiply-adds for an 8-height window (32 × 256 px).

The strip is the output of :func:`polyocr.pipeline.recognize.prepare_line`: gray, 32 px high,
normalised, a vertical column already turned 90° counter-clockwise so it reads left to right. The
four classes are the four ways glyphs can lie in such a strip:

* ``upright``: a horizontal line as written;
* ``ccw``: glyphs turned 90° counter-clockwise, text running left to right: a vertical-rl CJK
  column after ``prepare_line(vertical=True)``;
* ``flip``: ``upright`` turned 180° (upside down, running right to left);
* ``cw``: ``ccw`` turned 180°.

:mod:`polyocr.pipeline.pipeline` maps the class of a page's longest lines, together with whether
their boxes were horizontal or vertical, to the quarter turn that makes the page upright.

Why this shape: orientation is a local property of glyphs (where strokes end, where ascenders,
descenders and the baseline sit), so a few convolutions and a global average over the line's
columns suffice; the height is kept to the end (4 rows) and collapsed by one conv, because "ink on
top or at the bottom" is the cue that tells ``upright`` from ``flip``. Averaging over the valid
columns only (every stage multiplies by the column mask, as the recogniser does) makes the output
independent of padding: any width, batched with anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from polyocr.configs import config_kwargs

__all__ = ["CLASSES", "OrientationConfig", "OrientationNet", "save_safetensors", "load_safetensors"]

CLASSES = ("upright", "ccw", "flip", "cw")
FORMAT = "polyocr-orientation"


@dataclass(frozen=True)
class OrientationConfig:
    height: int = 32                          # strip height (prepare_line's)
    stem: int = 16                            # channels of the stride-2 stem
    stages: tuple[int, ...] = (32, 64)        # per stage: 3×3 stride 2 then 3×3 stride 1, this many channels
    head: int = 64                            # width of the height-spanning conv before pooling

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OrientationConfig":
        return cls(**config_kwargs(cls, d))


def _conv_bn(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _halve(widths: torch.Tensor) -> torch.Tensor:
    """Valid columns after a stride-2 conv (k3, p1): ceil(w / 2)."""
    return torch.div(widths + 1, 2, rounding_mode="floor")


def _mask(widths: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B,) valid widths → (B, 1, 1, W) float mask for the feature map ``x`` (B, C, H, W)."""
    cols = torch.arange(x.shape[3], device=x.device)
    return (cols[None, :] < widths[:, None]).to(x.dtype)[:, None, None, :]


class OrientationNet(nn.Module):
    """Line strips → logits over :data:`CLASSES`."""

    def __init__(self, cfg: OrientationConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or OrientationConfig()
        self.stem = _conv_bn(1, cfg.stem, 2)
        c, blocks = cfg.stem, []
        for width in cfg.stages:
            blocks += [_conv_bn(c, width, 2), _conv_bn(width, width, 1)]
            c = width
        self.blocks = nn.ModuleList(blocks)
        self.strides = [2, 1] * len(cfg.stages)
        rows = cfg.height // 2 ** (1 + len(cfg.stages))
        self.collapse = nn.Sequential(nn.Conv2d(c, cfg.head, (rows, 1), bias=False), nn.BatchNorm2d(cfg.head),
                                      nn.ReLU(inplace=True))
        self.out = nn.Linear(cfg.head, len(CLASSES))

    def forward(self, image: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        """image (B, 1, H, W) float, zero-padded on the right; widths (B,) int64 → (B, 4) logits."""
        widths = _halve(widths)
        x = self.stem(image)                                                 # (B, C0, H/2, W/2)
        x = x * _mask(widths, x)
        for block, stride in zip(self.blocks, self.strides):
            if stride == 2:
                widths = _halve(widths)
            x = block(x)                                                     # (B, C, H/2^s, W/2^s)
            x = x * _mask(widths, x)
        x = self.collapse(x)                                                 # (B, D, 1, W/2^s)
        m = _mask(widths, x)
        pooled = (x * m).sum(dim=(2, 3)) / m.sum(dim=(2, 3)).clamp(min=1.0)  # (B, D)
        return self.out(pooled)


def save_safetensors(model: OrientationNet, path: str, metadata: dict[str, str] | None = None,
                     dtype: torch.dtype | None = None) -> None:
    """Weights + config in one safetensors file (never pickle); ``dtype`` casts floating tensors."""
    from safetensors.torch import save_file

    tensors = {k: (v.detach().to(dtype) if dtype is not None and v.is_floating_point() else v.detach()).contiguous()
               for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={"format": FORMAT, "config": json.dumps(model.cfg.to_dict()),
                                       "classes": json.dumps(CLASSES), **(metadata or {})})


def load_safetensors(path: str) -> tuple[OrientationNet, dict[str, str]]:
    """A model saved by :func:`save_safetensors` (fp32, eval mode) and the file's metadata."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: not a polyocr orientation model")
        state = {k: f.get_tensor(k) for k in f.keys()}
    model = OrientationNet(OrientationConfig.from_dict(json.loads(meta["config"])))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval(), meta
