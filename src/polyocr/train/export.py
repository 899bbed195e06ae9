"""Export a trained recogniser: torch checkpoint → ONNX (+ parity check) + safetensors + model.json.

What ships (``src/polyocr/weights/`` by default, package data):

* ``model.onnx``: the inference graph (:class:`~polyocr.models.recognizer.RecognizerExport`: per-frame
  best class + its probability), opset 17, dynamic batch and width. By default its MatMul/Gemm
  weights are int8 (onnxruntime dynamic quantisation: ~2.3× smaller and ~1.6× faster on this CPU)
  and its convolutions int8 static, calibrated on rendered train-font lines (:func:`quantize_convs`,
  another 1.3×). ``quantize="int8-dynamic"`` keeps fp32 convolutions; ``"none"`` ships the fp32 graph. A *blank gate*
  (:class:`~polyocr.models.recognizer.BlankGate`, fitted here on rendered train-font lines) lets
  frames that are surely blank skip the 12.8K-class head.
* ``model.safetensors``: the torch weights (fp16 by default, to halve the size; loaded back as fp32)
  with the config and charset hash in its metadata, for fine-tuning and torch inference.
* ``model.json``: everything needed to use the weights correctly — architecture config, charset
  version + sha256, input conventions (height, normalisation, vertical rotation, max width), output
  order, the training recipe and step, the held-out metrics of the checkpoint, parity results,
  file hashes and the licence.

The parity check runs the torch model and the exported graph on the same lines (rendered by the
generator when fonts are available, else random images): fp32 graphs must agree on the per-frame
probabilities to 1e-3 and on every decoded string; int8 graphs report their decoded-string agreement.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from polyocr import __version__
from polyocr.charset import Charset
from polyocr.fileio import sha256_file
from polyocr.pipeline.runtime import cpu_session
from polyocr.models.recognizer import BlankGate, RecognizerNet, RecognizerExport, save_safetensors
from polyocr.pipeline.recognize import INK_MARGIN, ctc_greedy, finish_line, pad_batch, prepare_line

__all__ = ["export_onnx", "onnx_session", "parity", "parity_lines", "fit_blank_gate", "export", "resolve_checkpoint"]

OPSET = 17
CALIB_PERCENTILE = 99.99


def export_onnx(model: RecognizerNet, path: str | Path, with_logits: bool = False,
                gate: BlankGate | None = None, alternatives: int = 0) -> Path:
    """Write the inference graph with dynamic batch and width (legacy TorchScript exporter)."""
    model = model.eval()
    h = model.cfg.height
    x = torch.zeros(2, 1, h, 96)
    widths = torch.tensor([96, 64])
    outputs = ["ids", "probs", "lengths"] + (["alt_ids", "alt_probs"] if alternatives else []) + \
        (["logits"] if with_logits else [])
    dyn = {"image": {0: "batch", 3: "width"}, "widths": {0: "batch"}, "ids": {0: "batch", 1: "frames"},
           "probs": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}}
    if alternatives:
        dyn["alt_ids"] = dyn["alt_probs"] = {0: "batch", 1: "frames"}
    if with_logits:
        dyn["logits"] = {0: "batch", 1: "frames"}
    # The wrapper must be in eval mode too: the exporter restores the *wrapper's* mode afterwards,
    # which would otherwise leave the model in training mode (dropout on, BatchNorm batch stats).
    wrapper = RecognizerExport(model, with_logits, gate, alternatives).eval()
    with torch.no_grad():
        torch.onnx.export(wrapper, (x, widths), str(path), input_names=["image", "widths"],
                          output_names=outputs, dynamic_axes=dyn, opset_version=OPSET, dynamo=False,
                          custom_opsets={"com.microsoft": 1})  # the fused attention op
    model.eval()
    return Path(path)


onnx_session = cpu_session  # the inference runtime's own session, so parity is checked as it will run


def parity_lines(n: int = 8, seed: int = 4242, split: str = "heldout") -> list[tuple[np.ndarray, bool, str]]:
    """``n`` generator lines (gray image, vertical, direction) from ``split`` fonts; [] without fonts."""
    try:
        from polyocr.pipeline.recognize import to_gray
        from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line

        cfg = SynthConfig(seed=seed, split=split)
        res = Resources(cfg)
    except (ImportError, RuntimeError):  # no generator extras, or no installed font covers a language
        return []
    out = []
    i = 0
    while len(out) < n and i < n * 5:
        try:
            s = generate_line(cfg, res, i)
            out.append((to_gray(s.image), s.line.writing_mode == "vertical-rl", s.line.direction))
        except Rejected:
            pass
        i += 1
    return out


def _frames(model: RecognizerNet, lines: Sequence[tuple[np.ndarray, bool, str]],
            batch: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Head features of every valid frame of ``lines`` (N, head_dim) and whether the head says blank (N,)."""
    h = model.cfg.height
    feats, blank = [], []
    for i in range(0, len(lines), batch):
        images, widths = pad_batch([prepare_line(img, h, vert) for img, vert, _ in lines[i:i + batch]])
        with torch.no_grad():
            f, lengths = model.encode(torch.from_numpy(images), torch.from_numpy(widths))
            best = model.head(f).argmax(-1)                                  # (B, T)
        for k in range(f.shape[0]):
            n = int(lengths[k])
            feats.append(f[k, :n])
            blank.append(best[k, :n] == 0)
    return torch.cat(feats), torch.cat(blank)


