"""Compose one synthetic sample: a full page, or a single line crop.

Everything random about sample *i* is drawn from ``sample_rng(seed, i)``, so a sample can be
regenerated exactly from (config, index): that is what makes resuming, sharding across workers
and re-checking labels possible. The order is: language → layout → styles → layout draws text on
the canvas → ink morphology → background + composite → degradations (polygons follow) → labels.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from polyocr.document import Document, Line, Page, polygon_bounds
from polyocr.languages import LANGUAGES, Language, get_language, shared_dir
from polyocr.synth import background as bg
from polyocr.synth import effects as fx
from polyocr.synth.fonts import FontLibrary, load_font
from polyocr.synth.layouts import LAYOUTS, Ctx, layouts_for
from polyocr.synth.render import Canvas, RunCache
from polyocr.synth.rng import sample_rng
from polyocr.synth.text import TextSource, mix_content
from polyocr.synth.typography import typeset_marks
from polyocr.synth.typeset import NoFont, TextStyle, Typesetter

__all__ = ["SynthConfig", "Resources", "PageSample", "LineSample", "generate_page", "generate_line", "Rejected"]

A4_200DPI = (1654, 2339)


class Rejected(Exception):
    """A sample that cannot be made correctly (no font for its text, failed label check)."""


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    languages: tuple[str, ...] = tuple(LANGUAGES)
    language_weights: tuple[float, ...] = ()   # empty = uniform
    layouts: tuple[str, ...] = ()              # empty = every layout the language allows
    width: int = A4_200DPI[0]
    height: int = A4_200DPI[1]
    dpi: int = 200
    split: str = "train"                       # "train" or "heldout": which fonts and which corpus lines
    degrade: str = "mixed"                     # degradation profile: clean | scan | photo | defocus | desk | mixed
    shared: str | None = None                  # shared data folder; None = autodetect, "" = none
    font_dirs: tuple[str, ...] = ()
    image_format: str = "jpg"                  # jpg | png
    jpeg_quality: int = 92
    check: bool = True                         # run the label checks on every sample
    reject_bad: bool = True                    # drop samples whose labels fail a check (else keep, with problems listed)
    pixel_tofu: bool = False                   # also render every new (face, character) to look for tofu
    line_height_px: int = 0                    # line crops: rescale to this height (0 = keep)
    typeset_marks: float = 0.25                # line crops: share of lines given typeset quotes, dashes, bullets, markup
    wordfreq_share: float = 0.0                # with a corpus: share of sentences drawn from wordfreq instead (TextSource)
    char_balance: float = 0.0                  # zh/ja/ko: share of sentences built around rarely seen characters (TextSource)
    font_weights: str = ""                     # JSON {language: {design key: weight}} (`polyocr train fontweights`); "" = uniform
    script_faces: bool = False                 # ar/he: also faces made for the script alone (FontLibrary.script_face)

    def shared_path(self) -> Path | None:
        if self.shared == "":
            return None
        return shared_dir(self.shared)


class Resources:
    """What a worker loads once: fonts, corpora, backgrounds, the run cache."""

    def __init__(self, cfg: SynthConfig) -> None:
        self.cfg = cfg
        shared = cfg.shared_path()
        self.fonts = FontLibrary.scan(extra_dirs=[Path(d) for d in cfg.font_dirs], script_faces=cfg.script_faces)
        fallback = shared is None  # no shared corpus: wordfreq + Faker from PyPI
        self.text = {code: TextSource(code, shared=shared, split=cfg.split, fallback=fallback,
                                      wordfreq_share=cfg.wordfreq_share, char_balance=cfg.char_balance)
                     for code in cfg.languages}
        self.english = self.text.get("en") or TextSource("en", shared=shared, split=cfg.split, fallback=fallback)
        self.backgrounds = bg.BackgroundLibrary.load(shared)
        self.cache = RunCache()
        self.line_block: tuple | None = None  # the last block of line crops (see generate_line)
        self.font_weights = load_font_weights(cfg.font_weights) if cfg.font_weights else {}
        for code in cfg.languages:
            if not self.fonts.for_language(code, cfg.split):
                raise RuntimeError(f"no {cfg.split} font covers {code}: install the font packages (see README)")


@dataclass
class PageSample:
    image: np.ndarray          # H×W×3 uint8
    page: Page
    text_alpha: np.ndarray | None = None  # clean text ink before degradations (for checks)
    problems: list[str] = field(default_factory=list)
    degradations: "fx.DegradeParams | None" = None

    def encode(self, cfg: SynthConfig, key: str) -> dict[str, bytes]:
        img = encode_image(self.image, cfg)
        self.page.image = f"{key}.{cfg.image_format}"
        doc = Document(pages=[self.page], source=self.page.image)
        return {cfg.image_format: img, "json": doc.to_json().encode("utf-8")}


@dataclass
class LineSample:
    image: np.ndarray
    line: Line
    meta: dict[str, Any]
    drawn: set = field(default_factory=set)  # (face, text) runs, for the tofu check

    def encode(self, cfg: SynthConfig, key: str) -> dict[str, bytes]:
        meta = {"text": self.line.text, "language": self.line.language, "direction": self.line.direction,
                "writing_mode": self.line.writing_mode, **self.meta}
        return {cfg.image_format: encode_image(self.image, cfg), "txt": self.line.text.encode("utf-8"),
                "json": json.dumps(meta, ensure_ascii=False).encode("utf-8")}


def encode_image(img: np.ndarray, cfg: SynthConfig) -> bytes:
    if cfg.image_format == "png":
        ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
    if not ok:
        raise RuntimeError("image encoding failed")
    return buf.tobytes()


# -- choices ----------------------------------------------------------------------------------------

def _choose_language(cfg: SynthConfig, rng: np.random.Generator) -> Language:
    w = np.array(cfg.language_weights or [1.0] * len(cfg.languages), float)
    return get_language(cfg.languages[int(rng.choice(len(cfg.languages), p=w / w.sum()))])


def _choose_layout(cfg: SynthConfig, lang: Language, rng: np.random.Generator) -> str:
    weights = layouts_for(lang)
    if cfg.layouts:
        weights = {k: v for k, v in weights.items() if k in cfg.layouts}
        if not weights:
            raise Rejected(f"no requested layout suits {lang.code}")
    names = sorted(weights)
    p = np.array([weights[n] for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def load_font_weights(path: str) -> dict[str, dict[str, float]]:
    """``SynthConfig.font_weights``: {language: {design key: weight > 0}}, checked."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"font weights {path}: {e}") from None
    ok = isinstance(data, dict) and all(
        isinstance(v, dict) and all(isinstance(w, (int, float)) and w > 0 for w in v.values()) for v in data.values())
    if not ok:
        raise ValueError(f"font weights {path}: expected {{language: {{design: positive weight}}}}")
    return {lang: {str(d): float(w) for d, w in v.items()} for lang, v in data.items()}


