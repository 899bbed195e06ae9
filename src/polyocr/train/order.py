"""Reading-order model: cached generator pages → noisy line sets → training → ONNX export.

    generate_page (Documents only) ─▶ page JSON cache ─▶ detector-like noise ─▶ line features + targets
        ─▶ ReadingOrderNet (bf16 autocast, 1 thread) ─▶ order.onnx + order.safetensors + order.json

The targets come from the page model itself: the reading order is the order of ``Page.lines``
(blocks in reading order, lines in block order, the same graph ``Page.relations`` lists as
``next_line``/``next_block`` edges) and a paragraph is a ``Block``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from polyocr.document import Document, Line, Page, polygon_bounds
from polyocr.fileio import atomic_write, file_record, run_log
from polyocr.pipeline.order import N_FEATURES, chain_decode, line_features, runs_to_paragraphs, vertical_page
from polyocr.train.cpu import use_bf16

__all__ = ["CacheConfig", "cache_pages", "load_pages", "NoiseConfig", "noisy_lines", "PageSample", "page_sample",
           "OrderTrainConfig", "make_batches", "order_loss", "train_order", "evaluate_order", "export_order",
           "predict_page"]


# -- page cache ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CacheConfig:
    """Which generator pages to cache; a page file depends only on (seed, split, layouts, index)."""

    out: Path
    count: int
    seed: int = 0
    split: str = "train"                 # generator font/corpus split: "train" or "heldout"
    layouts: tuple[str, ...] = ()        # empty = the generator's own layout mix
    languages: tuple[str, ...] = ()      # empty = all
    start: int = 0


def _strip(page: Page) -> Page:
    """Keep geometry, order and regions; words and the image description are not needed here."""
    for ln in page.lines:
        ln.words = []
    profile = page.meta.get("degradations", {}).get("profile", "")
    page.meta = {k: page.meta[k] for k in ("seed", "index", "split", "layout") if k in page.meta}
    page.meta["degradation"] = profile
    return page


def cache_pages(cfg: CacheConfig, echo: Callable[[str], None] | None = print) -> int:
    """Write ``<out>/NNNNNN.json`` (a one-page Document, no image) per sample index; resumable.

    Rejected indices get an empty ``NNNNNN.rejected`` marker so a rerun skips them too.
    Returns the number of pages written by this call.
    """
    from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_page

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    kw = {"languages": cfg.languages} if cfg.languages else {}
    synth = SynthConfig(seed=cfg.seed, split=cfg.split, layouts=cfg.layouts, check=False, **kw)
    res = Resources(synth)
    written, t0 = 0, time.time()
    for i in range(cfg.start, cfg.start + cfg.count):
        path, marker = out / f"{i:06d}.json", out / f"{i:06d}.rejected"
        if path.exists() or marker.exists():
            continue
        try:
            sample = generate_page(synth, res, i)
        except Rejected:
            atomic_write(marker, b"")
            continue
        page = _strip(sample.page)
        atomic_write(path, Document(pages=[page], source=f"synth:{cfg.seed}:{i}").to_json())
        written += 1
        if echo and written % 100 == 0:
            echo(f"{out}: {written} pages, {written / (time.time() - t0):.2f} pages/s")
    return written


def load_pages(folder: str | Path, limit: int = 0) -> list[Page]:
    """The cached pages of ``folder`` in index order (``limit`` > 0 keeps the first ``limit``)."""
    files = sorted(Path(folder).glob("*.json"))
    if limit > 0:
        files = files[:limit]
    return [Document.from_json(f.read_text(encoding="utf-8"), check=False).pages[0] for f in files]


# -- detector-like noise --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoiseConfig:
    """How detected lines differ from the generator's: boxes a little off, a few lines lost, cut or
    glued to their neighbour on the same row."""

    jitter: float = 0.08        # per-corner noise, σ in line heights (plus 0.7 px)
    grow: tuple[float, float] = (-0.05, 0.3)  # page-wide box growth per side, in line heights (detector margin)
    drop: float = 0.02          # share of lines lost
    split: float = 0.02         # share of long horizontal lines cut in two
    merge: float = 0.03         # share of same-row neighbours (key + value, cells) glued into one line
    mirror: float = 0.15        # share of horizontal pages mirrored into the other direction
    truncate: float = 0.3       # share of pages cut short (an article ending mid-page): balanced columns
    clean: float = 0.2          # share of pages left exactly as generated


def _thick(box: tuple[float, float, float, float], vertical: bool) -> float:
    return max(1.0, (box[2] - box[0]) if vertical else (box[3] - box[1]))


def _line_like(ln: Line, poly: Sequence[tuple[float, float]], text: str | None = None, **kw: Any) -> Line:
    return Line(text=ln.text if text is None else text, polygon=tuple((float(x), float(y)) for x, y in poly),
                language=ln.language, direction=kw.get("direction", ln.direction), writing_mode=ln.writing_mode,
                confidence=ln.confidence, id=ln.id)


def _split_line(ln: Line, rng: np.random.Generator) -> list[Line]:
    """Cut a horizontal line in two at a random point: the first piece in reading order comes first."""
    x0, y0, x1, y1 = polygon_bounds(ln.polygon)
    t = y1 - y0
    u = float(rng.uniform(0.3, 0.7))
    cut, gap = x0 + u * (x1 - x0), 0.15 * t
    k = max(1, min(len(ln.text) - 1, int(round(u * len(ln.text)))))
    left = _line_like(ln, ((x0, y0), (cut - gap, y0), (cut - gap, y1), (x0, y1)))
    right = _line_like(ln, ((cut + gap, y0), (x1, y0), (x1, y1), (cut + gap, y1)))
    if ln.direction == "rtl":  # logical text starts at the right
        right.text, left.text = ln.text[:k], ln.text[k:]
        return [right, left]
    left.text, right.text = ln.text[:k], ln.text[k:]
    return [left, right]


def _truncate(page: Page, lines: list[Line], para: list[int], vertical: bool, rng: np.random.Generator
              ) -> tuple[list[Line], list[int]]:
    """Drop the text past a random point of the flow (below a y, or left of an x on vertical-rl
    pages): generated columns always run to the foot of the page, real ones often stop mid-page.
    Running headers and footers stay; the reading order of what is left does not change."""
    kinds = [b.kind for b in page.blocks for _ in b.lines]
    boxes = np.array([polygon_bounds(ln.polygon) for ln in lines])
    if vertical:
        lo, hi = boxes[:, 0].min(), boxes[:, 2].max()
        cut = hi - (hi - lo) * float(rng.uniform(0.3, 0.9))
        keep = boxes[:, 0] >= cut
    else:
        lo, hi = boxes[:, 1].min(), boxes[:, 3].max()
        cut = lo + (hi - lo) * float(rng.uniform(0.3, 0.9))
        keep = boxes[:, 3] <= cut
    keep |= np.isin(kinds, ("header", "footer"))
    if keep.sum() < 2:
        return lines, para
    return [ln for ln, k in zip(lines, keep) if k], [p for p, k in zip(para, keep) if k]


def noisy_lines(page: Page, rng: np.random.Generator, noise: NoiseConfig | None
                ) -> tuple[list[Line], list[int], str]:
    """The page's lines as a detector + recogniser might return them, still in true reading order.

    Returns (lines, paragraph index of each line, page direction). ``noise=None`` keeps them exact.
    """
    lines = [ln for b in page.blocks for ln in b.lines]
    para = [bi for bi, b in enumerate(page.blocks) for _ in b.lines]
    direction = page.direction
    if noise is None or rng.random() < noise.clean:
        return list(lines), para, direction
    vertical = vertical_page(lines)
    if rng.random() < noise.truncate:
        lines, para = _truncate(page, lines, para, vertical, rng)
    if not vertical and rng.random() < noise.mirror:
        flip = {"ltr": "rtl", "rtl": "ltr"}
        lines = [_line_like(ln, [(page.width - x, y) for x, y in ln.polygon], direction=flip[ln.direction])
                 for ln in lines]
        direction = flip[direction]
    out, out_para = [], []
    k = 0
    while k < len(lines):
        ln, p = lines[k], para[k]
        box = polygon_bounds(ln.polygon)
        vert = ln.writing_mode == "vertical-rl"
        if k + 1 < len(lines) and not vert and rng.random() < noise.merge:
            nb = polygon_bounds(lines[k + 1].polygon)
            t = _thick(box, False)
            ov = min(box[3], nb[3]) - max(box[1], nb[1])
            gap = max(nb[0] - box[2], box[0] - nb[2])
            if lines[k + 1].writing_mode == ln.writing_mode and ov > 0.6 * t and -0.2 * t < gap < 2.5 * t:
                x0, y0 = min(box[0], nb[0]), min(box[1], nb[1])
                x1, y1 = max(box[2], nb[2]), max(box[3], nb[3])
                out.append(_line_like(ln, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), ln.text + " " + lines[k + 1].text))
                out_para.append(p)
                k += 2
                continue
        if rng.random() < noise.drop:
            k += 1
            continue
        if not vert and (box[2] - box[0]) > 6 * _thick(box, False) and rng.random() < noise.split:
            pieces = _split_line(ln, rng)
        else:
            pieces = [ln]
        out += pieces
        out_para += [p] * len(pieces)
        k += 1
    if not out:  # never return an empty page
        out, out_para = [lines[0]], [para[0]]
    grow = float(rng.uniform(*noise.grow))
    q = np.array([ln.polygon[:4] for ln in out], np.float64)                      # (N, 4, 2)
    lo, hi = q.min(axis=1), q.max(axis=1)
    vert = np.array([ln.writing_mode == "vertical-rl" for ln in out])
    t = np.maximum(np.where(vert, hi[:, 0] - lo[:, 0], hi[:, 1] - lo[:, 1]), 1.0)[:, None, None]
    q = q + np.sign(q - q.mean(axis=1, keepdims=True)) * grow * t + rng.normal(0, 1, q.shape) * (noise.jitter * t + 0.7)
    q = np.clip(q, 0, [page.width, page.height])
    jittered = [_line_like(ln, pts) for ln, pts in zip(out, q)]
    return jittered, out_para, direction


# -- samples and batches -----------------------------------------------------------------------------------

@dataclass
class PageSample:
    """One page ready for the model: inputs and targets, lines in true reading order."""

    feats: np.ndarray    # (N, F)
    geom: np.ndarray     # (N, 8)
    para: np.ndarray     # (N,) paragraph index, non-decreasing

    @property
    def n(self) -> int:
        return len(self.para)


def page_sample(page: Page, rng: np.random.Generator, noise: NoiseConfig | None) -> tuple[PageSample, list[Line]]:
    """Noisy lines of ``page`` → model inputs; the pipeline passes a direction or None, so do both."""
    lines, para, direction = noisy_lines(page, rng, noise)
    given = direction if (noise is None or rng.random() < 0.5) else None
    feats, geom = line_features(lines, page.width, page.height, given)
    return PageSample(feats, geom, np.asarray(para, np.int64)), lines


def make_batches(samples: Sequence[PageSample], rng: np.random.Generator, pair_budget: int, max_batch: int
                 ) -> list[list[int]]:
    """Group pages of similar line counts so that B × N_max² stays under ``pair_budget``; shuffled."""
    order = sorted(range(len(samples)), key=lambda i: (samples[i].n, rng.random()))
    batches, cur, nmax = [], [], 0
    for i in order:
        n = max(nmax, samples[i].n)
        if cur and ((len(cur) + 1) * n * n > pair_budget or len(cur) >= max_batch):
            batches.append(cur)
            cur, n = [], samples[i].n
        cur.append(i)
        nmax = n
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def _collate(samples: Sequence[PageSample]):
    import torch

    B, N = len(samples), max(s.n for s in samples)
    feats = np.zeros((B, N, N_FEATURES), np.float32)
    geom = np.zeros((B, N, 8), np.float32)
    para = np.full((B, N), -1, np.int64)
    mask = np.zeros((B, N), bool)
    for b, s in enumerate(samples):
        feats[b, :s.n], geom[b, :s.n], para[b, :s.n], mask[b, :s.n] = s.feats, s.geom, s.para, True
    return torch.from_numpy(feats), torch.from_numpy(geom), torch.from_numpy(para), torch.from_numpy(mask)


def order_loss(out, para, mask) -> tuple[Any, dict[str, float]]:
    """Successor CE (row: next line or end) + predecessor CE (column: previous line or start) +
    same-paragraph BCE over all pairs and, again, over the true successor pairs (the ones decoding uses).

    Lines of a sample are in true reading order, so line i's successor is i + 1 (or "end")."""
    import torch
    import torch.nn.functional as F

    from polyocr.models.reading_order import successor_log_probs

    succ, same, start, end = out
    B, N = mask.shape
    rows, cols = successor_log_probs(succ, start, end, mask)
    n = mask.sum(1)                                                         # (B,)
    idx = torch.arange(N)[None].expand(B, N)
    t_next = torch.where(idx + 1 < n[:, None], idx + 1, torch.full_like(idx, N))
    t_prev = torch.where(idx > 0, idx - 1, torch.full_like(idx, N))
    t_next = t_next.masked_fill(~mask, -100)
    t_prev = t_prev.masked_fill(~mask, -100)
    l_next = F.nll_loss(rows.reshape(B * N, N + 1), t_next.reshape(-1), ignore_index=-100)
    l_prev = F.nll_loss(cols.reshape(B * N, N + 1), t_prev.reshape(-1), ignore_index=-100)
    target = (para[:, :, None] == para[:, None, :]).float()
    valid = mask[:, :, None] & mask[:, None, :] & ~torch.eye(N, dtype=torch.bool)[None]
    bce = F.binary_cross_entropy_with_logits(same.float(), target, reduction="none")
    l_same = (bce * valid).sum() / valid.sum().clamp(min=1)
    adj = torch.zeros_like(valid)
    adj[:, torch.arange(N - 1), torch.arange(1, N)] = True
    adj &= valid
    l_adj = (bce * adj).sum() / adj.sum().clamp(min=1)
    loss = l_next + l_prev + 0.5 * l_same + l_adj
    parts = {"next": l_next, "prev": l_prev, "same": l_same, "same_adj": l_adj}
    return loss, {k: float(v.detach()) for k, v in parts.items()}


