"""The bad-input corpus: every kind of file a user may hand to ``polyocr read`` or the service.

``write_corpus(folder)`` writes real files (Pillow, pypdfium2, our own PDF writer, qpdf for the
encrypted PDF) and returns ``[(path, expected)]`` where ``expected`` is a substring of the one-line
error the reader must give, or ``None`` when the file must be read. Shared by the CLI tests and
the service tests, so both promise the same behaviour for the same files.

Root can read a chmod-000 file, so "unreadable" entries are made honestly unreadable: a broken
symbolic link and a FIFO (opening it would block forever; it must be refused, not opened).
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["write_corpus", "text_image", "write_pdf", "PASSWORD", "BOMB_SIZE"]

PASSWORD = "s3cret"
BOMB_SIZE = 50_000
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def text_image(text: str = "Hello polyocr 2024", size: tuple[int, int] = (1200, 300), font_size: int = 36) -> Image.Image:
    """A white page with one line of black text (DejaVu Sans, a Debian font the project installs),
    at a body-text size the detector is trained for (a 36 px line on a 1200 px wide page)."""
    img = Image.new("RGB", size, "white")
    font = ImageFont.truetype(_FONT, min(font_size, max(10, size[1] // 3)))
    ImageDraw.Draw(img).text((min(60, size[0] // 16), size[1] // 3), text, fill="black", font=font)
    return img


def write_pdf(path: Path, texts: list[str], size: tuple[int, int] = (320, 80), dpi: float = 72.0) -> Path:
    """A PDF with one page per text: the rendered line as the image plus the invisible text layer."""
    from polyocr.document import Block, Document, Line, Page, Word, quad_from_box
    from polyocr.formats import to_pdf

    pages, images = [], []
    w, h = size
    for i, text in enumerate(texts):
        x0, y0, x1, y1 = w * 0.05, h * 0.3, w * 0.95, h * 0.7
        words, pos = [], x0
        parts = text.split()
        step = (x1 - x0) / max(len(parts), 1)
        for part in parts:
            words.append(Word(part, quad_from_box(pos, y0, pos + step * 0.9, y1)))
            pos += step
        line = Line(text, quad_from_box(x0, y0, x1, y1), words)
        pages.append(Page(w, h, [Block([line], quad_from_box(x0, y0, x1, y1))], dpi=dpi, index=i).assign_ids())
        images.append(Image.new("L", size, 255))
    path.write_bytes(to_pdf(Document(pages), images))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = BOMB_SIZE) -> bytes:
    """A valid-looking PNG header claiming side x side grey pixels, with only a few rows of data."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (side + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def write_corpus(folder: str | os.PathLike[str]) -> list[tuple[Path, str | None]]:
    """Write the whole corpus into ``folder``; returns (path, expected error substring or None)."""
    import numpy as np
    import pypdfium2 as pdfium

    qpdf = shutil.which("qpdf")
    if qpdf is None:
        raise RuntimeError("qpdf is not installed (packaging/apt-packages.txt; `make setup` installs it)")
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, str | None]] = []

    def put(name: str | bytes, data: bytes, expected: str | None) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(name))))
        path.write_bytes(data)
        out.append((path, expected))
        return path

    page = text_image()
    png = _encode(page, "PNG")
    jpeg = _encode(page, "JPEG", quality=90)

    put("empty.png", b"", "empty file")
    put("truncated.png", png[: len(png) // 2], "damaged or truncated PNG")
    put("truncated.jpg", jpeg[: len(jpeg) // 2], "damaged or truncated JPEG")
    put("notes.png", "just some text, not an image\n".encode(), "not a supported file type")
    put("bomb.png", bomb_png(), "refused before decoding")
    put("png-named.jpg", png, None)                       # wrong extension: detected from the bytes
    grey = np.asarray(page.convert("L"), dtype=np.uint16) * 257
    put("grey16.png", _encode(Image.fromarray(grey), "PNG"), None)
    put("cmyk.jpg", _encode(page.convert("CMYK"), "JPEG", quality=90), None)
    put("cmyk.tif", _encode(page.convert("CMYK"), "TIFF"), None)
    pal = page.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    put("palette.png", _encode(pal, "PNG", transparency=0), None)
    rgba = page.convert("RGBA")
    rgba.putalpha(Image.new("L", page.size, 255))
    put("rgba.png", _encode(rgba, "PNG"), None)
    put("grey-alpha.png", _encode(page.convert("LA"), "PNG"), None)
    put("page.webp", _encode(page, "WEBP", quality=90), None)
    put("page.bmp", _encode(page, "BMP"), None)
    put("page.pgm", _encode(page.convert("L"), "PPM"), None)        # what scanimage writes
    jp2 = _encode(page, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[20])
    put("page.jp2", jp2, None)
    put("truncated.jp2", jp2[:300], "damaged or truncated JPEG 2000")
    put("page.gif", _encode(page.convert("P", palette=Image.Palette.ADAPTIVE, colors=8), "GIF"), None)
    put("page.avif", _encode(page, "AVIF", quality=80), None)
    import pillow_heif                                     # polyocr[heic], installed by `make setup`

    pillow_heif.register_heif_opener()
    put("photo.heic", _encode(page, "HEIF", quality=80), None)
    # Stored sideways with EXIF orientation 6 ("rotate 90° clockwise to display").
    exif = Image.Exif()
    exif[0x0112] = 6
    put("exif-rotated.jpg", _encode(page.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif), None)
    frames = [text_image(f"Page {i + 1} of three") for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw")
    put("three-pages.tif", buf.getvalue(), None)
    put(b"caf\xe9-latin1-name.png", png, None)              # not valid UTF-8 on purpose

    plain = write_pdf(root / ".plain.pdf", ["Encrypted hello"])
    enc = root / "encrypted.pdf"
    subprocess.run([qpdf, "--encrypt", PASSWORD, PASSWORD + "-owner", "256", "--", str(plain), str(enc)],
                   check=True, capture_output=True)
    plain.unlink()
    out.append((enc, "encrypted"))
    empty = pdfium.PdfDocument.new()
    buf = io.BytesIO()
    empty.save(buf)
    empty.close()
    put("no-pages.pdf", buf.getvalue(), "no pages")
    good_pdf = write_pdf(root / "two-pages.pdf", ["First page text", "Second page text"])
    out.append((good_pdf, None))
    put("truncated.pdf", good_pdf.read_bytes()[:300], "damaged or truncated PDF")
    out.append((write_pdf(root / "thousand-pages.pdf", [f"page {i + 1}" for i in range(1000)], size=(96, 24)), None))

    # Honestly unreadable, even for root.
    dangling = root / "gone.png"
    dangling.symlink_to(root / "does-not-exist.png")
    out.append((dangling, "broken symbolic link"))
    fifo = root / "pipe.png"
    os.mkfifo(fifo)
    out.append((fifo, "not a regular file"))
    return out
