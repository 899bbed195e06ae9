"""From "a file the user names" to page images: type detection, decoding, limits, PDF pages.

Everything a user can hand to ``polyocr read`` passes through here, so every way a file can be
wrong ends as an :class:`InputError` with one readable line, never a traceback:

* the type comes from the file's first bytes, not its name (a PNG called ``scan.jpg`` works);
* sizes are checked on the header before any pixel is decoded (a 50000x50000 PNG of a few
  kilobytes is refused without allocating 7.5 GB), and PDF pages before they are rendered;
* pages are produced lazily, one at a time, so a 1,000-page PDF streams in constant memory;
* every image ends as 8-bit RGB with its EXIF orientation applied (16-bit grey, CMYK, palette and
  transparent images included; transparency is composited on white paper).

>>> for page in load_pages("report.pdf", dpi=200):  # doctest: +SKIP
...     print(page.index, page.image.size)
"""

from __future__ import annotations

import glob
import io
import logging
import math
import os
import re
import stat
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence as SequenceABC
from typing import IO, Any, Callable, Iterator, Literal, Sequence, get_args

import numpy as np
from PIL import Image, ImageOps

from polyocr.document import Block, Line, Page, Word, polygon_bounds, quad_from_box

__all__ = ["InputError", "InputErrorKind", "INPUT_ERROR_KINDS", "InputLimits", "PageImage", "PageImages", "PageSelection",
           "load_pages",
           "expand_sources", "detect_type", "display_name", "SUFFIXES", "SUPPORTED"]

log = logging.getLogger(__name__)

# File name suffixes picked up when walking a folder (files named explicitly are read whatever their name).
SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".dib", ".gif",
                      ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".j2k", ".j2c", ".jpf", ".jpx", ".avif", ".heic",
                      ".heif", ".pdf"})
_KIND_NAMES = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "webp": "WebP", "bmp": "BMP", "gif": "GIF",
               "pnm": "PNM", "jp2": "JPEG 2000", "avif": "AVIF", "heic": "HEIC", "pdf": "PDF"}
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "webp": "WEBP", "bmp": "BMP", "gif": "GIF",
                "pnm": "PPM", "jp2": "JPEG2000", "avif": "AVIF", "heic": "HEIF"}
_MULTI_FRAME = ("tiff", "gif", "heic")  # their frames (a HEIC's top-level images, in file order) are pages
SUPPORTED = ", ".join(list(_KIND_NAMES.values())[:-1]) + " or " + list(_KIND_NAMES.values())[-1]  # for messages
# ISO base media files (AVIF, HEIC) name what they hold by brand in their first box
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


InputErrorKind = Literal["unsupported", "corrupt", "too_large", "encrypted", "empty", "unreadable", "invalid"]
INPUT_ERROR_KINDS: tuple[str, ...] = get_args(InputErrorKind)


class InputError(ValueError):
    """A source that cannot be read; the message is one line meant for the user.

    ``kind`` says why, so callers (the HTTP service) can map it to a status without reading
    the message: ``unsupported`` (not a type we read), ``corrupt`` (damaged or truncated),
    ``too_large`` (over a byte, pixel or page limit), ``encrypted`` (PDF password missing, wrong
    or unsupported), ``empty`` (no bytes, pixels or pages), ``unreadable`` (missing, a folder,
    a FIFO, no permission) and ``invalid`` (a bad argument from the caller: dpi, source type).
    ``None`` only for errors raised elsewhere without one.
    """

    def __init__(self, message: str, kind: InputErrorKind | None = None) -> None:
        if kind is not None and kind not in INPUT_ERROR_KINDS:
            raise ValueError(f"unknown InputError kind {kind!r}")
        super().__init__(" ".join(str(message).split()))
        self.kind: InputErrorKind | None = kind

    def __reduce__(self) -> tuple:  # keep the kind across pickling (process pools)
        return (type(self), (str(self), self.kind))


@dataclass(frozen=True)
class InputLimits:
    """What one source may cost before any decoding starts (PIL's own 179-Mpixel guard still applies)."""

    max_bytes: int = 200_000_000       # file or buffer size
    max_pixels: int = 100_000_000      # per page, from the header (images) or page size x dpi (PDF)
    max_pages: int = 2000              # TIFF or GIF frames, HEIC images, or PDF pages


