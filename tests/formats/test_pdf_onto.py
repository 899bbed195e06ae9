"""Searchable PDF out of a PDF in (``onto_pdf``): the original's pages stay as they were, the text
layer lands where the page shows the words, whatever the page's crop box and rotation."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter, Transformation

from polyocr.document import Document
import polyocr.formats.pdf as pdf_format
from polyocr.formats.pdf import onto_pdf, searchable_pdf, to_pdf

_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def _poppler(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        pytest.fail(f"{tool} not found: install poppler-utils (apt-get install poppler-utils)")
    return exe


def _words(pdf: bytes, tmp_path: Path, page: int = 1) -> list[tuple[str, tuple[float, ...]]]:
    """pdftotext's words of one page with their boxes (points, the displayed crop box, top left origin)."""
    path = tmp_path / "words.pdf"
    path.write_bytes(pdf)
    run = subprocess.run([_poppler("pdftotext"), "-bbox", "-cropbox", "-f", str(page), "-l", str(page), str(path), "-"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return [(m[4], tuple(float(v) for v in m[:4])) for m in _WORD.findall(run.stdout)]


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    run = subprocess.run([_poppler("pdftotext"), "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _pdfium_text(pdf: bytes, page: int = 0) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[page].get_textpage().get_text_range()
    finally:
        doc.close()


def _render(pdf: bytes, page: int = 0, dpi: float = 100) -> np.ndarray:
    doc = pdfium.PdfDocument(pdf)
    try:
        return np.asarray(doc[page].render(scale=dpi / 72).to_pil().convert("RGB"))
    finally:
        doc.close()


def _scan(doc: Document) -> Image.Image:
    """The page as a scan would show it: a box drawn round every word (no text layer of its own)."""
    page = doc.pages[0]
    img = Image.new("RGB", (page.width, page.height), "white")
    draw = ImageDraw.Draw(img)
    for ln in page.lines:
        for w in ln.words:
            xs, ys = [p[0] for p in w.polygon], [p[1] for p in w.polygon]
            draw.rectangle([min(xs), min(ys), max(xs), max(ys)], outline="black", width=2)
    return img


def _original(img: Image.Image, dpi: float, rotate: int = 0, crop: bool = False, pages: int = 1) -> bytes:
    """An image-only PDF that *displays* ``img`` at ``dpi``: stored turned back by ``rotate`` under a
    ``/Rotate``, and with ``crop`` moved into a larger media box behind a crop box with its own origin."""
    stored = img.rotate(rotate, expand=True)          # counter-clockwise; /Rotate turns it clockwise
    buf = io.BytesIO()
    stored.save(buf, format="PDF", resolution=dpi, save_all=True, append_images=[stored] * (pages - 1))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    for page in writer.pages:
        if crop:
            right, top = float(page.mediabox.right), float(page.mediabox.top)
            page.add_transformation(Transformation().translate(100, 50))
            page.mediabox.lower_left, page.mediabox.upper_right = (0, 0), (right + 140, top + 90)
            page.cropbox.lower_left, page.cropbox.upper_right = (100, 50), (right + 100, top + 50)
        if rotate:
            page.rotate(rotate)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("crop", [False, True], ids=["media-box", "crop-box"])
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_layer_lands_where_the_page_shows_the_words(hand_doc, tmp_path, rotate, crop):
    page = hand_doc.pages[0]
    scan = _scan(hand_doc)
    original = _original(scan, page.dpi, rotate, crop)
    assert _render(original, dpi=page.dpi).shape == (page.height, page.width, 3)   # displays upright
    assert _text(original, tmp_path).strip() == ""                                  # a scan: no text yet

    out = onto_pdf(hand_doc, original)
    # the original's own content, untouched: the layer draws nothing
    assert np.array_equal(_render(out, dpi=page.dpi), _render(original, dpi=page.dpi))
    # every word where the image-based PDF of the same Document puts it (the tested writer)
    want = _words(to_pdf(hand_doc, [scan]), tmp_path)
    got = _words(out, tmp_path)
    assert [w for w, _ in got] == [w for w, _ in want] and len(got) >= 15
    for (w, a), (_, b) in zip(got, want):
        assert max(abs(x - y) for x, y in zip(a, b)) < 0.5, (w, a, b)
    # and there, to the point, the words the scan has boxes round (left to right words)
    k = 72.0 / page.dpi
    boxes = {w.text: w.polygon for ln in page.lines if ln.direction == "ltr" and ln.writing_mode == "horizontal-tb"
             for w in ln.words}
    checked = 0
    for w, (x0, y0, x1, y1) in got:
        if w.strip() in boxes:
            xs, ys = [p[0] * k for p in boxes[w.strip()]], [p[1] * k for p in boxes[w.strip()]]
            assert abs(x0 - min(xs)) < 1 and abs(y0 - min(ys)) < 1 and abs(y1 - max(ys)) < 1, (w, (x0, y0, x1, y1))
            checked += 1
    assert checked >= 8


def test_pages_with_text_of_their_own_get_no_second_layer(hand_doc, tmp_path):
    page = hand_doc.pages[0]
    searchable = to_pdf(hand_doc, [_scan(hand_doc)])          # already has the text
    out = onto_pdf(hand_doc, searchable)
    assert _text(out, tmp_path) == _text(searchable, tmp_path)
    # pdftotext folds text drawn twice in one place into one; PDFium's text page counts every glyph
    assert _pdfium_text(out).count("Hello") == _pdfium_text(searchable).count("Hello") == 1
    assert np.array_equal(_render(out, dpi=page.dpi), _render(searchable, dpi=page.dpi))


def test_a_selection_keeps_only_the_pages_read(hand_doc, tmp_path):
    """Pages 1 and 3 of a 3-page scan were read: the output is those two, in order, each with its text."""
    page = hand_doc.pages[0]
    scans = [_scan(hand_doc), _scan(hand_doc).rotate(180), _scan(hand_doc)]
    buf = io.BytesIO()
    scans[0].save(buf, format="PDF", resolution=page.dpi, save_all=True, append_images=scans[1:])
    original = buf.getvalue()
    first, third = Document.from_json(hand_doc.to_json()), Document.from_json(hand_doc.to_json())
    first.pages[0].index, third.pages[0].index = 0, 2
    doc = Document(pages=[first.pages[0], third.pages[0]], source="three.pdf")
    out = onto_pdf(doc, original)
    assert len(PdfReader(io.BytesIO(out)).pages) == 2
    for n, source in enumerate((0, 2)):
        assert np.array_equal(_render(out, n, page.dpi), _render(original, source, page.dpi))
        assert "Hello," in [w for w, _ in _words(out, tmp_path, n + 1)]
    with pytest.raises(ValueError, match="page 4 of the Document is not in the 3-page original"):
        third.pages[0].index = 3
        onto_pdf(Document(pages=[third.pages[0]]), original)


def test_the_whole_file_keeps_its_metadata_and_bookmarks(hand_doc, tmp_path):
    page = hand_doc.pages[0]
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_original(_scan(hand_doc), page.dpi))))
    writer.add_metadata({"/Title": "Quarterly report", "/Author": "Ana"})
    writer.add_outline_item(title="Summary", page_number=0)
    buf = io.BytesIO()
    writer.write(buf)
    out = PdfReader(io.BytesIO(onto_pdf(hand_doc, buf.getvalue())))
    assert out.metadata["/Title"] == "Quarterly report" and out.metadata["/Author"] == "Ana"
    assert [item.title for item in out.outline] == ["Summary"]
    assert "Hello," in out.pages[0].extract_text()


def test_encrypted_original_is_written_decrypted(hand_doc, tmp_path):
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        pytest.fail("qpdf not found: install qpdf (apt-get install qpdf)")
    page = hand_doc.pages[0]
    plain, locked = tmp_path / "plain.pdf", tmp_path / "locked.pdf"
    plain.write_bytes(_original(_scan(hand_doc), page.dpi))
    subprocess.run([qpdf, "--encrypt", "pw", "owner", "256", "--", str(plain), str(locked)], check=True)
    with pytest.raises(ValueError, match="cannot be opened"):
        onto_pdf(hand_doc, locked)
    out = onto_pdf(hand_doc, locked, password="pw")
    assert not PdfReader(io.BytesIO(out)).is_encrypted
    assert "Hello," in [w for w, _ in _words(out, tmp_path)]
    assert np.array_equal(_render(out, dpi=page.dpi), _render(plain.read_bytes(), dpi=page.dpi))


def test_searchable_pdf_picks_the_original_or_the_images(hand_doc, tmp_path, monkeypatch, caplog):
    """A PDF source keeps its own pages; an image source, or a PDF pypdf cannot rewrite, gets the
    rendered images under the text (a warning says why), never no PDF at all."""
    page = hand_doc.pages[0]
    scan = _scan(hand_doc)
    original = tmp_path / "scan.pdf"
    original.write_bytes(_original(scan, page.dpi, rotate=90))
    png = tmp_path / "scan.png"
    scan.save(png)
    kept = searchable_pdf(hand_doc, original, [scan])
    assert kept == onto_pdf(hand_doc, original) and "/Rotate 90" in kept.decode("latin-1")
    assert searchable_pdf(hand_doc, png, [scan]) == to_pdf(hand_doc, [scan])
    assert searchable_pdf(hand_doc, None, [scan]) == to_pdf(hand_doc, [scan])

    def broken(*args, **kwargs):
        raise KeyError("/Kids")

    monkeypatch.setattr(pdf_format, "onto_pdf", broken)
    with caplog.at_level("WARNING", logger="polyocr.formats.pdf"):
        fallback = searchable_pdf(hand_doc, original, [scan])
    assert fallback == to_pdf(hand_doc, [scan])
    assert "could not be kept" in caplog.text and "/Kids" in caplog.text
