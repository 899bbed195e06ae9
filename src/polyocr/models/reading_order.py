"""Reading-order model: a small relational transformer over the lines of one page.

    feats (B, N, F), geom (B, N, 8) ─▶ line embedding ─▶ L × pre-LN encoder layers whose attention
    gets a per-head bias from pair geometry ─▶ pair head on (line a, line b, geometry of a → b):
        succ[a, b]  "b is the next line after a"        (+ end[a]: "a is the last line")
        same[a, b]  "a and b are in one paragraph"      (+ start[b]: "b is the first line")

Pair geometry (:func:`pair_features`) is what a reader looks at: offsets between the edges of
two boxes, in page units and in line heights (log-compressed), and how much they overlap across
and along the lines. The lines are a *set*: no positional index, so the input order is irrelevant.
Training: :mod:`polyocr.train.order`; inference: :mod:`polyocr.pipeline.order` (onnxruntime).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["OrderConfig", "ReadingOrderNet", "OrderExport", "pair_features", "successor_log_probs", "N_PAIR", "NEG",
           "save_safetensors", "load_safetensors"]

N_PAIR = 18
NEG = -1e4  # "impossible" logit: finite, so masked rows never produce NaN (also in bf16)


@dataclass
class OrderConfig:
    n_feats: int = 26        # per-line features (polyocr.pipeline.order.N_FEATURES)
    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    ffn_mult: int = 2
    geo_dim: int = 24        # embedding of the pair geometry (shared by attention bias and pair head)
    pair_dim: int = 32       # hidden width of the pair head
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "OrderConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _slog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def pair_features(geom: torch.Tensor) -> torch.Tensor:
    """(B, N, 8) boxes [page units | line-height units] → (B, N, N, N_PAIR) features of a → b."""
    def diffs(box: torch.Tensor) -> torch.Tensor:
        x0, y0, x1, y1 = box.unbind(-1)                      # each (B, N)
        a = lambda v: v[:, :, None]                          # noqa: E731  line a along dim 1
        b = lambda v: v[:, None, :]                          # noqa: E731  line b along dim 2
        return torch.stack([b(x0) - a(x0), b(x1) - a(x1), b(y0) - a(y0), b(y1) - a(y1),
                            b(x0) - a(x1), b(y0) - a(y1), b(x1) - a(x0), b(y1) - a(y0)], dim=-1)

    page, lh = geom[..., :4], geom[..., 4:]
    d_page = diffs(page) * 4.0                               # (B, N, N, 8)
    d_lh = _slog(diffs(lh))                                  # (B, N, N, 8)
    x0, y0, x1, y1 = lh.unbind(-1)
    w, h = (x1 - x0).clamp(min=1e-3), (y1 - y0).clamp(min=1e-3)
    ov_x = (torch.minimum(x1[:, :, None], x1[:, None]) - torch.maximum(x0[:, :, None], x0[:, None])) \
        / torch.minimum(w[:, :, None], w[:, None])
    ov_y = (torch.minimum(y1[:, :, None], y1[:, None]) - torch.maximum(y0[:, :, None], y0[:, None])) \
        / torch.minimum(h[:, :, None], h[:, None])
    ov = torch.stack([ov_x, ov_y], dim=-1).clamp(-4.0, 1.0)  # (B, N, N, 2)
    return torch.cat([d_page, d_lh, ov], dim=-1)


class _Layer(nn.Module):
    """Pre-LN transformer layer; attention logits get an additive (B, H, N, N) bias."""

    def __init__(self, cfg: OrderConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.h = cfg.n_heads
        self.dh = d // cfg.n_heads
        self.scale = 1.0 / math.sqrt(self.dh)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_mult * d), nn.GELU(), nn.Linear(cfg.ffn_mult * d, d))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        # unflatten/flatten instead of view(B, N, ...): no Python ints from shapes in the ONNX trace
        q, k, v = self.qkv(self.ln1(x)).unflatten(-1, (3, self.h, self.dh)).permute(2, 0, 3, 1, 4).unbind(0)  # 3 × (B, H, N, Dh)
        att = (q @ k.transpose(-1, -2)) * self.scale + bias                                  # (B, H, N, N)
        y = (att.softmax(-1) @ v).transpose(1, 2).flatten(2)                                 # (B, N, D)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.ffn(self.ln2(x)))


class ReadingOrderNet(nn.Module):
    """Lines of a page → successor, same-paragraph, start and end logits."""

    def __init__(self, cfg: OrderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or OrderConfig()
        d = cfg.d_model
        self.embed = nn.Sequential(nn.Linear(cfg.n_feats + 8, d), nn.GELU(), nn.Linear(d, d))
        # Everything computed per pair is kept narrow (and ReLU, whose backward is cheap): the N² pairs,
        # not the N lines, are most of the cost.
        self.geo = nn.Linear(N_PAIR, cfg.geo_dim)
        self.bias = nn.Linear(cfg.geo_dim, cfg.n_layers * cfg.n_heads)
        self.layers = nn.ModuleList(_Layer(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(d)
        self.pa, self.pb = nn.Linear(d, cfg.pair_dim), nn.Linear(d, cfg.pair_dim, bias=False)
        self.pg = nn.Linear(cfg.geo_dim, cfg.pair_dim, bias=False)
        self.pair_out = nn.Linear(cfg.pair_dim, 2)
        self.ends = nn.Linear(d, 2)  # (start, end) logits per line

    def forward(self, feats: torch.Tensor, geom: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """feats (B, N, F), geom (B, N, 8), mask (B, N) bool (True = real line) →
        succ (B, N, N), same (B, N, N), start (B, N), end (B, N) logits."""
        g = F.relu(self.geo(pair_features(geom)))                                   # (B, N, N, G)
        bias = self.bias(g).unflatten(-1, (len(self.layers), -1)).permute(3, 0, 4, 1, 2)  # (L, B, H, N, N)
        if mask is not None:
            bias = bias + (~mask)[None, :, None, None, :].to(bias.dtype) * NEG
        x = self.embed(torch.cat([feats, geom], dim=-1))                           # (B, N, D)
        for i, layer in enumerate(self.layers):
            x = layer(x, bias[i])
        x = self.ln(x)
        z = F.relu(self.pa(x)[:, :, None] + self.pb(x)[:, None] + self.pg(g))      # (B, N, N, Pd)
        out = self.pair_out(z)                                                     # (B, N, N, 2)
        se = self.ends(x)
        return out[..., 0], out[..., 1], se[..., 0], se[..., 1]


def successor_log_probs(succ: torch.Tensor, start: torch.Tensor, end: torch.Tensor,
                        mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Row log-softmax over (next line | end) and column log-softmax over (previous line | start).

    Returns (B, N, N+1) "after a comes b / nothing" and (B, N, N+1) "before b comes a / nothing"
    (the latter indexed [b, a]). The diagonal and padded lines are impossible.
    """
    idx = torch.arange(succ.shape[1], device=succ.device)
    eye = (idx[:, None] == idx[None, :])[None]  # not torch.eye: onnxruntime has no boolean EyeLike
    bad = eye if mask is None else eye | ~mask[:, None, :] | ~mask[:, :, None]
    s = succ.float().masked_fill(bad, NEG)
    rows = torch.cat([s, end.float()[:, :, None]], dim=2).log_softmax(-1)
    cols = torch.cat([s.transpose(1, 2), start.float()[:, :, None]], dim=2).log_softmax(-1)
    return rows, cols


