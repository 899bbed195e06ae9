"""Glyph-orientation classifier: line shards → strip windows in four orientations → training → ONNX.

    line shards (<key>.jpg + .json) ─▶ index (writing mode, language, CJK share)
      ─▶ half horizontal lines, half vertical CJK columns ─▶ the recogniser's strip (prepare_line)
      ─▶ random window ≤ 8 heights, random margins, ±15 % aspect ─▶ turned 180° half the time
      ─▶ OrientationNet (bf16 autocast, 1 thread) ─▶ orientation.onnx + .safetensors + .json

Labels come from the writing mode alone: a horizontal line's strip is ``upright``, a vertical-rl
column's strip (turned counter-clockwise by :func:`~polyocr.pipeline.recognize.prepare_line`) is
``ccw``, and each turned 180° is ``flip`` / ``cw``. Only zh/ja shards have vertical columns, and
their Latin and digit runs are set sideways, so they stand upright in the strip: columns with more
than a little non-CJK text are left out (``min_cjk``), or a window of sideways Latin would be taught
as ``ccw``. The windows imitate what the pipeline's probe looks at (``pipeline._middle`` of a
detected line's crop); the margins across the line are redrawn around the ink, because the
generator's horizontal and vertical crops have different margins (the model must not learn "wide
margins = horizontal") and detector boxes are tighter than either, often cutting into ascenders.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
from PIL import Image

from polyocr.fileio import atomic_write, file_record, run_log
from polyocr.models.orientation import CLASSES, OrientationConfig
from polyocr.train.augment import remargin
from polyocr.train.cpu import use_bf16
from polyocr.pipeline.language import script_of
from polyocr.pipeline.recognize import pad_batch, prepare_line

__all__ = ["LineRecord", "index_lines", "cjk_share", "strip_window", "OrientTrainConfig", "StripSampler",
           "heldout_windows", "predict", "evaluate", "train_orientation", "export_orientation", "onnx_parity"]

UPRIGHT, CCW, FLIP, CW = range(4)
CJK_SCRIPTS = ("han", "kana", "hangul")


# -- index -----------------------------------------------------------------------------------------------

class LineRecord(NamedTuple):
    """Where one line image sits in a shard, and what the probe needs to know about it."""

    path: str
    offset: int
    size: int
    vertical: bool
    language: str
    cjk: float        # share of the line's length taken by CJK glyphs (see cjk_share)


def cjk_share(text: str) -> float:
    """Share of the set width of ``text`` in CJK glyphs (Han, kana, Hangul, CJK punctuation, full-width
    forms); everything else counts half (proportional Latin, digits). 0 for blank text."""
    full = other = 0.0
    for ch in text:
        if ch.isspace():
            continue
        o = ord(ch)
        if script_of(ch) in CJK_SCRIPTS or 0x3000 <= o <= 0x303F or 0xFF01 <= o <= 0xFF60:
            full += 1.0
        else:
            other += 0.5
    return full / (full + other) if full + other else 0.0


def index_lines(paths: Sequence[str | Path], max_shards: int = 0) -> list[LineRecord]:
    """Every line of the tar shards under ``paths`` (folders, searched recursively, or files;
    ``max_shards`` > 0 keeps the first ones in name order). Reads tar headers and per-line JSON only."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.tar"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no shards at {p}")
    if max_shards > 0:
        files = files[:max_shards]
    out: list[LineRecord] = []
    for path in files:
        groups: dict[str, dict[str, tarfile.TarInfo]] = {}
        with tarfile.open(path, "r:") as tf:
            for m in tf.getmembers():
                if m.isfile():
                    key, _, ext = m.name.rsplit("/", 1)[-1].partition(".")
                    groups.setdefault(key, {})[ext] = m
        with open(path, "rb") as fh:
            for g in groups.values():
                img = next((g[e] for e in ("jpg", "jpeg", "png") if e in g), None)
                if img is None or "json" not in g:
                    continue
                fh.seek(g["json"].offset_data)
                meta = json.loads(fh.read(g["json"].size))
                out.append(LineRecord(str(path), img.offset_data, img.size, meta.get("writing_mode") == "vertical-rl",
                                      meta.get("language", "und"), cjk_share(meta.get("text", ""))))
    return out


