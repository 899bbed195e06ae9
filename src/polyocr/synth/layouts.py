"""Page layout modes. Each one fills the canvas and returns Blocks in reading order.

A layout draws its own random choices from the rng it is given and only talks to the page through
the :class:`Ctx` (canvas, typesetter, text source, styles). Reading order is decided here, where
the structure is known (columns right to left on RTL pages, rows of a table, vertical columns
from the right), and written into the order of the returned blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from polyocr.document import Block, Line, quad_from_box, polygon_bounds
from polyocr.synth.render import Canvas
from polyocr.synth.typeset import TextStyle, Typesetter

if TYPE_CHECKING:
    from polyocr.languages import Language
    from polyocr.synth.text import TextSource

__all__ = ["Ctx", "LAYOUTS", "layouts_for"]


@dataclass
class Ctx:
    """Everything a layout may use for one page."""

    canvas: Canvas
    ts: Typesetter
    text: "TextSource"
    lang: "Language"
    body: TextStyle
    heading: TextStyle
    small: TextStyle
    mono: TextStyle
    mix: Callable[[np.random.Generator, str, float], str]  # mix_content bound to this language
    margin: int

    @property
    def rtl(self) -> bool:
        return self.lang.direction == "rtl"

    @property
    def width(self) -> int:
        return self.canvas.width

    @property
    def height(self) -> int:
        return self.canvas.height


def _bounds(lines: list[Line]) -> tuple[float, float, float, float]:
    pts = [p for ln in lines for p in ln.polygon]
    return polygon_bounds(pts)


def _block(lines: list[Line], kind: str, region: str, lang: str) -> Block | None:
    lines = [ln for ln in lines if ln is not None]
    if not lines:
        return None
    return Block(lines=lines, polygon=quad_from_box(*_bounds(lines)), kind=kind, region=region, language=lang)


def _paragraph(ctx: Ctx, text: str, style: TextStyle, x0: float, x1: float, y: float, y_max: float,
               align: str = "start", justify: bool = False) -> tuple[list[Line], float, str]:
    """Set ``text`` from ``y`` down; returns (lines, next y, text left over when out of room)."""
    lines_words = ctx.ts.break_lines(text, style, x1 - x0, ctx.lang.direction)
    lh = style.size * style.line_height
    out: list[Line] = []
    for i, words in enumerate(lines_words):
        baseline = y + style.size * 0.95
        if baseline + style.size * 0.35 > y_max:
            rest = _sep(ctx).join(" ".join(w) for w in lines_words[i:])
            return out, y, rest
        last = i == len(lines_words) - 1
        ln = ctx.ts.draw_line(words, style, x0, x1, baseline, align, ctx.lang.direction, justify and not last)
        if ln is not None:
            out.append(ln)
        y += lh
    return out, y, ""


def _sep(ctx: Ctx) -> str:
    return " " if ctx.lang.uses_spaces else ""


# -- prose and columns --------------------------------------------------------------------------

def _flow(ctx: Ctx, rng: np.random.Generator, columns: list[tuple[int, int]], y_top: float, y_bottom: float,
          justify: bool, headings: bool) -> list[Block]:
    """Fill columns (given in reading order) with headed paragraphs, carrying text across columns."""
    blocks: list[Block] = []
    gap = ctx.body.size * rng.uniform(0.4, 1.0)
    for ci, (x0, x1) in enumerate(columns):
        y = y_top
        carry = ""
        while y < y_bottom - ctx.body.size * 2:
            if carry:
                text, kind, style = carry, "paragraph", ctx.body
            elif headings and rng.random() < 0.18:
                text, kind, style = ctx.text.field(rng, "title"), "heading", ctx.heading
            else:
                text = ctx.mix(rng, ctx.text.paragraph(rng, 60, 500), 0.25)
                kind, style = "paragraph", ctx.body
            lines, y, carry = _paragraph(ctx, text, style, x0, x1, y, y_bottom, "start", justify and kind == "paragraph")
            b = _block(lines, kind, f"col{ci}", ctx.lang.code)
            if b is not None:
                blocks.append(b)
            if carry:
                break  # column full: the rest goes to the next column
            y += gap if kind == "paragraph" else ctx.body.size * 0.3
    return blocks


def _title(ctx: Ctx, rng: np.random.Generator, y: float, centered: bool) -> tuple[list[Block], float]:
    text = ctx.text.field(rng, "title")
    style = replace(ctx.heading, size=int(ctx.heading.size * rng.uniform(1.1, 1.6)))
    lines, y, _ = _paragraph(ctx, text, style, ctx.margin, ctx.width - ctx.margin, y, ctx.height * 0.3,
                             "center" if centered else "start")
    b = _block(lines, "title", "title", ctx.lang.code)
    return ([b] if b else []), y + ctx.body.size * 0.8


def _header_footer(ctx: Ctx, rng: np.random.Generator) -> tuple[list[Block], list[Block], float, float]:
    """Optional running header and page number; returns (header blocks, footer blocks, top, bottom)."""
    top, bottom = float(ctx.margin), float(ctx.height - ctx.margin)
    head: list[Block] = []
    foot: list[Block] = []
    if rng.random() < 0.35:
        lines, y, _ = _paragraph(ctx, ctx.text.field(rng, "title"), ctx.small, ctx.margin, ctx.width - ctx.margin,
                                 top, top + ctx.small.size * 2, "end")
        b = _block(lines, "header", "header", ctx.lang.code)
        if b:
            head.append(b)
            ctx.canvas.hline(ctx.margin, ctx.width - ctx.margin, int(y), 1)
            top = y + ctx.small.size
    if rng.random() < 0.5:
        y0 = bottom - ctx.small.size * 1.5
        lines, _, _ = _paragraph(ctx, str(int(rng.integers(1, 400))), ctx.small, ctx.margin, ctx.width - ctx.margin,
                                 y0, bottom + ctx.small.size, "center")
        b = _block(lines, "footer", "footer", ctx.lang.code)
        if b:
            foot.append(b)
            bottom = y0 - ctx.small.size
    return head, foot, top, bottom


def prose(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    head, foot, top, bottom = _header_footer(ctx, rng)
    title, top = _title(ctx, rng, top, centered=rng.random() < 0.5)
    body = _flow(ctx, rng, [(ctx.margin, ctx.width - ctx.margin)], top, bottom,
                 justify=ctx.lang.uses_spaces and rng.random() < 0.5, headings=True)
    return head + title + body + foot


def columns(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    head, foot, top, bottom = _header_footer(ctx, rng)
    title, top = _title(ctx, rng, top, centered=True) if rng.random() < 0.7 else ([], top)
    n = int(rng.choice([2, 3], p=[0.7, 0.3]))
    gutter = int(ctx.body.size * rng.uniform(1.2, 2.5))
    width = (ctx.width - 2 * ctx.margin - (n - 1) * gutter) // n
    cols = [(ctx.margin + i * (width + gutter), ctx.margin + i * (width + gutter) + width) for i in range(n)]
    if ctx.rtl:
        cols = cols[::-1]
    if rng.random() < 0.5:  # a rule between columns
        for (a, b), (c, d) in zip(sorted(cols), sorted(cols)[1:]):
            ctx.canvas.vline((b + c) // 2, int(top), int(bottom), 1)
    body = _flow(ctx, rng, cols, top, bottom, justify=ctx.lang.uses_spaces and rng.random() < 0.6, headings=True)
    return head + title + body + foot


# -- tables ---------------------------------------------------------------------------------------

def _cell_text(ctx: Ctx, rng: np.random.Generator, kind: str) -> str:
    if kind == "text":
        return _sep(ctx).join(ctx.text.words(rng, int(rng.integers(1, 4))))
    return ctx.text.field(rng, kind)


def table(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    blocks, top = _title(ctx, rng, float(ctx.margin), centered=rng.random() < 0.5)
    ncols = int(rng.integers(2, 6))
    kinds = ["text"] + [str(rng.choice(["text", "number", "price", "date", "percent", "name", "id"])) for _ in range(ncols - 1)]
    width = ctx.width - 2 * ctx.margin
    col_w = width / ncols
    style = replace(ctx.body, size=max(14, int(ctx.body.size * rng.uniform(0.75, 1.0))))
    row_h = style.size * rng.uniform(1.7, 2.4)
    border = str(rng.choice(["grid", "rules", "none"], p=[0.45, 0.35, 0.2]))
    pad = style.size * 0.35
    y = top
    nrows = int(rng.integers(4, 30))
    x_edges = [ctx.margin + i * col_w for i in range(ncols + 1)]
    tid = "table0"
    for r in range(nrows):
        if y + row_h > ctx.height - ctx.margin:
            break
        row_style = replace(style, stroke=1 if r == 0 and rng.random() < 0.6 else 0)
        order = range(ncols - 1, -1, -1) if ctx.rtl else range(ncols)
        for c in order:
            text = ctx.text.field(rng, "title") if r == 0 else _cell_text(ctx, rng, kinds[c])
            align = "end" if kinds[c] in ("number", "price", "percent") and r else "start"
            baseline = y + (row_h + style.size * 0.7) / 2
            words_lines = ctx.ts.break_lines(text, row_style, col_w - 2 * pad, ctx.lang.direction)[:1]
            lines = [ctx.ts.draw_line(w, row_style, x_edges[c] + pad, x_edges[c + 1] - pad, baseline, align,
                                      ctx.lang.direction) for w in words_lines]
            b = _block([ln for ln in lines if ln], "table_cell", f"{tid}:r{r}c{c}", ctx.lang.code)
            if b:
                blocks.append(b)
        if border == "grid" or (border == "rules" and r in (0, 1)):
            ctx.canvas.hline(ctx.margin, ctx.width - ctx.margin, int(y), 1 + (r == 0))
        y += row_h
    if border != "none":
        ctx.canvas.hline(ctx.margin, ctx.width - ctx.margin, int(y), 2)
    if border == "grid":
        for x in x_edges:
            ctx.canvas.vline(int(x), int(top), int(y), 1)
    # Tables sit inside documents: text continues below when there is room.
    if y < ctx.height * 0.75:
        blocks += _flow(ctx, rng, [(ctx.margin, ctx.width - ctx.margin)], y + style.size * 2, ctx.height - ctx.margin,
                        justify=ctx.lang.uses_spaces and rng.random() < 0.5, headings=True)
    return blocks


# -- vertical CJK -----------------------------------------------------------------------------------

def vertical(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    """Columns top to bottom, read right to left; paragraphs are runs of columns."""
    style = ctx.body
    pitch = style.size * rng.uniform(1.4, 1.9)
    top, bottom = ctx.margin, ctx.height - ctx.margin
    tiers = 1 if rng.random() < 0.7 else 2
    tier_h = (bottom - top - (tiers - 1) * style.size * 2) / tiers
    blocks: list[Block] = []
    for t in range(tiers):
        y0 = top + t * (tier_h + style.size * 2)
        x = ctx.width - ctx.margin - style.size / 2
        first = t == 0
        while x > ctx.margin + style.size / 2:
            if first and rng.random() < 0.6:
                text, kind, st = ctx.text.field(rng, "title"), "heading", replace(ctx.heading, size=int(style.size * 1.3))
            else:
                text, kind, st = ctx.mix(rng, ctx.text.paragraph(rng, 40, 300), 0.15), "paragraph", style
            first = False
            cols = ctx.ts.break_lines(text, st, tier_h, vertical=True)
            lines: list[Line] = []
            for words in cols:
                if x < ctx.margin + st.size / 2:
                    break
                ln = ctx.ts.draw_column(words, st, x, y0)
                if ln is not None:
                    lines.append(ln)
                x -= pitch if st is style else st.size * 1.8
            b = _block(lines, kind, f"tier{t}", ctx.lang.code)
            if b:
                b.polygon = (b.polygon[1], b.polygon[2], b.polygon[3], b.polygon[0])  # start at top-right
                blocks.append(b)
            x -= pitch * 0.6
    return blocks


# -- slides, contents, forms, receipts, scattered text ------------------------------------------------

def slide(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    m = ctx.margin
    title_style = replace(ctx.heading, size=int(ctx.body.size * rng.uniform(1.8, 2.6)), color=1)
    lines, y, _ = _paragraph(ctx, ctx.text.field(rng, "title"), title_style, m, ctx.width - m, m, ctx.height * 0.35,
                             "center" if rng.random() < 0.4 else "start")
    blocks = [b for b in [_block(lines, "title", "title", ctx.lang.code)] if b]
    ctx.canvas.rect(m, int(y), ctx.width - m, int(y) + max(2, ctx.body.size // 8))
    y += ctx.body.size
    style = replace(ctx.body, size=int(ctx.body.size * rng.uniform(1.1, 1.5)))
    for _ in range(int(rng.integers(3, 8))):
        level = int(rng.random() < 0.3)
        indent = style.size * (1.5 + 1.5 * level)
        x0, x1 = (m + indent, ctx.width - m) if not ctx.rtl else (m, ctx.width - m - indent)
        text = ctx.mix(rng, ctx.text.sentence(rng, max_chars=int(rng.integers(20, 90))), 0.3)
        lines, y2, _ = _paragraph(ctx, text, style, x0, x1, y, ctx.height - m)
        b = _block(lines, "list_item", "body", ctx.lang.code)
        if b is None:
            break
        bx = int(x0 - style.size) if not ctx.rtl else int(x1 + style.size * 0.6)
        d = max(4, style.size // 4)
        ctx.canvas.rect(bx, int(y + style.size * 0.5), bx + d, int(y + style.size * 0.5) + d)
        blocks.append(b)
        y = y2 + style.size * 0.5
    return blocks


def contents(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    blocks, y = _title(ctx, rng, float(ctx.margin), centered=rng.random() < 0.5)
    style = ctx.body
    m = ctx.margin
    chapter = 0
    while y < ctx.height - m - style.size * 2:
        sub = rng.random() < 0.6 and chapter > 0
        if not sub:
            chapter += 1
            num, section = f"{chapter}", 0
        else:
            section += 1
            num = f"{chapter}.{section}"
        indent = style.size * (2.0 if sub else 0.0)
        title = ctx.text.field(rng, "title")
        page_no = str(int(rng.integers(1, 300)))
        baseline = y + style.size
        x0, x1 = (m + indent, ctx.width - m) if not ctx.rtl else (m, ctx.width - m - indent)
        words = ctx.ts.break_lines(f"{num} {title}", style, (x1 - x0) * 0.7, ctx.lang.direction)[:1]
        if not words:
            y += style.size
            continue
        entry = ctx.ts.draw_line(words[0], style, x0, x1, baseline, "start", ctx.lang.direction)
        pno = ctx.ts.draw_line([page_no], style, x0, x1, baseline, "end", ctx.lang.direction)
        if entry and pno:
            ex0, _, ex1, _ = polygon_bounds(entry.polygon)
            px0, _, px1, _ = polygon_bounds(pno.polygon)
            gap = (ex1 + style.size * 0.4, px0 - style.size * 0.4) if not ctx.rtl else (px1 + style.size * 0.4, ex0 - style.size * 0.4)
            if gap[1] - gap[0] > style.size:
                ctx.canvas.hline(int(gap[0]), int(gap[1]), int(baseline - 2), 2, dotted=max(3, style.size // 5))
            # Title and page number stay two lines of one entry: the leader separates them on the
            # page, and joining them would let bidi pull an RTL page number into a Latin title.
            b = _block([entry, pno], "toc_entry", "toc", ctx.lang.code)
            if b:
                blocks.append(b)
        y += style.size * style.line_height * rng.uniform(1.0, 1.5)
    return blocks


def form(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    """Key–value forms and receipts: keys and values are separate blocks, read key then value."""
    receipt = rng.random() < 0.5
    m = ctx.margin
    blocks, y = _title(ctx, rng, float(m), centered=receipt or rng.random() < 0.3)
    style = ctx.mono if receipt and rng.random() < 0.7 else ctx.body
    if receipt:
        w = int(ctx.width * rng.uniform(0.4, 0.6))
        x0, x1 = (ctx.width - w) // 2, (ctx.width + w) // 2
    else:
        x0, x1 = m, ctx.width - m
    key_kinds = ["name", "date", "address", "phone", "email", "id", "company", "number"]
    item = 0
    while y < ctx.height - m - style.size * 2:
        baseline = y + style.size
        if receipt:
            key_text = _sep(ctx).join(ctx.text.words(rng, int(rng.integers(1, 4))))
            val_text = ctx.text.field(rng, "price")
        else:
            key_text = ctx.text.field(rng, "key")
            val_text = ctx.text.field(rng, str(rng.choice(key_kinds)))
        split = x0 + (x1 - x0) * (0.6 if receipt else rng.uniform(0.25, 0.4))
        kx0, kx1, vx0, vx1 = (x0, split, split + style.size, x1)
        if ctx.rtl:  # keys on the right, values to their left
            kx0, kx1, vx0, vx1 = x1 - (split - x0), x1, x0, x1 - (split - x0) - style.size
        kw = ctx.ts.break_lines(key_text, style, kx1 - kx0, ctx.lang.direction)[:1]
        vw = ctx.ts.break_lines(val_text, style, vx1 - vx0, ctx.lang.direction)[:1]
        key_line = ctx.ts.draw_line(kw[0], style, kx0, kx1, baseline, "start", ctx.lang.direction) if kw else None
        val_line = ctx.ts.draw_line(vw[0], style, vx0, vx1, baseline, "end" if receipt else "start",
                                    ctx.lang.direction) if vw else None
        for ln, kind in ((key_line, "key"), (val_line, "value")):
            b = _block([ln] if ln else [], kind, f"field{item}", ctx.lang.code)
            if b:
                blocks.append(b)
        if not receipt and val_line is not None and rng.random() < 0.5:
            ctx.canvas.hline(int(vx0), int(vx1), int(baseline + style.size * 0.3), 1)
        item += 1
        y += style.size * rng.uniform(1.6, 2.6)
        if receipt and rng.random() < 0.08:
            ctx.canvas.hline(x0, x1, int(y - style.size * 0.4), 1, dotted=3)
    return blocks


def scattered(ctx: Ctx, rng: np.random.Generator) -> list[Block]:
    """Scene-like phrases at random places, sizes, colours and angles, never overlapping."""
    occupied = np.zeros((ctx.height // 8 + 1, ctx.width // 8 + 1), bool)
    placed: list[tuple[float, float, Block]] = []
    for _ in range(int(rng.integers(15, 60))):
        size = int(ctx.body.size * rng.uniform(0.7, 2.5))
        style = replace(ctx.body, size=size, color=int(rng.integers(0, len(ctx.canvas.text))),
                        stroke=int(rng.random() < 0.2))
        text = ctx.text.field(rng, str(rng.choice(["title", "name", "price", "date", "company", "phone", "url"])))
        angle = float(rng.normal(0, 12)) if rng.random() < 0.5 else 0.0
        tmp = Canvas(min(ctx.width, int(size * (len(text) + 4) * 1.1)), int(size * 2.2), colors=1)
        sub = Typesetter(tmp, ctx.ts.fonts, ctx.ts.lang, ctx.ts.split, ctx.ts.cache, ctx.ts.load_font)
        words = sub.break_lines(text, replace(style, color=0), tmp.width - size, ctx.lang.direction)[:1]
        if not words:
            continue
        line = sub.draw_line(words[0], replace(style, color=0), size / 2, tmp.width - size / 2, size * 1.4,
                             "start", ctx.lang.direction)
        ctx.ts.drawn |= sub.drawn
        if line is None:
            continue
        h, w = tmp.height, tmp.width
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cos, sin = abs(rot[0, 0]), abs(rot[0, 1])
        nw, nh = int(w * cos + h * sin) + 2, int(w * sin + h * cos) + 2
        rot[0, 2] += nw / 2 - w / 2
        rot[1, 2] += nh / 2 - h / 2
        if nw >= ctx.width - 2 * ctx.margin or nh >= ctx.height - 2 * ctx.margin:
            continue
        ox = int(rng.integers(ctx.margin, ctx.width - ctx.margin - nw))
        oy = int(rng.integers(ctx.margin, ctx.height - ctx.margin - nh))
        cell = occupied[oy // 8:(oy + nh) // 8 + 1, ox // 8:(ox + nw) // 8 + 1]
        if cell.any():
            continue
        cell[:] = True
        warped = cv2.warpAffine(tmp.text[0], rot, (nw, nh), flags=cv2.INTER_LINEAR)
        ctx.canvas.stamp(warped, ox, oy, style.color)
        affine = rot.copy()
        affine[:, 2] += (ox, oy)

        def move(poly):
            pts = np.asarray(poly, np.float64)
            out = pts @ affine[:, :2].T + affine[:, 2]
            return tuple((float(x), float(y)) for x, y in out)

        for wd in line.words:
            wd.polygon = _pad(move(wd.polygon), 1.0)
        line.polygon = _pad(move(line.polygon), 1.0)
        b = Block(lines=[line], polygon=line.polygon, kind="scene", region="scene", language=ctx.lang.code)
        cx, cy = np.mean(np.asarray(line.polygon), axis=0)
        placed.append((cy, cx, b))
    # Scene text has no columns: read in rows of similar height, then along the reading direction.
    row = ctx.body.size * 2
    placed.sort(key=lambda t: (int(t[0] // row), -t[1] if ctx.rtl else t[1]))
    return [b for _, _, b in placed]


def _pad(poly: tuple, d: float) -> tuple:
    """Grow a convex quad outwards by ``d`` pixels: rotation resampling spreads ink by about a pixel."""
    pts = np.asarray(poly, np.float64)
    c = pts.mean(axis=0)
    v = pts - c
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1
    out = pts + v / n * d * 1.5
    return tuple((float(x), float(y)) for x, y in out)


LAYOUTS: dict[str, Callable[[Ctx, np.random.Generator], list[Block]]] = {
    "prose": prose,
    "columns": columns,
    "table": table,
    "vertical": vertical,
    "slide": slide,
    "contents": contents,
    "form": form,
    "scattered": scattered,
}

# Drawing weights per layout; vertical only where the language is written vertically.
WEIGHTS = {"prose": 0.22, "columns": 0.2, "table": 0.13, "vertical": 0.15, "slide": 0.08, "contents": 0.06,
           "form": 0.1, "scattered": 0.06}


def layouts_for(lang: "Language") -> dict[str, float]:
    """Layout weights for a language (normalised)."""
    w = {k: v for k, v in WEIGHTS.items() if k != "vertical" or "vertical-rl" in lang.writing_modes}
    total = sum(w.values())
    return {k: v / total for k, v in w.items()}
