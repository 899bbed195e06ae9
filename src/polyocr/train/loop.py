"""One plain training loop for the line recogniser (reads top to bottom like nanoGPT's train.py).

    batches ─▶ bf16 autocast forward ─▶ fp32 log-softmax + CTC ─▶ AdamW (clip) ─▶ log / eval / checkpoint

* **Where**: the CPU by default; ``device=cuda`` for a GPU, fed by ``workers`` > 1 data processes
  taken in turn (:class:`polyocr.train.data.ParallelBatches`); checkpoints are the same either way.

* **Schedule**: linear warmup, then cosine to ``lr × min_lr_ratio``; a pure function of the step.
* **Logs**: ``<out>/log.jsonl``, one JSON object per ``log_every`` steps (step, loss, lr, samples/s,
  elapsed seconds, padding share, skipped samples) and one per evaluation (CER, NED and exact-line
  accuracy per language on the fixed held-out sets).
* **Checkpoints** every ``ckpt_minutes`` (and/or ``ckpt_every`` steps) as
  ``<out>/checkpoints/step-NNNNNNNN/{model.safetensors, optim.safetensors, state.json}``: written to a
  ``.tmp`` folder, then renamed, then ``checkpoints/latest`` is replaced atomically — a kill at any
  moment leaves the previous checkpoint intact. No pickle anywhere: optimizer tensors go to their
  own safetensors file, its scalars and param groups to ``state.json``.
* **Exact resume**: ``state.json`` also holds the data position (pool, batch, source state; see
  :mod:`polyocr.train.data`). Dropout draws from ``torch.manual_seed(f(seed, step))`` every step and
  the learning rate is a function of the step, so a resumed run computes the same batches with the
  same weights, optimizer moments and random masks as the run that was killed — losses match the
  uninterrupted run to float precision (same thread count).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from polyocr.charset import Charset
from polyocr.eval.metrics import edit_distance
from polyocr.languages import LANGUAGES
from polyocr.models.recognizer import RecognizerNet, frame_lengths, load_safetensors, save_safetensors
from polyocr.pipeline.recognize import RecognizedLine, ctc_greedy, finish_line, pad_batch, prepare_line
from polyocr.train.data import (Batch, Batcher, LineSample, Mixture, ParallelBatches, PrefetchBatches, RealSource,
                                ShardSource, SynthSource, heldout_set)
from polyocr.train.recipes import TrainConfig
from polyocr.train.cpu import use_bf16
from polyocr.train.distill import distill_loss, shrink

__all__ = ["train", "lr_at", "make_batcher", "BatcherFactory", "evaluate", "read_samples", "line_ned", "edit_distance",
           "save_checkpoint", "load_checkpoint", "latest_checkpoint"]


# -- data ----------------------------------------------------------------------------------------------------

def make_batcher(cfg: TrainConfig, charset: Charset | None = None, part: tuple[int, int] = (0, 1)) -> Batcher:
    """The configured sources, mixed at their ratios, batched by width.

    ``part`` = (k, n): the k-th of n data processes; it draws with its own seeds and reads every n-th shard.
    """
    charset = charset or Charset.load()
    if part[1] > 1:
        cfg = replace(cfg, seed=cfg.seed + 10_007 * part[0], synth_seed=cfg.synth_seed + 10_007 * part[0])
    sources: list[Any] = []
    ratios: list[float] = []
    if cfg.synth_ratio > 0:
        from polyocr.synth.page import SynthConfig

        synth = SynthConfig(seed=cfg.synth_seed, languages=cfg.languages, language_weights=cfg.language_weights,
                            degrade=cfg.degrade, shared=cfg.shared, split="train")
        sources.append(SynthSource(synth))
        ratios.append(cfg.synth_ratio)
    if cfg.shards and cfg.shards_ratio > 0:
        weights = cfg.weights_by_language() if cfg.language_weights else None
        sources.append(ShardSource(cfg.shards, seed=cfg.seed, language_weights=weights,
                                   sample_weights=_curation(cfg), part=part))
        ratios.append(cfg.shards_ratio)
    if cfg.real and cfg.real_ratio > 0:
        sources.append(RealSource(cfg.real, seed=cfg.seed))
        ratios.append(cfg.real_ratio)
    if not sources:
        raise ValueError("no training data: set synth_ratio > 0, or give shards / real folders with a ratio > 0")
    return Batcher(Mixture(sources, ratios, seed=cfg.seed), charset, batch_size=cfg.batch_size,
                   pool_batches=cfg.pool_batches, height=cfg.model.height, max_width=cfg.max_width,
                   seed=cfg.seed, augment=cfg.augment, width_stride=cfg.model.width_stride,
                   augment_strength=cfg.augment_strength, remargin=cfg.remargin,
                   remargin_range=tuple(cfg.remargin_range))


def _curation(cfg: TrainConfig) -> dict[str, float] | None:
    if cfg.curation == "none":
        return None
    from polyocr.train.curate import curation_weights, load_scores

    if not cfg.scores:
        raise ValueError(f"curation={cfg.curation!r} needs line scores: set scores=<file from `polyocr train score`>")
    return curation_weights(load_scores(cfg.scores), cfg.curation, cfg.curation_drop, cfg.curation_power,
                            cfg.curation_clip)


class BatcherFactory:
    """Picklable recipe for building the Batcher in a data worker process."""

    def __init__(self, cfg: TrainConfig, part: tuple[int, int] = (0, 1)) -> None:
        self.cfg = cfg.to_dict()
        self.part = part

    def __call__(self) -> Batcher:
        torch.set_num_threads(1)
        import cv2

        cv2.setNumThreads(1)  # many data processes: one thread each
        return make_batcher(TrainConfig.from_dict(self.cfg), part=self.part)


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` (an error without one) or ``auto`` (cuda when torch sees one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name}: torch sees no CUDA device here (use device=cpu or auto)")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}: cpu, cuda or auto")
    return torch.device(name)


# -- schedule, metrics ----------------------------------------------------------------------------------------

def lr_at(step: int, cfg: TrainConfig) -> float:
    """Warmup then cosine decay, a pure function of ``step`` (so resuming needs no scheduler state)."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