class _Reader:
    """Line images by record, one open file per shard."""

    def __init__(self) -> None:
        self.handles: dict[str, Any] = {}

    def gray(self, rec: LineRecord) -> np.ndarray:
        fh = self.handles.get(rec.path)
        if fh is None:
            fh = self.handles[rec.path] = open(rec.path, "rb")
        fh.seek(rec.offset)
        return np.asarray(Image.open(io.BytesIO(fh.read(rec.size))).convert("L"))

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()
        self.handles.clear()


# -- windows ---------------------------------------------------------------------------------------------

def strip_window(gray: np.ndarray, vertical: bool, heights: float, rng: np.random.Generator | None = None,
                 where: float = 0.5, margins: tuple[float, float] = (-0.1, 0.4)) -> np.ndarray:
    """A line image as the generator cropped it → the normalised strip window the probe would see.

    The line is turned as prepare_line turns it, cut to at most ``heights`` × its height, starting at
    ``where`` (0 = left end, 1 = right end) of the room there is, and normalised by prepare_line.
    With ``rng``: margins redrawn around the ink, a random place along the line, ±15 % aspect.
    """
    strip = np.ascontiguousarray(np.rot90(gray, 1)) if vertical else gray   # the recogniser's view
    aspect = 1.0
    if rng is not None:
        strip = remargin(strip, rng, *margins)
        where = float(rng.random())
        aspect = float(rng.uniform(0.85, 1.15))
    h, w = strip.shape
    n = max(1, int(heights * h))
    if w > n:
        x0 = int(round(where * (w - n)))
        strip = strip[:, x0:x0 + n]
    return prepare_line(strip, vertical=False, aspect=aspect)


def _turn(x: np.ndarray, label: int, half_turn: bool) -> tuple[np.ndarray, int]:
    """Turn a strip by 180° (upright ↔ flip, ccw ↔ cw) when ``half_turn``."""
    if not half_turn:
        return x, label
    return np.ascontiguousarray(x[::-1, ::-1]), (label + 2) % 4


# -- training data ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrientTrainConfig:
    """One training run; the defaults are the shipped model's recipe."""

    shards: tuple[str, ...] = ("/work/data/lines-v1",)
    max_shards: int = 40                     # first N shards of the training set (each has ~350 vertical columns)
    heldout: tuple[str, ...] = ("/work/runs/rec-unified-v1/heldout",)   # held-out fonts; never trained on
    heldout_vertical: tuple[str, ...] = ("/work/data/orient-heldout-v1/vertical",)  # more held-out columns (only
                                             # their vertical lines are used; `polyocr synth lines --split heldout`)
    model: OrientationConfig = field(default_factory=OrientationConfig)
    steps: int = 12000
    minutes: float = 18.0                    # wall-time cap; the learning-rate schedule follows steps or time
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 200
    weight_decay: float = 1e-4
    vertical_share: float = 0.5              # share of windows cut from vertical columns
    min_cjk: float = 0.9                     # vertical columns need this CJK share (see cjk_share)
    max_heights: float = 8.0                 # windows are at most this long (pipeline._middle's ratio)
    full_share: float = 0.5                  # share of batches whose windows are the full max_heights
    margins: tuple[float, float] = (-0.1, 0.4)  # margin above and below the ink, × its height (pipeline
                                             # crops of the longest lines: median 0.08 above, 0.22 below,
                                             # 23 % cut into the ink)
    invert: float = 0.05                     # share of windows negated (light text on dark)
    threads: int = 1
    bf16: bool = True
    seed: int = 0
    log_every: int = 100
    eval_every: int = 1000


