"""Plain text and JSON: reading order as stored, lossless round trip, atomic writes."""

from __future__ import annotations

import copy
import json
import re

import pytest

from polyocr.document import Document
from polyocr.formats import FORMATS, WRITERS, from_json, to_json, to_text, write


def test_json_round_trip_is_lossless(doc):
    back = from_json(to_json(doc))
    # compared as JSON values: meta tuples (generator parameters) come back as lists
    assert json.loads(to_json(back)) == json.loads(to_json(doc))
    assert [w.text for w in back.pages[0].words] == [w.text for w in doc.pages[0].words]
    assert from_json(to_json(back)).to_dict() == back.to_dict()
    assert to_json(from_json(to_json(back))) == to_json(back)  # byte-stable after one trip


def test_text_is_the_reading_order(doc):
    text = to_text(doc)
    page = doc.pages[0]
    expected = "\n\n".join("\n".join(ln.text for ln in b.lines) for b in page.blocks) + "\n"
    assert text == expected
    # RTL text stays in logical order: the first word of each RTL line comes first in the file
    for ln in page.lines:
        if ln.direction == "rtl" and ln.words:
            assert ln.text.startswith(ln.words[0].text)
            assert ln.text in text


def test_text_separates_pages_with_form_feed(hand_doc):
    two = Document([copy.deepcopy(hand_doc.pages[0]), copy.deepcopy(hand_doc.pages[0])])
    text = to_text(two)
    assert text.count("\f") == 1
    first, second = text.rstrip("\n").split("\f")
    assert first == second == hand_doc.pages[0].text
    assert to_text(Document()) == ""


def test_writers_registry():
    assert FORMATS == ("text", "json", "hocr", "alto", "pagexml")
    assert set(WRITERS) == set(FORMATS)


def test_write_is_atomic_and_utf8(hand_doc, tmp_path):
    for fmt in FORMATS:
        out = write(hand_doc, fmt, tmp_path / f"out.{fmt}")
        written = out.read_text(encoding="utf-8")
        if fmt == "pagexml":  # Created/LastChange carry the time of writing
            written = re.sub(r"\d{4}-\d\d-\d\dT[\d:]+", "T", written)
            assert written == re.sub(r"\d{4}-\d\d-\d\dT[\d:]+", "T", WRITERS[fmt](hand_doc))
        else:
            assert written == WRITERS[fmt](hand_doc)
    # overwriting keeps one file and leaves no temporary files behind
    write(hand_doc, "text", tmp_path / "out.text")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"out.{f}" for f in FORMATS)
    assert (tmp_path / "out.text").read_text(encoding="utf-8") == to_text(hand_doc)


def test_write_unknown_format_lists_known(hand_doc, tmp_path):
    with pytest.raises(ValueError, match="unknown format 'docx'.*text, json, hocr, alto, pagexml"):
        write(hand_doc, "docx", tmp_path / "x.docx")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_old_file(hand_doc, tmp_path):
    target = tmp_path / "page.xml"
    target.write_text("old", encoding="utf-8")
    two = Document([copy.deepcopy(hand_doc.pages[0]), copy.deepcopy(hand_doc.pages[0])])
    with pytest.raises(ValueError, match="one page"):
        write(two, "pagexml", target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.xml"]
