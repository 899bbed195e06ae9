"""torch vs onnxruntime on lines rendered by the generator (random weights: parity, not accuracy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polyocr.charset import Charset
from polyocr.models.recognizer import RecognizerNet, RecognizerConfig
from polyocr.pipeline.recognize import ctc_greedy, finish_line, pad_batch, prepare_line
from polyocr.train.export import export_onnx, onnx_session, parity, parity_lines

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def lines():
    out = parity_lines(8, seed=5)
    assert len(out) == 8, "the generator must be able to render the parity lines (fonts installed?)"
    return out


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RecognizerNet(RecognizerConfig(n_classes=len(Charset.load()))).eval()


def test_logits_and_decodes_match(model, lines, tmp_path_factory):
    cs = Charset.load()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "rec.onnx", with_logits=True)
    images, widths = pad_batch([prepare_line(img, 32, vert) for img, vert, _ in lines])
    assert len(set(widths.tolist())) > 1                      # really variable widths in one batch
    with torch.no_grad():
        logits_t, len_t = model(torch.from_numpy(images), torch.from_numpy(widths))
    ids_o, probs_o, len_o, logits_o = onnx_session(path, threads=1).run(None, {"image": images, "widths": widths})
    assert (len_o == len_t.numpy()).all()
    for k in range(len(lines)):
        n = int(len_o[k])
        assert np.abs(logits_t[k, :n].numpy() - logits_o[k, :n]).max() < 1e-3
        p_t, id_t = logits_t[k, :n].softmax(-1).max(-1)
        direction = None if lines[k][1] else lines[k][2]
        a = finish_line(cs, *ctc_greedy(id_t.numpy(), p_t.numpy(), n), direction)
        b = finish_line(cs, *ctc_greedy(ids_o[k], probs_o[k], n), direction)
        assert a.text == b.text
        assert (id_t.numpy() == ids_o[k, :n]).all()


def test_shipped_graph_parity(model, lines, tmp_path):
    path = export_onnx(model, tmp_path / "rec.onnx")
    res = parity(model, path, lines, Charset.load(), threads=1)
    assert res["max_abs_prob_diff"] < 1e-3 and res["text_agreement"] == 1.0 and res["lengths_equal"]
    # a batch of one and an odd width work too (dynamic axes)
    x = prepare_line(lines[0][0], 32, lines[0][1])[:, :61]
    out = onnx_session(path, threads=1).run(None, {"image": x[None, None], "widths": np.array([61])})
    assert out[0].shape == (1, 16)


def test_gated_graph_runs_the_head_only_where_the_gate_allows(model, lines, tmp_path):
    """The gated graph equals the plain one on frames the gate keeps, is blank elsewhere, and copes
    with a batch where every frame (or none) is skipped."""
    from polyocr.models.recognizer import BlankGate

    d = model.cfg.head_dim
    rng = np.random.default_rng(0)
    w = rng.standard_normal(d)
    images, widths = pad_batch([prepare_line(img, 32, vert) for img, vert, _ in lines])
    with torch.no_grad():
        feats, lengths = model.encode(torch.from_numpy(images), torch.from_numpy(widths))
    score = feats.numpy() @ w
    gate = BlankGate(tuple(w.tolist()), -float(np.median(score)))          # about half the frames skipped
    plain = onnx_session(export_onnx(model, tmp_path / "plain.onnx"), threads=1)
    gated = onnx_session(export_onnx(model, tmp_path / "gated.onnx", gate=gate), threads=1)
    ids_p, probs_p, _ = plain.run(None, {"image": images, "widths": widths})
    ids_g, probs_g, len_g = gated.run(None, {"image": images, "widths": widths})
    skip = score + gate.bias > 0
    assert 0.3 < skip.mean() < 0.7
    assert (ids_g[skip] == 0).all()
    assert np.allclose(probs_g[skip], 1 / (1 + np.exp(-(score + gate.bias)[skip])), atol=1e-4)
    assert (ids_g[~skip] == ids_p[~skip]).all() and np.abs(probs_g[~skip] - probs_p[~skip]).max() < 1e-3
    for bias in (1e6, -1e6):                                                # all skipped / none skipped
        g = onnx_session(export_onnx(model, tmp_path / f"g{bias}.onnx", gate=BlankGate(gate.weight, bias)), threads=1)
        ids, probs, _ = g.run(None, {"image": images, "widths": widths})
        if bias > 0:
            assert (ids == 0).all() and np.allclose(probs, 1.0)
        else:
            assert (ids == ids_p).all()


def test_alternatives_are_the_k_best_classes_gated_or_not(model, lines, tmp_path):
    """alt_ids/alt_probs: the K best classes per frame, best first, the first equal to ids/probs;
    frames the gate skips list blank first at the gate's probability and nothing after it."""
    from polyocr.models.recognizer import BlankGate

    images, widths = pad_batch([prepare_line(img, 32, vert) for img, vert, _ in lines])
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(images), torch.from_numpy(widths))
        feats, _ = model.encode(torch.from_numpy(images), torch.from_numpy(widths))
    soft = logits.softmax(-1)
    top_p = soft.topk(4, dim=-1).values
    sess = onnx_session(export_onnx(model, tmp_path / "alt.onnx", alternatives=4), threads=1)
    names = [o.name for o in sess.get_outputs()]
    assert names == ["ids", "probs", "lengths", "alt_ids", "alt_probs"]
    ids, probs, lengths, alt_ids, alt_probs = sess.run(None, {"image": images, "widths": widths})
    assert alt_ids.shape == (len(lines), ids.shape[1], 4)
    assert (alt_ids[..., 0] == ids).all() and np.allclose(alt_probs[..., 0], probs, atol=1e-6)
    # random weights make near-ties common, so compare probabilities: the K best values, and each
    # listed class's own torch probability (ids may swap between equal-probability classes)
    assert np.abs(alt_probs - top_p.numpy()).max() < 1e-3
    assert np.abs(np.take_along_axis(soft.numpy(), alt_ids, -1) - alt_probs).max() < 1e-3
    assert (np.diff(alt_probs, axis=-1) <= 1e-6).all()
    w = np.random.default_rng(1).standard_normal(model.cfg.head_dim)
    score = feats.numpy() @ w
    gate = BlankGate(tuple(w.tolist()), -float(np.median(score)))
    g = onnx_session(export_onnx(model, tmp_path / "galt.onnx", gate=gate, alternatives=4), threads=1)
    gids, gprobs, _, galt_ids, galt_probs = g.run(None, {"image": images, "widths": widths})
    skip = score + gate.bias > 0
    assert (galt_ids[skip] == 0).all() and (galt_probs[skip][:, 1:] == 0).all()
    assert np.allclose(galt_probs[skip][:, 0], gprobs[skip])
    assert np.abs(galt_probs[~skip] - alt_probs[~skip]).max() < 1e-3