@torch.no_grad()
def decode_batch(model: RecognizerNet, images: np.ndarray, widths: np.ndarray, charset: Charset,
                 directions: list[str | None], bf16: bool = False) -> list[RecognizedLine]:
    """Greedy CTC decode of one padded batch with the torch model (logical order, with confidences)."""
    device = next(model.parameters()).device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits, lengths = model(torch.from_numpy(images).to(device), torch.from_numpy(widths).to(device))
    probs, ids = logits.float().softmax(-1).max(-1)                         # (B, T) each
    probs, ids, lengths = probs.cpu(), ids.cpu(), lengths.cpu()
    out = []
    for k in range(len(directions)):
        chars, conf, mean = ctc_greedy(ids[k].numpy(), probs[k].numpy(), int(lengths[k]))
        out.append(finish_line(charset, chars, conf, mean, directions[k]))
    return out


def read_samples(model: RecognizerNet, samples: list[LineSample], charset: Charset,
                 directions: list[str | None] | None = None, bf16: bool = True, max_width: int = 1600,
                 batch_size: int = 32) -> list[RecognizedLine]:
    """Read lines with the torch model in width-sorted batches; ``directions`` default to the samples' own
    (None lets the decoder infer it, as when the language is unknown)."""
    if directions is None:
        directions = [None if s.vertical else s.direction for s in samples]
    xs = [prepare_line(s.image, model.cfg.height, s.vertical, max_width) for s in samples]
    order = sorted(range(len(xs)), key=lambda i: xs[i].shape[1])
    out: list[RecognizedLine | None] = [None] * len(xs)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        images, widths = pad_batch([xs[i] for i in idx])
        for i, line in zip(idx, decode_batch(model, images, widths, charset, [directions[i] for i in idx], bf16)):
            out[i] = line
    return out  # type: ignore[return-value]