# -- training ---------------------------------------------------------------------------------------------

def _default_model():
    from polyocr.models.reading_order import OrderConfig

    return OrderConfig(n_feats=N_FEATURES)


@dataclass(frozen=True)
class OrderTrainConfig:
    """One training run; the defaults are the shipped model's recipe."""

    data: tuple[str, ...] = ("/work/data/order-v1/train", "/work/data/order-v1/train-focus")
    heldout: str = "/work/data/order-v1/heldout"   # folder of cached pages (searched recursively)
    model: Any = field(default_factory=_default_model)
    noise: NoiseConfig = NoiseConfig()
    steps: int = 4000
    minutes: float = 25.0         # wall-time cap: stop (and keep the best checkpoint) after this
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup: int = 150
    weight_decay: float = 0.01
    pair_budget: int = 48000      # per batch: pages × N_max²
    max_batch: int = 24
    max_lines: int = 320          # longer pages are skipped in training (inference falls back to XY-cut)
    eval_every: int = 500
    eval_pages: int = 200
    log_every: int = 50
    seed: int = 0
    threads: int = 1
    bf16: bool = True
    limit: int = 0                # use only the first pages of each data folder (tests)


def _lr(cfg: OrderTrainConfig, step: int, elapsed_s: float = 0.0) -> float:
    """Warmup, then cosine over the run's progress: the larger of steps done and wall time used,
    so a run stopped by ``minutes`` still ends on a small learning rate."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = max((step - cfg.warmup) / max(1, cfg.steps - cfg.warmup), elapsed_s / (cfg.minutes * 60))
    p = min(1.0, p)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def _heldout_pages(cfg: OrderTrainConfig) -> list[Page]:
    if not cfg.heldout or not Path(cfg.heldout).exists():
        return []
    files = sorted(Path(cfg.heldout).rglob("*.json"))
    step = max(1, len(files) // cfg.eval_pages) if cfg.eval_pages else 1
    return [Document.from_json(f.read_text(encoding="utf-8"), check=False).pages[0] for f in files[::step]]


def predict_page(model: Any, sample: PageSample, same_threshold: float = 0.5) -> tuple[list[int], list[list[int]]]:
    """Torch inference for one page: (order, paragraphs) as indices into the sample's lines."""
    import torch

    from polyocr.models.reading_order import OrderExport

    if sample.n <= 1:
        return list(range(sample.n)), [list(range(sample.n))] if sample.n else []
    with torch.no_grad():
        score, same = OrderExport(model)(torch.from_numpy(sample.feats)[None], torch.from_numpy(sample.geom)[None])
    order = chain_decode(score[0].numpy())
    return order, runs_to_paragraphs(order, same[0].numpy(), same_threshold)