@dataclass(frozen=True)
class PageSelection:
    """Which pages of a PDF, multi-page TIFF, GIF or HEIC to read: inclusive 1-based spans, ``None`` as a span's
    end running to the last page. Pages are read in document order, each once, however the spans
    were written ("7,1-3" reads 1, 2, 3, 7).

    >>> PageSelection.parse("1-3,7,10-").indices(12, "a.pdf")
    [0, 1, 2, 6, 9, 10, 11]
    """

    spans: tuple[tuple[int, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> "PageSelection":
        """``"1-3,7,10-"`` (spaces allowed) → a selection; :class:`InputError` (``invalid``) when malformed."""
        spans: list[tuple[int, int | None]] = []
        for part in str(text).split(","):
            part = part.strip()
            m = re.fullmatch(r"(\d+)\s*(?:(-)\s*(\d+)?)?", part)
            if not m:
                raise InputError(f"pages: {part[:40]!r} is not a page or range (write e.g. 1-3,7,10-)", "invalid")
            first = int(m.group(1))
            last = None if m.group(2) and m.group(3) is None else int(m.group(3) or first)
            if first < 1:
                raise InputError("pages: pages count from 1", "invalid")
            if last is not None and last < first:
                raise InputError(f"pages: {part!r} runs backwards", "invalid")
            spans.append((first, last))
        return cls(tuple(spans))

    def indices(self, count: int, name: str) -> list[int]:
        """The selected 0-based indices of a ``count``-page source; a page past its end is an error
        (``invalid``), not silently skipped, so a typo never passes for a short document."""
        chosen: set[int] = set()
        for first, last in self.spans:
            end = count if last is None else last
            if first > count or end > count:
                raise InputError(f"{name}: page {first if first > count else end} asked for, but it has "
                                 f"{count} page{'s' if count != 1 else ''}", "invalid")
            chosen.update(range(first - 1, end))
        return sorted(chosen)

    def __str__(self) -> str:
        return ",".join(f"{a}-" if b is None else str(a) if a == b else f"{a}-{b}" for a, b in self.spans)


@dataclass
class PageImage:
    """One page ready for the pipeline: 8-bit RGB, upright, plus the PDF's own text when asked for."""

    image: Image.Image
    index: int
    source: str                        # printable name (non-UTF-8 bytes shown as \\xNN)
    dpi: float                         # render dpi for PDF pages, the file's own dpi for images (0 = unknown)
    text_layer: Page | None = field(default=None)


def display_name(source: object) -> str:
    """A printable, UTF-8-safe name for a path (undecodable bytes become ``\\xNN``)."""
    if isinstance(source, bytes):
        raw = source
    elif isinstance(source, (str, os.PathLike)):
        raw = os.fsencode(source)
    else:
        return f"<{type(source).__name__}>"
    return raw.decode("utf-8", "backslashreplace")


def detect_type(head: bytes) -> str | None:
    """The file type from its first bytes: png, jpeg, tiff, webp, bmp, gif, pnm, jp2, avif, heic, pdf,
    or None.

    PNM is what ``scanimage`` and ``pdftoppm`` write by default (PBM, PGM, PPM; binary or ASCII);
    jp2 is JPEG 2000 in its JP2 box file or as a bare codestream (archival scans); heic is what
    phones save photos as (decoded by the optional pillow-heif, ``polyocr[heic]``)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(head) >= 3 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3] in b" \t\r\n#":
        return "pnm"
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return "jp2"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(max(size, 16), len(head)) - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heic"
    if b"%PDF-" in head[:1024]:  # the spec allows junk before the header
        return "pdf"
    return None


# --------------------------------------------------------------------------------------------
# sources


@dataclass
class _Source:
    name: str
    kind: str
    path: str | None = None            # a filesystem path (str, possibly with surrogate escapes)
    data: bytes | None = None


def _open_source(source: str | os.PathLike[str] | bytes, limits: InputLimits, label: str = "<bytes>") -> _Source:
    """Check the file (or buffer) and detect its type; raises InputError for anything unreadable."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if detect_type(data[:1024]) is None and _looks_like_path(data):
            return _open_source(os.fsdecode(data), limits)
        if not data:
            raise InputError(f"{label}: empty input", "empty")
        if len(data) > limits.max_bytes:
            raise InputError(f"{label}: {len(data) / 1e6:.0f} MB, over the {limits.max_bytes / 1e6:.0f} MB limit",
                             "too_large")
        kind = detect_type(data[:1024])
        if kind is None:
            raise InputError(f"{label}: unsupported data (expected {SUPPORTED})", "unsupported")
        return _Source(label, kind, data=data)
    path = os.fspath(source)
    name = display_name(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        why = "broken symbolic link" if os.path.islink(path) else "no such file"
        raise InputError(f"{name}: {why}", "unreadable") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot open ({exc.strerror or exc})", "unreadable") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{name}: is a folder, not a file", "unreadable")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{name}: not a regular file", "unreadable")
    if st.st_size == 0:
        raise InputError(f"{name}: empty file (0 bytes)", "empty")
    if st.st_size > limits.max_bytes:
        raise InputError(f"{name}: {st.st_size / 1e6:.0f} MB, over the {limits.max_bytes / 1e6:.0f} MB limit",
                         "too_large")
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})", "unreadable") from None
    kind = detect_type(head)
    if kind is None:
        raise InputError(f"{name}: not a supported file type (expected {SUPPORTED})", "unsupported")
    return _Source(name, kind, path=path)