def line_ned(ref: str, hyp: str) -> float:
    """Normalised edit distance of one line, whitespace runs collapsed on both sides."""
    ref, hyp = " ".join(ref.split()), " ".join(hyp.split())
    return edit_distance(ref, hyp) / max(len(ref), len(hyp), 1)


def evaluate(model: RecognizerNet, sets: dict[str, list[LineSample]], charset: Charset, cfg: TrainConfig,
             batch_size: int = 32) -> dict[str, dict[str, float]]:
    """CER, NED and exact-line accuracy per language (labels and predictions whitespace-normalised)."""
    was_training = model.training
    model.eval()
    results: dict[str, dict[str, float]] = {}
    for lang, samples in sets.items():
        preds = [r.text for r in read_samples(model, samples, charset, bf16=cfg.bf16, max_width=cfg.max_width,
                                              batch_size=batch_size)]
        errors = chars = exact = 0
        ned = 0.0
        for s, hyp in zip(samples, preds):
            ref = " ".join(s.text.split())
            d = edit_distance(ref, hyp)
            errors += d
            chars += len(ref)
            ned += d / max(len(ref), len(hyp), 1)
            exact += ref == hyp
        n = max(1, len(samples))
        results[lang] = {"cer": errors / max(1, chars), "ned": ned / n, "acc": exact / n, "n": len(samples)}
    if results:
        results["mean"] = {k: float(np.mean([r[k] for r in results.values()])) for k in ("cer", "ned", "acc")}
    model.train(was_training)
    return results


# -- checkpoints ---------------------------------------------------------------------------------------------

def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def latest_checkpoint(out: Path) -> Path | None:
    """The folder ``<out>/checkpoints/latest`` points to, or None."""
    ptr = Path(out) / "checkpoints" / "latest"
    if not ptr.is_file():
        return None
    path = ptr.parent / ptr.read_text().strip()
    return path if (path / "state.json").is_file() else None


def save_checkpoint(out: Path, step: int, model: RecognizerNet, opt: torch.optim.Optimizer, cfg: TrainConfig,
                    charset: Charset, extra: dict[str, Any], keep: int = 2) -> Path:
    from safetensors.torch import save_file

    root = Path(out) / "checkpoints"
    name = f"step-{step:08d}"
    tmp = root / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_safetensors(model, str(tmp / "model.safetensors"), {"charset_sha256": charset.sha256, "step": str(step)})
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                v = v.detach().cpu()
                tensors[f"{pid}.{k}"] = v.reshape(-1).contiguous() if v.dim() == 0 else v.contiguous()
                if v.dim() == 0:
                    scalars.setdefault(str(pid), {})[f"{k}.__scalar__"] = True
            else:
                scalars.setdefault(str(pid), {})[k] = v
    save_file(tensors, str(tmp / "optim.safetensors"))
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    state = {"step": step, "config": cfg.to_dict(), "charset_sha256": charset.sha256, "charset_version": charset.version,
             "optimizer": {"param_groups": groups, "scalars": scalars}, **extra}
    (tmp / "state.json").write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    for f in tmp.iterdir():
        _fsync(f)
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    ptr_tmp = root / f"latest.tmp-{os.getpid()}"
    ptr_tmp.write_text(name)
    _fsync(ptr_tmp)
    os.replace(ptr_tmp, root / "latest")
    _fsync(root)
    done = sorted(p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in done[:-keep] if keep > 0 else []:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model: RecognizerNet, opt: torch.optim.Optimizer | None, charset: Charset) -> dict[str, Any]:
    """Restore model (and optimizer) from a checkpoint folder; returns its state.json."""
    from safetensors.torch import load_file

    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    charset.check(state["charset_sha256"], what=f"checkpoint {path}")
    loaded, _ = load_safetensors(str(path / "model.safetensors"), charset.sha256)
    model.load_state_dict(loaded.state_dict())
    if opt is not None:
        tensors = load_file(str(path / "optim.safetensors"))
        scalars = state["optimizer"]["scalars"]
        opt_state: dict[int, dict[str, Any]] = {}
        for key, v in tensors.items():
            pid, name = key.split(".", 1)
            if scalars.get(pid, {}).get(f"{name}.__scalar__"):
                v = v.reshape(())
            opt_state.setdefault(int(pid), {})[name] = v
        for pid, extra in scalars.items():
            for k, v in extra.items():
                if not k.endswith(".__scalar__"):
                    opt_state.setdefault(int(pid), {})[k] = v
        groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in state["optimizer"]["param_groups"]]
        opt.load_state_dict({"state": opt_state, "param_groups": groups})
    return state


