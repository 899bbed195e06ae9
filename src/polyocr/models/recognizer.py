"""The line recogniser: one text-line image → per-frame class scores for CTC, over the unified charset.

    image (B, 1, H, W)  ──conv stem──▶  (B, C, H/4, W/4)  ──2 conv stages, stride (2, 1)──▶  (B, C, H/16, W/4)
        ──collapse height──▶  (B, T=W/4, D)  ──n × transformer block──▶  ──LayerNorm + Linear──▶  (B, T, n_classes)

Why this shape:

* **Width stride 4.** At H=32 a CJK character is about 28-32 px wide, i.e. 7-8 frames; narrow Latin
  letters ("il", 5-8 px) still get ~2 frames, enough for CTC's blank between doubled letters.
* **Convolutions first, attention after.** The stem turns pixels into local glyph features cheaply
  (most FLOPs at full resolution are in two small stride-2 convs); 4 pre-norm transformer layers at
  d=192 then give every frame the whole line as context (Arabic joining forms, CJK punctuation,
  vertical-text rotation cues). Transformers export to ONNX cleanly and run fast in onnxruntime,
  unlike LSTMs.
* **Positions by depthwise convolution** (a "PEG" at the start of each block): relative, so the model
  has no maximum length and no learnt table to extrapolate, and it respects the padding mask.
* **Padding-exact.** Every conv stage multiplies its output by the column mask, so padded columns stay
  zero — exactly what a conv's own zero padding would see at the end of a line that is alone in
  its batch — and attention ignores padded keys. A line's scores do not depend on what it is batched
  with (tests/models/test_recognizer.py). BatchNorm batch statistics during training do include
  padded columns; width-bucketed batching keeps that share small, and eval mode is exact.
* **The head is the biggest single matrix and half the inference time** (12.8K classes per frame),
  so it reads a 128-d bottleneck of the 192-d frames: 1.6M instead of 2.5M parameters, a third
  fewer FLOPs, and the exported graph computes only argmax + max-probability per frame.

Inputs are normalised outside the model (grayscale, height ``cfg.height``, per-image mean/std; see
:func:`polyocr.pipeline.recognize.prepare_line`), so train and inference share one preprocessing
and the ONNX graph stays a pure function of pixels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["RecognizerConfig", "Recognizer", "RecognizerExport", "frame_lengths", "save_safetensors", "load_safetensors"]


@dataclass
class RecognizerConfig:
    height: int = 32                       # input line height in px (H)
    n_classes: int = 12768                 # CTC blank + space + charset (len(Charset))
    stem: tuple[int, ...] = (32, 64)       # channels of the stride-2 stem convs (each halves H and W)
    stages: tuple[int, ...] = (128, 192)   # channels of the stride-(2,1) stages (each halves H only)
    blocks: tuple[int, ...] = (1, 1)       # residual blocks per stage
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6
    ffn_mult: int = 4
    pos_kernel: int = 7                    # depthwise conv positional encoding, in frames
    head_dim: int = 128                    # bottleneck before the n_classes head (0 = none)
    dropout: float = 0.1

    @property
    def width_stride(self) -> int:
        """Input pixels per output frame: T = ceil(W / width_stride)."""
        return 2 ** len(self.stem)

    @property
    def final_height(self) -> int:
        h = self.height
        for _ in range(len(self.stem) + len(self.stages)):
            h = (h + 1) // 2  # conv k3 s2 p1: ceil(h / 2)
        return h

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RecognizerConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RecognizerConfig fields {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def frame_lengths(widths: torch.Tensor, n_halvings: int) -> torch.Tensor:
    """Valid output columns after ``n_halvings`` stride-2 convs (k3, p1): ceil(w / 2) each time."""
    for _ in range(n_halvings):
        widths = torch.div(widths + 1, 2, rounding_mode="floor")
    return widths


def _column_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B,) lengths → (B, 1, 1, width) float mask, 1 on valid columns."""
    cols = torch.arange(width, device=lengths.device)
    return (cols[None, :] < lengths[:, None]).to(torch.float32)[:, None, None, :]


class ConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int] | int = 1, act: bool = True) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out),
                         *([nn.ReLU(inplace=True)] if act else []))


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(c, c)
        self.conv2 = ConvBN(c, c, act=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.conv1(x) * mask
        return F.relu(x + self.conv2(y)) * mask


class Stage(nn.Module):
    """Conv that halves the height (stride (2, 1)), then residual blocks; width is unchanged."""

    def __init__(self, c_in: int, c_out: int, n_blocks: int) -> None:
        super().__init__()
        self.down = ConvBN(c_in, c_out, stride=(2, 1))
        self.blocks = nn.ModuleList(ResBlock(c_out) for _ in range(n_blocks))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.down(x) * mask
        for b in self.blocks:
            x = b(x, mask)
        return x


class Attention(nn.Module):
    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                             # 3 × (B, T, C)
        q = q.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask,   # key_mask: (B, 1, 1, T) bool
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, T, C)                             # (B, T, C)
        return self.proj(y)


