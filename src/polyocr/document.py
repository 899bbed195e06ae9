"""The one page model: Document → Page → Block → Line → Word.

The generator's labels, the pipeline's output and every exporter use these classes and nothing
else. A *Block* is a paragraph-level unit (a paragraph, a heading, a table cell, a list item, a
key or value of a form); its ``kind`` says which. Reading order is explicit and never recomputed
by exporters:

* ``Page.blocks`` is stored in reading order, and ``Block.order`` repeats that index so a block
  taken out of its page still knows its rank;
* ``Block.lines`` are in reading order, ``Line.words`` are in *logical* (Unicode) order, which
  for right-to-left lines is not left-to-right on the image;
* ``Page.relations`` lists the reading-order graph as id pairs (``word→line``, ``line→block``,
  ``block→block``) for consumers that want edges, e.g. the reading-order model's targets.

Text is always logical-order NFC. Polygons are lists of (x, y) image pixels, at least 4 points,
starting at the top-left corner *of the text's own frame* (the start of reading for horizontal
text, the top of a vertical column) and going clockwise.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Sequence

__all__ = [
    "SCHEMA_VERSION",
    "Point",
    "Polygon",
    "Word",
    "Line",
    "Block",
    "Page",
    "Document",
    "SchemaError",
    "validate",
    "quad_from_box",
    "polygon_bounds",
]

SCHEMA_VERSION = "1.0"

Direction = Literal["ltr", "rtl"]
WritingMode = Literal["horizontal-tb", "vertical-rl"]
Point = tuple[float, float]
Polygon = tuple[Point, ...]

DIRECTIONS = ("ltr", "rtl")
WRITING_MODES = ("horizontal-tb", "vertical-rl")
BLOCK_KINDS = (
    "paragraph", "heading", "title", "list_item", "table_cell", "caption",
    "key", "value", "toc_entry", "footer", "header", "scene",
)


class SchemaError(ValueError):
    """A document that does not follow the schema; the message names the offending element."""


def quad_from_box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """Axis-aligned box → clockwise quad starting top-left."""
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def polygon_bounds(poly: Sequence[Point]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a polygon."""
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    return min(xs), min(ys), max(xs), max(ys)


def _poly_to_json(poly: Polygon) -> list[list[float]]:
    return [[round(float(x), 2), round(float(y), 2)] for x, y in poly]


def _poly_from_json(data: Any, where: str) -> Polygon:
    if not isinstance(data, list) or len(data) < 4:
        raise SchemaError(f"{where}: polygon needs at least 4 points, got {data!r:.80}")
    pts = []
    for p in data:
        if not (isinstance(p, (list, tuple)) and len(p) == 2):
            raise SchemaError(f"{where}: bad point {p!r}")
        x, y = float(p[0]), float(p[1])
        if not (math.isfinite(x) and math.isfinite(y)):
            raise SchemaError(f"{where}: non-finite point {p!r}")
        pts.append((x, y))
    return tuple(pts)


@dataclass
class Word:
    """A run of characters between spaces (or a whole CJK segment), in logical order."""

    text: str
    polygon: Polygon
    confidence: float = 1.0
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "polygon": _poly_to_json(self.polygon),
                "confidence": round(float(self.confidence), 4)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Word":
        wid = str(d.get("id", ""))
        return cls(text=_text(d, wid), polygon=_poly_from_json(d.get("polygon"), wid or "word"),
                   confidence=float(d.get("confidence", 1.0)), id=wid)


@dataclass
class Line:
    """One text line (or vertical column), the unit the recogniser reads."""

    text: str
    polygon: Polygon
    words: list[Word] = field(default_factory=list)
    language: str = ""
    direction: Direction = "ltr"
    writing_mode: WritingMode = "horizontal-tb"
    confidence: float = 1.0
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "polygon": _poly_to_json(self.polygon),
                "language": self.language, "direction": self.direction,
                "writing_mode": self.writing_mode, "confidence": round(float(self.confidence), 4),
                "words": [w.to_dict() for w in self.words]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Line":
        lid = str(d.get("id", ""))
        return cls(text=_text(d, lid), polygon=_poly_from_json(d.get("polygon"), lid or "line"),
                   words=[Word.from_dict(w) for w in d.get("words", [])],
                   language=str(d.get("language", "")), direction=d.get("direction", "ltr"),
                   writing_mode=d.get("writing_mode", "horizontal-tb"),
                   confidence=float(d.get("confidence", 1.0)), id=lid)