def _pick(res: Resources, rng: np.random.Generator, lang: str, **kw: Any):
    weights = res.font_weights.get(lang)
    face = res.fonts.pick(rng, lang, split=res.cfg.split, weights=weights, **kw)
    if face is None and kw:
        face = res.fonts.pick(rng, lang, split=res.cfg.split, weights=weights)
    if face is None:
        raise Rejected(f"no {res.cfg.split} font for {lang}")
    return face


def _styles(res: Resources, rng: np.random.Generator, lang: Language, layout: str, dpi: int) -> dict[str, TextStyle]:
    # Body text from 7 pt (footnotes, dense forms) to 14 pt; a few pages of small low-resolution text.
    pt = float(rng.uniform(7.5, 14.0)) if rng.random() < 0.9 else float(rng.uniform(5.5, 7.5))
    size = max(12, int(round(pt * dpi / 72)))
    vertical = layout == "vertical"
    body = _pick(res, rng, lang.code, vertical=True) if vertical else _pick(res, rng, lang.code)
    head = _pick(res, rng, lang.code, bold=True) if rng.random() < 0.6 else body
    mono = _pick(res, rng, lang.code, monospace=True)
    lh = float(rng.uniform(1.25, 1.7))
    return {
        "body": TextStyle(body, size, 0, 0, lh),
        "heading": TextStyle(head, int(size * rng.uniform(1.15, 1.6)), int(rng.random() < 0.3), int(head is body and rng.random() < 0.5), 1.3),
        "small": TextStyle(body, max(12, int(size * 0.8)), 0, 0, 1.3),
        "mono": TextStyle(mono, size, 0, 0, lh),
    }


