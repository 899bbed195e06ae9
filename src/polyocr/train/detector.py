"""Training the text-line detector on generated pages (``polyocr train det``).

    page shards ─▶ random scale + crop + quarter turn ─▶ core / thickness maps ─▶ bf16 forward
      ─▶ BCE + dice on the core, L1 on log-thickness ─▶ AdamW ─▶ log / eval / checkpoint

Pages come from ``polyocr synth pages`` tar shards (``<key>.jpg`` + ``<key>.json``). Each decoded page
gives ``crops_per_page`` crops, so JPEG decoding is amortised. The scale is drawn around the one used at
inference (long side → ``DetectorConfig.long_side``), wide enough to cover 100-300 dpi scans. Quarter
turns teach rotated pages; the targets turn with the pixels because they are drawn after the turn.
Checkpoints (safetensors, no pickle) every few minutes; ``--resume`` continues from the latest.
"""

from __future__ import annotations

import io
import json
import math
import signal
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from polyocr.document import Document
from polyocr.fileio import atomic_write
from polyocr.models.detector import Detector, DetectorConfig
from polyocr.pipeline.detect import inference_scale
from polyocr.train.det_targets import line_quads, make_targets
from polyocr.train.cpu import use_bf16

__all__ = ["DetTrainConfig", "page_records", "CropSampler", "train_detector", "detector_loss"]


@dataclass
class DetTrainConfig:
    model: DetectorConfig = field(default_factory=DetectorConfig)
    shards: tuple[str, ...] = ()
    heldout: tuple[str, ...] = ()       # shards of held-out pages for evaluation
    crop: int = 512
    crops_per_page: int = 2
    batch_size: int = 8
    steps: int = 4000
    lr: float = 2e-3
    warmup: int = 200
    min_lr_ratio: float = 0.02
    weight_decay: float = 1e-4
    scale_jitter: tuple[float, float] = (0.6, 1.5)   # × the inference scale
    rotate_p: float = 0.25              # share of crops turned by 90/180/270°
    threads: int = 1
    seed: int = 0
    log_every: int = 20
    eval_every: int = 500
    eval_pages: int = 40
    ckpt_minutes: float = 5.0
    partial_shards: bool = False        # also train on shards still being written

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


def page_records(paths: Sequence[str | Path], partial: bool = False) -> list[tuple[Path, tarfile.TarInfo, tarfile.TarInfo]]:
    """(tar path, image member, json member) for every page in the given shards/folders.

    ``partial`` also reads the finished members of shards still being written (``*.tar.tmp-*``), so
    training can start while the generator runs."""
    tars: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            tars += sorted(p.glob("*.tar")) + (sorted(p.glob("*.tar.tmp-*")) if partial else [])
        else:
            tars.append(p)
    out = []
    for t in tars:
        members: dict[str, tarfile.TarInfo] = {}
        with tarfile.open(t) as tf:
            try:
                for m in tf:
                    members[m.name] = m
            except tarfile.ReadError:
                if not partial:
                    raise
        for name, m in sorted(members.items()):
            if not name.endswith(".json"):
                continue
            stem = name[:-5]
            img = members.get(stem + ".jpg") or members.get(stem + ".png")
            if img is not None:
                out.append((t, img, m))
    return out


def _read_page(rec: tuple[Path, tarfile.TarInfo, tarfile.TarInfo], handles: dict[Path, Any]) -> tuple[np.ndarray, Document]:
    tar_path, img_info, json_info = rec
    f = handles.get(tar_path)
    if f is None:
        f = handles[tar_path] = open(tar_path, "rb")
    f.seek(img_info.offset_data)
    data = f.read(img_info.size)
    image = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    f.seek(json_info.offset_data)
    doc = Document.from_json(f.read(json_info.size), check=False)
    return image, doc