@dataclass
class Block:
    """A paragraph-level unit; ``order`` is its rank in the page's reading order."""

    lines: list[Line]
    polygon: Polygon
    kind: str = "paragraph"
    order: int = 0
    region: str = ""  # layout region (e.g. "col0", "table0.r1c2"): blocks of one region are read together
    language: str = ""
    id: str = ""

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "order": self.order, "region": self.region,
                "language": self.language, "polygon": _poly_to_json(self.polygon),
                "lines": [ln.to_dict() for ln in self.lines]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Block":
        bid = str(d.get("id", ""))
        return cls(lines=[Line.from_dict(x) for x in d.get("lines", [])],
                   polygon=_poly_from_json(d.get("polygon"), bid or "block"),
                   kind=str(d.get("kind", "paragraph")), order=int(d.get("order", 0)),
                   region=str(d.get("region", "")), language=str(d.get("language", "")), id=bid)


@dataclass
class Page:
    """One page image and its content; ``blocks`` are stored in reading order."""

    width: int
    height: int
    blocks: list[Block] = field(default_factory=list)
    language: str = ""
    direction: Direction = "ltr"
    image: str = ""  # file name or URI of the page image, relative to the JSON file when relative
    dpi: float = 0.0
    index: int = 0
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. generator parameters, engine timings

    @property
    def lines(self) -> list[Line]:
        return [ln for b in self.blocks for ln in b.lines]

    @property
    def words(self) -> list[Word]:
        return [w for ln in self.lines for w in ln.words]

    @property
    def text(self) -> str:
        """Plain text in reading order: lines joined by newlines, blocks by a blank line."""
        return "\n\n".join(b.text for b in self.blocks)

    def assign_ids(self) -> "Page":
        """Give every element a stable hierarchical id and set ``Block.order``; returns self."""
        for bi, b in enumerate(self.blocks):
            b.order = bi
            b.id = f"p{self.index}.b{bi}"
            for li, ln in enumerate(b.lines):
                ln.id = f"{b.id}.l{li}"
                for wi, w in enumerate(ln.words):
                    w.id = f"{ln.id}.w{wi}"
        return self

    @property
    def relations(self) -> list[tuple[str, str, str]]:
        """The reading-order graph as (source id, target id, kind) edges.

        kinds: ``word_in_line``, ``line_in_block``, ``next_word``, ``next_line``, ``next_block``.
        Derived from the stored order, so it can never disagree with it.
        """
        edges: list[tuple[str, str, str]] = []
        for b in self.blocks:
            for li, ln in enumerate(b.lines):
                edges.append((ln.id, b.id, "line_in_block"))
                if li:
                    edges.append((b.lines[li - 1].id, ln.id, "next_line"))
                for wi, w in enumerate(ln.words):
                    edges.append((w.id, ln.id, "word_in_line"))
                    if wi:
                        edges.append((ln.words[wi - 1].id, w.id, "next_word"))
        for prev, nxt in zip(self.blocks, self.blocks[1:]):
            edges.append((prev.id, nxt.id, "next_block"))
        return edges

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "width": self.width, "height": self.height, "dpi": self.dpi,
                "image": self.image, "language": self.language, "direction": self.direction,
                "blocks": [b.to_dict() for b in self.blocks],
                "relations": [list(e) for e in self.relations], "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Page":
        try:
            width, height = int(d["width"]), int(d["height"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"page: width/height missing or not integers ({exc})") from None
        return cls(width=width, height=height, blocks=[Block.from_dict(b) for b in d.get("blocks", [])],
                   language=str(d.get("language", "")), direction=d.get("direction", "ltr"),
                   image=str(d.get("image", "")), dpi=float(d.get("dpi", 0.0) or 0.0),
                   index=int(d.get("index", 0)), meta=dict(d.get("meta", {})))


@dataclass
class Document:
    """A sequence of pages from one source (an image, a PDF, a generated sample)."""

    pages: list[Page] = field(default_factory=list)
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\f".join(p.text for p in self.pages)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "polyocr.document", "version": SCHEMA_VERSION, "source": self.source,
                "meta": self.meta, "pages": [p.to_dict() for p in self.pages]}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any], check: bool = True) -> "Document":
        if not isinstance(d, dict) or d.get("schema") != "polyocr.document":
            raise SchemaError("not a polyocr document (missing \"schema\": \"polyocr.document\")")
        major = str(d.get("version", "")).split(".")[0]
        if major != SCHEMA_VERSION.split(".")[0]:
            raise SchemaError(f"unsupported schema version {d.get('version')!r}; this build reads {SCHEMA_VERSION}")
        doc = cls(pages=[Page.from_dict(p) for p in d.get("pages", [])], source=str(d.get("source", "")),
                  meta=dict(d.get("meta", {})))
        if check:
            problems = validate(doc)
            if problems:
                raise SchemaError("; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
        return doc

    @classmethod
    def from_json(cls, text: str | bytes, check: bool = True) -> "Document":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"invalid JSON: {exc}") from None
        return cls.from_dict(data, check=check)

    def iter_lines(self) -> Iterator[tuple[Page, Block, Line]]:
        for p in self.pages:
            for b in p.blocks:
                for ln in b.lines:
                    yield p, b, ln