def _looks_like_path(data: bytes) -> bool:
    return 0 < len(data) < 4096 and b"\x00" not in data and os.path.lexists(data)


# --------------------------------------------------------------------------------------------
# pixels


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode → 8-bit RGB; transparency over white (light lettering on a see-through image
    inverted first), 16-bit and float scaled, not clipped."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        top = float(arr.max()) if arr.size else 0.0
        if mode == "F" and top <= 1.0:
            arr = arr * 255.0
        elif top > 255.0:
            arr = arr * (255.0 / (65535.0 if top <= 65535.0 else top))
        im = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
        mode = "L"
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("PA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "LA":
        im = im.convert("RGBA")
    elif mode == "L" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        paper = Image.new("RGB", im.size, (255, 255, 255))
        drawn = ImageOps.invert(im.convert("RGB")) if _light_ink(im) else im
        paper.paste(drawn, mask=im.getchannel("A"))
        return paper
    return im if im.mode == "RGB" else im.convert("RGB")


def _light_ink(im: Image.Image) -> bool:
    """Whether a transparent image is mostly see-through and what it draws is light: white lettering
    exported for dark slides or video. Over white paper it would vanish, so its colours are inverted
    first (dark lettering on white, what the models read best; a white-on-black line reads worse).
    An image with its own opaque paper is left as it is."""
    alpha = np.asarray(im.getchannel("A"))
    if not alpha.size or (alpha < 128).mean() <= 0.5:
        return False
    weight = alpha.astype(np.float64)
    return float((np.asarray(im.convert("L"), np.float64) * weight).sum() / max(weight.sum(), 1.0)) > 160


def _from_array(arr: np.ndarray) -> Image.Image:
    """An HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA) array of uint8/uint16/bool/float → RGB image."""
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise InputError(f"<array>: expected an HxW, HxWx3 or HxWx4 array, got shape {a.shape}", "unsupported")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16:
        a = (a.astype(np.float64) / 257.0).round().astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        scale = 255.0 if float(np.nanmax(a)) <= 1.0 else 1.0
        a = np.clip(np.nan_to_num(a) * scale, 0, 255).round().astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    mode = "L" if a.ndim == 2 else ("RGB" if a.shape[2] == 3 else "RGBA")
    return _to_rgb(Image.fromarray(np.ascontiguousarray(a), mode))


def _check_pixels(name: str, width: int, height: int, limits: InputLimits, what: str = "image") -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{name}: {what} has no pixels ({width}x{height})", "empty")
    if width * height > limits.max_pixels:
        raise InputError(f"{name}: {what} is {width}x{height} = {width * height / 1e6:.0f} Mpixels, over the "
                         f"{limits.max_pixels / 1e6:.0f} Mpixel limit (refused before decoding)", "too_large")


def _image_dpi(im: Image.Image) -> float:
    dpi = im.info.get("dpi")
    try:
        value = float(dpi[0]) if isinstance(dpi, tuple) else 0.0
    except (TypeError, ValueError):
        return 0.0
    return value if 50.0 <= value <= 2400.0 else 0.0


def _chosen(name: str, n: int, pages: PageSelection | None, limits: InputLimits) -> Sequence[int]:
    """The indices to read of an ``n``-page source; the page limit applies to them, not to ``n``."""
    chosen = pages.indices(n, name) if pages is not None else range(n)
    if len(chosen) > limits.max_pages:
        raise InputError(f"{name}: {len(chosen)} pages, over the {limits.max_pages}-page limit"
                         f"{'' if pages is not None else ' (read fewer with --pages)'}", "too_large")
    return chosen


def _heif_decoder(name: str) -> None:
    """Pillow reads HEIC only through the pillow-heif plugin, an optional install (its wheels bundle
    libheif, libde265 and x265 under LGPL/GPL terms, so the choice is the user's)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise InputError(f"{name}: HEIC images need the pillow-heif package: pip install 'polyocr[heic]' "
                         "(or save the photo as JPEG)", "unsupported") from None
    register_heif_opener()


def _image_pages(src: _Source, limits: InputLimits, pages: PageSelection | None = None) -> Iterator[PageImage]:
    kind = _KIND_NAMES[src.kind]
    if src.kind == "heic":
        _heif_decoder(src.name)
    fp: IO[bytes] | str = src.path if src.path is not None else io.BytesIO(src.data or b"")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fp, formats=[_PIL_FORMATS[src.kind]])
    except Image.DecompressionBombError as exc:
        raise InputError(f"{src.name}: {kind} too large, refused before decoding ({exc})", "too_large") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{src.name}: damaged or truncated {kind} ({_reason(exc)})", "corrupt") from None
    with im:
        n = getattr(im, "n_frames", 1) if src.kind in _MULTI_FRAME else 1
        for i in _chosen(src.name, n, pages, limits):
            try:
                if i:
                    im.seek(i)
                _check_pixels(src.name, im.width, im.height, limits, f"page {i + 1}" if n > 1 else "image")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    im.load()
                    upright = ImageOps.exif_transpose(im)
                rgb = _to_rgb(upright)
            except InputError:
                raise
            except Image.DecompressionBombError as exc:
                raise InputError(f"{src.name}: {kind} too large ({exc})", "too_large") from None
            except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
                where = f" page {i + 1}" if n > 1 else ""
                raise InputError(f"{src.name}:{where} damaged or truncated {kind} ({_reason(exc)})",
                                 "corrupt") from None
            yield PageImage(image=rgb, index=i, source=src.name, dpi=_image_dpi(im))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# --------------------------------------------------------------------------------------------
# PDF


def _pdf_pages(src: _Source, dpi: float, pdf_text: bool, limits: InputLimits,
               password: str | None, pages: PageSelection | None = None) -> Iterator[PageImage]:
    import pypdfium2 as pdfium

    # A file handle, not the path: pypdfium2 encodes str paths as UTF-8, which fails for
    # non-UTF-8 file names; the handle is also read lazily, page by page.
    handle: IO[bytes] | bytes = open(src.path, "rb") if src.path is not None else (src.data or b"")
    try:
        pdf = pdfium.PdfDocument(handle, password=password, autoclose=src.path is not None)
    except pdfium.PdfiumError as exc:
        if not isinstance(handle, bytes):
            handle.close()
        raise _pdf_load_error(src, password, getattr(exc, "err_code", None), exc) from None
    try:
        n = len(pdf)
        if n == 0:
            raise InputError(f"{src.name}: PDF has no pages", "empty")
        scale = dpi / 72.0
        for i in _chosen(src.name, n, pages, limits):
            yield _pdf_page(pdf, i, src.name, dpi, scale, pdf_text, limits)
    finally:
        pdf.close()


def _pdf_load_error(src: _Source, password: str | None, code: int | None, exc: Exception) -> InputError:
    """Why PDFium refused the document, as a user-facing error.

    PDFium's last-error code is not reset by a successful or silent failure (a 0-page document
    fails without setting it), so a code left over from an earlier encrypted file would be
    misread; the file's own bytes decide instead: an ``/Encrypt`` entry (always in the uncompressed
    trailer or xref-stream dictionary) means encrypted, a page tree with only ``/Count 0`` means empty.
    """
    import pypdfium2.raw as raw

    data = src.data
    if data is None:
        try:
            data = Path(src.path or "").read_bytes()
        except OSError:
            data = b""
    if b"/Encrypt" in data:
        if password is None:
            return InputError(f"{src.name}: PDF is encrypted; give its password (--password)", "encrypted")
        return InputError(f"{src.name}: wrong password for this encrypted PDF", "encrypted")
    if code == raw.FPDF_ERR_SECURITY:
        return InputError(f"{src.name}: PDF uses an unsupported security handler", "encrypted")
    if re.search(rb"/Count\s*0\b", data) and not re.search(rb"/Count\s*[1-9]", data):
        return InputError(f"{src.name}: PDF has no pages", "empty")
    return InputError(f"{src.name}: damaged or truncated PDF ({_reason(exc)})", "corrupt")


def _pdf_page(pdf, i: int, name: str, dpi: float, scale: float, pdf_text: bool, limits: InputLimits) -> PageImage:
    import pypdfium2 as pdfium

    try:
        page = pdf[i]
    except pdfium.PdfiumError as exc:
        raise InputError(f"{name}: page {i + 1} cannot be read ({_reason(exc)})", "corrupt") from None
    try:
        w_pt, h_pt = page.get_size()
        # pypdfium2 sizes the bitmap as ceil(size * scale); the limit is checked on the same numbers.
        width, height = math.ceil(w_pt * scale), math.ceil(h_pt * scale)
        if width * height > limits.max_pixels:
            raise InputError(f"{name}: page {i + 1} would be {width}x{height} px at {dpi:g} dpi, over the "
                             f"{limits.max_pixels / 1e6:.0f} Mpixel limit (lower --dpi)", "too_large")
        _check_pixels(name, width, height, limits, f"page {i + 1}")
        try:
            bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=False)
            image = _to_rgb(bitmap.to_pil()).copy()
            bitmap.close()
        except pdfium.PdfiumError as exc:
            raise InputError(f"{name}: page {i + 1} cannot be rendered ({_reason(exc)})", "corrupt") from None
        text = _text_layer(page, i, width, height, dpi) if pdf_text else None
        return PageImage(image=image, index=i, source=name, dpi=float(dpi), text_layer=text)
    finally:
        page.close()


def _text_layer(page, index: int, width: int, height: int, dpi: float) -> Page:
    """The PDF's own text as a Page: words split at spaces, lines at line breaks, pixel boxes."""
    import ctypes

    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    dx, dy = ctypes.c_int(), ctypes.c_int()

    def to_px(x: float, y: float) -> tuple[float, float]:
        # The page's display matrix: handles /Rotate and non-zero MediaBox origins.
        raw.FPDF_PageToDevice(page, 0, 0, width, height, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        return float(min(max(dx.value, 0), width)), float(min(max(dy.value, 0), height))

    lines: list[list[tuple[str, tuple[float, float, float, float]]]] = []  # per line: (word text, box)
    words: list[tuple[str, tuple[float, float, float, float]]] = []
    chars: list[str] = []
    box: list[float] = []

    def end_word() -> None:
        if chars and box:
            words.append(("".join(chars), (box[0], box[1], box[2], box[3])))
        chars.clear()
        box.clear()

    def end_line() -> None:
        end_word()
        if words:
            lines.append(list(words))
        words.clear()

    try:
        for c in range(textpage.count_chars()):
            ch = chr(raw.FPDFText_GetUnicode(textpage, c) or 0x20)
            if ch in "\r\n\u2028\u2029":
                end_line()
                continue
            if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs", "Cn"):
                end_word()
                continue
            left, bottom, right, top = textpage.get_charbox(c, loose=True)
            (x0, y0), (x1, y1) = to_px(left, top), to_px(right, bottom)
            xs, ys = sorted((x0, x1)), sorted((y0, y1))
            if box:
                box[:] = [min(box[0], xs[0]), min(box[1], ys[0]), max(box[2], xs[1]), max(box[3], ys[1])]
            else:
                box[:] = [xs[0], ys[0], xs[1], ys[1]]
            chars.append(ch)
        end_line()
    finally:
        textpage.close()
    return _group_lines(lines, index, width, height, dpi)


def _group_lines(lines: list[list[tuple[str, tuple[float, float, float, float]]]], index: int, width: int,
                 height: int, dpi: float) -> Page:
    """Lines → blocks: a line joins the block above it when it is close below and overlaps it sideways."""
    blocks: list[Block] = []
    prev: tuple[float, float, float, float] | None = None
    for raw_words in lines:
        wlist = [Word(unicodedata.normalize("NFC", t), quad_from_box(*b)) for t, b in raw_words]
        wlist = [w for w in wlist if w.text]
        if not wlist:
            continue
        x0, y0, x1, y1 = (min(w.polygon[0][0] for w in wlist), min(w.polygon[0][1] for w in wlist),
                          max(w.polygon[2][0] for w in wlist), max(w.polygon[2][1] for w in wlist))
        text = " ".join(w.text for w in wlist)
        rtl = any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)
        line = Line(text, quad_from_box(x0, y0, x1, y1), wlist, direction="rtl" if rtl else "ltr")
        h = max(y1 - y0, 1.0)
        joins = (prev is not None and blocks and 0 <= y0 - prev[3] < h * 0.8
                 and min(x1, prev[2]) > max(x0, prev[0]))
        if joins:
            blocks[-1].lines.append(line)
        else:
            blocks.append(Block([line], quad_from_box(x0, y0, x1, y1)))
        prev = (x0, y0, x1, y1)
        bx0, by0, bx1, by1 = polygon_bounds([p for ln in blocks[-1].lines for p in ln.polygon])
        blocks[-1].polygon = quad_from_box(bx0, by0, bx1, by1)
    page = Page(width=width, height=height, blocks=blocks, dpi=float(dpi), index=index, meta={"text_layer": "pdf"})
    return page.assign_ids()