def fit_blank_gate(model: RecognizerNet, lines: Sequence[tuple[np.ndarray, bool, str]],
                   recall: float = 0.9999) -> tuple[BlankGate, dict[str, float]]:
    """Logistic regression "blank or not" on the frozen model's head features, thresholded so that
    a share ``recall`` of the non-blank frames of ``lines`` still reach the head.

    The head is linear in the same features, so blank frames — the head's blank logit far above the
    rest — separate almost linearly; measured on v4 weights: 55-60 % of all frames skipped at
    0.9995 recall on lines from other fonts.
    """
    model = model.eval()
    x, blank = _frames(model, lines)
    y = blank.float()
    lin = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(lin(x).squeeze(1), y)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        score = lin(x).squeeze(1)
        nonblank = score[~blank]
        thr = float(torch.quantile(nonblank, recall)) if len(nonblank) else float(score.max())
        skipped = score > thr
    gate = BlankGate(tuple(float(v) for v in lin.weight[0].detach()), float(lin.bias[0].detach()) - thr)
    return gate, {**_gate_stats(skipped, blank), "blank_share": float(y.mean())}


def _gate_stats(skipped: torch.Tensor, blank: torch.Tensor) -> dict[str, float]:
    """Frames, the share the gate skips, and the share of non-blank frames it wrongly skips."""
    return {"frames": int(len(blank)), "skipped_share": float(skipped.float().mean()),
            "nonblank_skipped": float((skipped & ~blank).float().sum() / max(1, int((~blank).sum())))}


def gate_check(model: RecognizerNet, gate: BlankGate, lines: Sequence[tuple[np.ndarray, bool, str]]) -> dict[str, float]:
    """How the gate does on lines it was not fitted on: frames skipped, non-blank frames lost."""
    x, blank = _frames(model, lines)
    w, b = torch.tensor(gate.weight), torch.tensor(gate.bias)
    skipped = (x @ w + b) > 0
    return _gate_stats(skipped, blank)


