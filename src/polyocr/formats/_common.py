"""Helpers the XML writers share: integer geometry clamped to the page, XML-safe ids and text.

Exporters write the order the Document has (style notes §4): nothing here sorts or reorders.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Iterable

from polyocr.document import Document, Line, Page, Point, polygon_bounds

__all__ = ["IntBox", "int_box", "int_points", "xml_text", "element_ids", "word_gaps", "serialize"]

IntBox = tuple[int, int, int, int]

_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# Characters XML 1.0 forbids (C0 controls other than tab/newline/CR, lone surrogates, U+FFFE/FFFF).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clamp(v: float, hi: int) -> int:
    return min(max(int(round(v)), 0), hi)


def int_box(poly: Iterable[Point], page: Page) -> IntBox:
    """(x0, y0, x1, y1) of a polygon as integers inside ``[0, width] × [0, height]``."""
    x0, y0, x1, y1 = polygon_bounds(tuple(poly))
    return (_clamp(x0, page.width), _clamp(y0, page.height), _clamp(x1, page.width), _clamp(y1, page.height))


def int_points(poly: Iterable[Point], page: Page) -> list[tuple[int, int]]:
    """The polygon's points, in stored order, rounded and clamped to the page."""
    return [(_clamp(x, page.width), _clamp(y, page.height)) for x, y in poly]


def xml_text(s: str) -> str:
    """``s`` without the characters XML 1.0 cannot carry (they would make the file unreadable)."""
    return _XML_BAD.sub("", s)


def element_ids(doc: Document) -> dict[int, str]:
    """An XML ``ID`` for every page, block, line and word, keyed by ``id(element)``.

    The element's own id is kept when it is a valid, unused NCName (``p0.b1.l2`` from
    ``Page.assign_ids`` is); otherwise a positional id in the same scheme is made.
    """
    ids: dict[int, str] = {}
    used: set[str] = set()

    def give(el: object, own: str, fallback: str) -> str:
        name = own if own and _NCNAME.match(own) and own not in used else fallback
        while name in used:
            name += "_"
        used.add(name)
        ids[id(el)] = name
        return name

    for pi, page in enumerate(doc.pages):
        pid = give(page, "", f"p{pi}")
        for bi, b in enumerate(page.blocks):
            bid = give(b, b.id, f"{pid}.b{bi}")
            for li, ln in enumerate(b.lines):
                lid = give(ln, ln.id, f"{bid}.l{li}")
                for wi, w in enumerate(ln.words):
                    give(w, w.id, f"{lid}.w{wi}")
    return ids


def word_gaps(line: Line) -> list[str]:
    """The line text between consecutive words (``len(words) + 1`` pieces: before, between, after).

    Joining ``gaps[0] + w0 + gaps[1] + w1 + ... + gaps[-1]`` gives back ``line.text`` exactly, so
    writers can keep the line's own spacing (none between CJK words, one space in English).
    Falls back to single spaces if a word is not found (a Document that fails ``validate``).
    """
    gaps, pos = [], 0
    for w in line.words:
        at = line.text.find(w.text, pos)
        if at < 0:
            return [""] + [" "] * (len(line.words) - 1) + [""] if line.words else [line.text]
        gaps.append(line.text[pos:at])
        pos = at + len(w.text)
    gaps.append(line.text[pos:])
    return gaps


def serialize(root: ET.Element, doctype: str = "", indent: bool = True) -> str:
    """UTF-8 XML text with a declaration (and an optional DOCTYPE).

    ``indent`` only suits element-only content (ALTO, PAGE); mixed content such as hOCR lines
    would get the indentation inside their text.
    """
    if indent:
        ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' + (doctype + "\n" if doctype else "")
    return head + body + "\n"