def evaluate_order(model: Any, pages: Sequence[Page], noise: NoiseConfig | None = None, seed: int = 99
                   ) -> dict[str, Any]:
    """Mean adjacent-pair order accuracy and paragraph F1 per layout (and "rtl", "all")."""
    from polyocr.eval.metrics import order_accuracy, paragraph_f1

    model.eval()
    acc: dict[str, list[float]] = {}
    f1: dict[str, list[float]] = {}
    for k, page in enumerate(pages):
        sample, _ = page_sample(page, np.random.default_rng([seed, k]), noise)
        order, groups = predict_page(model, sample)
        ids = [str(i) for i in range(sample.n)]
        gt_groups = [[str(i) for i in np.flatnonzero(sample.para == p)] for p in np.unique(sample.para)]
        a = order_accuracy([ids[i] for i in order], ids)
        f = paragraph_f1([[ids[i] for i in g] for g in groups], gt_groups)
        keys = [page.meta.get("layout", "?"), "all"] + (["rtl"] if page.direction == "rtl" else [])
        for key in keys:
            acc.setdefault(key, []).append(a)
            f1.setdefault(key, []).append(f)
    return {k: {"pages": len(v), "order_acc": float(np.mean(v)), "para_f1": float(np.mean(f1[k]))}
            for k, v in sorted(acc.items())}