def _turn(image: np.ndarray, quads: list[np.ndarray], k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rotate image and quads by k quarter turns counter-clockwise (np.rot90 convention)."""
    for _ in range(k % 4):
        w = image.shape[1]
        image = np.ascontiguousarray(np.rot90(image))
        quads = [np.stack([q[:, 1], w - q[:, 0]], axis=1) for q in quads]  # (x, y) → (y, w - x)
    return image, quads


class CropSampler:
    """Infinite stream of (image crop, kernel, thickness, weight) training samples."""

    def __init__(self, cfg: DetTrainConfig, records: list[tuple[Path, tarfile.TarInfo, tarfile.TarInfo]], seed: int) -> None:
        self.cfg = cfg
        self.records = records
        self.rng = np.random.default_rng(seed)
        self.handles: dict[Path, Any] = {}

    def samples(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        cfg, rng, c = self.cfg, self.rng, self.cfg.crop
        s = cfg.model.stride
        while True:
            image, doc = _read_page(self.records[int(rng.integers(len(self.records)))], self.handles)
            page = doc.pages[0]
            quads = [lq.points for lq in line_quads(page)]
            h, w = image.shape[:2]
            scale = inference_scale(h, w, cfg.model.long_side) * math.exp(rng.uniform(*np.log(cfg.scale_jitter)))
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            q_small = [q * np.float32([nw / w, nh / h]) for q in quads]
            for _ in range(cfg.crops_per_page):
                img, qs = small, q_small
                if rng.random() < cfg.rotate_p:
                    img, qs = _turn(img, qs, int(rng.integers(1, 4)))
                ih, iw = img.shape[:2]
                # crops favour text: centre on a random line half of the time
                if qs and rng.random() < 0.5:
                    cx, cy = qs[int(rng.integers(len(qs)))].mean(0)
                    x0 = int(np.clip(cx - rng.uniform(0.2, 0.8) * c, 0, max(0, iw - c)))
                    y0 = int(np.clip(cy - rng.uniform(0.2, 0.8) * c, 0, max(0, ih - c)))
                else:
                    x0 = int(rng.integers(0, max(1, iw - c + 1)))
                    y0 = int(rng.integers(0, max(1, ih - c + 1)))
                crop = np.full((c, c, 3), int(rng.integers(0, 256)), np.uint8)
                part = img[y0:y0 + c, x0:x0 + c]
                crop[:part.shape[0], :part.shape[1]] = part
                if rng.random() < 0.1:
                    crop = np.repeat(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
                if rng.random() < 0.05:
                    crop = 255 - crop
                out_q = [(q - np.float32([x0, y0])) / s for q in qs]
                out_q = [q for q in out_q if q[:, 0].max() > 0 and q[:, 1].max() > 0
                         and q[:, 0].min() < c / s and q[:, 1].min() < c / s]
                kernel, thick, weight = make_targets(out_q, c // s, c // s, cfg.model.shrink)
                yield crop, kernel, thick, weight


def _batches(sampler: CropSampler, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
    it = sampler.samples()
    while True:
        items = [next(it) for _ in range(batch_size)]
        img = torch.from_numpy(np.stack([i[0] for i in items])).permute(0, 3, 1, 2).float().div_(255.0)
        yield (img, torch.from_numpy(np.stack([i[1] for i in items])).float(),
               torch.from_numpy(np.stack([i[2] for i in items])), torch.from_numpy(np.stack([i[3] for i in items])))


def detector_loss(out: torch.Tensor, kernel: torch.Tensor, thick: torch.Tensor, weight: torch.Tensor
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """BCE with 3:1 hard-negative mining + dice on the core map; smooth L1 on log-thickness at cores."""
    logit, pred_t = out[:, 0].float(), out[:, 1].float()
    bce = F.binary_cross_entropy_with_logits(logit, kernel, reduction="none") * weight
    pos = (kernel > 0) & (weight > 0)
    n_pos = int(pos.sum())
    neg_losses = bce[(kernel == 0) & (weight > 0)]
    n_neg = min(int(neg_losses.numel()), max(3 * n_pos, 1000))
    hard = torch.topk(neg_losses, n_neg).values if n_neg else neg_losses[:0]
    l_bce = (bce[pos].sum() + hard.sum()) / max(1, n_pos + n_neg)
    p = torch.sigmoid(logit) * weight
    inter = (p * kernel).sum()
    l_dice = 1.0 - (2 * inter + 1.0) / (p.sum() + (kernel * weight).sum() + 1.0)
    l_t = F.smooth_l1_loss(pred_t[pos], thick[pos], beta=0.1) if n_pos else logit.sum() * 0.0
    loss = l_bce + l_dice + l_t
    return loss, {"bce": float(l_bce.detach()), "dice": float(l_dice.detach()), "thick": float(l_t.detach())}


def lr_at(step: int, cfg: DetTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _save(out: Path, step: int, model: Detector, opt: torch.optim.Optimizer, cfg: DetTrainConfig, rng_state: dict) -> None:
    ck = out / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(ck / "model.tmp"))
    opt_state = opt.state_dict()
    tensors = {f"{i}.{k}": v.contiguous() for i, st in opt_state["state"].items() for k, v in st.items()
               if isinstance(v, torch.Tensor)}
    save_file(tensors, str(ck / "optim.tmp"))
    (ck / "model.tmp").replace(ck / "model.safetensors")
    (ck / "optim.tmp").replace(ck / "optim.safetensors")
    atomic_write(ck / "state.json", json.dumps({"step": step, "config": cfg.to_dict(), "rng": rng_state}))


def load_detector(path: str | Path) -> Detector:
    """A detector from a ``model.safetensors`` whose config sits in ``model.json`` or a run's state.json."""
    path = Path(path)
    meta = path.with_name("model.json") if path.with_name("model.json").exists() else path.with_name("state.json")
    d = json.loads(meta.read_text())
    cfg = DetectorConfig.from_dict(d["config"]["model"] if "config" in d else d["model"])
    model = Detector(cfg)
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def train_detector(cfg: DetTrainConfig, out: str | Path, resume: bool = False, init: str = "",
                   echo: Callable[[str], None] | None = print,
                   evaluate: Callable[[Detector, int], dict[str, Any]] | None = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = Detector(cfg.model)
    step = 0
    if init:
        model.load_state_dict(load_file(init))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99))
    ck = out / "checkpoints"
    if resume and (ck / "state.json").exists():
        state = json.loads((ck / "state.json").read_text())
        step = int(state["step"])
        model.load_state_dict(load_file(str(ck / "model.safetensors")))
        tensors = load_file(str(ck / "optim.safetensors"))
        sd = opt.state_dict()
        for key, v in tensors.items():
            i, name = key.split(".", 1)
            sd["state"].setdefault(int(i), {})[name] = v
        opt.load_state_dict(sd)
    records = page_records(cfg.shards, partial=cfg.partial_shards)
    if not records:
        raise FileNotFoundError(f"no pages in {', '.join(cfg.shards)}")
    sampler = CropSampler(cfg, records, seed=cfg.seed * 1000003 + step)
    batches = _batches(sampler, cfg.batch_size)
    log = (out / "log.jsonl").open("a")

    def emit(rec: dict[str, Any]) -> None:
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if echo:
            echo(json.dumps(rec))

    stop = {"flag": False}

    def on_term(signum: int, frame: Any) -> None:
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, on_term)
    emit({"event": "start", "step": step, "pages": len(records), "params": sum(p.numel() for p in model.parameters()),
          "config": cfg.to_dict()})
    t_ck = t_log = time.time()
    n_log = 0
    acc: dict[str, float] = {}
    model.train()
    try:
        while step < cfg.steps and not stop["flag"]:
            if cfg.partial_shards and step % 200 == 0 and step:
                sampler.records = page_records(cfg.shards, partial=True) or sampler.records
            img, kernel, thick, weight = next(batches)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(True)):
                pred = model(img)
            loss, parts = detector_loss(pred, kernel, thick, weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            n_log += img.shape[0]
            for k, v in {"loss": float(loss), **parts}.items():
                acc[k] = acc.get(k, 0.0) + v
            if step % cfg.log_every == 0:
                now = time.time()
                emit({"step": step, **{k: round(v / cfg.log_every, 4) for k, v in acc.items()},
                      "lr": lr_at(step, cfg), "crops_per_s": round(n_log / (now - t_log), 2)})
                acc, n_log, t_log = {}, 0, now
            if evaluate and cfg.eval_every and step % cfg.eval_every == 0:
                model.eval()
                emit({"eval": step, **evaluate(model, step)})
                model.train()
            if time.time() - t_ck > cfg.ckpt_minutes * 60:
                _save(out, step, model, opt, cfg, {})
                t_ck = time.time()
    finally:
        signal.signal(signal.SIGTERM, old)
        _save(out, step, model, opt, cfg, {})
        emit({"event": "stopped" if stop["flag"] else "done", "step": step})
        log.close()
    return ck / "model.safetensors"


def export_detector(ckpt: str | Path, out: str | Path, parity_size: tuple[int, int] = (640, 480)) -> dict[str, Any]:
    """Checkpoint → ``detector.onnx`` (fp32, dynamic page size) + ``detector.safetensors`` + ``detector.json``.

    Checks onnxruntime against torch on a random page-sized input; refuses to write on a mismatch."""
    import hashlib

    import onnxruntime as ort

    ckpt = Path(ckpt)
    if ckpt.is_dir():
        ckpt = ckpt / "checkpoints" / "model.safetensors" if (ckpt / "checkpoints").is_dir() else ckpt / "model.safetensors"
    state = json.loads(ckpt.with_name("state.json").read_text())
    model = load_detector(ckpt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "detector.onnx.tmp"
    x = torch.rand(1, 3, parity_size[0], parity_size[1])
    torch.onnx.export(model, (x,), str(tmp), input_names=["image"], output_names=["maps"],
                      dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                    "maps": {0: "batch", 2: "out_height", 3: "out_width"}},
                      opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = model(x).numpy()
    got = sess.run(None, {"image": x.numpy()})[0]
    err = float(np.abs(ref - got).max())
    if err > 1e-3:
        tmp.unlink()
        raise RuntimeError(f"ONNX parity failed: max abs diff {err}")
    tmp.replace(out / "detector.onnx")
    save_file({k: v.detach().half().contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in model.state_dict().items()}, str(out / "detector.safetensors.tmp"))
    (out / "detector.safetensors.tmp").replace(out / "detector.safetensors")
    meta = {"format": "polyocr.detector", "version": 1, "model": model.cfg.to_dict(), "step": state["step"],
            "train": {k: v for k, v in state["config"].items() if k != "model"}, "parity_max_abs": err,
            "onnx_sha256": hashlib.sha256((out / "detector.onnx").read_bytes()).hexdigest()}
    atomic_write(out / "detector.json", json.dumps(meta, indent=1))
    return meta