class StripSampler:
    """Balanced batches: half horizontal lines, half vertical CJK columns, half of each turned 180°."""

    def __init__(self, records: Sequence[LineRecord], cfg: OrientTrainConfig, seed: int = 0) -> None:
        self.cfg = cfg
        self.vertical = [r for r in records if r.vertical and r.cjk >= cfg.min_cjk]
        self.horizontal = [r for r in records if not r.vertical]
        if not self.vertical or not self.horizontal:
            raise ValueError(f"need both horizontal lines and vertical CJK columns, got {len(self.horizontal)} "
                             f"and {len(self.vertical)}")
        self.rng = np.random.default_rng(seed)
        self.reader = _Reader()

    def batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, 1, 32, W) strips, (B,) widths, (B,) labels (indices into CLASSES)."""
        cfg, rng = self.cfg, self.rng
        # One window length per batch keeps padding (and its pull on BatchNorm statistics) small.
        heights = cfg.max_heights if rng.random() < cfg.full_share else float(rng.uniform(1.5, cfg.max_heights))
        strips, labels = [], []
        for _ in range(cfg.batch_size):
            vertical = rng.random() < cfg.vertical_share
            pool = self.vertical if vertical else self.horizontal
            rec = pool[int(rng.integers(len(pool)))]
            x = strip_window(self.reader.gray(rec), vertical, heights, rng, margins=cfg.margins)
            if rng.random() < cfg.invert:
                x = -x
            x, label = _turn(x, CCW if vertical else UPRIGHT, rng.random() < 0.5)
            strips.append(x)
            labels.append(label)
        images, widths = pad_batch(strips)
        return images, widths, np.asarray(labels, np.int64)


def heldout_windows(records: Sequence[LineRecord], min_cjk: float = 0.9, heights: float = 8.0,
                    places: Sequence[float] = (0.0, 0.5, 1.0)) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Deterministic evaluation windows: each line at ``places`` along it (once if it is short), in both
    of its orientations. Returns strips, labels and each window's language."""
    reader = _Reader()
    strips, labels, langs = [], [], []
    try:
        for rec in records:
            if rec.vertical and rec.cjk < min_cjk:
                continue
            gray = reader.gray(rec)
            long = (gray.shape[0] if rec.vertical else gray.shape[1]) > heights * min(gray.shape) * 1.5
            for where in places if long else (0.5,):
                x = strip_window(gray, rec.vertical, heights, where=where)
                for half in (False, True):
                    y, label = _turn(x, CCW if rec.vertical else UPRIGHT, half)
                    strips.append(y.astype(np.float16))   # thousands of windows: half the memory
                    labels.append(label)
                    langs.append(rec.language)
    finally:
        reader.close()
    return strips, np.asarray(labels, np.int64), langs


def predict(model: Any, strips: Sequence[np.ndarray], batch: int = 128) -> np.ndarray:
    """(N, 4) log-probabilities from the torch model, strips batched by width."""
    import torch

    order = sorted(range(len(strips)), key=lambda i: strips[i].shape[1])
    out = np.zeros((len(strips), len(CLASSES)), np.float32)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            images, widths = pad_batch([strips[i] for i in idx])
            out[idx] = torch.log_softmax(model(torch.from_numpy(images), torch.from_numpy(widths)), -1).numpy()
    return out


def evaluate(model: Any, strips: Sequence[np.ndarray], labels: np.ndarray, langs: Sequence[str]) -> dict[str, Any]:
    """Accuracy per class, per language and overall, and the confusion matrix (rows: truth)."""
    pred = predict(model, strips).argmax(1)
    conf = np.zeros((4, 4), np.int64)
    np.add.at(conf, (labels, pred), 1)
    per_class = {c: round(float(conf[i, i] / max(1, conf[i].sum())), 5) for i, c in enumerate(CLASSES)}
    langs_arr = np.asarray(langs)
    per_lang = {lang: round(float((pred[langs_arr == lang] == labels[langs_arr == lang]).mean()), 5)
                for lang in sorted(set(langs))}
    return {"windows": int(len(labels)), "accuracy": round(float((pred == labels).mean()), 5),
            "min_class_accuracy": min(per_class.values()), "per_class": per_class,
            "per_class_windows": {c: int(conf[i].sum()) for i, c in enumerate(CLASSES)},
            "per_language": per_lang, "confusion": conf.tolist()}


# -- training ----------------------------------------------------------------------------------------------

