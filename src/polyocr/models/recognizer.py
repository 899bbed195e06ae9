"""The line recogniser: one text-line image → per-frame class scores for CTC, over the unified charset.

    image (B, 1, H=32, W)
      ──2 stride-2 convs (stem)──────────────▶ (B, 64, H/4, W/4)
      ──2 stages: 3×3 conv stride (2, 1), then 2 depthwise-separable residual blocks──▶ (B, 192, H/16, W/4)
      ──conv spanning the remaining height──▶ (B, T=W/4, 192)
      ──4 × transformer block (conv position encoding, attention, MLP)──▶ (B, T, 192)
      ──LayerNorm, 128-d bottleneck, Linear──▶ (B, T, n_classes ≈ 12.8K)

Why this shape:

* **Width stride 4.** At H=32 a CJK character is about 28-32 px wide, i.e. 7-8 frames; narrow Latin
  letters ("il", 5-8 px) still get ~2 frames, enough for CTC's blank between doubled letters.
* **Convolutions first, attention after.** The stem turns pixels into local glyph features cheaply.
  The residual blocks are depthwise 3×3 + pointwise 1×1 (as in mobile OCR backbones): measured on
  this CPU they make onnxruntime inference 1.4× faster than full 3×3 blocks (197 vs 140 lines per
  CPU-second at 280 px, int8) for 0.9M fewer parameters; the full 3×3 convs that change channels
  and height stay. 4 pre-norm transformer layers at d=192 then give every frame the whole line as
  context (Arabic joining forms, CJK punctuation, rotated vertical text). Transformers export to
  ONNX cleanly and run fast in onnxruntime, unlike LSTMs. ``block="conv"`` restores full 3×3 blocks.
* **Positions by depthwise convolution** (a "PEG" at the start of each block): relative, so the model
  has no maximum length and no learnt table to extrapolate, and it respects the padding mask.
* **Padding-exact.** Every conv stage multiplies its output by the column mask, so padded columns stay
  zero — exactly what a conv's own zero padding would see at the end of a line that is alone in
  its batch — and attention ignores padded keys. A line's scores do not depend on what it is batched
  with (tests/models/test_recognizer.py). BatchNorm batch statistics during training do include
  padded columns; width-bucketed batching keeps that share small, and eval mode is exact.
* **The head dominates the cost.** With ~12.8K classes per frame, the head matmuls, log-softmax and
  CTC take about half of a training step and, before the bottleneck, half of inference. So the head
  reads a 128-d bottleneck of the 192-d frames (1.6M instead of 2.5M parameters), the exported graph
  returns only each frame's best class and its probability, and training asks for time-major
  logits (the layout CTC wants) so the largest tensor of the step is never transposed.
* **No dropout by default**: the synthetic stream hardly repeats a line, so there is nothing to
  regularise against, and dropout would slow learning and cost ~4 % of a step.

Inputs are normalised outside the model (grayscale, height ``cfg.height``, per-image mean/std; see
:func:`polyocr.pipeline.recognize.prepare_line`), so train and inference share one preprocessing
and the ONNX graph stays a pure function of pixels. Height 32 rather than 40: measured here, 40 costs
27 % more training time per line and 40 % more inference time, for larger glyphs the generator's
crops rarely need (CJK at 32 px keeps ~26 px per character).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from polyocr.configs import config_kwargs

__all__ = ["RecognizerConfig", "RecognizerNet", "RecognizerExport", "BlankGate", "frame_lengths", "save_safetensors", "load_safetensors"]


@dataclass
class RecognizerConfig:
    height: int = 32                       # input line height in px (H)
    n_classes: int = 12768                 # CTC blank + space + charset (len(Charset))
    stem: tuple[int, ...] = (32, 64)       # channels of the stride-2 stem convs (each halves H and W)
    stages: tuple[int, ...] = (128, 192)   # channels of the stride-(2,1) stages (each halves H only)
    blocks: tuple[int, ...] = (2, 2)       # residual blocks per stage
    block: str = "dwsep"                   # residual block kind: "dwsep" (depthwise + pointwise) or "conv" (2 × 3×3)
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6
    ffn_mult: int = 4
    pos_kernel: int = 7                    # depthwise conv positional encoding, in frames
    head_dim: int = 128                    # bottleneck before the n_classes head (0 = none)
    dropout: float = 0.0                   # synthetic data never repeats much: dropout only slows learning

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
        return cls(**config_kwargs(cls, d))


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
    """Residual block: two full 3×3 convs ("conv"), or depthwise 3×3 + pointwise 1×1 ("dwsep")."""

    def __init__(self, c: int, kind: str = "dwsep") -> None:
        super().__init__()
        if kind == "conv":
            self.conv1 = ConvBN(c, c)
            self.conv2 = ConvBN(c, c, act=False)
        elif kind == "dwsep":
            self.conv1 = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            self.conv2 = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c))
        else:
            raise ValueError(f"unknown block kind {kind!r}")

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.conv1(x) * mask
        return F.relu(x + self.conv2(y)) * mask


class Stage(nn.Module):
    """Conv that halves the height (stride (2, 1)), then residual blocks; width is unchanged."""

    def __init__(self, c_in: int, c_out: int, n_blocks: int, kind: str) -> None:
        super().__init__()
        self.down = ConvBN(c_in, c_out, stride=(2, 1))
        self.blocks = nn.ModuleList(ResBlock(c_out, kind) for _ in range(n_blocks))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.down(x) * mask
        for b in self.blocks:
            x = b(x, mask)
        return x


class _FusedAttention(torch.autograd.Function):
    """Exported as onnxruntime's fused ``com.microsoft.MultiHeadAttention``; export-time only.

    It takes each line's valid frame count (B,) int32 as its key mask. Against the plain exported
    graph (MatMul, scale, broadcast mask Add, Softmax, MatMul, head transposes) the fused op was
    1.3-1.5x faster on (16, 300, 192) at one thread with identical outputs, and the whole int8
    recogniser ~2 % faster on dense-page batches (session 5, BENCHMARKS.md). Attention is still
    about 30 % of the graph's time: lines of 200-400 frames make it quadratic in practice. Local
    (chunked) attention was tried at export and was no faster: the gathers cost what it saved.
    """

    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, lengths: torch.Tensor,
                n_heads: int) -> torch.Tensor:
        keep = torch.arange(k.shape[1])[None, :] < lengths[:, None].long()  # (B, T)
        return _attention(q, k, v, keep, n_heads)

    @staticmethod
    def symbolic(g: Any, q: Any, k: Any, v: Any, lengths: Any, n_heads: int) -> Any:
        none = g.op("prim::Constant")
        none.setType(torch._C.OptionalType.ofTensor())                     # an omitted optional input
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, none, lengths,
                    num_heads_i=n_heads).setType(q.type())


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor,
               n_heads: int) -> torch.Tensor:
    """(B, T, C) queries over (B, S, C) keys/values with ``keep`` (B, S) bool → (B, T, C), as the fused op computes."""
    B, T, C = q.shape
    S = k.shape[1]
    q = q.view(B, T, n_heads, C // n_heads).transpose(1, 2)                # (B, nh, T, hs)
    k = k.view(B, S, n_heads, C // n_heads).transpose(1, 2)                # (B, nh, S, hs)
    v = v.view(B, S, n_heads, C // n_heads).transpose(1, 2)
    bias = (keep.to(q.dtype) - 1.0)[:, None, None, :] * 1e4                # (B, 1, 1, S)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    return y.transpose(1, 2).reshape(B, T, C)


class Attention(nn.Module):
    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)                             # 3 × (B, T, C)
        if lengths is not None and torch.onnx.is_in_onnx_export():        # fused op, (B,) valid frames
            return self.proj(_FusedAttention.apply(q, k, v, lengths.to(torch.int32), self.n_heads))
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

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor, key_mask: torch.Tensor,
                lengths: torch.Tensor | None = None) -> torch.Tensor:
        # frame_mask: (B, T, 1) float; padded frames are kept at zero so the depthwise conv sees zeros there.
        x = x + self.pos(x.transpose(1, 2)).transpose(1, 2) * frame_mask   # (B, T, C)
        x = x + self.drop(self.attn(self.ln1(x), key_mask, lengths))
        x = x + self.drop(self.mlp(self.ln2(x)))
        return x * frame_mask


class RecognizerNet(nn.Module):
    def __init__(self, cfg: RecognizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = [1, *cfg.stem]
        self.stem = nn.ModuleList(ConvBN(a, b, stride=2) for a, b in zip(chans, chans[1:]))
        chans = [cfg.stem[-1], *cfg.stages]
        self.stages = nn.ModuleList(Stage(a, b, n, cfg.block) for a, b, n in zip(chans, chans[1:], cfg.blocks))
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

    def forward(self, x: torch.Tensor, widths: torch.Tensor,
                time_major: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, H, W) normalised pixels, zero beyond each line's width; widths: (B,) int64 valid px.

        Returns logits (B, T, n_classes) with T = ceil(W / 4) — or (T, B, n_classes) with
        ``time_major``, the layout CTC wants, without copying the largest tensor of the step — and
        the valid frames per line (B,).
        """
        feats, lengths = self.encode(x, widths, time_major)
        lead = feats.shape[:2]                                              # (B, T), or (T, B)
        # 2-D for the head so ONNX gets one Gemm with the bias fused (3-D MatMul + Add is slower).
        logits = self.head(feats.reshape(lead[0] * lead[1], -1)).view(lead[0], lead[1], -1)
        return logits, lengths

    def encode(self, x: torch.Tensor, widths: torch.Tensor,
               time_major: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything before the class head: (B, T, head_dim) frame features (or (T, B, ·)), lengths."""
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
            x = block(x, frame_mask, key_mask, lengths)                     # (B, T, C)
        if time_major:
            x = x.transpose(0, 1)                                           # (T, B, C)
        return self.neck(self.ln_f(x)), lengths                             # (B, T, head_dim), or (T, B, ·)


@dataclass(frozen=True)
class BlankGate:
    """A linear test on a frame's head features that says "surely blank" (score > 0).

    About 70 % of CTC frames are blank, and the 12.8K-class head with its softmax and arg-max is a
    third of inference time; frames the gate passes skip it. Fitted after training on the frozen
    model (:func:`polyocr.train.export.fit_blank_gate`) so that almost no non-blank frame is
    skipped; its share of skipped frames and misses are recorded in model.json.
    """

    weight: tuple[float, ...]   # (head_dim,)
    bias: float                 # the decision threshold folded in: skip where w·x + bias > 0

    def to_dict(self) -> dict[str, Any]:
        return {"weight": list(self.weight), "bias": self.bias}


class RecognizerExport(nn.Module):
    """The graph shipped as ONNX: per-frame best class and its probability, not 12.8K scores per frame.

    Copying (B, T, n_classes) logits out of onnxruntime would cost more than the model itself
    (32 lines × 60 frames × 12.8K floats ≈ 100 MB per batch); greedy CTC needs only the argmax and
    the confidence its max probability. ``alternatives=K`` adds each frame's K best classes and their
    probabilities (``alt_ids``, ``alt_probs``), so a line can be decoded again with only one
    language's characters once the page's language is known. ``with_logits`` adds the raw logits
    (last output) for parity tests. With a ``gate``, frames it calls blank get id 0 and probability
    sigmoid(score) (its estimate of P(blank)) without running the head (their alternatives: blank
    first, then id 0 at probability 0); the others get the head's exact answer.
    """

    def __init__(self, model: RecognizerNet, with_logits: bool = False, gate: BlankGate | None = None,
                 alternatives: int = 0) -> None:
        super().__init__()
        self.model = model
        self.with_logits = with_logits
        self.k = max(1, alternatives)
        self.alternatives = alternatives > 0
        self.gated = gate is not None
        if gate is not None:
            self.register_buffer("gate_w", torch.tensor(gate.weight, dtype=torch.float32))
            self.register_buffer("gate_b", torch.tensor(gate.bias, dtype=torch.float32))

    def forward(self, x: torch.Tensor, widths: torch.Tensor):
        if not self.gated:
            logits, lengths = self.model(x, widths)                         # (B, T, C), (B,)
            top_prob, top_id = logits.float().softmax(-1).topk(self.k, dim=-1)  # (B, T, K) each
        else:
            feats, lengths = self.model.encode(x, widths)                   # (B, T, D), (B,)
            B, T, D = feats.shape
            flat = feats.reshape(B * T, D)
            score = flat @ self.gate_w + self.gate_b                        # (B·T,): > 0 = blank
            keep = (score <= 0).nonzero().squeeze(1)                        # (N,) frames for the head
            # (top-k of the logits + exp(· - ReduceLogSumExp) instead of the softmax was 30 % slower
            # in onnxruntime: its ReduceLogSumExp is far slower than its Softmax)
            prob, cls = self.model.head(flat.index_select(0, keep)).float().softmax(-1).topk(self.k, dim=-1)
            top_id = torch.zeros(B * T, self.k, dtype=torch.int64).index_copy(0, keep, cls)
            blank_prob = torch.cat([torch.sigmoid(score)[:, None], torch.zeros(B * T, self.k - 1)], 1)
            top_prob = blank_prob.index_copy(0, keep, prob)
            top_id, top_prob = top_id.view(B, T, self.k), top_prob.view(B, T, self.k)
            logits = self.model.head(flat).view(B, T, -1) if self.with_logits else None
        out = [top_id[..., 0], top_prob[..., 0], lengths]
        if self.alternatives:
            out += [top_id, top_prob]
        if self.with_logits:
            out.append(logits)
        return tuple(out)


def save_safetensors(model: RecognizerNet, path: str, metadata: dict[str, str] | None = None,
                     dtype: torch.dtype | None = None) -> None:
    """Weights + config in one safetensors file (never pickle); ``dtype`` casts floating tensors."""
    from safetensors.torch import save_file

    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        tensors[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
    meta = {"format": "polyocr-recognizer", "config": json.dumps(model.cfg.to_dict()), **(metadata or {})}
    save_file(tensors, path, metadata=meta)


def load_safetensors(path: str, charset_sha256: str | None = None) -> tuple[RecognizerNet, dict[str, str]]:
    """A model saved by :func:`save_safetensors` (fp32 in memory, eval mode), and the file's metadata.

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
    model = RecognizerNet(RecognizerConfig.from_dict(json.loads(meta["config"])))
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    model.load_state_dict(state)
    return model.eval(), meta