# --------------------------------------------------------------------------------------------
# public entry points


def load_pages(source: str | os.PathLike[str] | bytes | Image.Image | np.ndarray, dpi: float = 200,
               pdf_text: bool = False, limits: InputLimits = InputLimits(),
               password: str | None = None, pages: PageSelection | None = None,
               name: str = "<bytes>") -> Iterator[PageImage]:
    """Yield the pages of ``source`` one at a time as upright 8-bit RGB images.

    ``source`` is a path (str, PathLike or, for non-UTF-8 names, bytes), the file's bytes, a PIL
    image or an array (RGB channel order). PDF pages are rendered at ``dpi``; with ``pdf_text`` each
    PDF page also carries the PDF's own text layer as a Page in pixel coordinates. Raises
    :class:`InputError` (a ValueError) for anything that cannot be read, possibly after earlier
    pages were yielded (a damaged page 7 of a TIFF). ``pages`` reads only those pages (a single image
    is page 1); their ``index`` stays the page's place in the source. ``name`` stands for a bytes
    source in messages and ``PageImage.source`` (``<stdin>`` for a piped file).
    """
    if not (isinstance(dpi, (int, float)) and 10 <= dpi <= 1200):
        raise InputError(f"dpi must be between 10 and 1200, got {dpi!r}", "invalid")
    if pages is not None and isinstance(source, (Image.Image, np.ndarray)):
        pages.indices(1, "<image>" if isinstance(source, Image.Image) else "<array>")   # page 1 or an error
    if isinstance(source, Image.Image):
        _check_pixels("<image>", source.width, source.height, limits)
        yield PageImage(image=_to_rgb(ImageOps.exif_transpose(source)), index=0, source="<image>",
                        dpi=_image_dpi(source))
        return
    if isinstance(source, np.ndarray):
        if source.ndim >= 2:
            _check_pixels("<array>", int(source.shape[1]), int(source.shape[0]), limits)
        yield PageImage(image=_from_array(source), index=0, source="<array>", dpi=0.0)
        return
    if not isinstance(source, (str, bytes, bytearray, memoryview, os.PathLike)):
        raise InputError(f"cannot read a {type(source).__name__}: give a path, bytes, a PIL image or an array",
                         "invalid")
    src = _open_source(source, limits, name)
    if src.kind == "pdf":
        yield from _pdf_pages(src, float(dpi), pdf_text, limits, password, pages)
    else:
        yield from _image_pages(src, limits, pages)