def _lr(cfg: OrientTrainConfig, step: int, elapsed: float) -> float:
    """Linear warm-up, then cosine to 2 % over whichever of steps and minutes runs out first."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    done = max(step / cfg.steps, elapsed / (cfg.minutes * 60)) if cfg.minutes > 0 else step / cfg.steps
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, done))))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, (tuple, list)):
        return [_jsonable(v) for v in obj]
    return obj


def train_orientation(cfg: OrientTrainConfig, out: str | Path, echo: Callable[[str], None] | None = print
                      ) -> dict[str, Any]:
    """Train; writes ``<out>/log.jsonl``, ``best.safetensors`` (by held-out lowest per-class accuracy,
    then overall) and ``last.safetensors``. Returns the final summary."""
    import torch
    import torch.nn.functional as F

    from polyocr.models.orientation import OrientationNet, save_safetensors

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    t_index = time.time()
    sampler = StripSampler(index_lines(cfg.shards, cfg.max_shards), cfg, seed=cfg.seed)
    held_records = index_lines(cfg.heldout) if cfg.heldout else []
    held_records += [r for r in (index_lines(cfg.heldout_vertical) if cfg.heldout_vertical else []) if r.vertical]
    held = heldout_windows(held_records, cfg.min_cjk, cfg.max_heights) if held_records else None
    model = OrientationNet(cfg.model)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr)
    log = (out / "log.jsonl").open("a", encoding="utf-8")

    def record(entry: dict[str, Any]) -> None:
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if echo:
            echo(json.dumps(entry))

    record({"event": "start", "horizontal_lines": len(sampler.horizontal), "vertical_columns": len(sampler.vertical),
            "heldout_windows": len(held[1]) if held else 0, "index_s": round(time.time() - t_index, 1),
            "params": sum(p.numel() for p in model.parameters()), "config": _jsonable(cfg)})
    t0 = time.time()
    step, best, best_eval = 0, (-1.0, -1.0), None
    window = {"loss": 0.0, "acc": 0.0, "n": 0, "t": time.time()}
    while True:
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, step, time.time() - t0)
        images, widths, labels = sampler.batch()
        model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(cfg.bf16)):
            logits = model(torch.from_numpy(images), torch.from_numpy(widths))
        target = torch.from_numpy(labels)
        loss = F.cross_entropy(logits.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        window["loss"] += float(loss.detach())
        window["acc"] += float((logits.argmax(1) == target).float().mean())
        window["n"] += 1
        if step % cfg.log_every == 0:
            dt = time.time() - window["t"]
            record({"step": step, "loss": round(window["loss"] / window["n"], 4),
                    "train_acc": round(window["acc"] / window["n"], 4), "lr": round(_lr(cfg, step, time.time() - t0), 6),
                    "windows_per_s": round(window["n"] * cfg.batch_size / dt, 1), "elapsed_s": round(time.time() - t0, 1)})
            window = {"loss": 0.0, "acc": 0.0, "n": 0, "t": time.time()}
        done = step >= cfg.steps or (cfg.minutes > 0 and time.time() - t0 > cfg.minutes * 60)
        if held and ((cfg.eval_every and step % cfg.eval_every == 0) or done):
            ev = evaluate(model, *held)
            record({"step": step, "eval": ev})
            score = (ev["min_class_accuracy"], ev["accuracy"])
            if score >= best:
                best, best_eval = score, ev
                save_safetensors(model, str(out / "best.safetensors"), {"step": str(step)})
        if done:
            break
    sampler.reader.close()
    save_safetensors(model, str(out / "last.safetensors"), {"step": str(step)})
    if best_eval is None:  # no held-out set: the last weights are the best we know
        save_safetensors(model, str(out / "best.safetensors"), {"step": str(step)})
    summary = {"event": "end", "step": step, "windows_seen": step * cfg.batch_size,
               "seconds": round(time.time() - t0, 1), "best_heldout": best_eval}
    record(summary)
    log.close()
    return summary


# -- export ----------------------------------------------------------------------------------------------

def onnx_parity(model: Any, onnx_path: str | Path, strips: Sequence[np.ndarray] = (), seed: int = 3) -> dict[str, Any]:
    """Largest |torch − onnxruntime| log-probability difference over strips of mixed widths batched
    together, and whether a strip alone gives what it gives in the batch (padding exactness)."""
    import torch

    from polyocr.pipeline.runtime import cpu_session

    rng = np.random.default_rng(seed)
    strips = list(strips) or [rng.normal(0, 1, (model.cfg.height, int(w))).astype(np.float32)
                              for w in rng.integers(20, 260, 9)]
    images, widths = pad_batch(strips)
    sess = cpu_session(onnx_path, threads=1)
    with torch.no_grad():
        ref = torch.log_softmax(model.eval()(torch.from_numpy(images), torch.from_numpy(widths)), -1).numpy()
    got = sess.run(None, {"image": images, "widths": widths})[0]
    alone = np.concatenate([sess.run(None, {"image": s[None, None], "widths": np.array([s.shape[1]], np.int64)})[0]
                            for s in strips])
    return {"strips": len(strips), "max_abs_diff": float(np.abs(ref - got).max()),
            "max_abs_diff_alone_vs_batched": float(np.abs(alone - got).max()),
            "same_class": float((ref.argmax(1) == got.argmax(1)).mean())}


def export_orientation(weights: str | Path, out: str | Path, strips: Sequence[np.ndarray] = (),
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run folder (its ``best.safetensors``) or a saved model → ``orientation.onnx`` +
    ``orientation.safetensors`` (both fp32) + ``orientation.json`` in ``out``. Refuses to write on a
    torch/onnxruntime mismatch."""
    import torch

    from polyocr.models.orientation import load_safetensors, save_safetensors

    weights = Path(weights)
    extra = dict(extra or {})
    if weights.is_dir():
        extra.update(_run_record(weights / "log.jsonl"))
        weights = weights / "best.safetensors"
    model, meta = load_safetensors(str(weights))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    class _Export(torch.nn.Module):   # the graph returns log-probabilities
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, image: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
            return torch.log_softmax(self.net(image, widths), -1)

    tmp = out / ".orientation.onnx.tmp"
    x, w = torch.randn(2, 1, model.cfg.height, 64), torch.tensor([64, 40])
    with torch.no_grad():
        torch.onnx.export(_Export().eval(), (x, w), str(tmp), input_names=["image", "widths"], output_names=["log_probs"],
                          dynamic_axes={"image": {0: "batch", 3: "width"}, "widths": {0: "batch"},
                                        "log_probs": {0: "batch"}}, opset_version=17, dynamo=False)
    par = onnx_parity(model, tmp, strips)
    if par["max_abs_diff"] > 1e-3 or par["max_abs_diff_alone_vs_batched"] > 1e-3:
        tmp.unlink()
        raise RuntimeError(f"ONNX parity failed: {par}")
    onnx_path, st_path = out / "orientation.onnx", out / "orientation.safetensors"
    tmp.chmod(0o644)
    tmp.replace(onnx_path)
    tmp = out / ".orientation.safetensors.tmp"
    # fp32: the whole model is 0.25 MB, and the safetensors then match the ONNX graph exactly
    save_safetensors(model, str(tmp), {k: v for k, v in meta.items() if k not in ("format", "config", "classes")})
    tmp.chmod(0o644)  # package data: readable by everyone, like the other weights
    tmp.replace(st_path)
    info = {
        "format": "polyocr-orientation", "format_version": 1,
        "architecture": "strided 3×3 convs + height-spanning conv + masked mean over width (polyocr.models.orientation)",
        "config": model.cfg.to_dict(), "params": sum(p.numel() for p in model.parameters()), "classes": list(CLASSES),
        "input": {"image": "(B, 1, 32, W) prepare_line strips, zero-padded", "widths": "(B,) int64 valid widths",
                  "window": "pipeline._middle of a line crop: at most 8 heights"},
        "output": {"log_probs": "(B, 4) log-probabilities over classes"},
        "training": {"checkpoint": weights.name, "step": meta.get("step"), **extra},
        "parity": par,
        "onnx": {**file_record(onnx_path), "opset": 17},
        "safetensors": {**file_record(st_path),
                        "dtype": "float32"},
        "licence": "Apache-2.0",
    }
    atomic_write(out / "orientation.json", json.dumps(info, indent=1))
    return info


def _run_record(log: Path) -> dict[str, Any]:
    """The recipe and outcome of a run, from its log, for orientation.json."""
    if not log.is_file():
        return {}
    _, start, end = run_log(log)
    cfg = start.get("config", {})
    return {"recipe": {k: cfg.get(k) for k in ("shards", "max_shards", "heldout", "heldout_vertical", "steps", "minutes", "batch_size", "lr",
                                               "vertical_share", "min_cjk", "max_heights", "full_share", "margins", "invert",
                                               "bf16", "threads", "seed")},
            "data": {k: start.get(k) for k in ("horizontal_lines", "vertical_columns", "heldout_windows")},
            "run": {k: end.get(k) for k in ("step", "windows_seen", "seconds")},
            "heldout": end.get("best_heldout")}
