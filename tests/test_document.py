"""The page model: JSON round trip, versioning and the validator's invariants."""

import json

import pytest

from polyocr.document import SCHEMA_VERSION, Block, Document, Line, Page, SchemaError, Word, quad_from_box, validate


def _doc() -> Document:
    w1 = Word("שלום", quad_from_box(300, 10, 380, 40), 0.9)
    w2 = Word("2024", quad_from_box(200, 10, 280, 40), 0.8)
    line = Line("שלום 2024", quad_from_box(200, 10, 380, 40), [w1, w2], "he", "rtl")
    col = Line("日本語", ((60, 100), (60, 300), (20, 300), (20, 100)), [Word("日本語", ((60, 100), (60, 300), (20, 300), (20, 100)))],
               "ja", "ltr", "vertical-rl")
    page = Page(400, 400, [Block([line], quad_from_box(200, 10, 380, 40), "heading", region="title"),
                           Block([col], ((60, 100), (60, 300), (20, 300), (20, 100)), region="col0")],
                language="he", direction="rtl", meta={"layout": "prose"})
    page.assign_ids()
    return Document([page], source="x.png")


def test_round_trip_is_lossless():
    doc = _doc()
    text = doc.to_json()
    again = Document.from_json(text)
    assert again.to_json() == text
    assert again.pages[0].blocks[1].lines[0].writing_mode == "vertical-rl"
    assert again.pages[0].lines[0].words[1].confidence == pytest.approx(0.8)


def test_relations_follow_stored_order():
    page = _doc().pages[0]
    rel = page.relations
    assert ("p0.b0", "p0.b1", "next_block") in rel
    assert ("p0.b0.l0.w0", "p0.b0.l0.w1", "next_word") in rel
    assert ("p0.b1.l0", "p0.b1", "line_in_block") in rel
    assert len([r for r in rel if r[2] == "word_in_line"]) == 3


def test_version_and_schema_name_are_checked():
    d = _doc().to_dict()
    d["version"] = "2.0"
    with pytest.raises(SchemaError, match="version"):
        Document.from_dict(d)
    with pytest.raises(SchemaError, match="polyocr document"):
        Document.from_dict({"pages": []})
    with pytest.raises(SchemaError, match="invalid JSON"):
        Document.from_json("{")


def test_validator_finds_broken_invariants():
    doc = _doc()
    assert validate(doc) == []
    page = doc.pages[0]
    page.lines[0].words[0].text = "לא"
    page.blocks[1].order = 5
    page.blocks[1].lines[0].polygon = quad_from_box(10, 10, 900, 20)
    page.lines[0].text = "e\u0301"  # not NFC
    problems = validate(doc)
    assert any("not found in line text" in p for p in problems)
    assert any("order 5" in p for p in problems)
    assert any("outside the page" in p for p in problems)
    assert any("NFC" in p for p in problems)
    with pytest.raises(SchemaError):
        Document.from_json(doc.to_json())


def test_bad_polygons_are_rejected():
    d = json.loads(_doc().to_json())
    d["pages"][0]["blocks"][0]["lines"][0]["polygon"] = [[0, 0], [1, 1]]
    with pytest.raises(SchemaError, match="at least 4 points"):
        Document.from_dict(d)
    assert d["version"] == SCHEMA_VERSION