class Block(nn.Module):
    """Conv position encoding, then pre-norm self-attention and MLP."""

    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.pos = nn.Conv1d(d, d, cfg.pos_kernel, padding=cfg.pos_kernel // 2, groups=d)
        self.ln1 = nn.LayerNorm(d)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, cfg.ffn_mult * d), nn.GELU(), nn.Linear(cfg.ffn_mult * d, d))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        # frame_mask: (B, T, 1) float; padded frames are kept at zero so the depthwise conv sees zeros there.
        x = x + self.pos(x.transpose(1, 2)).transpose(1, 2) * frame_mask   # (B, T, C)
        x = x + self.drop(self.attn(self.ln1(x), key_mask))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x * frame_mask


class Recognizer(nn.Module):
    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = [1, *cfg.stem]
        self.stem = nn.ModuleList(ConvBN(a, b, stride=2) for a, b in zip(chans, chans[1:]))
        chans = [cfg.stem[-1], *cfg.stages]
        self.stages = nn.ModuleList(Stage(a, b, n) for a, b, n in zip(chans, chans[1:], cfg.blocks))
        # Collapse the remaining height into one frame vector: a conv whose kernel spans it.
        self.collapse = nn.Conv2d(cfg.stages[-1], cfg.d_model, (cfg.final_height, 1))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.neck = nn.Linear(cfg.d_model, cfg.head_dim) if cfg.head_dim else nn.Identity()
        self.head = nn.Linear(cfg.head_dim or cfg.d_model, cfg.n_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, H, W) normalised pixels, zero beyond each line's width; widths: (B,) int64 valid px.

        Returns logits (B, T, n_classes) with T = ceil(W / 4), and the valid frames per line (B,).
        """
        lengths = widths
        for conv in self.stem:
            x = conv(x)                                                     # (B, c, h/2, w/2)
            lengths = frame_lengths(lengths, 1)
            x = x * _column_mask(lengths, x.shape[-1])
        mask = _column_mask(lengths, x.shape[-1])                           # (B, 1, 1, T)
        for stage in self.stages:
            x = stage(x, mask)                                              # (B, c, h/2, T)
        x = self.collapse(x).squeeze(2).transpose(1, 2)                     # (B, C, 1, T) → (B, T, C)
        frame_mask = mask[:, 0, 0, :, None]                                 # (B, T, 1)
        key_mask = mask.bool()                                              # (B, 1, 1, T): True = attend
        x = x * frame_mask
        for block in self.blocks:
            x = block(x, frame_mask, key_mask)                              # (B, T, C)
        B, T, C = x.shape
        # 2-D for the head so ONNX gets one Gemm with the bias fused (3-D MatMul + Add is slower).
        x = self.neck(self.ln_f(x)).reshape(B * T, -1)                      # (B·T, head_dim)
        logits = self.head(x).view(B, T, -1)                                # (B, T, n_classes)
        return logits, lengths


class RecognizerExport(nn.Module):
    """The graph shipped as ONNX: per-frame best class and its probability, not 12.8K scores per frame.

    Copying (B, T, n_classes) logits out of onnxruntime would cost more than the model itself
    (32 lines × 60 frames × 12.8K floats ≈ 100 MB per batch); greedy CTC needs only the argmax and
    the confidence its max probability. ``with_logits`` adds the raw logits for parity tests.
    """

    def __init__(self, model: Recognizer, with_logits: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_logits = with_logits

    def forward(self, x: torch.Tensor, widths: torch.Tensor):
        logits, lengths = self.model(x, widths)                             # (B, T, C), (B,)
        best_prob, best_id = logits.float().softmax(-1).topk(1, dim=-1)     # (B, T, 1) each
        best_prob, best_id = best_prob.squeeze(-1), best_id.squeeze(-1)     # (B, T)
        if self.with_logits:
            return best_id, best_prob, lengths, logits
        return best_id, best_prob, lengths


def save_safetensors(model: Recognizer, path: str, metadata: dict[str, str] | None = None,
                     dtype: torch.dtype | None = None) -> None:
    """Weights + config in one safetensors file (never pickle); ``dtype`` casts floating tensors."""
    from safetensors.torch import save_file

    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().contiguous()
        tensors[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
    meta = {"format": "polyocr-recognizer", "config": json.dumps(model.cfg.to_dict()), **(metadata or {})}
    save_file(tensors, path, metadata=meta)


def load_safetensors(path: str, charset_sha256: str | None = None) -> tuple[Recognizer, dict[str, str]]:
    """A model saved by :func:`save_safetensors` (fp32 in memory), and the file's metadata.

    ``charset_sha256``: refuse weights whose recorded charset differs.
    """
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != "polyocr-recognizer":
        raise ValueError(f"{path}: not a polyocr recogniser (metadata format={meta.get('format')!r})")
    if charset_sha256 is not None and meta.get("charset_sha256") not in (None, charset_sha256):
        raise ValueError(f"{path}: trained with charset sha256 {meta.get('charset_sha256', '')[:12]}…, "
                         f"installed charset is {charset_sha256[:12]}…")
    model = Recognizer(RecognizerConfig.from_dict(json.loads(meta["config"])))
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    model.load_state_dict(state)
    return model, meta
