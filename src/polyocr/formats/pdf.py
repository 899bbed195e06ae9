"""Searchable PDF: each page image with an invisible text layer (text render mode 3).

Written by hand (no PDF library): one JPEG image XObject per page and a content stream that
draws the image, then the text with render mode 3 (neither filled nor stroked). The text uses
one composite font (Type0, Identity-H / Identity-V) whose codes are assigned per document, one
per distinct character, with a ``ToUnicode`` CMap mapping every code back to its character, so
text extraction (``pdftotext``, copy/paste, search) returns the Document's text, any code point
included. The font has no embedded glyph program: render mode 3 never draws the glyphs, only
their advances matter, and every glyph is 1 em wide (``DW``/``DW2``), so the writer stretches each
run with ``Tz`` (horizontal) or the font size (vertical) to cover its box.

Placement, in the Document's order (blocks, lines, words; nothing is reordered here):
* left-to-right horizontal lines: one run per word, on the word's box, followed by the line's
  own inter-word gap (a space in English, nothing in CJK) so extractors see word boundaries;
* right-to-left lines: one run per line over the line's box. Its *characters* are the line's
  text in display order (UAX #9 levels from ``polyocr.bidi``), because PDF glyphs advance left
  to right and extractors (poppler's ``pdftotext``, pdf.js) reorder RTL runs back to logical
  order; a logical-order run comes out reversed. Known poppler limits: it picks one direction per
  page, so an RTL line on a mostly-LTR page comes out with its words in display order, and
  spaces next to digits or Latin inside RTL lines can move;
* vertical-rl columns: one run per line in vertical writing mode (Identity-V) down the column.

A PDF that was read keeps its own pages (:func:`onto_pdf`): its vector text, fonts, images,
links and bookmarks stay as they were, and the same text layer, built on a blank page of the
rendered page's size, is laid over each page the Document read, mapped through the page's crop
box and ``/Rotate`` into its user space (pypdf merges the content streams and resources). A page
that already has text of its own (born digital, or searchable from an earlier OCR) is left
without a second layer, so search never finds everything twice.
"""

from __future__ import annotations

import io
import logging
import os
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from polyocr import __version__
from polyocr.bidi import resolve_levels, visual_order
from polyocr.document import Document, Line, Page, polygon_bounds
from polyocr.formats._common import word_gaps

__all__ = ["to_pdf", "onto_pdf", "searchable_pdf"]

log = logging.getLogger(__name__)

_DESCENT = 0.2  # em fractions; the baseline sits at descent above the box bottom


