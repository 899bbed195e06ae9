"""Two-level scans are softened before reading: a dithered 1-bit page reads instead of failing."""

import io

import numpy as np
import pytest
from PIL import Image

from polyocr.eval.metrics import ned
from polyocr.pipeline.bilevel import is_bilevel, lone_dot_share, soften_bilevel
from polyocr.pipeline.pipeline import Pipeline, ReadConfig
from polyocr.synth.page import Resources, SynthConfig

from render_util import first_page


def test_only_two_level_pages_count_as_bilevel():
    rng = np.random.default_rng(0)
    bw = np.where(rng.uniform(size=(300, 400)) < 0.2, 0, 255).astype(np.uint8)
    assert is_bilevel(np.repeat(bw[..., None], 3, axis=2)) and is_bilevel(bw)
    assert is_bilevel(np.where(bw == 0, 40, 230).astype(np.uint8))          # two levels, not 0 and 255
    gray = (bw * 0.6 + rng.uniform(0, 100, bw.shape)).astype(np.uint8)
    assert not is_bilevel(gray)
    assert not is_bilevel(np.full((50, 50, 3), 255, np.uint8))              # blank: nothing to soften
    red = np.stack([np.full_like(bw, 255), bw, bw], axis=2)                 # red on white: colour, not a scan
    assert not is_bilevel(red)
    assert soften_bilevel(gray) is gray
    soft = soften_bilevel(bw)
    assert soft.shape == (300, 400, 3) and len(np.unique(soft)) > 2
    assert soften_bilevel(bw, sigma=0) is bw
    # thresholded print (solid strokes) is two-level too, but has no lone dots: left as it is
    strokes = np.full((300, 400), 255, np.uint8)
    for y in range(20, 280, 30):
        for x in range(20, 380, 12):
            strokes[y:y + 14, x:x + 3] = 0
    assert is_bilevel(strokes) and lone_dot_share(strokes) == 0.0 and soften_bilevel(strokes) is strokes
    assert lone_dot_share(bw) > 0.3 and lone_dot_share(255 - bw) == lone_dot_share(bw)   # the rarer level is ink
    with pytest.raises(ValueError, match="bilevel_blur"):
        ReadConfig(bilevel_blur=-1)


def _group4(image: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, format="TIFF", compression="group4")
    buf.seek(0)
    return Image.open(buf).copy()


def test_a_dithered_one_bit_scan_is_read():
    cfg = SynthConfig(seed=21, width=1240, height=1754, dpi=150, degrade="clean", split="heldout",
                      languages=("en",), layouts=("prose",))
    sample = first_page(cfg, Resources(cfg))
    dithered = _group4(Image.fromarray(sample.image).convert("L").convert("1"))   # Floyd-Steinberg
    assert dithered.mode == "1"
    truth = "".join(sample.page.text.split())
    read = lambda pipe: ned("".join(pipe.read_image(dithered).text.split()), truth)  # noqa: E731
    softened, plain = read(Pipeline(ReadConfig(threads=2))), read(Pipeline(ReadConfig(threads=2, bilevel_blur=0)))
    assert softened < 0.1 and softened < 0.5 * plain, (softened, plain)