def _ink_colors(rng: np.random.Generator, dark_background: bool) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    if dark_background:
        base = tuple(int(v) for v in rng.integers(215, 256, 3))
        return base, tuple(int(v) for v in rng.integers(180, 256, 3))
    base = tuple(int(v) for v in rng.integers(0, 60, 3)) if rng.random() < 0.85 else \
        tuple(int(v) for v in rng.integers(0, 110, 3))
    accent = base if rng.random() < 0.6 else tuple(int(v) for v in rng.integers(0, 150, 3))
    return base, accent


# -- pages --------------------------------------------------------------------------------------------

def generate_page(cfg: SynthConfig, res: Resources, index: int) -> PageSample:
    rng = sample_rng(cfg.seed, index)
    lang = _choose_language(cfg, rng)
    layout = _choose_layout(cfg, lang, rng)
    width, height = (cfg.height, int(cfg.height * 9 / 16)) if layout == "slide" else (cfg.width, cfg.height)
    styles = _styles(res, rng, lang, layout, cfg.dpi)
    canvas = Canvas(width, height, colors=2)
    ts = Typesetter(canvas, res.fonts, lang.code, cfg.split, res.cache, load_font)
    source = res.text[lang.code]
    ctx = Ctx(canvas=canvas, ts=ts, text=source, lang=lang, body=styles["body"], heading=styles["heading"],
              small=styles["small"], mono=styles["mono"],
              mix=lambda r, t, rate: mix_content(r, t, lang.code, res.english, rate, allowed=source.allowed),
              margin=int(width * rng.uniform(0.05, 0.11)))
    try:
        blocks = LAYOUTS[layout](ctx, rng)
    except NoFont as exc:
        raise Rejected(f"no font: {exc}") from None
    blocks = [b for b in blocks if b.lines]
    if not blocks:
        raise Rejected("empty page")
    page = Page(width=width, height=height, blocks=blocks, language=lang.code, direction=lang.direction,
                dpi=float(cfg.dpi), index=0)
    page.assign_ids()

    clean_alpha = canvas.text_alpha()
    problems: list[str] = []
    if cfg.check:
        from polyocr.synth.checks import check_page
        problems = check_page(page, clean_alpha, ts.drawn, res.fonts, tofu=cfg.pixel_tofu)
        if problems and cfg.reject_bad:
            raise Rejected("label check: " + problems[0])

    fx_rng = sample_rng(cfg.seed, index, "effects")
    min_text = float(min(styles["small"].size, styles["body"].size))
    ink = fx.sample_ink(fx_rng, min_text)
    bgp = bg.sample_background(fx_rng, res.backgrounds)
    image = bg.render_background(bgp, width, height, res.backgrounds)
    ink_rgb, accent_rgb = _ink_colors(fx_rng, bg.is_dark(bgp, res.backgrounds))
    # Rules, borders and body text share the ink colour: one morphology and one composite for them.
    base = np.maximum(canvas.graphics, canvas.text[0])
    image = bg.composite(image, fx.apply_ink(base, ink), ink_rgb)
    if canvas.text[1].any():
        image = bg.composite(image, fx.apply_ink(canvas.text[1], ink), accent_rgb)
    profile = "clean" if cfg.degrade == "clean" else cfg.degrade
    polys, owners = _collect_polygons(page)
    allpts = np.concatenate(polys)
    content = (float(allpts[:, 0].min()), float(allpts[:, 1].min()), float(allpts[:, 0].max()), float(allpts[:, 1].max()))
    dp = fx.sample_degradations(fx_rng, width, height, min_text, profile=profile, content_box=content)
    image, moved = fx.apply_degradations(image, polys, dp)
    _assign_polygons(owners, moved, width, height)
    page.meta = {
        "generator": "polyocr.synth", "seed": cfg.seed, "index": index, "split": cfg.split, "layout": layout,
        "fonts": {k: {"family": s.face.family, "style": s.face.style, "file": Path(s.face.path).name, "size_px": s.size}
                  for k, s in styles.items()},
        "background": asdict(bgp), "ink": asdict(ink), "degradations": asdict(dp),
    }
    return PageSample(image=image, page=page, text_alpha=clean_alpha, problems=problems, degradations=dp)