class _Codes:
    """Two-byte codes for the characters used, and the ToUnicode CMap mapping them back."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}

    def hex(self, text: str) -> str:
        out = []
        for ch in text:
            c = self.code.setdefault(ch, len(self.code) + 1)
            out.append(f"{c:04X}")
        return "<" + "".join(out) + ">"

    def to_unicode(self) -> bytes:
        items = sorted((c, ch) for ch, c in self.code.items())
        chunks = []
        for i in range(0, len(items), 100):  # at most 100 entries per bfchar block
            part = items[i:i + 100]
            body = "\n".join(f"<{c:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for c, ch in part)
            chunks.append(f"{len(part)} beginbfchar\n{body}\nendbfchar")
        return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
                "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
                "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
                "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
                + "\n".join(chunks) + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
                ).encode("ascii")


def _visual(text: str) -> str:
    """``text`` (logical order, RTL paragraph) in left-to-right display order, unmirrored."""
    return "".join(text[i] for i in visual_order(resolve_levels(text, "rtl")))


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _jpeg(image: Image.Image | np.ndarray) -> tuple[bytes, int, int, str]:
    img = Image.fromarray(np.asarray(image)) if not isinstance(image, Image.Image) else image
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue(), img.width, img.height, "/DeviceRGB" if img.mode == "RGB" else "/DeviceGray"


def _page_content(page: Page, k: float, codes: _Codes) -> str:
    """The invisible text layer of one page; ``k`` converts pixels to points."""
    H = page.height * k
    ops = ["BT", "3 Tr"]

    def hrun(text: str, box: tuple[float, float, float, float], n_fit: int) -> None:
        x0, y0, x1, y1 = box
        size = max((y1 - y0) * k, 1.0)
        scale = 100.0 * (x1 - x0) * k / (max(n_fit, 1) * size)
        base = H - y1 * k + _DESCENT * size
        ops.append(f"/F1 {_num(size)} Tf {_num(max(scale, 0.1))} Tz 1 0 0 1 {_num(x0 * k)} {_num(base)} Tm "
                   f"{codes.hex(text)} Tj")

    def line_ops(ln: Line) -> None:
        if not ln.text:
            return
        lb = polygon_bounds(ln.polygon)
        if ln.writing_mode == "vertical-rl":
            x0, y0, x1, y1 = lb
            size = max((y1 - y0) * k / max(len(ln.text), 1), 1.0)  # 1 em advance per character
            # vertical origin: top centre of the first glyph
            ops.append(f"/F2 {_num(size)} Tf 100 Tz 1 0 0 1 {_num((x0 + x1) / 2 * k)} {_num(H - y0 * k)} Tm "
                       f"{codes.hex(ln.text)} Tj")
        elif ln.direction == "rtl":
            # One run over the line. Glyphs advance left to right, so the run holds the line in
            # visual order (UAX #9); extractors such as poppler reorder RTL runs back to logical
            # order, which they cannot do across separately placed, jittered word boxes.
            hrun(_visual(ln.text), lb, len(ln.text))
        elif not ln.words:
            hrun(ln.text, lb, len(ln.text))
        else:
            gaps = word_gaps(ln)
            for wi, w in enumerate(ln.words):
                if w.text:
                    hrun(w.text + gaps[wi + 1], polygon_bounds(w.polygon), len(w.text))

    for b in page.blocks:
        for ln in b.lines:
            line_ops(ln)
    ops.append("ET")
    return "\n".join(ops)


def to_pdf(doc: Document, images: Sequence[Image.Image | np.ndarray] | None) -> bytes:
    """A searchable PDF: ``images[i]`` is drawn full-page under page ``i``'s invisible text
    (``images=None``: the text layer alone, on blank pages).

    Page size in points comes from the Document's pixel size and ``Page.dpi`` (72 when unset);
    the image is scaled to it, so its own resolution may differ from the Document's.
    """
    if images is not None and len(images) != len(doc.pages):
        raise ValueError(f"{len(doc.pages)} pages but {len(images)} images")
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes | str) -> int:
        objects.append(body.encode("latin-1") if isinstance(body, str) else body)
        return len(objects)

    def stream(dict_body: str, data: bytes, compress: bool = True) -> int:
        if compress:
            data = zlib.compress(data)
            dict_body += " /Filter /FlateDecode"
        return add(f"<< {dict_body} /Length {len(data)} >>\nstream\n".encode("latin-1") + data + b"\nendstream")

    codes = _Codes()
    catalog = add("")  # filled in at the end
    pages_obj = add("")
    font_ids = [add(""), add("")]  # /F1 horizontal, /F2 vertical: filled once all codes are known
    page_ids = []
    # walked once, in order: a lazy sequence (inputs.PageImages) decodes every earlier page on each index
    pictures = iter(images) if images is not None else None
    for page in doc.pages:
        k = 72.0 / (page.dpi or 72.0)
        W, H = page.width * k, page.height * k
        content = _page_content(page, k, codes)
        xobject = ""
        if pictures is not None:
            jpeg, iw, ih, cs = _jpeg(next(pictures))
            img = stream(f"/Type /XObject /Subtype /Image /Width {iw} /Height {ih} /ColorSpace {cs} "
                         f"/BitsPerComponent 8 /Filter /DCTDecode", jpeg, compress=False)
            content = f"q {_num(W)} 0 0 {_num(H)} 0 0 cm /Im0 Do Q\n" + content
            xobject = f"/XObject << /Im0 {img} 0 R >> "
        cid = stream("", content.encode("latin-1"))
        page_ids.append(add(f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {_num(W)} {_num(H)}] "
                            f"/Resources << {xobject}/Font << /F1 {font_ids[0]} 0 R "
                            f"/F2 {font_ids[1]} 0 R >> >> /Contents {cid} 0 R >>"))
    tounicode = stream("", codes.to_unicode())
    descriptor = add("<< /Type /FontDescriptor /FontName /PolyOCR-GlyphLess /Flags 4 /FontBBox [0 -200 1000 800] "
                     "/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 800 /StemV 80 >>")
    for fid, (cmap, extra) in zip(font_ids, [("Identity-H", "/DW 1000"), ("Identity-V", "/DW 1000 /DW2 [880 -1000]")]):
        cidfont = add(f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /PolyOCR-GlyphLess "
                      f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                      f"/FontDescriptor {descriptor} 0 R {extra} /CIDToGIDMap /Identity >>")
        objects[fid - 1] = (f"<< /Type /Font /Subtype /Type0 /BaseFont /PolyOCR-GlyphLess /Encoding /{cmap} "
                            f"/DescendantFonts [{cidfont} 0 R] /ToUnicode {tounicode} 0 R >>").encode("latin-1")
    objects[pages_obj - 1] = (f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] "
                              f"/Count {len(page_ids)} >>").encode("latin-1")
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode("latin-1")
    info = add(f"<< /Producer (polyocr {__version__}) /Creator (polyocr) >>")

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode("latin-1") + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("latin-1")
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode("latin-1")
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode("latin-1")
    return bytes(out)


def onto_pdf(doc: Document, original: str | os.PathLike[str] | bytes, password: str | None = None) -> bytes:
    """The PDF ``original`` with ``doc``'s invisible text laid over the pages it read.

    ``doc`` is what ``polyocr read`` made of ``original``: ``Page.index`` names the source page,
    and its pixels are that page rendered (crop box, ``/Rotate`` applied) at ``Page.dpi``. When
    the Document holds every page in order, the whole file is kept (metadata, bookmarks, forms);
    otherwise the output holds the pages read, in the Document's order. Pages that already carry
    text of their own get no second layer. An encrypted original is written decrypted.
    """
    from pypdf import PdfReader, PdfWriter, Transformation
    from pypdf.errors import PdfReadError

    data = bytes(original) if isinstance(original, (bytes, bytearray, memoryview)) else \
        Path(os.fsdecode(original)).read_bytes()
    data, count, has_text = _open_original(data, password, [p.index for p in doc.pages])
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if len(reader.pages) != count:
            raise ValueError(f"pypdf sees {len(reader.pages)} pages where PDFium saw {count}")
    except PdfReadError as exc:
        raise ValueError(f"the original PDF cannot be parsed ({exc})") from None
    layer = PdfReader(io.BytesIO(to_pdf(doc, None)))
    whole = [p.index for p in doc.pages] == list(range(count))
    writer = PdfWriter(clone_from=reader) if whole else PdfWriter()
    for n, page in enumerate(doc.pages):
        target = writer.pages[n] if whole else writer.add_page(reader.pages[page.index])
        if page.index in has_text or not page.lines:
            continue
        overlay = layer.pages[n]
        ctm = _display_to_user(target, float(overlay.mediabox.width), float(overlay.mediabox.height))
        target.merge_transformed_page(overlay, Transformation(ctm), over=True)
    if not whole:
        writer.add_metadata({"/Producer": f"polyocr {__version__}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def searchable_pdf(doc: Document, source: str | os.PathLike[str] | bytes | None,
                   images: Sequence[Image.Image | np.ndarray], password: str | None = None) -> bytes:
    """The searchable PDF for what was read from ``source``: its own pages (:func:`onto_pdf`) when it
    is a PDF, else ``images`` under the text (:func:`to_pdf`). A PDF that PDFium rendered but pypdf
    cannot rewrite still gets a searchable PDF, of its rendered pages, with a warning in the log."""
    if source is not None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            head = bytes(source[:1024])
        else:
            with open(source, "rb") as f:
                head = f.read(1024)
        from polyocr.pipeline.inputs import detect_type   # the one sniffing rule the reader used too

        if detect_type(head) == "pdf":
            try:
                return onto_pdf(doc, source, password)
            except Exception as exc:   # whatever pypdf tripped on, the rendered pages still serve
                log.warning("%s: the original's own pages could not be kept (%s); writing its rendered pages",
                            doc.source or "PDF", " ".join(str(exc).split())[:200] or type(exc).__name__)
    return to_pdf(doc, images)


def _display_to_user(page, width: float, height: float) -> tuple[float, float, float, float, float, float]:
    """The matrix from the page as displayed (``width`` × ``height`` points, origin bottom left: what
    was rendered) to its user space: the crop box's corner and ``/Rotate`` (clockwise) undone."""
    box = page.cropbox
    x0, y0, x1, y1 = float(box.left), float(box.bottom), float(box.right), float(box.top)
    rot = int(page.get("/Rotate", 0) or 0) % 360
    w, h = (x1 - x0, y1 - y0) if rot in (0, 180) else (y1 - y0, x1 - x0)   # displayed size
    sx, sy = w / max(width, 1e-6), h / max(height, 1e-6)   # the render rounds pixels up: < 1 px apart
    if rot == 90:
        return (0.0, sx, -sy, 0.0, x1, y0)
    if rot == 180:
        return (-sx, 0.0, 0.0, -sy, x1, y1)
    if rot == 270:
        return (0.0, -sx, sy, 0.0, x0, y1)
    return (sx, 0.0, 0.0, sy, x0, y0)


def _open_original(data: bytes, password: str | None, indices: Sequence[int]) -> tuple[bytes, int, set[int]]:
    """PDFium's view of the original: the bytes to merge into (an encrypted file decrypted by PDFium,
    so pypdf needs no crypto library), its page count and which of these pages already have text."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        pdf = pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"the original PDF cannot be opened ({exc})") from None
    try:
        count = len(pdf)
        bad = [i + 1 for i in indices if not 0 <= i < count]
        if bad:
            raise ValueError(f"page {bad[0]} of the Document is not in the {count}-page original")
        has_text = set()
        for i in set(indices):
            page = pdf[i]
            textpage = page.get_textpage()
            try:
                if textpage.get_text_range().strip():
                    has_text.add(i)
            finally:
                textpage.close()
                page.close()
        if b"/Encrypt" in data:
            buf = io.BytesIO()
            pdf.save(buf, flags=raw.FPDF_REMOVE_SECURITY)
            data = buf.getvalue()
        return data, count, has_text
    finally:
        pdf.close()
