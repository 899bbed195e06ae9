"""The recogniser network: shapes, padding independence, weights files."""

from __future__ import annotations

import math

import pytest
import torch

from polyocr.models.recognizer import RecognizerNet, RecognizerConfig, load_safetensors, save_safetensors

torch.set_num_threads(1)

SMALL = RecognizerConfig(n_classes=300, stem=(16, 32), stages=(32, 48), blocks=(1, 1), d_model=48, n_layers=2,
                         n_heads=4, head_dim=32, dropout=0.1)
SMALL_CONV = RecognizerConfig(**{**SMALL.__dict__, "block": "conv"})


def _batch(widths: list[int], h: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w_max = max(widths)
    x = torch.zeros(len(widths), 1, h, w_max)
    for i, w in enumerate(widths):
        x[i, :, :, :w] = torch.randn(1, h, w, generator=g)
    return x, torch.tensor(widths)


def test_shapes_with_variable_widths():
    model = RecognizerNet(SMALL).eval()
    x, widths = _batch([37, 100, 64, 8])
    logits, lengths = model(x, widths)
    assert logits.shape == (4, 25, 300)                       # T = ceil(100 / 4)
    time_major, _ = model(x, widths, time_major=True)         # the layout CTC wants
    assert time_major.shape == (25, 4, 300) and torch.allclose(time_major.transpose(0, 1), logits, atol=1e-5)
    assert lengths.tolist() == [math.ceil(w / 4) for w in [37, 100, 64, 8]]
    assert SMALL.width_stride == 4 and SMALL.final_height == 2


def test_other_heights():
    cfg = RecognizerConfig(**{**SMALL.__dict__, "height": 40})
    logits, lengths = RecognizerNet(cfg).eval()(*_batch([50, 81], h=40))
    assert logits.shape == (2, 21, 300) and lengths.tolist() == [13, 21]


@pytest.mark.parametrize("cfg", [SMALL, SMALL_CONV], ids=["dwsep", "conv"])
@torch.no_grad()
def test_output_does_not_depend_on_padding(cfg):
    """A line alone (no padding) and the same line padded inside a batch give the same scores."""
    model = RecognizerNet(cfg).eval()
    x, widths = _batch([45, 130, 77], seed=1)
    batched, lengths = model(x, widths)
    for i, w in enumerate(widths.tolist()):
        alone, n = model(x[i:i + 1, :, :, :w], widths[i:i + 1])
        assert int(n) == int(lengths[i])
        diff = (alone[0, :n] - batched[i, :n]).abs().max().item()
        assert diff < 1e-4, (i, diff)


def test_gradients_flow_and_padding_gets_none():
    model = RecognizerNet(SMALL).eval()  # eval: BatchNorm batch statistics would couple the lines
    x, widths = _batch([40, 96])
    x.requires_grad_(True)
    logits, lengths = model(x, widths)
    logits[0, : lengths[0]].sum().backward()
    assert x.grad[0, :, :, :40].abs().sum() > 0
    assert x.grad[0, :, :, 40:].abs().sum() == 0              # padded pixels of line 0 never influence it
    assert x.grad[1].abs().sum() == 0                         # nor does the other line in the batch


def test_default_size():
    n = RecognizerNet(RecognizerConfig()).num_params()
    assert 3.5e6 < n < 5.0e6, n                               # ~4.0 M: the ONNX is ~16 MB fp32, ~7.5 MB int8


def test_safetensors_round_trip(tmp_path):
    model = RecognizerNet(SMALL).eval()
    path = tmp_path / "m.safetensors"
    save_safetensors(model, str(path), {"charset_sha256": "abc"})
    back, meta = load_safetensors(str(path), charset_sha256="abc")
    assert back.cfg == SMALL and meta["charset_sha256"] == "abc"
    x, widths = _batch([50])
    assert torch.equal(model(x, widths)[0], back(x, widths)[0])
    with pytest.raises(ValueError, match="charset"):
        load_safetensors(str(path), charset_sha256="other")
    assert path.read_bytes()[:8] != b"\x80\x04\x95"            # not a pickle
