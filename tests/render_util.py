"""Render short labelled lines with the generator's Typesetter and real fonts (shared by the recogniser tests)."""

from __future__ import annotations

import io
import json
import tarfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from polyocr.synth.fonts import load_font
from polyocr.synth.page import Resources, SynthConfig
from polyocr.synth.render import Canvas
from polyocr.synth.typeset import TextStyle, Typesetter


@lru_cache(maxsize=4)
def resources(langs: tuple[str, ...] = ("en",)) -> Resources:
    return Resources(SynthConfig(seed=0, languages=langs))


def render(text: str, lang: str = "en", direction: str = "ltr", size: int = 28, font_seed: int = 0,
           vertical: bool = False) -> np.ndarray:
    """A clean gray line crop (dark text on white) of ``text`` in one fixed face."""
    res = resources((lang,))
    face = res.fonts.pick(np.random.default_rng(font_seed), lang, split="train", vertical=True if vertical else None)
    style = TextStyle(face, size, 0, 0, 1.3)
    n = len(text) + 4
    w, h = (int(size * 2.5), size * n) if vertical else (size * n, int(size * 2.5))
    canvas = Canvas(w, h, colors=1)
    ts = Typesetter(canvas, res.fonts, lang, "train", res.cache, load_font)
    if vertical:
        line = ts.draw_column(ts.break_lines(text, style, h, vertical=True)[0], style, w / 2, size)
    else:
        line = ts.draw_line(ts.break_lines(text, style, w, direction)[0], style, size, w - size, size * 1.6, "start", direction)
    ink = canvas.text[0]
    ys, xs = np.nonzero(ink)
    m = size // 5
    crop = ink[max(0, ys.min() - m): ys.max() + m + 1, max(0, xs.min() - m): xs.max() + m + 1]
    assert line is not None
    return (255 - crop).astype(np.uint8)


def write_shard(path: Path, lines: list[tuple[np.ndarray, str, dict]]) -> Path:
    """A WebDataset-style tar like `polyocr synth lines` writes: <key>.png, <key>.txt, <key>.json."""
    with tarfile.open(path, "w") as tf:
        for i, (img, text, meta) in enumerate(lines):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            for ext, data in (("png", buf.getvalue()), ("txt", text.encode()), ("json", json.dumps(meta).encode())):
                info = tarfile.TarInfo(f"{i:06d}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def tiny_lines(n: int = 64, seed: int = 0, alphabet: str = "0123456789ABCDEFGHKLMNPRSTXYZ") -> list[tuple[np.ndarray, str, dict]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        text = "".join(rng.choice(list(alphabet), int(rng.integers(5, 9))))
        out.append((render(text, size=int(rng.integers(22, 34))), text,
                    {"language": "en", "direction": "ltr", "writing_mode": "horizontal-tb"}))
    return out


def first_page(cfg: SynthConfig, res: Resources, tries: int = 10):
    """The first page of ``cfg`` the generator does not reject (some layouts overflow small pages)."""
    import pytest

    from polyocr.synth.page import Rejected, generate_page

    for i in range(tries):
        try:
            return generate_page(cfg, res, i)
        except Rejected:
            continue
    pytest.fail(f"no {'/'.join(cfg.languages)} {'/'.join(cfg.layouts)} page in {tries} tries")


def list_page(marks=("–", "•", "–"), texts=("保持您的套件簡單易懂。", "不要對套件過度設計。", "使用可讀的程式碼風格。")):
    """List items as manuals set them: a mark, a gap of about half a character, the item's text."""
    page = np.full((260, 900), 255, np.uint8)
    items = []
    for k, (m, t) in enumerate(zip(marks, texts)):
        y = 40 + 60 * k
        a, b = render(m, "zh-Hant", size=26), render(t, "zh-Hant", size=26)
        xm = 60
        xt = xm + a.shape[1] + 14
        for x, im in ((xm, a), (xt, b)):
            yy = y + (b.shape[0] - im.shape[0]) // 2
            page[yy:yy + im.shape[0], x:x + im.shape[1]] = np.minimum(page[yy:yy + im.shape[0], x:x + im.shape[1]], im)
        items.append(((xm, y), (xt, y, xt + b.shape[1], y + b.shape[0])))
    return np.stack([page] * 3, -1), items
