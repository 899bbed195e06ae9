"""The HTTP API against real uvicorn servers on loopback.

Mechanics (limits, errors, queueing, temp files) use a stand-in pipeline so they are fast and
exact; ``test_real_pipeline_reads_generated_page`` runs ``polyocr serve`` with the packaged models.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import io
import json
import signal
import socket
import stat
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from polyocr import __version__
from polyocr.document import Document
from polyocr.service.config import CONTENT_TYPES, OUTPUT_FORMATS, ServiceConfig

from .conftest import SlowPipeline, cli_server, png_bytes, run_server

WEIGHTS = Path(__file__).resolve().parents[2] / "src" / "polyocr" / "weights"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("serve-tmp")
    cfg = ServiceConfig(port=0, max_upload_bytes=1 << 20, max_pixels=4_000_000, max_pages=3, log_level="warning",
                        tmp_dir=str(tmp))
    pipeline = SlowPipeline()
    with run_server(cfg, lambda: pipeline) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _read(client: httpx.Client, data: bytes, name: str = "page.png", **fields: str) -> httpx.Response:
    return client.post("/v1/read", files={"file": (name, data, "application/octet-stream")}, data=fields)


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert set(body) == {"code", "message"} and body["message"]
    if code:
        assert body["code"] == code
    return body


def test_health_version_openapi_docs(client: httpx.Client) -> None:
    h = client.get("/health")
    assert h.status_code == 200 and h.json()["status"] == "ok" and h.json()["model_loaded"] is True
    v = client.get("/version").json()
    assert v["polyocr"] == __version__ and v["formats"] == list(OUTPUT_FORMATS)
    files = {name: f for m in v["models"] for name, f in m["files"].items()}
    onnx = WEIGHTS / "model.onnx"
    assert files["model.onnx"]["sha256"] == hashlib.sha256(onnx.read_bytes()).hexdigest()
    assert all(f["matches_manifest"] for f in files.values())
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/read"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["file"]["format"] == "binary"
    assert body["properties"]["format"]["enum"] == list(OUTPUT_FORMATS)
    assert {"413", "415", "422", "429", "503", "504"} <= set(spec["paths"]["/v1/read"]["post"]["responses"])
    for path in ("/", "/docs", "/static/app.js", "/static/style.css"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "'self'" in r.headers["content-security-policy"]
    assert "<script src=\"/static/app.js\"" in client.get("/").text
    missing = client.get("/no/such/page")
    _error(missing, 404, "not_found")


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_every_format_has_its_content_type(client: httpx.Client, fmt: str) -> None:
    r = _read(client, png_bytes(), format=fmt)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPES[fmt][0]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"] == f'inline; filename="page.{CONTENT_TYPES[fmt][1]}"'
    if fmt == "json":
        doc = Document.from_json(r.content)
        assert [ln.text for ln in doc.pages[0].lines] == ["Hello world", "שלום עולם"]
        assert doc.source == "page.png" and doc.pages[0].width == 400
    elif fmt == "text":
        assert r.text == "Hello world\n\nשלום עולם\n"
    elif fmt == "pdf":
        assert r.content.startswith(b"%PDF-") and r.content.rstrip().endswith(b"%%EOF")
    else:
        root = ET.fromstring(r.content)
        assert "Hello" in "".join(root.itertext()) or b"Hello" in r.content


def test_options_reach_the_reader_and_bad_options_are_422(client: httpx.Client) -> None:
    ok = _read(client, png_bytes(), format="json", lang="en,he", order="xycut", orientation="false", dpi="150",
               page_images="true", accurate="true")
    assert ok.status_code == 200, ok.text
    page = json.loads(ok.content)["pages"][0]
    assert page["image"].startswith("data:image/jpeg;base64,")
    for fields, name in [({"format": "docx"}, "format"), ({"dpi": "abc"}, "dpi"), ({"dpi": "5000"}, "dpi"),
                         ({"lang": "xx"}, "lang"), ({"order": "random"}, "order"),
                         ({"orientation": "maybe"}, "orientation"), ({"accurate": "very"}, "accurate"),
                         ({"raw_confidence": "yes please"}, "raw_confidence"),
                         ({"colour": "red"}, "colour")]:
        body = _error(_read(client, png_bytes(), **fields), 422, "invalid_option")
        assert body["message"].startswith(name), body
    query = client.post("/v1/read?format=bogus", files={"file": ("p.png", png_bytes())})
    _error(query, 422, "invalid_option")


def test_pages_reads_a_selection_and_refuses_pages_past_the_end(client: httpx.Client) -> None:
    import io

    from PIL import Image

    frames = [Image.new("RGB", (300 + 20 * i, 200), "white") for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    tiff = buf.getvalue()
    r = _read(client, tiff, name="scan.tif", format="json", pages="3,2")
    assert r.status_code == 200, r.text
    doc = Document.from_json(r.content)
    assert [(p.index, p.width) for p in doc.pages] == [(1, 320), (2, 340)] and r.headers["x-polyocr-pages"] == "2"
    body = _error(_read(client, tiff, name="scan.tif", pages="2-5"), 422, "invalid_option")
    assert "page 5 asked for, but it has 3 pages" in body["message"] and "scan.tif" in body["message"]
    body = _error(_read(client, tiff, name="scan.tif", pages="1-x"), 422, "invalid_option")
    assert body["message"].startswith("pages:"), body


def test_pdf_upload_to_pdf_keeps_its_own_pages(client: httpx.Client) -> None:
    """A scanned PDF in, format=pdf out: the original's page (to the pixel), its text layer added,
    only the pages asked for."""
    import io

    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    scans = []
    for i in range(2):
        im = Image.new("RGB", (400, 300), "white")
        ImageDraw.Draw(im).rectangle([40 + 20 * i, 30, 240, 60], outline="black", width=3)
        scans.append(im)
    buf = io.BytesIO()
    scans[0].save(buf, format="PDF", resolution=72, save_all=True, append_images=scans[1:])
    original = buf.getvalue()
    r = _read(client, original, name="scan.pdf", format="pdf", pages="2", dpi="72")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.headers["x-polyocr-pages"] == "1"

    def pdf_page(data: bytes, i: int) -> tuple[np.ndarray, str]:
        doc = pdfium.PdfDocument(data)
        try:
            page = doc[i]
            return np.asarray(page.render(scale=1).to_pil().convert("RGB")), page.get_textpage().get_text_range()
        finally:
            doc.close()

    out_img, out_text = pdf_page(r.content, 0)
    src_img, src_text = pdf_page(original, 1)
    assert len(pdfium.PdfDocument(r.content)) == 1
    assert np.array_equal(out_img, src_img) and src_text == ""
    assert "Hello world" in out_text


def test_415_400_and_413(client: httpx.Client, server) -> None:
    _error(_read(client, b"just some text, not an image", "notes.txt"), 415, "unsupported_media_type")
    _error(client.post("/v1/read", content=png_bytes(), headers={"content-type": "text/plain"}), 415,
           "unsupported_media_type")
    truncated = png_bytes(800, 600)
    body = _error(_read(client, truncated[: len(truncated) // 2], "cut.png"), 400, "undecodable")
    assert "cut.png" in body["message"] and str(server.tmp_root) not in body["message"]
    _error(client.post("/v1/read", files={"format": (None, "json")}), 400, "bad_request")  # no file part
    # 413 by size: declared (Content-Length) and streamed (chunked, no length) bodies.
    big = png_bytes() + b"\0" * (1 << 20)
    _error(_read(client, big), 413, "too_large")

    def chunks():
        boundary = b"xyzBOUNDARYxyz"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(40):
            yield b"\0" * 65536
        yield b"\r\n--" + boundary + b"--\r\n"

    streamed = client.post("/v1/read", content=chunks(),
                           headers={"content-type": "multipart/form-data; boundary=xyzBOUNDARYxyz"})
    _error(streamed, 413, "too_large")
    # 413 by pixels (the server allows 4 Mpixels) and by pages (a 4-page TIFF; the limit is 3).
    assert "Mpixel limit" in _error(_read(client, png_bytes(2500, 2000), "huge.png"), 413, "too_large")["message"]
    import io

    from PIL import Image

    buf = io.BytesIO()
    frames = [Image.new("RGB", (50, 50), "white") for _ in range(4)]
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    message = _error(_read(client, buf.getvalue(), "four.tif"), 413, "too_large")["message"]
    assert "3-page limit (read fewer with the pages field)" in message and "--pages" not in message


def test_a_raw_body_is_the_file(client: httpx.Client, server) -> None:
    """`curl --data-binary @page.png -H 'Content-Type: image/png'`: the body is the file, options in
    the query string, the name from Content-Disposition when sent; the same limits and answers."""
    form = _read(client, png_bytes(), format="json")
    for ctype in ("image/png", "application/octet-stream", "image/jpeg; charset=binary"):
        raw = client.post("/v1/read?format=json", content=png_bytes(), headers={"content-type": ctype})
        assert raw.status_code == 200, (ctype, raw.text)
        a, b = Document.from_json(form.content), Document.from_json(raw.content)
        assert b.text == a.text and b.source == "upload", ctype
    named = client.post("/v1/read?format=text", content=png_bytes(),
                        headers={"content-type": "image/png", "content-disposition": 'inline; filename="../../x/scan.png"'})
    assert named.status_code == 200 and named.text == "Hello world\n\nשלום עולם\n"
    assert named.headers["content-disposition"] == 'inline; filename="scan.txt"'
    _error(client.post("/v1/read?format=docx", content=png_bytes(), headers={"content-type": "image/png"}), 422)
    _error(client.post("/v1/read", content=b"", headers={"content-type": "image/png"}), 400, "empty")
    _error(client.post("/v1/read", content=b"plain words", headers={"content-type": "application/octet-stream"}),
           415, "unsupported_media_type")
    _error(client.post("/v1/read", content=png_bytes() + b"\0" * (1 << 20), headers={"content-type": "image/png"}),
           413, "too_large")

    def chunks():
        for _ in range(40):
            yield b"\0" * 65536

    _error(client.post("/v1/read", content=chunks(), headers={"content-type": "application/octet-stream"}),
           413, "too_large")
    spec = client.get("/openapi.json").json()["paths"]["/v1/read"]["post"]
    assert {"multipart/form-data", "application/octet-stream", "application/pdf", "image/*"} <= \
        set(spec["requestBody"]["content"])
    assert {p["name"] for p in spec["parameters"] if p["in"] == "query"} >= {"format", "pages", "lang", "dpi"}
    assert list(server.tmp_root.iterdir()) == []


def test_filename_never_becomes_a_path(client: httpx.Client, tmp_path: Path) -> None:
    target = tmp_path / "pwned.png"
    names = [str(target), "../../../../../../../.." + str(target), "..\\..\\" + target.name, "../../etc/passwd",
             "\x00evil\n.png"]
    for name in names:
        r = _read(client, png_bytes(), name, format="json")
        assert r.status_code == 200, (name, r.text)
        source = Document.from_json(r.content).source
        assert "/" not in source and "\\" not in source and "\n" not in source and "\x00" not in source
        assert '/' not in r.headers["content-disposition"].split("filename=")[1]
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_temp_folder_is_private_and_empty_after_requests(client: httpx.Client, server) -> None:
    # runs after the tests above (module order): every upload, good or bad, has been removed.
    root = server.tmp_root
    assert root.is_dir() and stat.S_IMODE(root.stat().st_mode) == 0o700
    assert _read(client, png_bytes()).status_code == 200
    assert _read(client, b"garbage").status_code == 415
    assert list(root.iterdir()) == []


def test_429_when_saturated(tmp_path: Path) -> None:
    cfg = ServiceConfig(port=0, concurrency=1, queue=0, log_level="warning", tmp_dir=str(tmp_path))
    pipeline = SlowPipeline(delay=1.5)
    with run_server(cfg, lambda: pipeline) as running:
        barrier = threading.Barrier(4)

        def one(_: int) -> httpx.Response:
            barrier.wait()
            with httpx.Client(base_url=running.url, timeout=30) as c:
                return _read(c, png_bytes())

        with cf.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(one, range(4)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 429, 429, 429], codes
        for r in answers:
            if r.status_code == 429:
                _error(r, 429, "busy")
                assert 1 <= int(r.headers["retry-after"]) <= 60
        assert pipeline.calls == 1
        with httpx.Client(base_url=running.url, timeout=30) as c:  # room again once the read is done
            assert _read(c, png_bytes()).status_code == 200
            assert c.get("/health").json()["completed"] == 2
        assert list(running.tmp_root.iterdir()) == []


def test_504_408_on_timeouts_and_the_slot_frees_when_work_ends(tmp_path: Path) -> None:
    cfg = ServiceConfig(port=0, concurrency=1, queue=1, timeout_s=0.5, log_level="warning", tmp_dir=str(tmp_path))
    pipeline = SlowPipeline(delay=1.5)
    with run_server(cfg, lambda: pipeline) as running, httpx.Client(base_url=running.url, timeout=30) as c:
        t0 = time.monotonic()
        _error(_read(c, png_bytes()), 504, "timeout")
        assert time.monotonic() - t0 < 1.4
        # the thread still runs: its slot and upload are held until it really ends
        assert c.get("/health").json()["running"] == 1
        deadline = time.monotonic() + 15  # the work ends ~1.5 s after it started; allow for a loaded machine
        while c.get("/health").json()["running"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.get("/health").json()["running"] == 0
        assert time.monotonic() - t0 >= 1.4  # ...and not before the work really ended
        assert list(running.tmp_root.iterdir()) == []
        # a client that sends half its body and stalls gets 408 and its partial upload is removed
        host, port = running.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/read HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                         b"Content-Type: multipart/form-data; boundary=B\r\n\r\n--B\r\nContent-Disposition: "
                         b'form-data; name="file"; filename="a.png"\r\n\r\n' + png_bytes()[:500])
            raw = b""
            while b"upload_timeout" not in raw:  # headers and body may arrive in separate packets
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
            answer = raw.decode("latin-1")
        assert answer.startswith("HTTP/1.1 408") and "upload_timeout" in answer, answer
        assert list(running.tmp_root.iterdir()) == []


def test_503_when_the_model_does_not_load(tmp_path: Path) -> None:
    def broken():
        raise RuntimeError("no detector weights")

    cfg = ServiceConfig(port=0, log_level="critical", tmp_dir=str(tmp_path))
    with run_server(cfg, broken) as running, httpx.Client(base_url=running.url, timeout=30) as c:
        h = c.get("/health")
        assert h.status_code == 503 and "no detector weights" in h.json()["error"]
        body = _error(_read(c, png_bytes()), 503, "model_unavailable")
        assert "no detector weights" in body["message"]


def test_503_for_queued_work_on_shutdown(tmp_path: Path) -> None:
    cfg = ServiceConfig(port=0, concurrency=1, queue=2, log_level="critical", tmp_dir=str(tmp_path))
    pipeline = SlowPipeline(delay=1.0)
    with run_server(cfg, lambda: pipeline) as running:
        def one(_: int) -> httpx.Response:
            with httpx.Client(base_url=running.url, timeout=30) as c:
                return _read(c, png_bytes())

        with cf.ThreadPoolExecutor(2) as pool:
            first = pool.submit(one, 0)
            while running.state.gate.running == 0:
                time.sleep(0.01)
            second = pool.submit(one, 1)
            while running.state.gate.waiting == 0:
                time.sleep(0.01)
            running.server.handle_exit(signal.SIGTERM, None)  # what Ctrl+C / SIGTERM does
            assert first.result().status_code == 200  # running work finishes
            _error(second.result(), 503, "shutting_down")


def test_real_pipeline_reads_generated_page(generated_page, tmp_path: Path) -> None:
    """`polyocr serve` with the packaged models reads a generated page into non-empty text."""
    image, truth = generated_page
    with cli_server("--concurrency", "1", "--threads", "2") as (url, _), httpx.Client(base_url=url, timeout=300) as c:
        r = c.post("/v1/read", files={"file": (image.name, image.read_bytes())}, data={"format": "json"})
        assert r.status_code == 200, r.text
        doc = Document.from_json(r.content)
        page = doc.pages[0]
        assert (page.width, page.height) == (truth.width, truth.height)
        assert page.lines and doc.text.strip(), "the pipeline read no text"
        words = {w.lower() for w in truth.text.split() if len(w) > 3}
        found = {w.lower() for w in doc.text.split()}
        assert len(words & found) >= 3, (sorted(words)[:20], doc.text[:400])
        t = c.post("/v1/read", files={"file": (image.name, image.read_bytes())}, data={"format": "text"})
        assert t.status_code == 200 and t.headers["content-type"].startswith("text/plain") and t.text.strip()
        raw = c.post("/v1/read?format=text", content=image.read_bytes(), headers={"content-type": "image/jpeg"})
        assert raw.status_code == 200 and raw.text == t.text


def test_per_request_pipelines_share_the_models_and_carry_the_options() -> None:
    """``accurate=true`` gives the request the pipeline ``polyocr read --accurate`` runs, on the same
    loaded models; the default options give the shared pipeline itself."""
    from polyocr.pipeline.pipeline import ACCURATE_LANGUAGES, DEFAULT_REREAD, Pipeline, ReadConfig
    from polyocr.service.config import parse_options
    from polyocr.service.work import Configured

    base = Pipeline(ReadConfig(threads=1))
    configured = Configured(base)
    assert configured(parse_options({})) is base
    accurate = configured(parse_options({"accurate": "true"}))
    assert accurate.config.reread_languages == ACCURATE_LANGUAGES and accurate.config.reread_context == -1
    assert accurate.recognizer is base.recognizer and accurate.detector is base.detector
    plain = configured(parse_options({"accurate": "false", "order": "xycut"})).config
    assert plain.reread_languages == DEFAULT_REREAD and plain.reread_context == 0 and plain.order == "xycut"
    assert plain.calibrated and base.calibration is not None
    raw = configured(parse_options({"raw_confidence": "true"}))
    assert not raw.config.calibrated and raw.calibration is None and raw.recognizer is base.recognizer


def test_a_long_upload_is_read_side_by_side_with_the_same_text(tmp_path: Path) -> None:
    """A multi-page upload is read ``threads`` pages at a time on one-thread sessions, as `polyocr read`
    reads a long PDF; a one-page upload keeps the shared two-thread pipeline. Pages come back in order,
    each with the text the two-thread pipeline reads on its own."""
    from polyocr.pipeline.pipeline import Pipeline, ReadConfig

    samples = Path(__file__).resolve().parents[2] / "samples"
    frames = [Image.open(samples / f"{name}.jpg").convert("RGB").crop((0, 0, 1240, 700))
              for name in ("en-columns", "ru-prose", "ko-form")]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw")
    pipeline = Pipeline(ReadConfig(threads=2))
    cfg = ServiceConfig(port=0, log_level="warning", tmp_dir=str(tmp_path), threads=2)
    with run_server(cfg, lambda: pipeline) as running, httpx.Client(base_url=running.url, timeout=300) as c:
        one = io.BytesIO()
        frames[0].save(one, format="PNG")
        r = c.post("/v1/read", files={"file": ("one.png", one.getvalue())}, data={"format": "json"})
        assert r.status_code == 200, r.text
        assert pipeline._single is None                      # one page: the two-thread sessions
        r = c.post("/v1/read", files={"file": ("scan.tif", buf.getvalue())}, data={"format": "json"})
        assert r.status_code == 200, r.text
        assert pipeline._single is not None                  # several: one-thread sessions, side by side
    doc = Document.from_json(r.content)
    assert [p.index for p in doc.pages] == [0, 1, 2]
    assert [p.text for p in doc.pages] == [pipeline.read_image(np.asarray(f)).text for f in frames]