def _collect_polygons(page: Page) -> tuple[list[np.ndarray], list[Any]]:
    polys, owners = [], []
    for b in page.blocks:
        for el in [b, *b.lines, *(w for ln in b.lines for w in ln.words)]:
            polys.append(np.asarray(el.polygon, np.float32))
            owners.append(el)
    return polys, owners


def _assign_polygons(owners: list[Any], polys: list[np.ndarray], width: int, height: int) -> None:
    for el, p in zip(owners, polys):
        p = np.clip(p, 0, [width, height])
        el.polygon = tuple((float(x), float(y)) for x, y in p)


# -- line crops ----------------------------------------------------------------------------------------

LINE_KINDS = ("sentence", "sentence", "sentence", "words", "field")
FIELD_KINDS = ("date", "price", "number", "phone", "url", "email", "code", "name", "address", "company", "id", "percent")


LINES_PER_BLOCK = 4


def _line_text(rng: np.random.Generator, res: Resources, lang: Language, vertical: bool,
               marks: float = 0.0) -> tuple[str, str]:
    source = res.text[lang.code]
    kind = LINE_KINDS[int(rng.integers(len(LINE_KINDS)))]
    max_chars = int(rng.integers(4, 30 if vertical else (40 if not lang.uses_spaces else 70)))
    if kind == "sentence":
        text = mix_content(rng, source.sentence(rng, max_chars=max_chars), lang.code, res.english, 0.3,
                           allowed=source.allowed)
    elif kind == "words":
        text = (" " if lang.uses_spaces else "").join(source.words(rng, int(rng.integers(1, 6))))
    else:
        text = source.field(rng, FIELD_KINDS[int(rng.integers(len(FIELD_KINDS)))])
    # drawn only when enabled, so that marks=0 renders exactly what it did before the option existed
    if marks > 0 and kind != "field" and rng.random() < marks:
        text = typeset_marks(rng, text, lang.code, source.allowed)
    return " ".join(text.split()), kind