# -- the loop ------------------------------------------------------------------------------------------------

def batch_parts(n_lines: int, frames: int, max_frames: int) -> list[tuple[int, int]]:
    """(start, end) line ranges splitting a batch of ``n_lines`` lines padded to ``frames`` frames
    into parts of at most ``max_frames`` lines × frames (at least one line each); 0 = one part."""
    if max_frames <= 0 or n_lines * frames <= max_frames:
        return [(0, n_lines)]
    per = max(1, max_frames // max(1, frames))
    k = -(-n_lines // per)
    size = -(-n_lines // k)                         # equal parts rather than a small remainder
    return [(a, min(n_lines, a + size)) for a in range(0, n_lines, size)]


def _backward(model: RecognizerNet, teacher: RecognizerNet | None, batch: Any, device: torch.device,
              cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Loss of one batch and its gradients in the model's ``.grad``; returns (loss, distillation KL or None).

    The CTC loss is a mean over the batch's lines, so a part of ``m`` of its ``B`` lines contributes
    its own mean × m / B: the parts' gradients add up to the whole batch's (the KL term, a mean over
    valid frames, weighted by the part's share of them), but for batch norm, which in training normalises each part by its own
    statistics (as "ghost" batch norm does). Why parts: the class head's log-probabilities alone are B × T × 12.8K floats,
    12 GB for 192 lines of 400 frames with their gradients, more than a 24 GB machine can hold beside
    the rest (:attr:`TrainConfig.max_batch_frames`)."""
    n = len(batch.widths)
    frames = -(-batch.images.shape[-1] // model.cfg.width_stride)
    offsets = np.concatenate([[0], np.cumsum(batch.target_lengths)])
    valid = frame_lengths(torch.from_numpy(batch.widths), len(model.cfg.stem)).float()   # the KL is a mean over frames
    held = torch.tensor([lang not in cfg.distill_skip for lang in batch.languages])      # lines the teacher holds
    valid = valid * held
    total = torch.zeros((), device=device)
    kd_total = torch.zeros((), device=device) if teacher is not None else None
    for a, b in batch_parts(n, frames, cfg.max_batch_frames):
        x = torch.from_numpy(batch.images[a:b]).to(device, non_blocking=True)  # (m, 1, H, W)
        widths = torch.from_numpy(batch.widths[a:b]).to(device)                # (m,)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            logits, lengths = model(x, widths, time_major=True)         # (T, m, C), (m,)
        logp = torch.log_softmax(logits, -1, dtype=torch.float32)       # CTC in fp32
        loss = F.ctc_loss(logp, torch.from_numpy(batch.targets[offsets[a]:offsets[b]]).to(device), lengths,
                          torch.from_numpy(batch.target_lengths[a:b]).to(device),
                          blank=0, reduction="mean", zero_infinity=True)
        share = (b - a) / n
        loss = loss * share
        if teacher is not None:
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                t_logits, _ = teacher(x, widths, time_major=True)
            kd = (distill_loss(logits, t_logits, lengths, cfg.distill_temperature, held[a:b])
                  * (valid[a:b].sum() / valid.sum().clamp(min=1.0)))
            kd_total = kd_total + kd.detach()
            loss = loss + cfg.distill_weight * kd
        loss.backward()
        total = total + loss.detach()
    return total, kd_total


def _param_groups(model: RecognizerNet, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)  # no decay on biases and norm scales
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _Log:
    def __init__(self, path: Path, echo: Callable[[str], None] | None) -> None:
        self.path = path
        self.echo = echo

    def __call__(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        if self.echo:
            self.echo(line)


def _shrunk(model: RecognizerNet, cfg: TrainConfig) -> RecognizerNet:
    """The initial weights cut to ``cfg.init_layers`` / ``cfg.init_ffn_mult``, MLP units ranked on rendered lines."""
    from polyocr.train.export import parity_lines

    lines = [prepare_line(img, model.cfg.height, vert, cfg.max_width)
             for img, vert, _ in parity_lines(128, seed=5151, split="train")]  # [] without fonts: weight norms
    layers = cfg.init_layers or tuple(range(len(model.blocks)))
    return shrink(model, layers, cfg.init_ffn_mult, lines)


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, echo: Callable[[str], None] | None = print,
          stop_after: int | None = None) -> dict[str, Any]:
    """Train (or resume) a recogniser into ``out``; returns the last logged record and eval.

    ``stop_after``: return after this many steps of *this* call (the schedule still spans ``cfg.steps``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    charset = Charset.load()
    if cfg.model.n_classes != len(charset):
        cfg = replace(cfg, model=replace(cfg.model, n_classes=len(charset)))
    log = _Log(out / "log.jsonl", echo)
    device = resolve_device(cfg.device)
    if device.type == "cpu" and cfg.bf16 and not use_bf16(cfg.bf16):
        log({"event": "warning", "message": "this CPU has no native bfloat16 (AMX/AVX512-BF16): training in fp32"})
        cfg = replace(cfg, bf16=False)

    step, elapsed, samples_seen, position = 0, 0.0, 0, None
    ckpt = latest_checkpoint(out) if resume else None
    if resume and ckpt is None and (out / "checkpoints").exists():
        raise RuntimeError(f"--resume: {out}/checkpoints has no complete checkpoint")
    init = None
    if ckpt is not None:
        saved = TrainConfig.from_dict(json.loads((ckpt / "state.json").read_text(encoding="utf-8"))["config"])
        cfg = replace(cfg, model=saved.model)  # the architecture comes from the checkpoint
    elif cfg.init:
        init, _ = load_safetensors(cfg.init, charset.sha256)
        if cfg.init_layers or cfg.init_ffn_mult:
            init = _shrunk(init, cfg)
        cfg = replace(cfg, model=replace(init.cfg, dropout=cfg.model.dropout))  # ...or from the initial weights
    torch.manual_seed(cfg.seed)
    model = init if init is not None else RecognizerNet(cfg.model)
    teacher = None
    if bad := [c for c in cfg.distill_skip if c not in LANGUAGES]:
        raise ValueError(f"distill_skip: unknown language(s) {', '.join(bad)}; known: {', '.join(LANGUAGES)}")
    if cfg.teacher:
        teacher, _ = load_safetensors(cfg.teacher, charset.sha256)
        teacher.requires_grad_(False)
        if teacher.cfg.width_stride != model.cfg.width_stride:
            raise ValueError(f"teacher {cfg.teacher}: width stride {teacher.cfg.width_stride}, "
                             f"the model's is {model.cfg.width_stride} (frames must line up)")
    model.to(device)
    if teacher is not None:
        teacher.to(device)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
    if ckpt is not None:
        state = load_checkpoint(ckpt, model, opt, charset)
        step, elapsed, samples_seen = state["step"], state.get("elapsed", 0.0), state.get("samples", 0)
        position = state["position"]
        log({"event": "resume", "step": step, "checkpoint": ckpt.name})
    else:
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        log({"event": "start", "params": model.num_params(), "device": str(device), "config": cfg.to_dict()})

    parallel = None
    if position is not None and ("workers" in position) != (cfg.workers > 1):
        was = f"workers={len(position['workers'])}" if "workers" in position else "workers 0 or 1"
        raise ValueError(f"{out}: the checkpoint was written with {was}; resume with the same workers")
    if cfg.workers > 1:
        parallel = ParallelBatches([BatcherFactory(cfg, (k, cfg.workers)) for k in range(cfg.workers)], position)
        prefetch: Any = parallel
        batches: Iterator[Batch] = iter(parallel)
        batcher = None
    elif cfg.workers > 0:
        prefetch = PrefetchBatches(BatcherFactory(cfg), position)
        batches = iter(prefetch)
        batcher = None
    else:
        prefetch = None
        batcher = make_batcher(cfg, charset)
        batches = batcher.batches(position)

    heldout: dict[str, list[LineSample]] | None = None
    model.train()
    t_last = time.time()
    t_ckpt = time.time()
    run_start = time.time() - elapsed
    losses: list[torch.Tensor] = []   # summed at log time: no device sync per step
    kd_losses: list[torch.Tensor] = []
    n_last = 0
    pad_px = tot_px = 0
    record: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    done_here = 0
    interrupted = []
    try:  # SIGTERM (a scheduler's polite kill): checkpoint, then stop
        old_handler = signal.signal(signal.SIGTERM, lambda *_: interrupted.append(1))
    except ValueError:  # not the main thread
        old_handler = None
    try:
        while step < cfg.steps and not interrupted:
            batch = next(batches)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            torch.manual_seed((cfg.seed * 1_000_003 + step) % (2**63))  # dropout masks depend on the step only
            opt.zero_grad(set_to_none=True)
            loss, kd = _backward(model, teacher, batch, device, cfg)
            if kd is not None:
                kd_losses.append(kd)
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            done_here += 1
            samples_seen += len(batch.texts)
            n_last += len(batch.texts)
            losses.append(loss.detach())
            pad_px += int(batch.images.shape[0] * batch.images.shape[-1] - batch.widths.sum())
            tot_px += int(batch.images.shape[0] * batch.images.shape[-1])
            position = parallel.position() if parallel is not None else {
                "pool": batch.pool, "index": batch.index + 1, "state": batch.state}

            if step % cfg.log_every == 0 or step == cfg.steps:
                now = time.time()
                record = {"step": step, "loss": float(torch.stack(losses).float().mean()), "lr": lr_at(step - 1, cfg),
                          "samples_per_s": n_last / max(now - t_last, 1e-9), "elapsed": round(now - run_start, 1),
                          "samples": samples_seen, "padding": round(pad_px / max(1, tot_px), 3)}
                if kd_losses:  # "loss" is then CTC + weight × KL
                    record["distill_kl"] = float(torch.stack(kd_losses).float().mean())
                if batcher is not None:
                    record["skipped"] = dict(batcher.stats)
                    if charset.unknown:
                        record["unknown_chars"] = dict(charset.unknown.most_common(8))
                        record["unknown_total"] = sum(charset.unknown.values())
                log(record)
                losses, kd_losses, n_last, pad_px, tot_px, t_last = [], [], 0, 0, 0, time.time()

            if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
                if heldout is None:
                    cache = Path(cfg.eval_cache) if cfg.eval_cache else out / "heldout"
                    heldout = heldout_set(cache, cfg.languages, cfg.eval_per_language, cfg.eval_seed,
                                          degrade=cfg.degrade, shared=cfg.shared)
                t0 = time.time()
                metrics = evaluate(model, heldout, charset, cfg)
                log({"event": "eval", "step": step, "seconds": round(time.time() - t0, 1), **metrics})
                t_last += time.time() - t0  # samples/s measures training only

            due_time = (time.time() - t_ckpt) >= cfg.ckpt_minutes * 60
            due_step = cfg.ckpt_every and step % cfg.ckpt_every == 0
            if due_time or due_step or step == cfg.steps:
                save_checkpoint(out, step, model, opt, cfg, charset,
                                {"position": position, "elapsed": time.time() - run_start, "samples": samples_seen,
                                 "metrics": metrics}, keep=cfg.keep_ckpts)
                t_ckpt = time.time()
            if stop_after is not None and done_here >= stop_after:
                break
        if interrupted and position is not None:  # SIGTERM: save where we are, then stop
            save_checkpoint(out, step, model, opt, cfg, charset,
                            {"position": position, "elapsed": time.time() - run_start, "samples": samples_seen,
                             "metrics": metrics}, keep=cfg.keep_ckpts)
            log({"event": "stopped", "step": step, "reason": "SIGTERM"})
    finally:
        if prefetch is not None:
            prefetch.close()
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    return {"step": step, "last": record, "metrics": metrics}
