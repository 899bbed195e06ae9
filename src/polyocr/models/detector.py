"""Text-line detector: a compact convolutional FPN that predicts, at half the input resolution,

* ``kernel``: the probability that a pixel lies in the *core* of a text line — the line quad shrunk
  by ``shrink`` × its thickness on every side, so touching lines stay apart (the PSENet / DBNet idea
  without a learned threshold map);
* ``thickness``: log of the line's thickness (its extent across the writing direction) in output
  pixels, read at core pixels. Post-processing grows each core back to the full line with the median
  predicted thickness, which is steadier than inverting the shrink from the core's own width.

Both are rotation-equivariant targets, so one head covers horizontal, vertical (vertical-rl columns)
and rotated lines; the quads come out in :mod:`polyocr.pipeline.detect`. Pure torch; exported to ONNX.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DetectorConfig", "Detector"]


@dataclass(frozen=True)
class DetectorConfig:
    widths: tuple[int, ...] = (16, 32, 64, 96, 128)   # channels at strides 2, 4, 8, 16, 32
    blocks: tuple[int, ...] = (1, 2, 2, 3, 2)         # residual blocks per stage
    fpn: int = 48                                     # top-down pathway width
    head: int = 32                                    # stride-2 head width
    shrink: float = 0.3                               # core = quad shrunk by shrink × thickness per side
    stride: int = 2                                   # output stride (fixed by the architecture)
    long_side: int = 1280                             # inference: pages larger than this are scaled down
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DetectorConfig":
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**d)


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SepBlock(nn.Module):
    """Depthwise 3×3 (optionally strided) + pointwise; residual when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, dilation, dilation=dilation, groups=cin, bias=False),
                                nn.BatchNorm2d(cin), nn.ReLU(inplace=True))
        self.pw = conv_bn(cin, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return F.relu(x + y) if self.residual else F.relu(y)


class Detector(nn.Module):
    def __init__(self, cfg: DetectorConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or DetectorConfig()
        w = cfg.widths
        self.stem = conv_bn(3, w[0], 3, 2)                                  # /2
        stages: list[nn.Module] = [nn.Sequential(*[SepBlock(w[0], w[0]) for _ in range(cfg.blocks[0])])]
        for i in range(1, len(w)):
            blocks: list[nn.Module] = [SepBlock(w[i - 1], w[i], stride=2)]
            blocks += [SepBlock(w[i], w[i]) for _ in range(cfg.blocks[i] - 1)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.lateral = nn.ModuleList([conv_bn(c, cfg.fpn, 1) for c in w[1:]])
        self.smooth = nn.Sequential(SepBlock(cfg.fpn, cfg.fpn), SepBlock(cfg.fpn, cfg.head))
        # The stride-4 head predicts a 2×2 patch of stride-2 outputs per cell (pixel shuffle): half-
        # resolution maps keep thin lines apart without running convolutions at half resolution.
        self.out = nn.Conv2d(cfg.head, 2 * 4, 1)
        self.shuffle = nn.PixelShuffle(2)
        nn.init.constant_(self.out.bias, 0.0)
        with torch.no_grad():
            self.out.bias[0::2] = -2.0  # kernel channels (most pixels are background)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1], H and W multiples of 32 → (B, 2, H/2, W/2): kernel logit, log-thickness."""
        x = (image - 0.5) * 4.0
        feats = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        top = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, 0, -1):                             # /16 … /4
            top = F.interpolate(top, scale_factor=2.0, mode="nearest") + self.lateral[i - 1](feats[i])
        y = self.out(self.smooth(top))                                     # (B, 8, H/4, W/4)
        return self.shuffle(y)                                             # (B, 2, H/2, W/2)