def _text(d: dict[str, Any], where: str) -> str:
    t = d.get("text", "")
    if not isinstance(t, str):
        raise SchemaError(f"{where}: text must be a string")
    return t


def _inside(poly: Iterable[Point], w: float, h: float, tol: float) -> bool:
    return all(-tol <= x <= w + tol and -tol <= y <= h + tol for x, y in poly)


def validate(doc: Document, tol: float = 2.0) -> list[str]:
    """Every way ``doc`` breaks the schema's invariants, as readable messages (empty = valid).

    Checks: enumerations, NFC text, words appearing in their line's text in order, unique ids,
    polygons inside the page, block order matching list order.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for p in doc.pages:
        if p.width <= 0 or p.height <= 0:
            problems.append(f"page {p.index}: non-positive size {p.width}x{p.height}")
        if p.direction not in DIRECTIONS:
            problems.append(f"page {p.index}: direction {p.direction!r} not in {DIRECTIONS}")
        for bi, b in enumerate(p.blocks):
            if b.order != bi:
                problems.append(f"{b.id or 'block'}: order {b.order} but stored at {bi}")
            if b.kind not in BLOCK_KINDS:
                problems.append(f"{b.id}: kind {b.kind!r} not in {BLOCK_KINDS}")
            for el in [b, *b.lines, *(w for ln in b.lines for w in ln.words)]:
                if el.id:
                    if el.id in seen:
                        problems.append(f"duplicate id {el.id}")
                    seen.add(el.id)
                if not _inside(el.polygon, p.width, p.height, tol):
                    problems.append(f"{el.id or type(el).__name__}: polygon outside the page")
            for ln in b.lines:
                if ln.direction not in DIRECTIONS:
                    problems.append(f"{ln.id}: direction {ln.direction!r}")
                if ln.writing_mode not in WRITING_MODES:
                    problems.append(f"{ln.id}: writing_mode {ln.writing_mode!r}")
                if unicodedata.normalize("NFC", ln.text) != ln.text:
                    problems.append(f"{ln.id}: text is not NFC")
                pos = 0
                for w in ln.words:
                    at = ln.text.find(w.text, pos)
                    if not w.text or at < 0:
                        problems.append(f"{w.id}: word {w.text!r} not found in line text after offset {pos}")
                        break
                    pos = at + len(w.text)
    return problems