def train_order(cfg: OrderTrainConfig, out: str | Path, echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Train on the cached pages; writes ``<out>/log.jsonl``, ``best.safetensors`` (by held-out order
    accuracy under noise) and ``last.safetensors``. Returns the final summary."""
    import torch

    from polyocr.models.reading_order import ReadingOrderNet, save_safetensors

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    pages = [p for d in cfg.data for p in load_pages(d, cfg.limit) if 1 < len(p.lines) <= cfg.max_lines]
    if not pages:
        raise ValueError(f"no cached pages in {', '.join(cfg.data)}: run `polyocr train order --cache-pages N` first")
    heldout = _heldout_pages(cfg)
    model = ReadingOrderNet(cfg.model)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98))
    rng = np.random.default_rng(cfg.seed)
    log = (out / "log.jsonl").open("a", encoding="utf-8")

    def record(entry: dict[str, Any]) -> None:
        log.write(json.dumps(entry) + "\n")
        log.flush()
        if echo:
            echo(json.dumps(entry))

    record({"event": "start", "pages": len(pages), "heldout": len(heldout),
            "params": sum(p.numel() for p in model.parameters()), "config": _jsonable(cfg)})
    t0 = time.time()
    step, seen, best, epoch = 0, 0, -1.0, 0
    window = {"loss": 0.0, "n": 0, "t": time.time(), "pages": 0}
    stop = False
    while not stop:
        samples = [page_sample(p, rng, cfg.noise)[0] for p in pages]
        epoch += 1
        for batch in make_batches(samples, rng, cfg.pair_budget, cfg.max_batch):
            for g in opt.param_groups:
                g["lr"] = _lr(cfg, step, time.time() - t0)
            feats, geom, para, mask = _collate([samples[i] for i in batch])
            model.train()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(cfg.bf16)):
                outputs = model(feats, geom, mask)
            loss, parts = order_loss(outputs, para, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            seen += len(batch)
            window["loss"] += float(loss.detach())
            window["n"] += 1
            window["pages"] += len(batch)
            if step % cfg.log_every == 0:
                dt = time.time() - window["t"]
                record({"step": step, "epoch": epoch, "loss": round(window["loss"] / window["n"], 4),
                        **{k: round(v, 4) for k, v in parts.items()}, "lr": round(_lr(cfg, step, time.time() - t0), 6),
                        "pages_per_s": round(window["pages"] / dt, 1), "elapsed_s": round(time.time() - t0, 1)})
                window = {"loss": 0.0, "n": 0, "t": time.time(), "pages": 0}
            done = step >= cfg.steps or (time.time() - t0) > cfg.minutes * 60
            if heldout and ((cfg.eval_every and step % cfg.eval_every == 0) or done):
                noisy = evaluate_order(model, heldout, cfg.noise)
                clean = evaluate_order(model, heldout, None)
                score = noisy["all"]["order_acc"]
                record({"step": step, "eval_noisy": noisy, "eval_clean": {k: v["order_acc"] for k, v in clean.items()}})
                if score > best:
                    best = score
                    save_safetensors(model, str(out / "best.safetensors"), {"step": str(step), "heldout_order_acc": f"{score:.4f}"})
            if done:
                stop = True
                break
    save_safetensors(model, str(out / "last.safetensors"), {"step": str(step)})
    if best < 0:  # no held-out set: the last weights are the best we know
        save_safetensors(model, str(out / "best.safetensors"), {"step": str(step)})
    summary = {"event": "end", "step": step, "pages_seen": seen, "epochs": epoch, "best_heldout_order_acc": best,
               "seconds": round(time.time() - t0, 1), "pages_per_s": round(seen / (time.time() - t0), 1)}
    record(summary)
    log.close()
    return summary


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, (tuple, list)):
        return [_jsonable(v) for v in obj]
    return obj


# -- export ------------------------------------------------------------------------------------------------

def export_order(weights: str | Path, out: str | Path, pages: Sequence[Page] = (), max_lines: int = 320,
                 same_threshold: float = 0.5, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``best.safetensors`` of a run (or any saved model) → ``order.onnx`` + ``order.safetensors`` (fp16)
    + ``order.json`` in ``out``, with a torch-vs-onnxruntime parity check on ``pages`` (or random boxes)."""
    import torch

    from polyocr.models.reading_order import OrderExport, load_safetensors, save_safetensors

    weights = Path(weights)
    extra = dict(extra or {})
    if weights.is_dir():
        extra.update(_run_record(weights / "log.jsonl"))
        weights = weights / "best.safetensors"
    model, meta = load_safetensors(str(weights))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path, st_path = out / "order.onnx", out / "order.safetensors"
    wrapper = OrderExport(model).eval()
    n = 7
    feats, geom = torch.rand(1, n, N_FEATURES), torch.rand(1, n, 8)
    tmp = out / ".order.onnx.tmp"
    with torch.no_grad():
        torch.onnx.export(wrapper, (feats, geom), str(tmp), input_names=["feats", "geom"], output_names=["score", "same"],
                          dynamic_axes={"feats": {1: "lines"}, "geom": {1: "lines"}, "score": {1: "lines", 2: "lines"},
                                        "same": {1: "lines", 2: "lines"}}, opset_version=17, dynamo=False)
    tmp.replace(onnx_path)
    tmp = out / ".order.safetensors.tmp"
    save_safetensors(model, str(tmp), {k: v for k, v in meta.items() if k not in ("format", "config")},
                     dtype=torch.float16)
    tmp.chmod(0o644)  # package data: readable by everyone, like the other weights
    tmp.replace(st_path)
    par = onnx_parity(model, onnx_path, pages)
    info = {
        "format": "polyocr-order", "format_version": 1,
        "architecture": "line features + pair-biased transformer encoder + pair head (polyocr.models.reading_order)",
        "config": model.cfg.to_dict(), "params": sum(p.numel() for p in model.parameters()),
        "input": {"n_features": N_FEATURES, "max_lines": max_lines, "features": "polyocr.pipeline.order.line_features"},
        "output": {"score": "log P(b after a) + log P(a before b), (1, N, N)", "same": "P(same paragraph), (1, N, N)"},
        "decode": {"same_threshold": same_threshold, "order": "polyocr.pipeline.order.chain_decode"},
        "training": {"checkpoint": str(weights.name), "step": meta.get("step"),
                     "heldout_order_acc": meta.get("heldout_order_acc"), **extra},
        "parity": par,
        "onnx": {**file_record(onnx_path), "opset": 17},
        "safetensors": {**file_record(st_path),
                        "dtype": "float16"},
        "licence": "Apache-2.0",
    }
    atomic_write(out / "order.json", json.dumps(info, indent=1))
    return info


def _run_record(log: Path) -> dict[str, Any]:
    """The recipe (data, noise, schedule) and outcome of a run, from its log, for order.json."""
    if not log.is_file():
        return {}
    entries, start, end = run_log(log)
    evals = [e for e in entries if "eval_noisy" in e]
    cfg = start.get("config", {})
    return {"recipe": {k: cfg.get(k) for k in ("data", "heldout", "noise", "steps", "minutes", "lr", "pair_budget", "bf16")},
            "pages": start.get("pages"), "run": {k: end.get(k) for k in ("step", "pages_seen", "epochs", "seconds", "pages_per_s")},
            "heldout_last_eval": evals[-1]["eval_noisy"]["all"] if evals else None}


def onnx_parity(model: Any, onnx_path: str | Path, pages: Sequence[Page] = (), seed: int = 5) -> dict[str, Any]:
    """Largest |torch − onnxruntime| difference of both outputs and whether the decoded orders agree."""
    import onnxruntime as ort
    import torch

    from polyocr.models.reading_order import OrderExport

    rng = np.random.default_rng(seed)
    samples = [page_sample(p, rng, None)[0] for p in pages if len(p.lines) > 1]
    if not samples:
        for n in (2, 13, 60):
            x0, y0 = rng.uniform(0, 0.8, n), rng.uniform(0, 0.95, n)
            box = np.stack([x0, y0, x0 + rng.uniform(0.05, 0.2, n), y0 + 0.02], 1)
            geom = np.concatenate([box, box * 50], 1).astype(np.float32)
            samples.append(PageSample(rng.uniform(0, 1, (n, N_FEATURES)).astype(np.float32), geom, np.arange(n)))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wrapper = OrderExport(model).eval()
    d_score = d_same = 0.0
    same_order = 0
    for s in samples:
        with torch.no_grad():
            ts, tg = (t[0].numpy() for t in wrapper(torch.from_numpy(s.feats)[None], torch.from_numpy(s.geom)[None]))
        os_, og = (t[0] for t in sess.run(None, {"feats": s.feats[None], "geom": s.geom[None]}))
        off = ~np.eye(s.n, dtype=bool)
        d_score = max(d_score, float(np.abs(ts - os_)[off].max()))
        d_same = max(d_same, float(np.abs(tg - og).max()))
        same_order += chain_decode(ts) == chain_decode(os_)
    return {"pages": len(samples), "max_abs_score_diff": d_score, "max_abs_same_diff": d_same,
            "order_agreement": same_order / len(samples)}
