"""ALTO and PAGE-XML validated against their published XSDs; hOCR checked as well-formed XHTML.

The schemas live in ``schemas/`` (see its README for where each file came from). A missing
schema fails the test loudly: these checks are the point of the test, so they never skip.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from polyocr import __version__
from polyocr.document import Document
from polyocr.formats import to_alto, to_hocr, to_pagexml
from polyocr.formats.alto import ALTO_NS
from polyocr.formats.pagexml import PAGE_NS

SCHEMAS = Path(__file__).parent / "schemas"
A = f"{{{ALTO_NS}}}"
P = f"{{{PAGE_NS}}}"
X = "{http://www.w3.org/1999/xhtml}"


def _schema(name: str, **kw):
    import xmlschema  # dev extra; an ImportError here is a failure, not a skip

    path = SCHEMAS / name
    if not path.is_file():
        pytest.fail(f"schema {path} is missing: see {SCHEMAS / 'README.md'} for where to get it")
    return xmlschema.XMLSchema(str(path), allow="local", **kw)


@pytest.fixture(scope="module")
def alto_schema():
    xlink = SCHEMAS / "xlink.xsd"
    if not xlink.is_file():
        pytest.fail(f"schema {xlink} is missing (ALTO imports it)")
    mapper = {"http://www.loc.gov/standards/xlink/xlink.xsd": xlink.resolve().as_uri()}
    return _schema("alto-4-4.xsd", uri_mapper=mapper)


@pytest.fixture(scope="module")
def page_schema():
    return _schema("page.xsd")


def _two_pages(doc: Document) -> Document:
    a, b = copy.deepcopy(doc.pages[0]), copy.deepcopy(doc.pages[0])
    b.index = 1
    b.assign_ids()
    return Document([a, b], source=doc.source)


def _assert_int_in(value: str, lo: int, hi: int) -> int:
    assert re.fullmatch(r"\d+", value), value
    assert lo <= int(value) <= hi, (value, lo, hi)
    return int(value)


# --- ALTO -----------------------------------------------------------------------------------------

def test_alto_validates(doc, alto_schema):
    xml = to_alto(doc)
    alto_schema.validate(xml)  # raises XMLSchemaValidationError with the path of the problem
    alto_schema.validate(to_alto(_two_pages(doc)))
    # the schema really is enforced: a TextLine without String is rejected
    broken = re.sub(r"<String [^>]*/>", "", xml)
    assert not alto_schema.is_valid(broken)


def test_alto_words_once_in_block_order(doc):
    root = ET.fromstring(to_alto(doc))
    page = doc.pages[0]
    blocks = root.findall(f".//{A}TextBlock")
    assert [b.get("ID") for b in blocks] == [b.id for b in page.blocks]
    strings = [s.get("CONTENT") for s in root.iter(f"{A}String")]
    expected = [w.text for ln in page.lines for w in ln.words] if all(ln.words for ln in page.lines) else None
    if expected is not None:
        assert strings == expected
    else:  # a wordless line is written as one String with the line text
        assert strings == [w.text for ln in page.lines for w in (ln.words or [ln])]


def test_alto_reading_order_lists_blocks(doc):
    root = ET.fromstring(to_alto(doc))
    groups = root.findall(f"{A}ReadingOrder/{A}OrderedGroup")
    assert len(groups) == 1
    refs = [e.get("REF") for e in groups[0].findall(f"{A}ElementRef")]
    assert refs == [b.id for b in doc.pages[0].blocks]
    ids = {el.get("ID") for el in root.iter(f"{A}TextBlock")}
    assert set(refs) <= ids


def test_alto_direction_and_language(hand_doc):
    root = ET.fromstring(to_alto(hand_doc))
    lines = {el.get("ID"): el for el in root.iter(f"{A}TextLine")}
    page = hand_doc.pages[0]
    he, ja = page.blocks[1].lines[0], page.blocks[2].lines[0]
    assert lines[he.id].get("BASEDIRECTION") == "rtl" and lines[he.id].get("LANG") == "he"
    assert lines[ja.id].get("BASEDIRECTION") == "ttb" and lines[ja.id].get("LANG") == "ja"
    assert lines[page.blocks[0].lines[0].id].get("BASEDIRECTION") == "ltr"
    # no SP inside the Japanese column (its words have no spaces between them), one per gap in English
    assert lines[ja.id].findall(f"{A}SP") == []
    assert len(lines[page.blocks[0].lines[0].id].findall(f"{A}SP")) == 3
    assert root.find(f"{A}Description/{A}MeasurementUnit").text == "pixel"
    assert root.find(f"{A}Description/{A}sourceImageInformation/{A}fileName").text == "hand page.png"


def test_alto_coordinates_are_integers_in_page(doc):
    root = ET.fromstring(to_alto(doc))
    page = doc.pages[0]
    pg = root.find(f".//{A}Page")
    assert (pg.get("WIDTH"), pg.get("HEIGHT")) == (str(page.width), str(page.height))
    n = 0
    for el in root.iter():
        if el.get("HPOS") is None:
            continue
        x = _assert_int_in(el.get("HPOS"), 0, page.width)
        y = _assert_int_in(el.get("VPOS"), 0, page.height)
        _assert_int_in(el.get("WIDTH"), 0, page.width - x)
        _assert_int_in(el.get("HEIGHT"), 0, page.height - y)
        n += 1
    assert n > len(page.words)
    for poly in root.iter(f"{A}Polygon"):
        for pt in poly.get("POINTS").split():
            x, y = pt.split(",")
            _assert_int_in(x, 0, page.width), _assert_int_in(y, 0, page.height)
    for s in root.iter(f"{A}String"):
        assert 0.0 <= float(s.get("WC")) <= 1.0


# --- PAGE-XML ---------------------------------------------------------------------------------------

def test_pagexml_validates(doc, page_schema):
    xml = to_pagexml(doc)
    page_schema.validate(xml)
    assert not page_schema.is_valid(xml.replace('readingDirection="', 'readingDirection="x'))


def test_pagexml_content_and_order(doc):
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    root = ET.fromstring(to_pagexml(doc, created=stamp))
    page = doc.pages[0]
    assert root.find(f"{P}Metadata/{P}Creator").text == f"polyocr {__version__}"
    assert root.find(f"{P}Metadata/{P}Created").text == "2026-01-02T03:04:05"
    pe = root.find(f"{P}Page")
    assert pe.get("imageFilename") == page.image
    assert (pe.get("imageWidth"), pe.get("imageHeight")) == (str(page.width), str(page.height))
    refs = pe.findall(f"{P}ReadingOrder/{P}OrderedGroup/{P}RegionRefIndexed")
    assert [r.get("index") for r in refs] == [str(i) for i in range(len(page.blocks))]
    assert [r.get("regionRef") for r in refs] == [b.id for b in page.blocks]
    regions = pe.findall(f"{P}TextRegion")
    assert [r.get("id") for r in regions] == [b.id for b in page.blocks]
    words = [w.find(f"{P}TextEquiv/{P}Unicode").text for w in pe.iter(f"{P}Word")]
    assert words == [w.text for w in page.words]
    lines = [ln.find(f"{P}TextEquiv/{P}Unicode").text for ln in pe.iter(f"{P}TextLine")]
    assert lines == [ln.text for ln in page.lines]
    for r, b in zip(regions, page.blocks):
        assert r.find(f"{P}TextEquiv/{P}Unicode").text == b.text
        assert f"type:{b.kind};" in r.get("custom")


def test_pagexml_direction_language_and_types(hand_doc):
    pe = ET.fromstring(to_pagexml(hand_doc)).find(f"{P}Page")
    regions = pe.findall(f"{P}TextRegion")
    en, he, ja, cell, cap = regions
    attrs = ("type", "readingDirection", "primaryLanguage")
    assert [en.get(a) for a in attrs] == ["paragraph", "left-to-right", "English"]
    assert [he.get(a) for a in attrs] == ["heading", "right-to-left", "Hebrew"]
    assert he.find(f"{P}TextLine").get("readingDirection") == "right-to-left"
    assert he.get("primaryScript") == "Hebr - Hebrew"
    assert [ja.get(a) for a in ("readingDirection", "textLineOrder", "primaryLanguage")] == [
        "top-to-bottom", "right-to-left", "Japanese"]
    assert "region {id:table0.r0c1;}" in cell.get("custom")
    assert cap.get("type") == "caption" and cap.findall(f".//{P}Word") == []


def test_pagexml_points_are_integers_in_page(doc):
    pe = ET.fromstring(to_pagexml(doc)).find(f"{P}Page")
    page = doc.pages[0]
    coords = list(pe.iter(f"{P}Coords"))
    assert len(coords) == len(page.blocks) + len(page.lines) + len(page.words)
    for c in coords:
        pts = c.get("points").split()
        assert len(pts) >= 4
        for pt in pts:
            x, y = pt.split(",")
            _assert_int_in(x, 0, page.width), _assert_int_in(y, 0, page.height)


def test_pagexml_needs_one_page(hand_doc, page_schema):
    two = _two_pages(hand_doc)
    with pytest.raises(ValueError, match="one page"):
        to_pagexml(two)
    second = to_pagexml(two, page=1)
    page_schema.validate(second)
    assert "p1.b0" in second


# --- hOCR --------------------------------------------------------------------------------------------

def _title(el: ET.Element) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in el.get("title").split(";"))


def _classes(root: ET.Element, cls: str) -> list[ET.Element]:
    return [el for el in root.iter() if el.get("class") == cls]


def test_hocr_is_wellformed_xhtml_with_hocr_classes(doc):
    text = to_hocr(doc)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html')
    root = ET.fromstring(text)  # well-formed XML or it raises
    assert root.tag == f"{X}html"
    metas = {m.get("name"): m.get("content") for m in root.iter(f"{X}meta") if m.get("name")}
    assert metas["ocr-system"] == f"polyocr {__version__}"
    used = {el.get("class") for el in root.iter() if el.get("class")}
    assert used <= set(metas["ocr-capabilities"].split())
    page = doc.pages[0]
    (pdiv,) = _classes(root, "ocr_page")
    t = _title(pdiv)
    assert t["bbox"] == f"0 0 {page.width} {page.height}" and t["ppageno"] == "0"
    assert t["image"] == f'"{page.image}"'
    assert len(_classes(root, "ocr_carea")) == len(_classes(root, "ocr_par")) == len(page.blocks)
    lines = _classes(root, "ocr_line")
    assert ["".join(el.itertext()) for el in lines] == [ln.text for ln in page.lines]
    words = _classes(root, "ocrx_word")
    assert [el.text for el in words] == [w.text for w in page.words]
    for el in lines + words:
        x0, y0, x1, y1 = (int(v) for v in _title(el)["bbox"].split())
        assert 0 <= x0 <= x1 <= page.width and 0 <= y0 <= y1 <= page.height
        assert 0 <= int(_title(el)["x_wconf"]) <= 100


def test_hocr_direction_language_vertical(hand_doc):
    root = ET.fromstring(to_hocr(hand_doc))
    pars, lines = _classes(root, "ocr_par"), _classes(root, "ocr_line")
    assert pars[1].get("dir") == "rtl" and pars[1].get("lang") == "he"
    assert lines[2].get("dir") == "rtl" and lines[2].get("lang") == "he"
    assert pars[0].get("dir") is None and lines[0].get("lang") == "en"
    assert lines[3].get("lang") == "ja" and "vertical-rl" in lines[3].get("style")
    assert _title(_classes(root, "ocrx_word")[0])["x_wconf"] == "50"
    # special characters survive escaping
    assert "<tags>" in [el.text for el in _classes(root, "ocrx_word")]


def test_hocr_rtl_page_from_generator(synth_doc):
    root = ET.fromstring(to_hocr(synth_doc))
    rtl = [el for el in _classes(root, "ocr_line") if el.get("dir") == "rtl"]
    assert len(rtl) == sum(ln.direction == "rtl" for ln in synth_doc.pages[0].lines) > 0
