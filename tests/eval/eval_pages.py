"""Tiny fixture pages for the eval tests: lines rendered with the generator's typesetter and real
fonts (tests/render_util.py), stacked on a white page and saved with their dpi."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from render_util import render  # noqa: E402

TEXTS = {
    "en": ["The quick brown fox jumps over the lazy dog.",
           "Invoice number 4521 was paid on 12 March 2024.",
           "Please return the signed form before Friday."],
    "zh-Hans": ["我们今天在北京学习中文。", "这个城市的交通非常方便。", "请在星期五之前交回表格。"],
    "ru": ["Съешь же ещё этих мягких булок.", "Москва является столицей России.", "Пожалуйста, верните форму."],
}


def page_image(lines: list[str], lang: str, size: int = 32, font_seed: int = 0) -> Image.Image:
    """Lines one under another, left-aligned, generous margins: a clean, simple page."""
    crops = [render(t, lang=lang, size=size, font_seed=font_seed) for t in lines]
    margin, gap = 60, size
    width = max(c.shape[1] for c in crops) + 2 * margin
    height = sum(c.shape[0] for c in crops) + gap * (len(crops) - 1) + 2 * margin
    page = np.full((height, width), 255, np.uint8)
    y = margin
    for c in crops:
        page[y:y + c.shape[0], margin:margin + c.shape[1]] = c
        y += c.shape[0] + gap
    return Image.fromarray(page).convert("RGB")


def write_page(folder: Path, name: str, lang: str, lines: list[str] | None = None, suffix: str = ".png",
               lang_file: bool = True) -> Path:
    """``<name><suffix>`` + ``<name>.txt`` (+ ``<name>.lang``) in ``folder``; returns the image path."""
    lines = lines or TEXTS[lang]
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / f"{name}{suffix}"
    page_image(lines, lang).save(image, dpi=(200, 200))
    (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if lang_file:
        (folder / f"{name}.lang").write_text(lang + "\n", encoding="utf-8")
    return image


def write_realdev(folder: Path, pages: list[tuple[str, str]]) -> Path:
    """A realdev-shaped folder: index.tsv (id, lang, ...) + <id>.png + <id>.txt for (id, lang) pairs."""
    rows = ["id\tlang\tpackage\tnonspace_chars\tvalidation"]
    for pid, lang in pages:
        write_page(folder, pid, lang, lang_file=False)
        rows.append(f"{pid}\t{lang}\tfixture\t0\tok")
    (folder / "index.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def line_boxes(gray: np.ndarray) -> list[list[int]]:
    """Boxes of the ink bands of a page of stacked lines (rows with dark pixels, then their columns)."""
    rows = (gray < 128).any(1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], rows.astype(int), [0]])))
    boxes = []
    for y0, y1 in zip(edges[::2], edges[1::2]):
        cols = np.flatnonzero((gray[y0:y1] < 128).any(0))
        boxes.append([int(cols[0]), int(y0), int(cols[-1]) + 1, int(y1)])
    return boxes


def paint_over(folder: Path, pid: str, hide: int, mask_only: int) -> None:
    """As a realdev build does at its worst: line ``hide`` painted white under a masked region, and a
    masked region around line ``mask_only`` that leaves its ink; writes ``<pid>.lines.json`` with the
    line boxes (texts from ``<pid>.txt``) and both regions."""
    path = folder / f"{pid}.png"
    gray = np.asarray(Image.open(path).convert("L")).copy()
    boxes = line_boxes(gray)
    texts = (folder / f"{pid}.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
    assert len(boxes) == len(texts)
    x0, y0, x1, y1 = boxes[hide]
    gray[y0:y1, x0:x1] = 255
    Image.fromarray(gray).convert("RGB").save(path, dpi=(200, 200))
    regions = [[x0 - 4, y0 - 4, x1 + 4, y1 + 4], boxes[mask_only]]
    lines = [{"text": t, "bbox": b} for t, b in zip(texts, boxes)]
    (folder / f"{pid}.lines.json").write_text(json.dumps({"lines": lines, "masked_regions": regions}), encoding="utf-8")