class OrderExport(nn.Module):
    """The ONNX graph: (feats, geom) of one page → decoding score and same-paragraph probability.

    ``score[a, b]`` = log P(b after a) + log P(a before b), what :func:`chain_decode` maximises;
    ``same[a, b]`` = P(a and b in one paragraph) as scored from a towards b: decoding asks it of
    consecutive lines (a, then b), the direction the training loss weights most.
    """

    def __init__(self, model: ReadingOrderNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor, geom: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        succ, same, start, end = self.model(feats, geom)
        rows, cols = successor_log_probs(succ, start, end)
        score = rows[:, :, :-1] + cols[:, :, :-1].transpose(1, 2)                  # (1, N, N)
        return score, torch.sigmoid(same)


def save_safetensors(model: ReadingOrderNet, path: str, metadata: dict[str, str] | None = None,
                     dtype: torch.dtype | None = None) -> None:
    """Weights + config in one safetensors file (never pickle); ``dtype`` casts floating tensors."""
    from safetensors.torch import save_file

    tensors = {k: (v.detach().to(dtype) if dtype is not None and v.is_floating_point() else v.detach()).contiguous()
               for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={"format": "polyocr-order", "config": json.dumps(model.cfg.to_dict()),
                                       **(metadata or {})})


def load_safetensors(path: str) -> tuple[ReadingOrderNet, dict[str, str]]:
    """A model saved by :func:`save_safetensors` (fp32, eval mode) and the file's metadata."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != "polyocr-order":
            raise ValueError(f"{path}: not a polyocr reading-order model")
        state = {k: f.get_tensor(k).float() for k in f.keys()}
    model = ReadingOrderNet(OrderConfig.from_dict(json.loads(meta["config"])))
    model.load_state_dict(state)
    return model.eval(), meta
