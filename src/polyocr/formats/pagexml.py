"""PAGE-XML 2019-07-15 (PRImA), one ``PcGts`` file per page.

Mapping: Block → ``TextRegion`` (``type`` from ``Block.kind``; the exact kind and layout region
are kept in ``custom``, Transkribus-style, since PAGE has no table-cell or form-field text
type); Line → ``TextLine``; Word → ``Word``; each with ``Coords`` and a ``TextEquiv``. Block
order goes to ``ReadingOrder/OrderedGroup/RegionRefIndexed``, and regions are also written in
that order. Languages and scripts use PAGE's own enumerations (``English``, ``Latn - Latin``),
not BCP-47 tags. Points are non-negative integers clamped to the page, as PAGE's
``PointsType`` requires.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from polyocr import __version__
from polyocr.document import Block, Document, Line, Page, Polygon
from polyocr.formats._common import element_ids, int_points, serialize, xml_text

__all__ = ["to_pagexml", "PAGE_NS"]

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
_SCHEMA_LOCATION = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"

# Block.kind → TextTypeSimpleType (page.xsd 2019-07-15)
_TEXT_TYPE = {
    "paragraph": "paragraph", "heading": "heading", "title": "heading", "list_item": "paragraph",
    "table_cell": "paragraph", "caption": "caption", "key": "other", "value": "other",
    "toc_entry": "TOC-entry", "footer": "footer", "header": "header", "scene": "other",
}
# BCP-47 primary subtag → LanguageSimpleType; ISO 15924 → ScriptSimpleType
_LANGUAGE = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ru": "Russian",
             "ar": "Arabic", "he": "Hebrew"}
_SCRIPT = {"Latn": "Latn - Latin", "Hans": "Hans - Han (Simplified variant)",
           "Hant": "Hant - Han (Traditional variant)", "Jpan": "Jpan - Japanese",
           "Kore": "Kore - Korean (alias for Hangul + Han)", "Cyrl": "Cyrl - Cyrillic",
           "Arab": "Arab - Arabic", "Hebr": "Hebr - Hebrew"}
_DEFAULT_SCRIPT = {"en": "Latn", "zh-Hans": "Hans", "zh-Hant": "Hant", "ja": "Jpan", "ko": "Kore",
                   "ru": "Cyrl", "ar": "Arab", "he": "Hebr"}


def _language(tag: str) -> str:
    return _LANGUAGE.get(tag.split("-")[0].lower(), "") if tag else ""


def _script(tag: str) -> str:
    return _SCRIPT.get(_DEFAULT_SCRIPT.get(tag, ""), "")


def _reading_direction(line: Line) -> str:
    if line.writing_mode == "vertical-rl":
        return "top-to-bottom"
    return "right-to-left" if line.direction == "rtl" else "left-to-right"


def _coords(parent: ET.Element, poly: Polygon, page: Page) -> None:
    pts = int_points(poly, page)
    ET.SubElement(parent, "Coords", points=" ".join(f"{x},{y}" for x, y in pts))


def _text_equiv(parent: ET.Element, text: str, conf: float | None = None) -> None:
    te = ET.SubElement(parent, "TextEquiv")
    if conf is not None:
        te.set("conf", f"{min(max(float(conf), 0.0), 1.0):.4g}")
    ET.SubElement(te, "Unicode").text = xml_text(text)


def _lang_attrs(el: ET.Element, tag: str, lang_attr: str) -> None:
    if _language(tag):
        el.set(lang_attr, _language(tag))
    if _script(tag):
        el.set("primaryScript", _script(tag))


def _region(parent: ET.Element, b: Block, page: Page, ids: dict[int, str]) -> None:
    tr = ET.SubElement(parent, "TextRegion", id=ids[id(b)])
    custom = f"structure {{type:{b.kind};}}" + (f" region {{id:{b.region};}}" if b.region else "")
    tr.set("custom", xml_text(custom))
    tr.set("type", _TEXT_TYPE.get(b.kind, "other"))
    if b.lines:
        first = b.lines[0]
        tr.set("readingDirection", _reading_direction(first))
        tr.set("textLineOrder", "right-to-left" if first.writing_mode == "vertical-rl" else "top-to-bottom")
    lang = b.language or next((ln.language for ln in b.lines if ln.language), "") or page.language
    _lang_attrs(tr, lang, "primaryLanguage")
    _coords(tr, b.polygon, page)
    for ln in b.lines:
        tl = ET.SubElement(tr, "TextLine", id=ids[id(ln)])
        tl.set("readingDirection", _reading_direction(ln))
        _lang_attrs(tl, ln.language, "primaryLanguage")
        _coords(tl, ln.polygon, page)
        for w in ln.words:
            we = ET.SubElement(tl, "Word", id=ids[id(w)])
            _coords(we, w.polygon, page)
            _text_equiv(we, w.text, w.confidence)
        _text_equiv(tl, ln.text, ln.confidence)
    _text_equiv(tr, b.text)


def to_pagexml(doc: Document, page: int | None = None, created: dt.datetime | None = None) -> str:
    """One page of ``doc`` as a PAGE-XML 2019 string.

    ``page`` picks the page by position; it may be left out only for a one-page Document, as
    a PAGE file holds exactly one page. ``created`` (UTC, default now) fills Created/LastChange.
    """
    if page is None:
        if len(doc.pages) != 1:
            raise ValueError(f"PAGE-XML holds one page; this document has {len(doc.pages)}: pass page=")
        page = 0
    p = doc.pages[page]
    ids = element_ids(doc)
    stamp = (created or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    iso = stamp.replace(tzinfo=None, microsecond=0).isoformat()
    root = ET.Element("PcGts", {
        "xmlns": PAGE_NS,
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:schemaLocation": _SCHEMA_LOCATION,
        "pcGtsId": f"pc.{ids[id(p)]}",
    })
    md = ET.SubElement(root, "Metadata")
    ET.SubElement(md, "Creator").text = f"polyocr {__version__}"
    ET.SubElement(md, "Created").text = iso
    ET.SubElement(md, "LastChange").text = iso
    pe = ET.SubElement(root, "Page", imageFilename=xml_text(p.image or doc.source),
                       imageWidth=str(p.width), imageHeight=str(p.height))
    if p.dpi:
        pe.set("imageXResolution", f"{p.dpi:g}")
        pe.set("imageYResolution", f"{p.dpi:g}")
        pe.set("imageResolutionUnit", "PPI")
    _lang_attrs(pe, p.language, "primaryLanguage")
    pe.set("readingDirection", "right-to-left" if p.direction == "rtl" else "left-to-right")
    if p.blocks:
        og = ET.SubElement(ET.SubElement(pe, "ReadingOrder"), "OrderedGroup", id=f"ro.{ids[id(p)]}")
        for bi, b in enumerate(p.blocks):
            ET.SubElement(og, "RegionRefIndexed", index=str(bi), regionRef=ids[id(b)])
    for b in p.blocks:
        _region(pe, b, p, ids)
    return serialize(root)
