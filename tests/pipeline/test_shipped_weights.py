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
    assert {"model.onnx", "model.safetensors", "model.json", "charlm.safetensors"} <= names
    assert not any(f.suffix in (".pt", ".pth", ".pkl", ".ckpt") for f in files)
    assert sum(f.stat().st_size for f in files) < 40e6


def _heldout_lines(seed: int, languages: tuple[str, ...], tries: int):
    """Held-out-font, held-out-corpus lines of sample indices 0..tries-1 (rejected samples skipped)."""
    cfg = SynthConfig(seed=seed, languages=languages, split="heldout")
    res = Resources(cfg)
    for i in range(tries):
        try:
            yield generate_line(cfg, res, i)
        except Rejected:
            continue


def test_shipped_model_reads_held_out_lines():
    # Held-out fonts and corpus lines the model never saw. The first shipped run reads these at
    # CER ~0.2 (BENCHMARKS.md); 0.45 leaves room for sampling noise but fails on broken weights.
    errors = []
    for s in _heldout_lines(4242, ("en", "ru"), 48):
        out = polyocr.recognize(s.image, direction=s.line.direction)
        errors.append(cer(out.text, s.line.text))
        assert 0.0 <= out.confidence <= 1.0
    assert len(errors) > 30
    assert float(np.mean(errors)) < 0.45, f"mean CER {np.mean(errors):.3f}"


def test_shipped_graph_reads_as_well_as_the_torch_model():
    """The shipped graph (blank gate, int8 matmuls and convolutions) against the fp32 torch model it
    came from, on held-out-font lines with their ground truth: the speed-ups may change a character
    here and there, not the accuracy. The gate's own numbers were measured at export (model.json)."""
    import json

    import torch

    from polyocr.charset import Charset
    from polyocr.models.recognizer import RecognizerExport, load_safetensors
    from polyocr.pipeline.recognize import ctc_greedy, finish_line, pad_batch, prepare_line, to_gray

    meta = json.loads((Path(DEFAULT_WEIGHTS) / "model.json").read_text(encoding="utf-8"))
    gate = meta["blank_gate"]
    assert gate["used"], gate
    assert gate["heldout"]["skipped_share"] > 0.4 and gate["heldout"]["nonblank_skipped"] < 0.002
    torch.set_num_threads(1)
    model, _ = load_safetensors(str(Path(DEFAULT_WEIGHTS) / "model.safetensors"))
    cs = Charset.load()
    shipped, torch_cer = [], []
    for s in _heldout_lines(777, ("en", "ru", "ja", "ar"), 80):
        vertical = s.line.writing_mode == "vertical-rl"
        direction = None if vertical else s.line.direction
        shipped.append(cer(polyocr.recognize(s.image, direction=direction).text, s.line.text))
        images, widths = pad_batch([prepare_line(to_gray(s.image), 32, vertical)])
        with torch.no_grad():
            ids, probs, lengths = RecognizerExport(model)(torch.from_numpy(images), torch.from_numpy(widths))
        text = finish_line(cs, *ctc_greedy(ids[0].numpy(), probs[0].numpy(), int(lengths[0])), direction).text
        torch_cer.append(cer(text, s.line.text))
    assert len(shipped) > 50
    assert float(np.mean(shipped)) <= float(np.mean(torch_cer)) + 0.02, (np.mean(shipped), np.mean(torch_cer))


def test_shipped_language_models_read_held_out_lines_better():
    # The same held-out lines read greedily and with each language's character model choosing among
    # the doubtful characters (BENCHMARKS.md: mean line NED 0.111 -> ~0.09 on 1,200 lines).
    greedy, with_lm = [], []
    for s in _heldout_lines(4343, ("zh-Hant", "ko"), 40):
        vertical = s.line.writing_mode.startswith("vertical")
        plain = polyocr.recognize(s.image, vertical=vertical, direction=s.line.direction)
        lm = polyocr.recognize(s.image, vertical=vertical, language=s.line.language)
        greedy.append(cer(plain.text, s.line.text))
        with_lm.append(cer(lm.text, s.line.text))
    assert len(greedy) > 25
    assert float(np.mean(with_lm)) < float(np.mean(greedy)), (np.mean(with_lm), np.mean(greedy))


def test_lines_wider_than_the_model_takes_are_read_in_pieces():
    """Held-out lines set side by side make one line over twice max_width: read in pieces
    it reads about as well as its parts read one by one; squeezed to fit, it would not be readable."""
    from PIL import Image

    from polyocr.pipeline.recognize import Recognizer, to_gray

    rec = Recognizer(threads=1)
    h = 40
    samples, strips = [], []
    for s in _heldout_lines(5151, ("en",), 40):
        g = to_gray(s.image)
        samples.append(s)
        strips.append(np.asarray(Image.fromarray(g).resize((max(1, round(g.shape[1] * h / g.shape[0])), h))))
        gap = np.full((h, h // 2), int(np.median(strips[0])), np.uint8)
        wide = np.hstack([x for st in strips for x in (st, gap)][:-1])
        if rec.prepare([wide], [False])[0].shape[1] > 2 * rec.meta.max_width:
            break
    truth = " ".join(s.line.text for s in samples)
    assert rec.prepare([wide], [False])[0].shape[1] > 2 * rec.meta.max_width   # really several pieces wide
    joined = rec.recognize([wide], vertical=[False])[0].text
    apart = " ".join(r.text for r in rec.recognize(strips, vertical=[False] * len(strips)))
    assert cer(joined, truth) <= cer(apart, truth) + 0.03, (joined, apart)
    assert cer(joined, truth) < 0.15, joined
