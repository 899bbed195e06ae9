"""Searchable PDF: pdftotext (poppler-utils) must give back the Document's text in reading order."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
import zlib

import numpy as np
import pytest
from PIL import Image

from polyocr.document import Block, Document, Line, Page, Word, quad_from_box
from polyocr.formats.pdf import to_pdf

_BIDI_CONTROLS = {c: None for c in (0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E)}


def _pdftotext(pdf: bytes, tmp_path, layout: bool) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.fail("pdftotext not found: install poppler-utils (apt-get install poppler-utils)")
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    run = subprocess.run([exe, *(["-layout"] if layout else []), "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and not run.stderr, run.stderr
    return run.stdout


def _lines(text: str, keep_spaces: bool = True) -> list[str]:
    """Non-empty lines without bidi controls, spaces collapsed (or removed)."""
    out = []
    for line in text.replace("\f", "\n").splitlines():
        line = line.translate(_BIDI_CONTROLS)
        if line.strip():
            out.append(" ".join(line.split()) if keep_spaces else "".join(line.split()))
    return out


def _content_streams(pdf: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"/Filter /FlateDecode /Length \d+ >>\nstream\n(.*?)\nendstream", pdf, re.S):
        out.append(zlib.decompress(m.group(1)))
    return out


def _is_rtl_word(word: str) -> bool:
    return all(unicodedata.bidirectional(c) in ("R", "AL", "NSM") for c in word)


@pytest.mark.parametrize("layout", [False, True])
def test_hand_page_text_comes_back(hand_doc, tmp_path, layout):
    page = hand_doc.pages[0]
    pdf = to_pdf(hand_doc, [Image.new("RGB", (page.width, page.height), "white")])
    assert pdf.startswith(b"%PDF-1.7")
    assert any(b"BT\n3 Tr" in c for c in _content_streams(pdf))  # the text layer is invisible
    got = _lines(_pdftotext(pdf, tmp_path, layout))
    expected = [ln.text for ln in page.lines]
    assert len(got) == len(expected)
    for g, e, ln in zip(got, expected, page.lines):
        if ln.direction == "rtl":
            # poppler picks one direction per page: on this mostly-LTR page the RTL line keeps
            # its words in display order, but each word must come back in logical order
            for w in ln.words:
                assert w.text in g
            assert "םולש" not in g
        else:
            assert g == e  # English words, the table cell and the vertical Japanese column


@pytest.mark.parametrize("layout", [False, True])
def test_generated_arabic_page(synth_doc, tmp_path, layout):
    page = synth_doc.pages[0]
    img = np.full((page.height, page.width, 3), 255, np.uint8)  # numpy images are accepted too
    got = _lines(_pdftotext(to_pdf(synth_doc, [img]), tmp_path, layout), keep_spaces=False)
    expected = _lines(page.text, keep_spaces=False)
    assert len(got) == len(expected)
    # every line, in reading order, has the same characters ...
    assert [sorted(g) for g in got] == [sorted(e) for e in expected]
    # ... every Arabic word comes back in logical order ...
    for g, ln in zip(got, [ln for ln in page.lines if ln.text.strip()]):
        for w in ln.words:
            if _is_rtl_word(w.text):
                assert w.text in g, (w.text, g)
    # ... and most lines exactly (poppler reorders digit groups such as "1921-26" in RTL lines)
    exact = sum(g == e for g, e in zip(got, expected))
    assert exact >= 0.8 * len(expected)


def test_any_code_point_survives(tmp_path):
    text = "𠮷野家 ¼ — “x” 😀"
    words = text.split(" ")
    xs = [(20 + 60 * i, 70 + 60 * i) for i in range(len(words))]
    line = Line(text, quad_from_box(20, 10, xs[-1][1], 40),
                [Word(w, quad_from_box(a, 10, b, 40)) for w, (a, b) in zip(words, xs)])
    doc = Document([Page(500, 60, [Block([line], line.polygon)]).assign_ids()])
    got = _lines(_pdftotext(to_pdf(doc, [Image.new("L", (500, 60), 255)]), tmp_path, False))
    assert got == [text]


def test_images_must_match_pages(hand_doc):
    with pytest.raises(ValueError, match="1 pages but 2 images"):
        to_pdf(hand_doc, [Image.new("RGB", (10, 10))] * 2)


def test_images_are_walked_once_in_order(hand_doc, tmp_path):
    """A lazy page sequence (inputs.PageImages, as batch and the service pass) decodes every earlier
    page again on each index: the writer must iterate it once, never index it."""
    from collections.abc import Sequence

    img = Image.new("RGB", (600, 400), "white")

    class OnePass(Sequence):
        passes = 0

        def __len__(self):
            return 3

        def __iter__(self):
            OnePass.passes += 1
            yield from [img] * 3

        def __getitem__(self, i):
            raise AssertionError(f"indexed at {i}")

    doc = Document([hand_doc.pages[0]] * 3)
    text = _pdftotext(to_pdf(doc, OnePass()), tmp_path, False)
    assert OnePass.passes == 1 and text.count("\f") == 3


def test_multi_page(hand_doc, tmp_path):
    doc = Document([hand_doc.pages[0], hand_doc.pages[0]])
    img = Image.new("RGB", (600, 400), "white")
    text = _pdftotext(to_pdf(doc, [img, img]), tmp_path, False)
    assert text.count("\f") == 2  # pdftotext ends every page with a form feed
    first, second = text.split("\f")[:2]
    assert _lines(first) == _lines(second)
