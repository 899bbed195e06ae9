"""Overlays and contact sheets: ink lands exactly on the label polygons and nowhere else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from polyocr.document import Block, Line, Page, Word, quad_from_box
from polyocr.synth.preview import ORDER_COLOUR, block_colour, contact_sheet, draw_overlay, save_png

W, H = 300, 400


def _page() -> Page:
    def block(x0: int, y0: int) -> Block:
        words = [Word("ab", quad_from_box(x0 + 15, y0 + 15, x0 + 70, y0 + 35)),
                 Word("cd", quad_from_box(x0 + 80, y0 + 15, x0 + 140, y0 + 35))]
        lines = [Line("ab cd", quad_from_box(x0 + 10, y0 + 10, x0 + 150, y0 + 40), words=words),
                 Line("ef", quad_from_box(x0 + 10, y0 + 50, x0 + 150, y0 + 80))]
        return Block(lines=lines, polygon=quad_from_box(x0, y0, x0 + 160, y0 + 100))

    return Page(width=W, height=H, blocks=[block(20, 20), block(20, 200)]).assign_ids()


def _white() -> np.ndarray:
    return np.full((H, W, 3), 255, np.uint8)


def test_overlay_draws_on_the_polygons_only() -> None:
    page, image = _page(), _white()
    out = draw_overlay(image, page)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (image == 255).all(), "input untouched"
    # block edges (left edge, away from the number labels and the arrow) carry the block colour
    assert tuple(out[80, 20]) == block_colour(0)
    assert tuple(out[280, 20]) == block_colour(1)
    assert tuple(out[80, 180]) == block_colour(0)  # right edge
    assert block_colour(0) != block_colour(1)
    # a line's bottom edge and a word's edge are inked; their insides are not
    assert tuple(out[60, 100]) != (255, 255, 255)
    assert tuple(out[45, 35]) != (255, 255, 255)  # left edge of word 0 (x 35-90, y 35-55)
    assert tuple(out[85, 60]) == (255, 255, 255)  # inside line 1 (y 70-100), no word there
    # far from every polygon: unchanged
    assert tuple(out[380, 280]) == (255, 255, 255)
    assert (out[:, 250:] == 255).all()
    assert (out[340:, :] == 255).all()
    # the reading-order arrow runs between the block centres (x = 100, y 70 -> 250)
    assert tuple(out[160, 100]) == ORDER_COLOUR
    # words are optional
    bare = draw_overlay(image, page, show_words=False)
    assert tuple(bare[45, 35]) == (255, 255, 255) and tuple(out[55, 50]) != (255, 255, 255)


def test_overlay_accepts_gray_and_rgba() -> None:
    page = _page()
    gray = draw_overlay(np.full((H, W), 255, np.uint8), page)
    rgba = draw_overlay(np.full((H, W, 4), 255, np.uint8), page)
    assert gray.shape == rgba.shape == (H, W, 3)
    assert np.array_equal(gray, draw_overlay(_white(), page))


def test_contact_sheet_size_and_tiles() -> None:
    items = [(_white(), _page(), f"ja · vertical · seed {i}") for i in range(5)]
    items[1] = (np.full((2 * H, 2 * W, 3), 255, np.uint8), _page(), "中文 · 2x image")  # page coords scale
    sheet = contact_sheet(items, columns=2, thumb_width=200, pad=8, caption_height=28)
    thumb_h = 200 * H // W  # 266.67 -> 267
    assert sheet.shape == (3 * (round(200 * H / W) + 28) + 4 * 8, 2 * 200 + 3 * 8, 3)
    assert thumb_h in (266, 267)
    # the first tile is the overlaid page at 2/3 scale; the second (a 2x image) looks the same
    tile0 = sheet[8:8 + 267, 8:208]
    tile1 = sheet[8:8 + 267, 216:416]
    assert tuple(tile0[round(80 * 2 / 3), round(20 * 2 / 3)]) == block_colour(0)
    assert np.abs(tile0.astype(int) - tile1.astype(int)).mean() < 2
    # captions are drawn (dark pixels in the caption band) and the gutter is background
    band = sheet[8 + 267:8 + 267 + 28, 8:208]
    assert (band.min(axis=2) < 100).any()
    assert (sheet[:8] == sheet[0, 0]).all()
    one = contact_sheet(items[:1], columns=4, thumb_width=120)
    assert one.shape == (round(120 * H / W) + 28 + 16, 120 + 16, 3)


def test_save_png_is_atomic(tmp_path: Path) -> None:
    sheet = contact_sheet([(_white(), _page(), "en · seed 0")], thumb_width=150)
    path = save_png(sheet, tmp_path / "sub" / "sheet.png")
    assert path == tmp_path / "sub" / "sheet.png"
    assert np.array_equal(np.asarray(Image.open(path)), sheet)
    assert sorted(p.name for p in path.parent.iterdir()) == ["sheet.png"]