def _line_block(cfg: SynthConfig, res: Resources, block: int) -> list[LineSample | str]:
    """Render LINES_PER_BLOCK lines of one language and font as a small text block, degrade it once,
    and crop each line with random margins: crops show bits of their neighbours, as a detector's
    crops of real pages do, and background and degradation costs are shared. Entries are samples,
    or the reason a line was rejected."""
    rng = sample_rng(cfg.seed, block, "lines")
    lang = _choose_language(cfg, rng)
    vertical = "vertical-rl" in lang.writing_modes and rng.random() < 0.15
    face = _pick(res, rng, lang.code, vertical=True) if vertical else _pick(res, rng, lang.code)
    size = int(rng.integers(14, 48))  # the recogniser reads at ~32-40 px: larger renders only cost time
    style = TextStyle(face, size, 0, int(rng.random() < 0.08), 1.3)
    texts = [_line_text(rng, res, lang, vertical, cfg.typeset_marks) for _ in range(LINES_PER_BLOCK)]
    pitch = size * float(rng.uniform(1.15, 1.9))
    pad = size
    spans = [size * (len(t) * (1.0 if any(ord(c) > 0x2E80 for c in t) else 0.75) + 4) for t, _ in texts]
    long_side = int(min(max(spans), 6000) * (1.1 if vertical else 1.0))
    short_side = int(pitch * (LINES_PER_BLOCK - 1) + size * 2.5)
    w, h = (short_side, long_side) if vertical else (long_side, short_side)
    canvas = Canvas(w, h, colors=1)
    ts = Typesetter(canvas, res.fonts, lang.code, cfg.split, res.cache, load_font)
    lines: list[Line | str] = []
    for k, (text, _) in enumerate(texts):
        if not text:
            lines.append("empty text")
            continue
        try:
            words = text.split(" ")  # the canvas is sized for the text: no line breaking needed
            if vertical:  # columns from the right, like a page of vertical text
                line = ts.draw_column(words, style, w - size * 1.25 - k * pitch, pad)
            else:
                line = ts.draw_line(words, style, pad, w - pad, size * 1.5 + k * pitch, "start", lang.direction)
        except NoFont:
            line = None
        if line is None:
            lines.append("no font")
            continue
        lx0, ly0, lx1, ly1 = polygon_bounds(line.polygon)
        lines.append("overflow" if lx0 <= 1 or ly0 <= 1 or lx1 >= w - 1 or ly1 >= h - 1 else line)
    # Fonts are chosen by cmap coverage, so no tofu is drawn by construction; the pixel-level tofu
    # check runs on pages and on sampled lines in `polyocr synth check` (it would halve line throughput).
    fx_rng = sample_rng(cfg.seed, block, "effects")
    alpha = fx.apply_ink(canvas.text[0], fx.sample_ink(fx_rng, float(size)))
    bgp = bg.sample_background(fx_rng, res.backgrounds)
    image = bg.render_background(bgp, w, h, res.backgrounds)
    ink_rgb, _ = _ink_colors(fx_rng, bg.is_dark(bgp, res.backgrounds))
    image = bg.composite(image, alpha, ink_rgb)
    dp = fx.sample_degradations(fx_rng, w, h, float(size), profile=cfg.degrade)
    drawn = [ln for ln in lines if isinstance(ln, Line)]
    image, polys = fx.apply_degradations(image, [np.asarray(ln.polygon, np.float32) for ln in drawn], dp)
    moved = dict(zip(map(id, drawn), polys))
    out: list[LineSample | str] = []
    for k, (ln, (text, kind)) in enumerate(zip(lines, texts)):
        if isinstance(ln, str):
            out.append(ln)
            continue
        # Crop around the line with a random margin, as a detector's box would.
        x0, y0, x1, y1 = polygon_bounds([tuple(p) for p in moved[id(ln)]])
        m = size * rng.uniform(0.05, 0.35, 4)
        cx0, cy0 = int(max(0, x0 - m[0])), int(max(0, y0 - m[1]))
        cx1, cy1 = int(min(w, x1 + m[2] + 1)), int(min(h, y1 + m[3] + 1))
        crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
        if crop.size == 0:
            out.append("empty crop")
            continue
        if cfg.line_height_px:
            across = crop.shape[1] if vertical else crop.shape[0]
            scale = cfg.line_height_px / max(1, across)
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
        meta = {"font": {"family": face.family, "style": face.style, "file": Path(face.path).name}, "size_px": size,
                "kind": kind, "seed": cfg.seed, "index": block * LINES_PER_BLOCK + k, "split": cfg.split}
        out.append(LineSample(image=crop, line=ln, meta=meta, drawn=ts.drawn))
    return out


def generate_line(cfg: SynthConfig, res: Resources, index: int) -> LineSample:
    """Line ``index``: line ``index % 4`` of block ``index // 4`` (blocks are cached per worker, so
    consecutive indices, as in a shard, render each block once)."""
    block, k = divmod(index, LINES_PER_BLOCK)
    cached = res.line_block
    if cached is None or cached[0] != (cfg, block):
        cached = ((cfg, block), _line_block(cfg, res, block))
        res.line_block = cached
    item = cached[1][k]
    if isinstance(item, str):
        raise Rejected(item)
    return item
