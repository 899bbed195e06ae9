"""ALTO 4.4 XML (http://www.loc.gov/standards/alto/ns-v4#), one file for the whole Document.

Mapping: Page → ``Page``/``PrintSpace``; Block → ``TextBlock`` (with its polygon as
``Shape/Polygon``); Line → ``TextLine``; Word → ``String`` with ``SP`` between words. A line with
no words becomes one ``String`` holding the line text (``TextLine`` needs at least one).

Direction uses ALTO 4.3+'s ``BASEDIRECTION`` (``ltr`` | ``rtl`` | ``ttb``) on ``TextLine`` and
``TextBlock``; vertical-rl columns are ``ttb``. The block order is written twice, as the
element order and as ``ReadingOrder/OrderedGroup/ElementRef`` (ALTO 4.3+), one group per page.
Coordinates are integer pixels clamped to the page; ``WC`` is the word confidence in [0, 1].
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from polyocr import __version__
from polyocr.document import Block, Document, Line, Page
from polyocr.formats._common import element_ids, int_box, int_points, serialize, word_gaps, xml_text

__all__ = ["to_alto", "ALTO_NS"]

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
_SCHEMA_LOCATION = f"{ALTO_NS} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"


def _geom(el: ET.Element, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    el.set("HPOS", str(x0))
    el.set("VPOS", str(y0))
    el.set("WIDTH", str(x1 - x0))
    el.set("HEIGHT", str(y1 - y0))


def _basedirection(line: Line) -> str:
    return "ttb" if line.writing_mode == "vertical-rl" else line.direction


def _lang(*candidates: str) -> str:
    return next((c for c in candidates if c), "")


def _wc(conf: float) -> str:
    return f"{min(max(float(conf), 0.0), 1.0):.3f}".rstrip("0").rstrip(".") or "0"


def _block(parent: ET.Element, b: Block, page: Page, ids: dict[int, str]) -> None:
    tb = ET.SubElement(parent, "TextBlock", ID=ids[id(b)])
    _geom(tb, int_box(b.polygon, page))
    lang = _lang(b.language, *(ln.language for ln in b.lines), page.language)
    if lang:
        tb.set("LANG", lang)
    if b.lines:
        tb.set("BASEDIRECTION", _basedirection(b.lines[0]))
    shape = ET.SubElement(tb, "Shape")
    ET.SubElement(shape, "Polygon", POINTS=" ".join(f"{x},{y}" for x, y in int_points(b.polygon, page)))
    for ln in b.lines:
        tl = ET.SubElement(tb, "TextLine", ID=ids[id(ln)])
        _geom(tl, int_box(ln.polygon, page))
        if ln.language:
            tl.set("LANG", ln.language)
        tl.set("BASEDIRECTION", _basedirection(ln))
        if not ln.words:
            s = ET.SubElement(tl, "String", CONTENT=xml_text(ln.text))
            _geom(s, int_box(ln.polygon, page))
            s.set("WC", _wc(ln.confidence))
            continue
        gaps = word_gaps(ln)
        for wi, w in enumerate(ln.words):
            if wi and gaps[wi]:  # no SP where the line has no space (CJK, punctuation)
                ET.SubElement(tl, "SP")
            s = ET.SubElement(tl, "String", ID=ids[id(w)], CONTENT=xml_text(w.text))
            _geom(s, int_box(w.polygon, page))
            s.set("WC", _wc(w.confidence))


def to_alto(doc: Document) -> str:
    """The Document as an ALTO 4.4 XML string (UTF-8 declaration), pages and blocks in stored order."""
    ids = element_ids(doc)
    root = ET.Element("alto", {
        "xmlns": ALTO_NS,
        "xmlns:xlink": "http://www.w3.org/1999/xlink",
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:schemaLocation": _SCHEMA_LOCATION,
        "SCHEMAVERSION": "4.4",
    })
    desc = ET.SubElement(root, "Description")
    ET.SubElement(desc, "MeasurementUnit").text = "pixel"
    image = doc.source or next((p.image for p in doc.pages if p.image), "")
    if image:
        sii = ET.SubElement(desc, "sourceImageInformation")
        ET.SubElement(sii, "fileName").text = xml_text(image)
    proc = ET.SubElement(desc, "Processing", ID="polyocr")
    soft = ET.SubElement(proc, "processingSoftware")
    ET.SubElement(soft, "softwareName").text = "polyocr"
    ET.SubElement(soft, "softwareVersion").text = __version__

    pages_with_blocks = [p for p in doc.pages if p.blocks]
    if pages_with_blocks:
        ro = ET.SubElement(root, "ReadingOrder")
        for p in pages_with_blocks:
            og = ET.SubElement(ro, "OrderedGroup", ID=f"ro.{ids[id(p)]}")
            for b in p.blocks:
                ET.SubElement(og, "ElementRef", ID=f"ro.{ids[id(b)]}", REF=ids[id(b)])

    layout = ET.SubElement(root, "Layout")
    for pi, p in enumerate(doc.pages):
        pg = ET.SubElement(layout, "Page", ID=ids[id(p)], PHYSICAL_IMG_NR=str(pi + 1),
                           WIDTH=str(p.width), HEIGHT=str(p.height))
        if p.language:
            pg.set("LANG", p.language)
        ps = ET.SubElement(pg, "PrintSpace", HPOS="0", VPOS="0", WIDTH=str(p.width), HEIGHT=str(p.height))
        for b in p.blocks:
            _block(ps, b, p, ids)
    return serialize(root)
