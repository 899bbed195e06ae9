"""Overlay: the page image with what was read drawn on top, to check a result by eye.

Each block gets its own colour (a thick outline), its lines a thin outline and a light tint in
the same colour, and every line its reading-order number (1 = read first on the page) at its
start corner. Nothing is recomputed: the order is the Document's own.

>>> png = to_overlay_png(doc.pages[0], image)  # doctest: +SKIP
"""

from __future__ import annotations

import colorsys
import io
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from polyocr.document import Page, Point

__all__ = ["render_overlay", "to_overlay_png", "block_colour"]

RGB = tuple[int, int, int]


def block_colour(i: int) -> RGB:
    """A saturated colour for block ``i``; hues step by the golden ratio so neighbours differ."""
    r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.9, 0.8)
    return int(r * 255), int(g * 255), int(b * 255)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _flat(poly: Sequence[Point]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in poly]


def render_overlay(page: Page, image: Image.Image | np.ndarray | None = None) -> Image.Image:
    """``image`` (or white paper of the page's size) with blocks, lines and line order drawn.

    The image is resized to the page's pixel size when they differ, so polygons always land on
    the text they describe.
    """
    if image is None:
        base = Image.new("RGB", (page.width, page.height), "white")
    else:
        img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        base = img.convert("RGB")
        if base.size != (page.width, page.height):
            base = base.resize((page.width, page.height), Image.Resampling.BILINEAR)
    tint = Image.new("RGBA", base.size, (0, 0, 0, 0))
    tdraw = ImageDraw.Draw(tint)
    for bi, block in enumerate(page.blocks):
        colour = block_colour(bi)
        for line in block.lines:
            tdraw.polygon(_flat(line.polygon), fill=(*colour, 48))
    out = Image.alpha_composite(base.convert("RGBA"), tint).convert("RGB")
    draw = ImageDraw.Draw(out)
    scale = max(page.width, page.height) / 1000.0
    thick, thin = max(2, round(3 * scale)), max(1, round(scale))
    label_size = max(12, round(16 * scale))
    font = _font(label_size)
    number = 0
    for bi, block in enumerate(page.blocks):
        colour = block_colour(bi)
        draw.polygon(_flat(block.polygon), outline=colour, width=thick)
        for line in block.lines:
            number += 1
            draw.polygon(_flat(line.polygon), outline=colour, width=thin)
            x, y = line.polygon[0]
            label = str(number)
            x0, y0, x1, y1 = draw.textbbox((0, 0), label, font=font)
            lx = min(max(float(x) - (x1 - x0) - 2 * thin, 0.0), max(page.width - (x1 - x0) - 2.0, 0.0))
            ly = min(max(float(y), 0.0), max(page.height - (y1 - y0) - 2.0, 0.0))
            draw.rectangle((lx, ly, lx + (x1 - x0) + 2, ly + (y1 - y0) + 2), fill=colour)
            draw.text((lx + 1 - x0, ly + 1 - y0), label, fill="white", font=font)
    return out


def to_overlay_png(page: Page, image: Image.Image | np.ndarray | None = None) -> bytes:
    """:func:`render_overlay` encoded as PNG bytes."""
    buf = io.BytesIO()
    render_overlay(page, image).save(buf, format="PNG", optimize=False)
    return buf.getvalue()
