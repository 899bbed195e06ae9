"""Data curation for the recogniser: score training lines with a trained model, then drop or reweight them.

    line shards ─▶ current recogniser (CTC loss per character, greedy-read NED) ─▶ scores.jsonl
    scores.jsonl + TrainConfig.curation ─▶ per-line sampling weights ─▶ ShardSource (hash-based acceptance)

Two policies, both within each language (scripts differ in difficulty, so one global cut would only
remove Han lines and change the language mix):

* ``filter``: drop the ``curation_drop`` share of lines with the highest loss per character. Rendered
  data has failures a model can never learn from (a glyph the font draws as another character, a
  degradation that wipes the text); the worst-read lines hold most of them.
* ``loss``: keep every line, sampled in proportion to ``(loss / language median) ** curation_power``,
  clipped to ``[1 / curation_clip, curation_clip]``, then rescaled to a mean weight of 1 per language
  (so the language mix stays the configured one). Hard lines come back more often.

Lines that were not scored keep weight 1; the benchmark ``bench_curation.py`` trains on scored shards only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from polyocr.bidi import to_visual
from polyocr.charset import Charset
from polyocr.eval.metrics import edit_distance
from polyocr.fileio import atomic_write
from polyocr.models.recognizer import load_safetensors
from polyocr.pipeline.recognize import ctc_greedy, finish_line, pad_batch, prepare_line
from polyocr.train.cpu import use_bf16
from polyocr.train.data import (LineSample, ctc_frames_needed, read_shard_sample, sample_key, shard_files,
                                shard_language, tar_samples)

__all__ = ["LineScore", "score_shards", "load_scores", "curation_weights", "design_weights", "POLICIES"]

POLICIES = ("none", "filter", "loss")


@dataclass(frozen=True)
class LineScore:
    key: str
    language: str
    loss: float      # CTC loss per target character (fp32)
    ned: float       # greedy reading against the label, whitespace-normalised
    chars: int
    font: str = ""   # the font family the generator drew the line in ("" when the shard does not say)


def _lines(files: Sequence[Path], limit: int) -> Iterator[tuple[str, LineSample, str]]:
    for path in files:
        with open(path, "rb") as fh:
            for k, group in enumerate(tar_samples(path)):
                if limit and k >= limit:
                    break
                _, meta = shard_language(fh, group)
                font = (meta.get("font") or {}).get("family", "")
                yield sample_key(path, group), read_shard_sample(fh, group, meta), font


@torch.no_grad()
def score_shards(weights: str | Path, shards: Sequence[str | Path], out: str | Path, limit_per_shard: int = 0,
                 batch_size: int = 32, threads: int = 1, bf16: bool = True) -> int:
    """Score every line of ``shards`` with the recogniser ``weights`` (safetensors); returns lines written."""
    torch.set_num_threads(threads)
    bf16 = use_bf16(bf16)
    charset = Charset.load()
    model, _ = load_safetensors(str(weights), charset.sha256)
    model.eval()
    height, stride = model.cfg.height, model.cfg.width_stride
    rows: list[str] = []

    def run(batch: list[tuple[str, LineSample, np.ndarray, list[int], str, str]]) -> None:
        images, widths = pad_batch([b[2] for b in batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, lengths = model(torch.from_numpy(images), torch.from_numpy(widths), time_major=True)
        logp = torch.log_softmax(logits, -1, dtype=torch.float32)
        targets = torch.tensor([i for b in batch for i in b[3]], dtype=torch.int64)
        tlens = torch.tensor([len(b[3]) for b in batch], dtype=torch.int64)
        losses = F.ctc_loss(logp, targets, lengths, tlens, blank=0, reduction="none", zero_infinity=True)
        probs, ids = logp.exp().max(-1)                                      # (T, B)
        for j, (key, s, _, ids_j, text, font) in enumerate(batch):
            chars, conf, mean = ctc_greedy(ids[:, j].numpy(), probs[:, j].numpy(), int(lengths[j]))
            hyp = finish_line(charset, chars, conf, mean, None if s.vertical else s.direction).text
            ned = edit_distance(text, hyp) / max(len(text), len(hyp), 1)
            rows.append(json.dumps(asdict(LineScore(key, s.language, float(losses[j]) / len(ids_j), ned, len(text), font)),
                                   ensure_ascii=False))

    pending: list[tuple[str, LineSample, np.ndarray, list[int], str, str]] = []
    for key, s, font in _lines(shard_files(shards), limit_per_shard):
        text = " ".join(s.text.split())
        ids, _ = charset.encode(text if s.vertical else to_visual(text, s.direction))
        x = prepare_line(s.image, height, vertical=s.vertical)
        if not ids or -(-x.shape[1] // stride) < ctc_frames_needed(ids):
            continue  # the trainer skips these too
        pending.append((key, s, x, ids, text, font))
        if len(pending) == batch_size * 8:  # sort a few batches by width: little padding
            pending.sort(key=lambda b: b[2].shape[1])
            for i in range(0, len(pending), batch_size):
                run(pending[i:i + batch_size])
            pending = []
    pending.sort(key=lambda b: b[2].shape[1])
    for i in range(0, len(pending), batch_size):
        run(pending[i:i + batch_size])
    atomic_write(Path(out), ("\n".join(rows) + "\n").encode("utf-8"))
    return len(rows)


def load_scores(path: str | Path) -> list[LineScore]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no line scores at {path} (write them with `polyocr train score`)")
    with open(path, encoding="utf-8") as f:
        return [LineScore(**json.loads(line)) for line in f if line.strip()]


def curation_weights(scores: Sequence[LineScore], policy: str, drop: float = 0.05, power: float = 0.5,
                     clip: float = 4.0) -> dict[str, float]:
    """Sampling weight per line key (see the module docstring); ``none`` gives no weights."""
    if policy not in POLICIES:
        raise ValueError(f"unknown curation policy {policy!r}; known: {', '.join(POLICIES)}")
    if policy == "none":
        return {}
    by_lang: dict[str, list[LineScore]] = {}
    for s in scores:
        by_lang.setdefault(s.language, []).append(s)
    weights: dict[str, float] = {}
    for group in by_lang.values():
        loss = np.asarray([s.loss for s in group], np.float64)
        if policy == "filter":
            if not 0.0 <= drop < 1.0:
                raise ValueError(f"curation_drop must be in [0, 1), got {drop}")
            cut = np.quantile(loss, 1.0 - drop) if drop > 0 else np.inf
            w = np.where(loss > cut, 0.0, 1.0)
        else:
            rel = np.maximum(loss, 1e-6) / max(float(np.median(loss)), 1e-6)
            w = np.clip(rel ** power, 1.0 / clip, clip)
            w = w / w.mean()
        weights.update({s.key: float(x) for s, x in zip(group, w)})
    return weights


def design_weights(scores: Sequence[LineScore], power: float = 1.0, clip: float = 4.0,
                   min_lines: int = 8) -> dict[str, dict[str, float]]:
    """Per language, a sampling weight per font design for the generator (``SynthConfig.font_weights``).

    Why: the generator draws every design group equally often, but a model does not find every
    design equally easy (Amiri's stacked ligatures, brush and Kai faces). A design's weight is
    (its mean loss per character / the language's median over designs) ** ``power``, clipped to
    [1 / clip, clip]; designs with fewer than ``min_lines`` scored lines keep weight 1.
    """
    from polyocr.synth.fonts import design_key

    by: dict[str, dict[str, list[float]]] = {}
    for s in scores:
        if s.font:
            by.setdefault(s.language, {}).setdefault(design_key(s.font), []).append(s.loss)
    out: dict[str, dict[str, float]] = {}
    for lang, designs in sorted(by.items()):
        means = {d: float(np.mean(v)) for d, v in designs.items() if len(v) >= min_lines}
        if not means:
            continue
        median = max(float(np.median(list(means.values()))), 1e-6)
        out[lang] = {d: round(float(np.clip((max(m, 1e-6) / median) ** power, 1.0 / clip, clip)), 4)
                     for d, m in sorted(means.items())}
    return out