def parity(model: RecognizerNet, onnx_path: str | Path, lines: Sequence[tuple[np.ndarray, bool, str]],
           charset: Charset, threads: int = 2) -> dict[str, Any]:
    """Compare torch and onnxruntime on ``lines``: max |Δ prob|, frame-id and decoded-string agreement."""
    model = model.eval()
    h = model.cfg.height
    xs = [prepare_line(img, h, vert) for img, vert, _ in lines]
    images, widths = pad_batch(xs)
    with torch.no_grad():
        ids_t, probs_t, len_t = RecognizerExport(model)(torch.from_numpy(images), torch.from_numpy(widths))
    sess = onnx_session(onnx_path, threads)
    ids_o, probs_o, len_o = sess.run(None, {"image": images, "widths": widths})[:3]
    mask = np.arange(ids_o.shape[1])[None, :] < len_o[:, None]
    same_text = 0
    for k, (_, vert, direction) in enumerate(lines):
        a = finish_line(charset, *ctc_greedy(ids_t[k].numpy(), probs_t[k].numpy(), int(len_t[k])), None if vert else direction)
        b = finish_line(charset, *ctc_greedy(ids_o[k], probs_o[k], int(len_o[k])), None if vert else direction)
        same_text += a.text == b.text
    return {"lines": len(lines), "max_abs_prob_diff": float(np.abs(probs_t.numpy() - probs_o)[mask].max()),
            "frame_id_agreement": float((ids_t.numpy() == ids_o)[mask].mean()),
            "text_agreement": same_text / max(1, len(lines)), "lengths_equal": bool((len_t.numpy() == len_o).all())}


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder (→ its latest checkpoint) or a checkpoint folder."""
    from polyocr.train.loop import latest_checkpoint

    path = Path(path)
    if (path / "state.json").is_file() and (path / "model.safetensors").is_file():
        return path
    ck = latest_checkpoint(path)
    if ck is None:
        raise FileNotFoundError(f"{path}: neither a checkpoint folder nor a run folder with checkpoints/latest")
    return ck



QUANTIZE = {
    "int8": f"convolutions int8 static (QDQ, per channel, percentile {CALIB_PERCENTILE} calibration); "
            "MatMul/Gemm int8 dynamic",
    "int8-dynamic": "MatMul/Gemm int8 dynamic; convolutions fp32",
    "none": "none (fp32)",
}


def quantize_convs(src: Path, dst: Path, lines: Sequence[tuple[np.ndarray, bool, str]], height: int) -> Path:
    """Static int8 convolutions, calibrated on ``lines`` (train fonts).

    Measured on the v4 weights, one thread: 193 → 259 held-out lines/s, mean NED 0.226 → 0.227.
    Percentile calibration keeps rare activation outliers from stretching the int8 range (plain
    min/max cost 0.003 NED, 0.013 on en). The histogram collector needs one tensor shape for every
    batch, so all calibration batches are padded to the widest line (padded columns are masked).
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    xs = sorted((prepare_line(img, height, vert) for img, vert, _ in lines), key=lambda a: a.shape[1])
    width = -(-max(a.shape[1] for a in xs) // 8) * 8
    feeds = []
    for i in range(0, len(xs), 16):
        images, widths = pad_batch(xs[i:i + 16])
        images = np.pad(images, ((0, 0), (0, 0), (0, 0), (0, width - images.shape[3])))
        feeds.append({"image": images, "widths": widths})

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    pre = dst.with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                    calibrate_method=CalibrationMethod.Percentile, extra_options={"CalibPercentile": CALIB_PERCENTILE})
    return dst