class PageImages(SequenceABC):
    """The page images of a source, decoded again on demand (``load_pages`` with the same options):
    for writers that walk them once or may not need them at all (a searchable PDF of a PDF keeps its
    own pages), where holding every page of a long PDF in memory would cost gigabytes."""

    def __init__(self, source: str | os.PathLike[str] | bytes, count: int, **load: Any) -> None:
        self.source, self.count, self.load = source, count, load

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Image.Image]:
        for page in load_pages(self.source, **self.load):
            yield page.image

    def __getitem__(self, i: int) -> Image.Image:  # type: ignore[override]
        for k, image in enumerate(self):
            if k == i:
                return image
        raise IndexError(i)


def expand_sources(items: Sequence[str | os.PathLike[str]], on_error: Callable[[str, str], None] | None = None,
                   exclude: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """Files, folders (recursively, image/PDF suffixes only, hidden entries skipped), globs and
    ``@list.txt`` files (one path per line, relative to the list's folder, ``#`` comments) → files.

    The result is sorted by path bytes and free of duplicates, so a batch is the same on every run.
    Entries that cannot be read (missing, broken links, FIFOs, empty globs) are passed to
    ``on_error(name, reason)`` (default: logged) and left out; they never stop the expansion.
    """
    report = on_error or (lambda name, why: log.warning("skipping %s: %s", name, why))
    skip = {os.path.abspath(os.fspath(e)) for e in exclude}
    found: dict[str, Path] = {}

    def add_file(path: str, explicit: bool) -> None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            report(display_name(path), "broken symbolic link" if os.path.islink(path) else "no such file or folder")
            return
        except OSError as exc:
            report(display_name(path), exc.strerror or str(exc))
            return
        if stat.S_ISDIR(st.st_mode):
            walk(path)
        elif not stat.S_ISREG(st.st_mode):
            report(display_name(path), "not a regular file")
        elif not os.access(path, os.R_OK):
            report(display_name(path), "permission denied")
        elif explicit or os.path.splitext(path)[1].lower() in SUFFIXES:
            found.setdefault(os.path.abspath(path), Path(path))

    def walk(folder: str) -> None:
        if os.path.abspath(folder) in skip:
            return

        def walk_error(exc: OSError) -> None:
            report(display_name(exc.filename or folder), exc.strerror or str(exc))

        for root, dirs, files in os.walk(folder, onerror=walk_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                             and os.path.abspath(os.path.join(root, d)) not in skip)
            for f in sorted(files):
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in SUFFIXES:
                    add_file(os.path.join(root, f), explicit=False)

    def add_item(item: str, base: str | None) -> None:
        if base is not None and not os.path.isabs(item):
            item = os.path.join(base, item)
        if os.path.lexists(item):
            add_file(item, explicit=True)
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                report(display_name(item), "no file matches this pattern")
            for m in matches:
                add_file(m, explicit=not os.path.isdir(m))
        else:
            report(display_name(item), "no such file or folder")

    for entry in items:
        item = os.fsdecode(os.fspath(entry))
        if item.startswith("@") and not os.path.lexists(item):
            listing = item[1:]
            try:
                with open(listing, "rb") as fh:
                    lines = fh.read().decode("utf-8", "surrogateescape").splitlines()
            except OSError as exc:
                report(display_name(listing), f"cannot read list file ({exc.strerror or exc})")
                continue
            base = os.path.dirname(listing) or "."
            for line in lines:
                line = line.strip()
                if line and not line.startswith("#"):
                    add_item(line, base)
        else:
            add_item(item, None)
    return [found[k] for k in sorted(found, key=os.fsencode)]
