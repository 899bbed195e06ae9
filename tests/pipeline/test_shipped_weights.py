"""The weights inside the package: they load with no download and actually read text."""

from pathlib import Path

import numpy as np

import polyocr
from polyocr.eval.metrics import cer
from polyocr.pipeline.recognize import DEFAULT_WEIGHTS
from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line


def test_weights_are_small_and_not_pickle():
    files = sorted(Path(DEFAULT_WEIGHTS).glob("*"))
    names = {f.name for f in files}
    assert {"model.onnx", "model.safetensors", "model.json"} <= names
    assert not any(f.suffix in (".pt", ".pth", ".pkl", ".ckpt") for f in files)
    assert sum(f.stat().st_size for f in files) < 40e6


def test_shipped_model_reads_held_out_lines():
    # Held-out fonts and corpus lines the model never saw. The first shipped run reads these at
    # CER ~0.2 (BENCHMARKS.md); 0.45 leaves room for sampling noise but fails on broken weights.
    cfg = SynthConfig(seed=4242, languages=("en", "ru"), split="heldout")
    res = Resources(cfg)
    errors = []
    for i in range(48):
        try:
            s = generate_line(cfg, res, i)
        except Rejected:
            continue
        out = polyocr.recognize(s.image, direction=s.line.direction)
        errors.append(cer(out.text, s.line.text))
        assert 0.0 <= out.confidence <= 1.0
    assert len(errors) > 30
    assert float(np.mean(errors)) < 0.45, f"mean CER {np.mean(errors):.3f}"


def test_shipped_blank_gate_skips_the_head_without_changing_readings():
    """The shipped graph's blank gate: measured at export on held-out-font lines (model.json), and
    checked again here against torch with the full head on other held-out lines."""
    import json

    import torch

    from polyocr.charset import Charset
    from polyocr.models.recognizer import load_safetensors
    from polyocr.train.export import parity, parity_lines

    meta = json.loads((Path(DEFAULT_WEIGHTS) / "model.json").read_text(encoding="utf-8"))
    gate = meta["blank_gate"]
    assert gate["used"], gate
    assert gate["heldout"]["skipped_share"] > 0.4 and gate["heldout"]["nonblank_skipped"] < 0.002
    torch.set_num_threads(1)
    model, _ = load_safetensors(str(Path(DEFAULT_WEIGHTS) / "model.safetensors"))
    lines = parity_lines(24, seed=31337)
    res = parity(model, Path(DEFAULT_WEIGHTS) / "model.onnx", lines, Charset.load(), threads=1)
    # int8 weights and fp16 safetensors differ slightly anyway; a broken gate would lose characters
    assert res["frame_id_agreement"] > 0.97 and res["text_agreement"] >= 0.75, res
