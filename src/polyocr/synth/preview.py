"""Contact sheets: generated pages with their labels drawn on top, so a reader can check them by eye.

Labels are easy to get subtly wrong (a box off by a line, a reading order that jumps columns,
right-to-left words in visual order); looking at a few dozen overlaid pages catches that faster
than any metric. Blocks get one colour each (thick outline), lines a thin outline in the same
colour, words a hairline; block numbers and arrows between block centres show the page's reading
order, small numbers the line order inside each block.
"""

from __future__ import annotations

import colorsys
import functools
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from polyocr.fileio import atomic_write
from polyocr.document import Page, Point

if TYPE_CHECKING:
    from polyocr.synth.fonts import FontLibrary

__all__ = ["block_colour", "draw_overlay", "contact_sheet", "save_png", "ORDER_COLOUR"]

RGB = tuple[int, int, int]

ORDER_COLOUR: RGB = (255, 0, 160)       # reading-order arrows between blocks
SHEET_BACKGROUND: RGB = (228, 228, 228)
CAPTION_COLOUR: RGB = (20, 20, 20)
_DEJAVU = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
           Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"))


def block_colour(i: int) -> RGB:
    """The RGB colour of the block at reading-order index ``i``.

    Hues step by the golden ratio so neighbouring blocks always differ; saturated and fairly dark
    so the outline stands out on white paper and on photographed backgrounds alike.
    """
    hue = (i * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 0.85)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def _tint(colour: RGB, amount: float) -> RGB:
    """``colour`` moved ``amount`` of the way to white (hairlines for words)."""
    return tuple(int(round(c + (255 - c) * amount)) for c in colour)  # type: ignore[return-value]


def _pts(poly: Sequence[Point], scale: float) -> np.ndarray:
    return np.round(np.asarray(poly, dtype=np.float64).reshape(-1, 2) * scale).astype(np.int32)


def _label(img: np.ndarray, text: str, at: tuple[int, int], colour: RGB, scale: float,
           filled: bool) -> None:
    """Digits at ``at`` (their top-left corner), kept inside the image.

    ``filled``: white digits on a box of ``colour`` (block numbers, readable on any background);
    otherwise digits in ``colour`` with a white halo (line numbers, smaller, less ink).
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    h, w = img.shape[:2]
    pad = max(1, thick)
    x = int(min(max(at[0], 0), max(0, w - tw - 2 * pad)))
    y = int(min(max(at[1], 0), max(0, h - th - base - 2 * pad)))
    origin = (x + pad, y + pad + th)
    if filled:
        cv2.rectangle(img, (x, y), (x + tw + 2 * pad, y + th + base + 2 * pad), colour, -1)
        cv2.putText(img, text, origin, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    else:
        cv2.putText(img, text, origin, font, scale, (255, 255, 255), thick + 2, cv2.LINE_AA)
        cv2.putText(img, text, origin, font, scale, colour, thick, cv2.LINE_AA)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {img.dtype}")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    if img.ndim == 3 and img.shape[2] == 3:
        return img.copy()
    raise ValueError(f"expected an HxW, HxWx3 or HxWx4 image, got shape {img.shape}")


def _overlay(image: np.ndarray, page: Page, scale: float, show_words: bool) -> np.ndarray:
    """draw_overlay on an image that is ``scale`` times the page's pixel size."""
    out = _as_rgb(image)
    h, w = out.shape[:2]
    unit = max(1.0, min(h, w) / 400.0)  # ~1 px per 400 px of the short side
    t_block = max(2, int(round(2 * unit)))
    t_line = max(1, int(round(unit * 0.75)))
    text_scale = max(0.35, 0.45 * unit)

    for bi, block in enumerate(page.blocks):
        colour = block_colour(bi)
        if show_words:
            word_colour = _tint(colour, 0.45)
            for line in block.lines:
                for word in line.words:
                    cv2.polylines(out, [_pts(word.polygon, scale)], True, word_colour, 1, cv2.LINE_4)
        for line in block.lines:
            cv2.polylines(out, [_pts(line.polygon, scale)], True, colour, t_line, cv2.LINE_AA)
        cv2.polylines(out, [_pts(block.polygon, scale)], True, colour, t_block, cv2.LINE_AA)

    # reading order: arrows between block centres, then the numbers on top of everything
    centres = [tuple(int(v) for v in _pts(b.polygon, scale).mean(axis=0)) for b in page.blocks]
    for a, b in zip(centres, centres[1:]):
        length = max(1.0, float(np.hypot(b[0] - a[0], b[1] - a[1])))
        tip = min(0.3, 12.0 * unit / length)
        cv2.arrowedLine(out, a, b, ORDER_COLOUR, t_line + 1, cv2.LINE_AA, tipLength=tip)
    for bi, block in enumerate(page.blocks):
        colour = block_colour(bi)
        for li, line in enumerate(block.lines):
            x, y = _pts(line.polygon[:1], scale)[0]
            _label(out, str(li), (int(x) + t_line, int(y) + t_line), colour, text_scale * 0.6, filled=False)
        x, y = _pts(block.polygon[:1], scale)[0]
        _label(out, str(bi), (int(x), int(y)), colour, text_scale, filled=True)
    return out


