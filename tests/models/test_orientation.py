"""The glyph-orientation classifier: padding-exact at any width, the shipped ONNX graph matches torch,
it tells the four orientations apart on held-out-font lines, and it turns pages upright in the pipeline."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from polyocr.models.orientation import CLASSES, OrientationConfig, OrientationNet, load_safetensors
from polyocr.pipeline.pipeline import TURNS, GlyphOrientation, Pipeline, ReadConfig
from polyocr.pipeline.recognize import DEFAULT_WEIGHTS, pad_batch, to_gray
from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line
from polyocr.train.orientation import cjk_share, strip_window

from render_util import first_page

torch.set_num_threads(1)


def test_output_does_not_depend_on_padding():
    torch.manual_seed(0)
    model = OrientationNet().eval()
    assert 20_000 <= sum(p.numel() for p in model.parameters()) <= 100_000
    rng = np.random.default_rng(1)
    strips = [rng.normal(0, 1, (32, w)).astype(np.float32) for w in (9, 31, 64, 100, 257)]
    images, widths = pad_batch(strips)
    assert images.shape[-1] == 264 and len(set(widths.tolist())) == 5
    with torch.no_grad():
        batched = model(torch.from_numpy(images), torch.from_numpy(widths))
        alone = torch.cat([model(torch.from_numpy(s)[None, None], torch.tensor([s.shape[1]])) for s in strips])
    assert batched.shape == (5, len(CLASSES))
    assert torch.allclose(batched, alone, atol=1e-5)


def test_config_round_trips():
    cfg = OrientationConfig(stem=8, stages=(16, 24), head=32)
    assert OrientationConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError):
        OrientationConfig.from_dict({"width": 3})


def test_turn_table_covers_every_case_once_per_box_direction():
    for vertical in (False, True):
        assert sorted(TURNS[vertical, c] for c in CLASSES) == [0, 1, 2, 3]
    assert TURNS[False, "upright"] == TURNS[True, "ccw"] == 0


# -- the shipped weights ---------------------------------------------------------------------------------

def _lines(langs: tuple[str, ...], layout: str, vertical: bool, n: int) -> list[np.ndarray]:
    """``n`` generator lines in held-out fonts (never trained on); vertical ones almost all CJK."""
    cfg = SynthConfig(seed=77, split="heldout", languages=langs, layouts=(layout,), line_height_px=40)
    res = Resources(cfg)
    out = []
    for i in range(600):
        try:
            s = generate_line(cfg, res, i)
        except Rejected:
            continue
        if (s.line.writing_mode == "vertical-rl") == vertical and len(s.line.text) >= 6 \
                and (not vertical or cjk_share(s.line.text) >= 0.9):
            out.append(to_gray(s.image))
        if len(out) == n:
            return out
    pytest.fail(f"the generator gave fewer than {n} {layout} lines for {langs}")


@pytest.fixture(scope="module")
def heldout_strips() -> tuple[list[np.ndarray], np.ndarray]:
    """Middle windows of held-out lines in all four orientations, and their classes."""
    strips, labels = [], []
    for langs, layout, vertical in ((("ja", "zh-Hant"), "vertical", True), (("en", "ar", "ru", "zh-Hans"), "prose", False)):
        for gray in _lines(langs, layout, vertical, 16):
            x = strip_window(gray, vertical, 8.0)
            strips += [x, np.ascontiguousarray(x[::-1, ::-1])]
            labels += [CLASSES.index("ccw"), CLASSES.index("cw")] if vertical else \
                [CLASSES.index("upright"), CLASSES.index("flip")]
    return strips, np.asarray(labels)


def test_shipped_onnx_matches_torch_and_tells_the_four_orientations_apart(heldout_strips):
    strips, labels = heldout_strips
    model, _ = load_safetensors(str(DEFAULT_WEIGHTS / "orientation.safetensors"))
    info = json.loads((DEFAULT_WEIGHTS / "orientation.json").read_text())
    assert tuple(info["classes"]) == CLASSES and info["params"] == sum(p.numel() for p in model.parameters())
    onnx = GlyphOrientation()(strips)
    images, widths = pad_batch(strips)
    with torch.no_grad():
        ref = torch.log_softmax(model(torch.from_numpy(images), torch.from_numpy(widths)), -1).numpy()
    assert np.abs(onnx - ref).max() < 1e-4
    pred = onnx.argmax(1)
    for c, name in enumerate(CLASSES):
        assert (pred[labels == c] == c).mean() >= 0.9, (name, pred[labels == c])


# -- whole pages -------------------------------------------------------------------------------------------

PAGES = SynthConfig(seed=21, width=1240, height=1754, dpi=150, degrade="clean", split="heldout")


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline(ReadConfig(threads=2))


def _page(lang: str, layout: str):
    cfg = replace(PAGES, languages=(lang,), layouts=(layout,))
    return first_page(cfg, Resources(cfg))


def test_horizontal_chinese_page_turned_clockwise_is_turned_back(pipe):
    # The old probe took its columns (readable turned counter-clockwise, and CJK) for vertical text.
    sample = _page("zh-Hans", "prose")
    page = pipe.read_image(np.ascontiguousarray(np.rot90(sample.image, -1)))
    assert page.meta["rotation"] == 90
    assert sum(ln.writing_mode == "horizontal-tb" for ln in page.lines) >= 0.8 * len(page.lines)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_vertical_japanese_page_turned_any_way_is_turned_back(pipe, k):
    sample = _page("ja", "vertical")
    page = pipe.read_image(np.ascontiguousarray(np.rot90(sample.image, k)))
    assert page.meta["rotation"] == (-k % 4) * 90
    modes = [ln.writing_mode for ln in page.lines]
    assert modes.count("vertical-rl") >= 0.8 * len(modes)      # read as columns once upright
    assert 0.0 < page.meta["seconds"]["orientation"] < 5.0
