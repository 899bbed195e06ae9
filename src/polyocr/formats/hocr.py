"""hOCR 1.2 (http://kba.github.io/hocr-spec/1.2/) as well-formed XHTML.

Mapping: Page → ``div.ocr_page`` (``image``, ``bbox``, ``ppageno``); Block → ``div.ocr_carea``
holding one ``p.ocr_par``; Line → ``span.ocr_line``; Word → ``span.ocrx_word`` with
``x_wconf`` (0–100). Between word spans the writer puts the line's own text between words (a
space in English, nothing in CJK), so the text content of each line is exactly ``Line.text``.

Direction and language use HTML, as the spec's "Font, Text Color, Language, Direction" section
asks: ``dir="rtl"`` on right-to-left paragraphs and lines, ``lang`` (BCP-47) wherever known.
hOCR has no writing-mode property, and its ``textangle`` means the text is *rotated* relative
to the page, which upright vertical CJK is not; so vertical-rl lines get no ``textangle`` but
the CSS ``style="writing-mode: vertical-rl"`` (meaningful to browsers, ignored by hOCR tools).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from polyocr import __version__
from polyocr.document import Block, Document, Line, Page
from polyocr.formats._common import element_ids, int_box, serialize, word_gaps, xml_text

__all__ = ["to_hocr", "HOCR_CLASSES"]

HOCR_CLASSES = ("ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word")
_CAPABILITIES = (*HOCR_CLASSES, "ocrp_lang", "ocrp_dir", "ocrp_wconf")
_DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">')


def _bbox(box: tuple[int, int, int, int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def _wconf(conf: float) -> str:
    return f"x_wconf {int(round(min(max(float(conf), 0.0), 1.0) * 100))}"


def _set_lang(el: ET.Element, lang: str) -> None:
    if lang:
        el.set("lang", lang)
        el.set("xml:lang", lang)


def _line(parent: ET.Element, ln: Line, page: Page, ids: dict[int, str]) -> ET.Element:
    span = ET.SubElement(parent, "span", {"class": "ocr_line", "id": ids[id(ln)],
                                          "title": f"{_bbox(int_box(ln.polygon, page))}; {_wconf(ln.confidence)}"})
    _set_lang(span, ln.language)
    if ln.direction == "rtl":
        span.set("dir", "rtl")
    if ln.writing_mode == "vertical-rl":
        span.set("style", "writing-mode: vertical-rl")
    if not ln.words:
        span.text = xml_text(ln.text)
        return span
    gaps = word_gaps(ln)
    span.text = xml_text(gaps[0])
    for wi, w in enumerate(ln.words):
        ws = ET.SubElement(span, "span", {"class": "ocrx_word", "id": ids[id(w)],
                                          "title": f"{_bbox(int_box(w.polygon, page))}; {_wconf(w.confidence)}"})
        ws.text = xml_text(w.text)
        ws.tail = xml_text(gaps[wi + 1])
    return span


def _block(parent: ET.Element, b: Block, page: Page, ids: dict[int, str]) -> None:
    bbox = _bbox(int_box(b.polygon, page))
    area = ET.SubElement(parent, "div", {"class": "ocr_carea", "id": f"{ids[id(b)]}.area", "title": bbox})
    area.text = "\n"
    area.tail = "\n"
    par = ET.SubElement(area, "p", {"class": "ocr_par", "id": ids[id(b)], "title": bbox})
    par.tail = "\n"
    _set_lang(par, b.language or next((ln.language for ln in b.lines if ln.language), ""))
    if b.lines and b.lines[0].direction == "rtl":
        par.set("dir", "rtl")
    par.text = "\n"
    for ln in b.lines:
        _line(par, ln, page, ids).tail = "\n"


def to_hocr(doc: Document) -> str:
    """The Document as an hOCR 1.2 XHTML string, pages and blocks in stored order."""
    ids = element_ids(doc)
    lang = next((p.language for p in doc.pages if p.language), "")
    html = ET.Element("html", {"xmlns": "http://www.w3.org/1999/xhtml"})
    _set_lang(html, lang)
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = xml_text(doc.source)
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": f"polyocr {__version__}"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": " ".join(_CAPABILITIES)})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(doc.pages))})
    body = ET.SubElement(html, "body")
    body.text = "\n"
    for pi, p in enumerate(doc.pages):
        image = (p.image or doc.source).replace("\\", "\\\\").replace('"', '\\"')
        title = f'image "{image}"; bbox 0 0 {p.width} {p.height}; ppageno {pi}'
        if p.dpi:
            title += f"; scan_res {p.dpi:g} {p.dpi:g}"
        div = ET.SubElement(body, "div", {"class": "ocr_page", "id": ids[id(p)], "title": xml_text(title)})
        _set_lang(div, p.language)
        if p.direction == "rtl":
            div.set("dir", "rtl")
        div.text = "\n"
        div.tail = "\n"
        for b in p.blocks:
            _block(div, b, p, ids)
    return serialize(html, doctype=_DOCTYPE, indent=False)