def draw_overlay(image: np.ndarray, page: Page, show_words: bool = True) -> np.ndarray:
    """A copy of ``image`` (HxWx3 uint8, page pixels) with ``page``'s structure drawn on it.

    Blocks: thick outline in ``block_colour(i)`` and the number ``i`` at the block's first corner;
    lines: thin outline in the block's colour with their index inside the block; words (when
    ``show_words``): hairlines in a lighter tint; reading order: arrows in ``ORDER_COLOUR`` from
    each block's centre to the next one's, in ``page.blocks`` order. The input is not modified.
    """
    return _overlay(image, page, 1.0, show_words)


@functools.lru_cache(maxsize=64)
def _font_at(path: str, index: int, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path:
        return ImageFont.truetype(path, size, index=index)
    return ImageFont.load_default(size)


def _caption_font(text: str, size: int, fonts: "FontLibrary | None") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font that maps the caption: the library's fallback when given, else DejaVu Sans."""
    if fonts is not None:
        face = fonts.fallback(text, "en", "all")
        if face is not None:
            return _font_at(face.path, face.index, size)
    for p in _DEJAVU:
        if p.is_file():
            return _font_at(str(p), 0, size)
    return _font_at("", 0, size)


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> str:
    """``text`` cut with an ellipsis so it fits ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(items: list[tuple[np.ndarray, Page, str]], columns: int = 4, thumb_width: int = 600,
                  pad: int = 8, caption_height: int = 28, show_words: bool = True,
                  fonts: "FontLibrary | None" = None) -> np.ndarray:
    """Overlaid thumbnails in a grid, each with its caption (e.g. "ja · vertical · seed 3") below.

    Every tile is ``thumb_width`` wide (aspect kept); a row is as tall as its tallest thumbnail
    plus ``caption_height``; tiles are ``pad`` apart and from the border. So the sheet is
    ``c * thumb_width + (c + 1) * pad`` wide with ``c = min(columns, len(items))``, and
    ``sum(row heights) + (rows + 1) * pad`` high. Overlays are drawn at thumbnail resolution,
    so lines stay crisp however large the page. ``fonts``: a FontLibrary whose ``fallback``
    picks a caption font covering any script; without one captions use DejaVu Sans.
    """
    if not items:
        raise ValueError("contact_sheet needs at least one item")
    if columns < 1 or thumb_width < 1:
        raise ValueError("columns and thumb_width must be positive")
    thumbs: list[np.ndarray] = []
    for image, page, _ in items:
        img = _as_rgb(image)
        h, w = img.shape[:2]
        scale = thumb_width / w
        th = max(1, int(round(h * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(img, (thumb_width, th), interpolation=interp)
        # page coordinates are in the page's pixels, which may differ from the image's
        page_scale = scale * (w / page.width if page.width else 1.0)
        thumbs.append(_overlay(small, page, page_scale, show_words))

    cols = min(columns, len(items))
    rows = (len(items) + cols - 1) // cols
    row_heights = [max(t.shape[0] for t in thumbs[r * cols:(r + 1) * cols]) + caption_height for r in range(rows)]
    width = cols * thumb_width + (cols + 1) * pad
    height = sum(row_heights) + (rows + 1) * pad
    sheet = Image.new("RGB", (width, height), SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    size = max(10, int(caption_height * 0.6))
    y = pad
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if i >= len(items):
                break
            x = pad + c * (thumb_width + pad)
            sheet.paste(Image.fromarray(thumbs[i]), (x, y))
            caption = items[i][2]
            if caption:
                font = _caption_font(caption, size, fonts)
                top = y + row_heights[r] - caption_height
                draw.text((x + 2, top + (caption_height - size) // 2), _fit(caption, font, thumb_width - 4),
                          fill=CAPTION_COLOUR, font=font)
        y += row_heights[r] + pad
    return np.asarray(sheet)


def save_png(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write ``array`` as a PNG (or a JPEG when ``path`` ends in .jpg) atomically: temp file in the
    same folder, then ``os.replace``, so a viewer or a parallel job never sees a half-written file."""
    path = Path(path)
    buf = io.BytesIO()
    if path.suffix.lower() in (".jpg", ".jpeg"):
        Image.fromarray(np.asarray(array)).save(buf, format="JPEG", quality=82)
    else:
        Image.fromarray(np.asarray(array)).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())
    return path
