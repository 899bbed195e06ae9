"""polyocr.pipeline.inputs on real files: every format, every bad input, PDFs with and without text."""

from __future__ import annotations

import io
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from badinputs import BOMB_SIZE, PASSWORD, bomb_png, text_image, write_corpus, write_pdf
from polyocr.document import Document, validate
from polyocr.pipeline.inputs import (SUFFIXES, InputError, InputLimits, PageImage, PageSelection, detect_type,
                                     expand_sources, load_pages)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str | None]]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def _save(img: Image.Image, path: Path, fmt: str, **kw: object) -> Path:
    img.save(path, format=fmt, **kw)
    return path


def test_every_corpus_file_reads_or_fails_with_its_message(corpus: list[tuple[Path, str | None]]) -> None:
    assert len(corpus) >= 24
    for path, expected in corpus:
        if expected is None:
            pages = list(load_pages(path, pdf_text=True))
            assert pages, path
            for i, p in enumerate(pages):
                assert isinstance(p, PageImage) and p.index == i
                assert p.image.mode == "RGB" and p.image.width > 0
            if path.suffix != ".pdf":
                arr = np.asarray(pages[0].image.convert("L"))
                # Ink and paper both survive the conversion: nothing was clipped to white or black.
                assert arr.min() < 60 and arr.max() > 240 and 200 < arr.mean() < 254.5, (path, arr.min(), arr.mean())
        else:
            with pytest.raises(InputError) as err:
                list(load_pages(path))
            message = str(err.value)
            assert expected in message, (path, message)
            assert "\n" not in message and message.startswith(str(path)), message


def test_detect_type_uses_bytes_not_names(tmp_path: Path) -> None:
    img = text_image()
    for fmt, kind in (("PNG", "png"), ("JPEG", "jpeg"), ("TIFF", "tiff"), ("WEBP", "webp"), ("BMP", "bmp")):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        assert detect_type(buf.getvalue()[:1024]) == kind
        wrong = tmp_path / f"page.{'pdf' if kind != 'png' else 'gif'}"
        wrong.write_bytes(buf.getvalue())
        (page,) = load_pages(wrong)
        assert page.image.size == img.size
    assert detect_type(b"%PDF-1.7\n") == "pdf" and detect_type(b"\x00\x00\x01\x00\x01\x00") is None  # an icon
    assert detect_type(b"Plain text, not P6") is None and detect_type(b"P9\n1 1\n") is None
    pdf_named_png = write_pdf(tmp_path / "doc.png", ["hello there"])
    (page,) = load_pages(pdf_named_png, pdf_text=True)
    assert page.text_layer is not None and page.text_layer.text == "hello there"


def test_header_bombs_are_refused_before_decoding(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(bomb_png())
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="refused before decoding"):
        list(load_pages(big))
    # Between our 100-Mpixel limit and PIL's own guard (179 Mpixels): our header check decides.
    mid = tmp_path / "mid.png"
    mid.write_bytes(bomb_png(11_000))
    with pytest.raises(InputError, match=r"11000x11000 = 121 Mpixels, over the 100 Mpixel limit"):
        list(load_pages(mid))
    assert time.perf_counter() - t0 < 2.0  # decoding 2.5 Gpixels would take far longer (and 2.5 GB)
    small = _save(text_image(), tmp_path / "small.png", "PNG")
    with pytest.raises(InputError, match="over the 0 Mpixel limit"):
        list(load_pages(small, limits=InputLimits(max_pixels=10_000)))
    with pytest.raises(InputError, match="MB limit"):
        list(load_pages(small, limits=InputLimits(max_bytes=100)))
    assert BOMB_SIZE == 50_000


def test_pixel_modes_become_rgb_without_clipping(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    (grey,) = load_pages(_save(Image.fromarray(ramp), tmp_path / "g16.png", "PNG"))
    got = np.asarray(grey.image)[:, :, 0].astype(int)
    assert np.abs(got - np.round(ramp / 257)).max() <= 1  # scaled, not clipped at 255

    red = Image.new("RGB", (32, 32), (220, 20, 30))
    for name, fmt in (("red.jpg", "JPEG"), ("red.tif", "TIFF")):
        (page,) = load_pages(_save(red.convert("CMYK"), tmp_path / name, fmt))
        r, g, b = np.asarray(page.image).reshape(-1, 3).mean(0)
        assert r > 180 and g < 70 and b < 70, (name, r, g, b)

    # Transparent pixels over black become white paper; opaque ones keep their colour.
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:10, :, 3] = 255
    rgba[:10, :, 2] = 200
    (page,) = load_pages(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png", "PNG"))
    arr = np.asarray(page.image)
    assert (arr[15] == 255).all() and tuple(arr[5, 5]) == (0, 0, 200)
    la = Image.fromarray(rgba[:, :, 3], "L").convert("LA")
    la.putalpha(Image.fromarray(rgba[:, :, 3]))
    (page,) = load_pages(_save(la, tmp_path / "la.png", "PNG"))
    assert (np.asarray(page.image)[15] == 255).all()

    # White lettering on a see-through image (exported for dark slides) would vanish on white paper:
    # its colours are inverted first, dark lettering on white. Black lettering is left as it is, and
    # so is an image with its own opaque paper, whatever colour its transparent edge would take.
    ink = np.asarray(text_image("White lettering", (500, 80)).convert("L")) < 128
    for colour, lettering in ((255, 0), (0, 0)):
        rgba = np.zeros(ink.shape + (4,), np.uint8)
        rgba[..., :3], rgba[..., 3] = colour, np.where(ink, 255, 0)
        (page,) = load_pages(_save(Image.fromarray(rgba, "RGBA"), tmp_path / f"ink{colour}.png", "PNG"))
        arr = np.asarray(page.image.convert("L"))
        assert (arr[ink] == lettering).all() and (arr[~ink] == 255).all(), colour
    framed = np.full((40, 40, 4), 255, np.uint8)            # white opaque paper, a see-through border
    framed[:4, :, 3] = framed[-4:, :, 3] = 0
    (page,) = load_pages(_save(Image.fromarray(framed, "RGBA"), tmp_path / "framed.png", "PNG"))
    assert (np.asarray(page.image) == 255).all()

    pal = Image.new("P", (10, 10), 1)
    pal.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    pal.putpixel((0, 0), 0)
    (page,) = load_pages(_save(pal, tmp_path / "p.png", "PNG", transparency=0))
    arr = np.asarray(page.image)
    assert tuple(arr[0, 0]) == (255, 255, 255) and tuple(arr[5, 5]) == (10, 200, 10)
    (page,) = load_pages(_save(Image.new("1", (8, 8), 1), tmp_path / "bw.bmp", "BMP"))
    assert page.image.mode == "RGB" and np.asarray(page.image).min() == 255


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = Image.new("RGB", (120, 40), "white")
    upright.paste((255, 0, 0), (0, 0, 20, 20))  # red mark at the top-left of the upright page
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated 90° counter-clockwise; display rotates it back clockwise
    path = _save(upright.transpose(Image.Transpose.ROTATE_90), tmp_path / "rot.jpg", "JPEG", exif=exif, quality=95)
    (page,) = load_pages(path)
    assert page.image.size == (120, 40)
    arr = np.asarray(page.image).astype(int)
    assert arr[5, 5, 0] > 200 and arr[5, 5, 1] < 60 and arr[35, 115].min() > 200


def test_truncated_and_unreadable_files(tmp_path: Path) -> None:
    png = io.BytesIO()
    text_image().save(png, format="PNG")
    data = png.getvalue()
    for cut in (20, 60, len(data) - 30):
        bad = tmp_path / f"cut{cut}.png"
        bad.write_bytes(data[:cut])
        with pytest.raises(InputError, match="damaged or truncated PNG"):
            list(load_pages(bad))
    with pytest.raises(InputError, match="no such file"):
        list(load_pages(tmp_path / "missing.png"))
    with pytest.raises(InputError, match="is a folder"):
        list(load_pages(tmp_path))
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):  # must not block opening it
        list(load_pages(fifo))
    with pytest.raises(InputError, match="dpi must be"):
        list(load_pages(tmp_path / "x.png", dpi=0))


def test_in_memory_sources_and_bytes_paths(tmp_path: Path) -> None:
    img = text_image()
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True)
    (from_bytes,) = load_pages(buf.getvalue())
    assert from_bytes.source == "<bytes>" and np.array_equal(np.asarray(from_bytes.image), np.asarray(img))
    (from_pil,) = load_pages(img.convert("LA"))
    assert from_pil.image.mode == "RGB" and from_pil.image.size == img.size
    arr = np.asarray(img)
    for a in (arr, arr[:, :, 0], arr.astype(np.float32) / 255.0, arr.astype(np.uint16) * 257):
        (page,) = load_pages(a)
        assert np.abs(np.asarray(page.image).astype(int) - arr.astype(int)).max() <= 1
    with pytest.raises(InputError, match="expected an HxW"):
        list(load_pages(np.zeros((4, 4, 2), np.uint8)))
    with pytest.raises(InputError, match="unsupported data"):
        list(load_pages(b"\x00\x01 not an image"))
    name = os.path.join(os.fsencode(tmp_path), b"r\xe9sum\xe9.png")  # Latin-1, invalid UTF-8
    with open(name, "wb") as fh:
        fh.write(buf.getvalue())
    for src in (name, os.fsdecode(name), Path(os.fsdecode(name))):
        (page,) = load_pages(src)
        assert page.source.endswith("r\\xe9sum\\xe9.png")
        page.source.encode("utf-8")  # printable


def test_multipage_tiff_is_lazy_and_limited(tmp_path: Path) -> None:
    frames = [text_image(f"page {i}") for i in range(4)]
    path = tmp_path / "four.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pages = list(load_pages(path))
    assert [p.index for p in pages] == [0, 1, 2, 3]
    assert not np.array_equal(np.asarray(pages[0].image), np.asarray(pages[1].image))
    with pytest.raises(InputError, match="4 pages, over the 3-page limit"):
        next(load_pages(path, limits=InputLimits(max_pages=3)))


def test_gif_pnm_and_jpeg2000_pages(tmp_path: Path) -> None:
    """What scanners and archives hand over besides PNG/JPEG/TIFF: scanimage and pdftoppm write PNM
    (PBM, PGM, PPM; binary or ASCII), archives keep JPEG 2000, old web scans are GIFs. Each is read
    from its bytes whatever its name, to the same pixels as the page it was saved from."""
    img = text_image("Archival scan 1998")
    gray = np.asarray(img.convert("L"))
    cases = {"pbm": ("PPM", img.convert("1"), {}), "pgm": ("PPM", img.convert("L"), {}), "ppm": ("PPM", img, {}),
             "jp2": ("JPEG2000", img, {"irreversible": False}),
             "j2k": ("JPEG2000", img, {"irreversible": False, "no_jp2": True}), "gif": ("GIF", img, {})}
    for ext, (fmt, src, kw) in cases.items():
        path = _save(src, tmp_path / f"page.{ext}", fmt, **kw)
        assert detect_type(path.read_bytes()[:1024]) in ("pnm", "jp2", "gif"), ext
        misnamed = tmp_path / f"misnamed-{ext}.png"
        misnamed.write_bytes(path.read_bytes())
        for source in (path, misnamed, path.read_bytes()):
            (page,) = load_pages(source)
            got = np.asarray(page.image.convert("L")).astype(int)
            assert page.image.mode == "RGB" and page.image.size == img.size, ext
            # lossless formats give the pixels back; a bilevel PBM is the page thresholded
            assert np.abs(got - gray).mean() < (40 if ext == "pbm" else 2), ext
    ascii_pgm = tmp_path / "ascii.pgm"
    ascii_pgm.write_bytes(b"P2\n# a comment\n3 2\n255\n0 128 255\n255 128 0\n")
    (page,) = load_pages(ascii_pgm)
    assert np.asarray(page.image)[:, :, 0].tolist() == [[0, 128, 255], [255, 128, 0]]
    sixteen = tmp_path / "deep.pgm"           # 16-bit PGM: scaled, not clipped to white
    sixteen.write_bytes(b"P5\n2 1\n65535\n" + np.array([0, 32768], ">u2").tobytes())
    (page,) = load_pages(sixteen)
    assert np.asarray(page.image)[0, :, 0].tolist() == [0, 128]
    frames = [text_image(f"frame {i}").convert("L") for i in range(3)]   # an animated GIF: its frames are pages
    frames[0].save(tmp_path / "three.gif", save_all=True, append_images=frames[1:])
    pages = list(load_pages(tmp_path / "three.gif"))
    assert [p.index for p in pages] == [0, 1, 2]
    assert not np.array_equal(np.asarray(pages[0].image), np.asarray(pages[1].image))
    assert [p.index for p in load_pages(tmp_path / "three.gif", pages=PageSelection.parse("2-"))] == [1, 2]
    truncated = tmp_path / "cut.jp2"
    truncated.write_bytes((tmp_path / "page.jp2").read_bytes()[:400])
    with pytest.raises(InputError, match="cut.jp2: damaged or truncated JPEG 2000"):
        list(load_pages(truncated))
    assert {".gif", ".pgm", ".ppm", ".pnm", ".pbm", ".jp2", ".j2k", ".avif", ".heic"} <= set(SUFFIXES)


def test_avif_and_heic_photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Phones save HEIC (and some AVIF): read from their bytes, upright, or refused with what to
    install when the optional HEIC decoder is missing; other ISO media files (an MP4) are not images."""
    import pillow_heif   # installed by `make setup` (polyocr[heic]); a missing plugin must fail here, loudly

    pillow_heif.register_heif_opener()
    img = text_image("Photo of a page 2025")
    gray = np.asarray(img.convert("L")).astype(int)
    for ext, fmt in (("avif", "AVIF"), ("heic", "HEIF")):
        path = _save(img, tmp_path / f"photo.{ext}", fmt, quality=90)
        assert detect_type(path.read_bytes()[:1024]) == ext
        misnamed = tmp_path / f"photo-{ext}.jpg"
        misnamed.write_bytes(path.read_bytes())
        for source in (path, misnamed, path.read_bytes()):
            (page,) = load_pages(source)
            assert page.image.size == img.size, ext
            assert np.abs(np.asarray(page.image.convert("L")).astype(int) - gray).mean() < 4, ext
    exif = Image.Exif()
    exif[0x0112] = 6                               # stored sideways, "rotate 90° clockwise to display"
    sideways = _save(img.transpose(Image.Transpose.ROTATE_90), tmp_path / "sideways.heic", "HEIF", exif=exif.tobytes())
    (page,) = load_pages(sideways)
    assert page.image.size == img.size
    frames = [text_image(f"shot {i}") for i in range(3)]   # a HEIC of several images: each is a page, as in a TIFF
    frames[0].save(tmp_path / "burst.heic", save_all=True, append_images=frames[1:], quality=90)
    pages = list(load_pages(tmp_path / "burst.heic"))
    assert [p.index for p in pages] == [0, 1, 2]
    for p, f in zip(pages, frames):
        assert np.abs(np.asarray(p.image.convert("L")).astype(int) - np.asarray(f.convert("L")).astype(int)).mean() < 4
    assert [p.index for p in load_pages(tmp_path / "burst.heic", pages=PageSelection.parse("3"))] == [2]
    with pytest.raises(InputError, match="3 pages, over the 2-page limit"):
        next(load_pages(tmp_path / "burst.heic", limits=InputLimits(max_pages=2)))
    assert detect_type(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") is None        # an MP4
    monkeypatch.setitem(sys.modules, "pillow_heif", None)                   # as if not installed
    with pytest.raises(InputError, match=r"photo.heic: HEIC images need the pillow-heif package") as err:
        list(load_pages(tmp_path / "photo.heic"))
    assert err.value.kind == "unsupported"


def test_pdf_render_and_text_layer_geometry(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "doc.pdf", ["Hello polyocr world", "Second page here"], size=(400, 100), dpi=100)
    # The Document written has its boxes in 100-dpi pixels; read back at 200 dpi they double.
    pages = list(load_pages(path, dpi=200, pdf_text=True))
    assert [p.image.size for p in pages] == [(800, 200), (800, 200)] and pages[0].dpi == 200
    layer = pages[0].text_layer
    assert layer is not None and layer.text == "Hello polyocr world" and layer.meta["text_layer"] == "pdf"
    doc = Document(pages=[p.text_layer for p in pages if p.text_layer])
    assert validate(doc) == []
    (line,) = layer.lines
    assert [w.text for w in line.words] == ["Hello", "polyocr", "world"]
    x0, y0 = line.words[0].polygon[0]
    x1, y1 = line.words[-1].polygon[2]
    step = (0.95 * 400 - 0.05 * 400) / 3  # write_pdf's word layout, in 100-dpi pixels
    assert abs(x0 - 40) <= 2 and abs(y0 - 60) <= 2 and abs(y1 - 140) <= 2
    assert abs(x1 - 2 * (20 + 2 * step + 0.9 * step)) <= 2
    assert pages[1].text_layer.text == "Second page here"
    assert all(p.text_layer is None for p in load_pages(path, dpi=50))


def test_pdf_text_layer_follows_page_rotation(tmp_path: Path) -> None:
    src = write_pdf(tmp_path / "flat.pdf", ["rotated words here"], size=(400, 100))
    pdf = pdfium.PdfDocument(str(src))
    pdf[0].set_rotation(90)
    pdf.save(tmp_path / "rot.pdf")
    pdf.close()
    (page,) = load_pages(tmp_path / "rot.pdf", dpi=72, pdf_text=True)
    assert page.image.size == (100, 400)
    words = page.text_layer.words
    assert [w.text for w in words] == ["rotated", "words", "here"]
    # 90° clockwise: the words now run down the page, in a column near the middle.
    xs = [w.polygon[0][0] for w in words]
    ys = [w.polygon[0][1] for w in words]
    assert max(xs) - min(xs) < 2 and ys == sorted(ys) and 25 <= xs[0] <= 35


def test_encrypted_empty_and_damaged_pdfs(corpus: list[tuple[Path, str | None]]) -> None:
    by_name = {p.name: p for p, _ in corpus}
    enc = by_name["encrypted.pdf"]
    with pytest.raises(InputError, match=r"PDF is encrypted; give its password \(--password\)"):
        list(load_pages(enc))
    with pytest.raises(InputError, match="wrong password"):
        list(load_pages(enc, password="nope"))
    (page,) = load_pages(enc, password=PASSWORD, pdf_text=True)
    assert page.text_layer.text == "Encrypted hello"
    # PDFium keeps its last error across calls; an empty PDF right after must not read as encrypted.
    with pytest.raises(InputError, match="no pages"):
        list(load_pages(by_name["no-pages.pdf"]))
    with pytest.raises(InputError, match="damaged or truncated PDF"):
        list(load_pages(by_name["truncated.pdf"]))


def test_thousand_page_pdf_streams(corpus: list[tuple[Path, str | None]]) -> None:
    path = next(p for p, _ in corpus if p.name == "thousand-pages.pdf")
    t0 = time.perf_counter()
    first = list(itertools.islice(load_pages(path, pdf_text=True), 3))
    assert time.perf_counter() - t0 < 1.0  # the first pages come before the rest is rendered
    assert [p.text_layer.text for p in first] == ["page 1", "page 2", "page 3"]
    n = 0
    for n, page in enumerate(load_pages(path, dpi=72, pdf_text=True), start=1):
        assert page.index == n - 1
    assert n == 1000 and page.text_layer.text == "page 1000"
    with pytest.raises(InputError, match="1000 pages, over the 999-page limit"):
        next(load_pages(path, limits=InputLimits(max_pages=999)))


def test_expand_sources(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    img = text_image()
    for rel in ("b.png", "a.jpg", "sub/c.tif", "sub/deeper/d.PDF", ".hidden/x.png", "sub/.e.png"):
        _save(img, root / rel, "PNG")
    (root / "notes.txt").write_text("not a page")
    (root / "dir.png").mkdir()  # a folder named like an image is walked, not read
    _save(img, root / "dir.png" / "inside.png", "PNG")
    (root / "broken.png").symlink_to(root / "nowhere.png")
    os.mkfifo(root / "fifo.png")
    out = root / "out"
    out.mkdir()
    _save(img, out / "previous-output.png", "PNG")
    errors: list[tuple[str, str]] = []
    found = expand_sources([str(root)], on_error=lambda n, w: errors.append((n, w)), exclude=[out])
    rel = [p.relative_to(root).as_posix() for p in found]
    assert rel == ["a.jpg", "b.png", "dir.png/inside.png", "sub/c.tif", "sub/deeper/d.PDF"]
    assert sorted(w for _, w in errors) == ["broken symbolic link", "not a regular file"]

    listing = tmp_path / "list.txt"
    listing.write_text("# pages to read\nin/b.png\n\nin/sub\nin/missing.png\n" + str(root / "notes.txt") + "\n")
    errors.clear()
    got = expand_sources([f"@{listing}", str(root / "*.jpg"), str(root / "b.png"), str(root / "*.gif"),
                          str(tmp_path / "nope")], on_error=lambda n, w: errors.append((n, w)))
    assert [p.name for p in got] == ["a.jpg", "b.png", "notes.txt", "c.tif", "d.PDF"]  # explicit files kept
    assert sorted(w for _, w in errors) == ["no file matches this pattern", "no such file or folder",
                                            "no such file or folder"]
    assert expand_sources([f"@{tmp_path / 'no-list.txt'}"], on_error=lambda n, w: errors.append((n, w))) == []
    assert "cannot read list file" in errors[-1][1]
    assert expand_sources([str(root)]) == expand_sources([str(root)])  # deterministic


def test_page_selection_parses_and_refuses_clearly() -> None:
    sel = PageSelection.parse(" 7, 1-3 ,10-")
    assert sel.indices(12, "a.pdf") == [0, 1, 2, 6, 9, 10, 11] and str(sel) == "7,1-3,10-"
    assert PageSelection.parse("2-2,2").indices(3, "a.pdf") == [1]
    for bad, why in [("0", "count from 1"), ("3-1", "runs backwards"), ("a", "not a page or range"),
                     ("1,,2", "not a page or range"), ("", "not a page or range"), ("-3", "not a page or range")]:
        with pytest.raises(InputError, match=why) as err:
            PageSelection.parse(bad)
        assert err.value.kind == "invalid"
    for spec, count, page in [("5", 4, 5), ("2-6", 4, 6), ("5-", 4, 5)]:
        with pytest.raises(InputError, match=f"a.pdf: page {page} asked for, but it has {count} pages"):
            PageSelection.parse(spec).indices(count, "a.pdf")


def test_load_pages_reads_only_the_selected_pages(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "five.pdf", [f"page {i + 1}" for i in range(5)])
    frames = [text_image(f"frame {i}", (320 + 40 * i, 80)) for i in range(4)]
    tif = tmp_path / "four.tif"
    frames[0].save(tif, save_all=True, append_images=frames[1:])
    got = list(load_pages(pdf, pdf_text=True, pages=PageSelection.parse("4-,2")))
    assert [p.index for p in got] == [1, 3, 4]
    assert [p.text_layer.text for p in got] == ["page 2", "page 4", "page 5"]
    got = list(load_pages(tif, pages=PageSelection.parse("3")))
    assert [(p.index, p.image.width) for p in got] == [(2, 400)]
    # the page-count limit applies to what is read, not to the document
    assert len(list(load_pages(pdf, limits=InputLimits(max_pages=2), pages=PageSelection.parse("1-2")))) == 2
    with pytest.raises(InputError, match="5 pages, over the 2-page limit"):
        list(load_pages(pdf, limits=InputLimits(max_pages=2)))
    single = text_image("one", (200, 60))
    assert len(list(load_pages(single, pages=PageSelection.parse("1")))) == 1
    for source in (tif, single, np.asarray(single)):
        with pytest.raises(InputError, match="page 6 asked for") as err:
            list(load_pages(source, pages=PageSelection.parse("6")))
        assert err.value.kind == "invalid"
