"""Reading-order training: real generator pages → noisy samples → a short run that learns → ONNX parity."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from polyocr.cli import main
from polyocr.document import Document, Page
from polyocr.models.reading_order import OrderConfig, OrderExport, ReadingOrderNet, load_safetensors, save_safetensors
from polyocr.pipeline.order import DEFAULT_WEIGHTS, N_FEATURES, Orderer, chain_decode, line_features
from polyocr.train.order import (CacheConfig, NoiseConfig, OrderTrainConfig, cache_pages, export_order, load_pages,
                                 noisy_lines, onnx_parity, page_sample, train_order)

TINY = OrderConfig(n_feats=N_FEATURES, d_model=32, n_layers=2, n_heads=2, geo_dim=16, pair_dim=16)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[Page]:
    """Six generator pages (columns and tables: the layouts with the most structure), cached as JSON."""
    out = tmp_path_factory.mktemp("order-pages")
    written = cache_pages(CacheConfig(out=out, count=8, seed=11, layouts=("columns", "table")), echo=None)
    loaded = load_pages(out)
    assert written == len(loaded) >= 6
    assert cache_pages(CacheConfig(out=out, count=8, seed=11, layouts=("columns", "table")), echo=None) == 0  # resumable
    assert all(not ln.words for p in loaded for ln in p.lines)  # words are stripped, geometry kept
    return loaded


def test_noise_keeps_reading_order_targets_consistent(pages):
    page = pages[0]
    truth = [ln.id for ln in page.lines]
    noise = NoiseConfig(drop=0.1, split=0.2, merge=0.2, clean=0.0, mirror=0.0)
    lines, para, direction = noisy_lines(page, np.random.default_rng(3), noise)
    assert direction == page.direction and len(lines) == len(para)
    assert all(a <= b for a, b in zip(para, para[1:]))  # paragraphs stay contiguous in reading order
    kept = [ln.id for ln in lines]
    positions = [truth.index(i) for i in kept]
    assert positions == sorted(positions)  # the survivors keep their true relative order
    assert len(set(kept)) < len(kept) or len(kept) < len(truth)  # something was split or dropped
    moved = [np.abs(np.subtract(a.polygon, b.polygon)).max() for a, b in zip(lines, page.lines) if a.id == b.id]
    assert max(moved) > 0.5  # and the boxes were jittered
    exact, para2, _ = noisy_lines(page, np.random.default_rng(3), None)
    assert [ln.polygon for ln in exact] == [ln.polygon for ln in page.lines]
    assert len(set(para2)) == len(page.blocks)


def test_truncated_pages_stop_mid_page(pages):
    page = max(pages, key=lambda p: len(p.lines))
    noise = NoiseConfig(truncate=1.0, clean=0.0, drop=0.0, split=0.0, merge=0.0, mirror=0.0, jitter=0.0, grow=(0.0, 0.0))
    lines, para, _ = noisy_lines(page, np.random.default_rng(1), noise)
    truth = [ln.id for ln in page.lines]
    assert 2 <= len(lines) < len(truth)
    positions = [truth.index(ln.id) for ln in lines]
    assert positions == sorted(positions)
    body = [ln for ln, b in zip(page.lines, [b for b in page.blocks for _ in b.lines]) if b.kind not in ("header", "footer")]
    kept = {ln.id for ln in lines}
    def bottom(ln):
        return max(y for _, y in ln.polygon)

    # a clean cut across every column: everything kept ends above everything dropped
    assert max(bottom(ln) for ln in body if ln.id in kept) <= min(bottom(ln) for ln in body if ln.id not in kept)


def test_mirrored_pages_flip_direction(pages):
    page = next(p for p in pages if all(ln.writing_mode == "horizontal-tb" for ln in p.lines))
    noise = NoiseConfig(mirror=1.0, clean=0.0, drop=0.0, split=0.0, merge=0.0, jitter=0.0, grow=(0.0, 0.0))
    lines, _, direction = noisy_lines(page, np.random.default_rng(0), noise)
    assert direction != page.direction
    x0 = min(p[0] for p in page.lines[0].polygon)
    assert max(p[0] for p in lines[0].polygon) == pytest.approx(page.width - x0, abs=1.5)


def test_tiny_training_run_learns_and_exports(pages, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for k, p in enumerate(pages):
        (data / f"{k:06d}.json").write_text(Document(pages=[p]).to_json(), encoding="utf-8")
    cfg = OrderTrainConfig(data=(str(data),), heldout=str(data), model=TINY, steps=60, lr=3e-3, warmup=5,
                           eval_every=60, eval_pages=4, log_every=10, minutes=5.0, pair_budget=30000)
    summary = train_order(cfg, tmp_path / "run", echo=None)
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in log if "loss" in e]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert losses[-1] < 0.7 * losses[0], losses  # it learns
    assert all(e["pages_per_s"] > 0 for e in log if "loss" in e)
    assert summary["step"] == 60 and 0.0 <= summary["best_heldout_order_acc"] <= 1.0
    info = export_order(tmp_path / "run", tmp_path / "weights", pages=pages[:3])
    assert info["parity"]["max_abs_score_diff"] < 1e-3 and info["parity"]["order_agreement"] == 1.0
    assert info["onnx"]["bytes"] < 1_000_000
    orderer = Orderer("learned", weights=tmp_path / "weights")
    page = pages[0]
    blocks = orderer(list(reversed(page.lines)), page.width, page.height, page.direction)
    assert sorted(ln.id for b in blocks for ln in b.lines) == sorted(ln.id for ln in page.lines)


def test_onnx_parity_dynamic_line_counts(tmp_path):
    """A fresh export agrees with torch for 2 to 150 lines (one graph, dynamic N)."""
    torch.manual_seed(0)
    model = ReadingOrderNet(TINY).eval()
    save_safetensors(model, str(tmp_path / "m.safetensors"))
    export_order(tmp_path / "m.safetensors", tmp_path / "w")
    sess = ort.InferenceSession(str(tmp_path / "w" / "order.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for n in (2, 9, 150):
        feats = rng.normal(0, 1, (1, n, N_FEATURES)).astype(np.float32)
        x0, y0 = rng.uniform(0, 0.8, n), rng.uniform(0, 0.95, n)
        box = np.stack([x0, y0, x0 + 0.15, y0 + 0.02], 1)
        geom = np.concatenate([box, box * 60], 1)[None].astype(np.float32)
        with torch.no_grad():
            ts, tg = (t.numpy() for t in OrderExport(model)(torch.from_numpy(feats), torch.from_numpy(geom)))
        os_, og = sess.run(None, {"feats": feats, "geom": geom})
        off = ~np.eye(n, dtype=bool)
        assert np.abs(ts[0] - os_[0])[off].max() < 1e-3
        assert np.abs(tg - og).max() < 1e-4
        assert chain_decode(ts[0]) == chain_decode(os_[0])


def test_shipped_weights_match_their_safetensors(pages):
    """order.onnx and order.safetensors (fp16) are the same model, and order.json says so."""
    meta = json.loads((DEFAULT_WEIGHTS / "order.json").read_text())
    assert meta["format"] == "polyocr-order" and meta["input"]["n_features"] == N_FEATURES
    assert meta["parity"]["order_agreement"] == 1.0
    model, _ = load_safetensors(str(DEFAULT_WEIGHTS / "order.safetensors"))
    par = onnx_parity(model, DEFAULT_WEIGHTS / "order.onnx", pages[:3])
    assert par["max_abs_score_diff"] < 0.05  # fp16 weights against the fp32 graph
    assert par["order_agreement"] >= 2 / 3
    assert (DEFAULT_WEIGHTS / "order.onnx").stat().st_size + (DEFAULT_WEIGHTS / "order.safetensors").stat().st_size < 1_100_000


def test_cli_train_and_export_errors(tmp_path, capsys):
    assert main(["train", "order", "--out", str(tmp_path / "r"), "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cache-pages" in err
    assert main(["export", "order", "--ckpt", str(tmp_path), "--out", str(tmp_path / "w")]) == 2
    assert "best.safetensors" in capsys.readouterr().err


def test_features_match_between_training_and_inference(pages):
    page = pages[1]
    sample, lines = page_sample(page, np.random.default_rng(0), None)
    feats, geom = line_features(lines, page.width, page.height, page.direction)
    assert np.array_equal(sample.feats, feats) and np.array_equal(sample.geom, geom)