def export(ckpt: str | Path, out: str | Path, quantize: str = "int8", weights_dtype: str = "float16",
           n_parity: int = 8, licence: str = "Apache-2.0", gate_lines: int = 400,
           gate_check_lines: int = 64, calib_lines: int = 256, alternatives: int = 4,
           ink_margin: float | None = INK_MARGIN) -> dict[str, Any]:
    """Checkpoint (or run folder) → ``out/{model.onnx, model.safetensors, model.json}``; returns model.json.

    ``alternatives``: each frame's K best classes also leave the graph (language-constrained
    re-decoding in the pipeline, :func:`polyocr.pipeline.recognize.redecode`); 0 = best class only.
    ``gate_lines``: train-font lines to fit the blank gate on (0 = no gate). The gated graph ships
    only if it decodes at least 97 % of ``gate_check_lines`` held-out-font lines exactly as the
    ungated graph does; otherwise the ungated one ships and model.json says why.
    ``ink_margin``: recorded as ``input.ink_margin``, the cut across to the ink that inference makes
    before scaling (:func:`polyocr.pipeline.recognize.prepare_line`); None = crops as given.
    """
    from polyocr.models.recognizer import load_safetensors

    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE)}, not {quantize!r}")
    ck = resolve_checkpoint(ckpt)
    state = json.loads((ck / "state.json").read_text(encoding="utf-8"))
    charset = Charset.load()
    charset.check(state["charset_sha256"], what=f"checkpoint {ck}")
    model, _ = load_safetensors(str(ck / "model.safetensors"), charset.sha256)
    model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = parity_lines(n_parity)
    if not lines:  # no fonts: random "lines" still exercise every op
        rng = np.random.default_rng(0)
        lines = [(rng.integers(0, 256, (32, int(w)), dtype=np.uint8), False, "ltr") for w in rng.integers(40, 400, n_parity)]
    gate_info: dict[str, Any] = {"used": False}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "model.fp32.onnx", alternatives=alternatives)
        checks = {"fp32": parity(model, fp32, lines, charset)}
        if checks["fp32"]["max_abs_prob_diff"] > 1e-3 or checks["fp32"]["text_agreement"] < 1.0:
            raise RuntimeError(f"ONNX export does not match torch: {checks['fp32']}")
        fit = parity_lines(gate_lines, seed=9191, split="train") if gate_lines else []
        held = parity_lines(gate_check_lines, seed=9292) if fit else []
        if fit and held:
            gate, fitted = fit_blank_gate(model, fit)
            gated = export_onnx(model, Path(tmp) / "model.gated.onnx", gate=gate, alternatives=alternatives)
            agreement = parity(model, gated, held, charset)
            gate_info = {"used": False, "fit": fitted, "heldout": gate_check(model, gate, held), "fit_lines": len(fit),
                         "heldout_parity": agreement, "bias": gate.bias, "weight_norm": float(np.linalg.norm(gate.weight))}
            if agreement["text_agreement"] >= 0.97:
                gate_info["used"] = True
                fp32 = gated
            else:
                gate_info["reason"] = f"held-out text agreement {agreement['text_agreement']:.3f} < 0.97"
        elif gate_lines:
            gate_info["reason"] = "no fonts to render lines for fitting"
        onnx_final = Path(tmp) / "model.onnx"
        if quantize in ("int8", "int8-dynamic"):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            level = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # quantisation's advice lines are not for users
            try:
                if quantize == "int8":
                    calib = parity_lines(calib_lines, seed=5150, split="train")
                    if not calib:
                        raise RuntimeError("int8 needs rendered lines to calibrate the convolutions (no fonts); "
                                           "use quantize='int8-dynamic'")
                    fp32 = quantize_convs(fp32, Path(tmp) / "model.qconv.onnx", calib, model.cfg.height)
                quantize_dynamic(str(fp32), str(onnx_final), weight_type=QuantType.QInt8,
                                 op_types_to_quantize=["MatMul", "Gemm"])
            finally:
                logging.getLogger().setLevel(level)
            checks["int8"] = parity(model, onnx_final, lines, charset)
        else:
            shutil.copyfile(fp32, onnx_final)
        shutil.move(str(onnx_final), str(out / "model.onnx"))
    dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": None}[weights_dtype]
    save_safetensors(model, str(out / "model.safetensors"),
                     {"charset_sha256": charset.sha256, "step": str(state["step"]), "recipe": state["config"]["recipe"]},
                     dtype=dtype)
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600; package data must be world-readable
    cfg = state["config"]
    meta = {
        "format": "polyocr-recognizer",
        "format_version": 1,
        "polyocr_version": __version__,
        "architecture": "conv stem + transformer encoder + CTC (polyocr.models.recognizer)",
        "config": model.cfg.to_dict(),
        "params": model.num_params(),
        "charset": {"version": charset.version, "sha256": charset.sha256, "n_classes": len(charset),
                    "blank": 0, "space": 1},
        "input": {"height": model.cfg.height, "max_width": int(cfg.get("max_width", 1600)), "channels": "gray",
                  "normalisation": "per-image: pixels/255, minus mean, divided by max(std, 0.02); zero padding",
                  "vertical": "rotate 90° counter-clockwise (top of the column → left)",
                  "width_stride": model.cfg.width_stride,
                  **({"ink_margin": ink_margin} if ink_margin is not None else {})},
        "output": {"order": "visual (left to right); right-to-left lines → logical with polyocr.bidi.to_logical",
                   "decoding": "greedy CTC", "alternatives": alternatives,
                   "onnx_outputs": ["ids", "probs", "lengths"] + (["alt_ids", "alt_probs"] if alternatives else [])},
        "onnx": {"file": "model.onnx", "opset": OPSET, "quantization": QUANTIZE[quantize],
                 "sha256": sha256_file(out / "model.onnx"), "bytes": (out / "model.onnx").stat().st_size},
        "safetensors": {"file": "model.safetensors", "dtype": weights_dtype, "sha256": sha256_file(out / "model.safetensors"),
                        "bytes": (out / "model.safetensors").stat().st_size},
        "training": {"recipe": cfg["recipe"], "step": state["step"], "samples": state.get("samples"),
                     "languages": cfg["languages"], "language_weights": cfg["language_weights"],
                     "checkpoint": ck.name, "heldout_metrics": state.get("metrics", {}), "config": cfg},
        "parity": checks,
        "blank_gate": gate_info,
        "licence": licence,
    }
    (out / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta
