"""The bad-input corpus (tests/pipeline/badinputs.py) sent to a real ``polyocr serve``.

The CLI promises one clear line for every bad file; the service promises the same in HTTP terms:
the right status (from ``InputError.kind``, not from the words of the message), a JSON error body
with a one-line message, never a 500 or a traceback, and a server still healthy afterwards. The
server runs the packaged Pipeline (it reads these small pages in a fraction of a second), so the
files that must be read (EXIF-rotated, 16-bit, CMYK, palette, ...) are really read, upright.
"""

from __future__ import annotations

import ast
import difflib
import os
import stat
import sys
import time
from pathlib import Path

import httpx
import pytest

from polyocr.document import Document
from polyocr.pipeline import inputs
from polyocr.pipeline.inputs import INPUT_ERROR_KINDS, InputError, InputLimits, load_pages
from polyocr.service.config import ServiceConfig
from polyocr.service.work import _input_problem

from .conftest import run_server

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))
from badinputs import write_corpus  # noqa: E402

MAX_PAGES = 100  # the server's --max-pages: the corpus's 1000-page PDF is over it
TEXT = "Hello polyocr 2024"  # the line on every image page of the corpus (badinputs.text_image)

# Every uploadable corpus file: (InputError.kind from load_pages with max_pages=100 or None when it
# reads, HTTP status, error code). Stated here, not derived from the service's own table.
EXPECTED: dict[str, tuple[str | None, int, str | None]] = {
    "empty.png": ("empty", 400, "empty"),
    "truncated.png": ("corrupt", 400, "undecodable"),
    "truncated.jpg": ("corrupt", 400, "undecodable"),
    "notes.png": ("unsupported", 415, "unsupported_media_type"),
    "bomb.png": ("too_large", 413, "too_large"),
    "encrypted.pdf": ("encrypted", 400, "encrypted"),
    "no-pages.pdf": ("empty", 400, "empty"),
    "truncated.pdf": ("corrupt", 400, "undecodable"),
    "thousand-pages.pdf": ("too_large", 413, "too_large"),
    "png-named.jpg": (None, 200, None),
    "grey16.png": (None, 200, None),
    "cmyk.jpg": (None, 200, None),
    "cmyk.tif": (None, 200, None),
    "palette.png": (None, 200, None),
    "rgba.png": (None, 200, None),
    "grey-alpha.png": (None, 200, None),
    "page.webp": (None, 200, None),
    "page.bmp": (None, 200, None),
    "page.pgm": (None, 200, None),
    "page.jp2": (None, 200, None),
    "truncated.jp2": ("corrupt", 400, "undecodable"),
    "page.gif": (None, 200, None),
    "page.avif": (None, 200, None),
    "photo.heic": (None, 200, None),
    "exif-rotated.jpg": (None, 200, None),
    "three-pages.tif": (None, 200, None),
    "caf\udce9-latin1-name.png": (None, 200, None),
    "two-pages.pdf": (None, 200, None),
}
# What cannot be uploaded at all: there are no bytes to send (reading a FIFO blocks, a dangling link
# has no target). The CLI test covers them; here they are only checked to be what they claim.
NOT_UPLOADABLE = {"gone.png": "unreadable", "pipe.png": "unreadable"}
PAGES = {"three-pages.tif": 3, "two-pages.pdf": 2}
BOUNDARY = b"polyocr-badinputs-2f9c41d7e0b34a1c8d5e"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str | None]]:
    return write_corpus(tmp_path_factory.mktemp("svc-bad") / "corpus")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from polyocr.pipeline.pipeline import Pipeline, ReadConfig

    cfg = ServiceConfig(port=0, max_pages=MAX_PAGES, threads=1, log_level="warning",
                        tmp_dir=str(tmp_path_factory.mktemp("svc-bad-tmp")))
    with run_server(cfg, lambda: Pipeline(ReadConfig(threads=1))) as running:
        yield running


def _multipart(filename: bytes, data: bytes) -> bytes:
    """A multipart body by hand, so the file name goes out as its raw bytes (latin-1 included)."""
    assert BOUNDARY not in data
    return (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n--" + BOUNDARY + b"--\r\n")


def test_every_raise_site_in_inputs_sets_a_kind() -> None:
    tree = ast.parse(Path(inputs.__file__).read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "InputError"]
    assert len(calls) >= 25
    for call in calls:
        kind = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "kind"), None)
        assert isinstance(kind, ast.Constant) and kind.value in INPUT_ERROR_KINDS, f"line {call.lineno}: no kind"


def test_kind_is_typed_and_the_service_falls_back_without_one() -> None:
    with pytest.raises(ValueError, match="unknown InputError kind"):
        InputError("x", "broken")  # type: ignore[arg-type]
    # A kind wins over the words: "limit" in an unsupported-type message is still 415.
    assert _input_problem(InputError("a.png: limit of nothing", "unsupported"), Path("/p"), "a").status == 415
    # Without a kind (an InputError raised elsewhere), the message decides, as before.
    pages = InputError("/p/upload: 4 pages, over the 3-page limit")
    assert _input_problem(pages, Path("/p/upload"), "a.tif").status == 413
    assert _input_problem(InputError("x: not a supported file type"), Path("/p"), "x").status == 415
    plain = _input_problem(InputError("/p/upload: something odd"), Path("/p/upload"), "scan.png")
    assert (plain.status, plain.code, str(plain)) == (400, "undecodable", "scan.png: something odd")


def test_corpus_kinds_from_load_pages(corpus: list[tuple[Path, str | None]]) -> None:
    names = {p.name for p, _ in corpus}
    assert names == set(EXPECTED) | set(NOT_UPLOADABLE), "classify every corpus file in EXPECTED"
    limits = InputLimits(max_pages=MAX_PAGES)
    for path, message in corpus:
        kind = EXPECTED.get(path.name, (NOT_UPLOADABLE.get(path.name),))[0]
        if kind is None:
            continue
        with pytest.raises(InputError) as err:
            for _ in load_pages(path, limits=limits):
                pass
        assert err.value.kind == kind, (path.name, err.value.kind, str(err.value))
        assert message is None or message in str(err.value), (path.name, str(err.value))


def test_corpus_over_http(corpus: list[tuple[Path, str | None]], server) -> None:
    # The FIFO and the broken link are skipped on purpose, and only those: no upload can carry them.
    skipped = {p.name for p, _ in corpus if not p.is_file()}
    assert skipped == set(NOT_UPLOADABLE)
    for path, _ in corpus:
        if path.name == "pipe.png":
            assert stat.S_ISFIFO(os.lstat(path).st_mode)
        elif path.name == "gone.png":
            assert path.is_symlink() and not path.exists()
    uploads = [(p, m) for p, m in corpus if p.is_file()]
    private = str(server.tmp_root)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for path, message in uploads:
            _, status, code = EXPECTED[path.name]
            body = _multipart(os.fsencode(path.name), path.read_bytes())
            r = client.post("/v1/read", content=body,
                            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY.decode()}"})
            label = (path.name, r.status_code, r.text[:300])
            assert r.status_code != 500 and "Traceback" not in r.text, label
            assert r.status_code == status, label
            if status == 200:
                _check_read(path, r)
                continue
            assert r.headers["content-type"] == "application/json", label
            err = r.json()
            assert set(err) == {"error"} and set(err["error"]) == {"code", "message"}, label
            text = err["error"]["message"]
            assert err["error"]["code"] == code, label
            assert text and "\n" not in text and "\r" not in text and len(text) < 400, label
            assert private not in text, label  # the server's own upload path never leaks
            if path.name == "thousand-pages.pdf":
                assert f"1000 pages, over the {MAX_PAGES}-page limit" in text, label
            elif path.name == "encrypted.pdf":
                assert "encrypted" in text and "--password" not in text, label  # no CLI hint over HTTP
            else:
                assert message is not None and message in text, label
            assert text.startswith(path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")), label
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert health.json()["running"] == 0
    deadline = time.monotonic() + 10  # upload folders are removed when each worker finishes
    while any(server.tmp_root.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(server.tmp_root.iterdir()) == []


def _check_read(path: Path, r: httpx.Response) -> None:
    """A 200 is a Document with every page, upright, and the line really read."""
    assert r.headers["content-type"].startswith("application/json"), path.name
    doc = Document.from_json(r.text)
    assert len(doc.pages) == PAGES.get(path.name, 1), path.name
    assert doc.source == path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if path.suffix == ".pdf":
        return  # badinputs.write_pdf pages are blank images under an invisible text layer
    for page in doc.pages:
        # EXIF orientation applied: the sideways-stored JPEG comes back 1200 wide, 300 high.
        assert (page.width, page.height) == (1200, 300), (path.name, page.width, page.height)
        read = " ".join(line.text for line in page.lines)
        want = TEXT if path.name != "three-pages.tif" else f"Page {page.index + 1} of three"
        score = difflib.SequenceMatcher(None, read, want).ratio()
        assert score >= 0.7, (path.name, read, want, score)


def test_web_page_lists_what_the_reader_takes() -> None:
    """The upload page is static HTML: it cannot import ``inputs.SUPPORTED``, so it is held to it here."""
    html = (Path(inputs.__file__).parents[1] / "service" / "static" / "index.html").read_text(encoding="utf-8")
    assert inputs.SUPPORTED in html
