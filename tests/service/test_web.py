"""The web page in a real headless browser: Debian's chromium driven by Playwright.

Nothing is downloaded: Playwright launches /usr/bin/chromium (``executable_path``), never its own
browser build. The page is served by a real uvicorn server; one test uses the stand-in pipeline
(exact lines: RTL display, hover, downloads), the other ``polyocr serve`` with the packaged models.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from polyocr.document import Document
from polyocr.service.config import ServiceConfig

from .conftest import SlowPipeline, cli_server, png_bytes, run_server

CHROMIUM = os.environ.get("POLYOCR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"chromium not found at {CHROMIUM}: install the Debian package `chromium` "
                    "(listed in packaging/apt-packages.txt; `make setup` installs it)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    yield pg
    context.close()
    # CSP violations and script errors show up here; the expected 415 and 422 answers (a refused file,
    # a page past the end) are logged as failed loads.
    assert [p for p in problems if "status of 415" not in p and "status of 422" not in p] == []


def _download(page: Page, fmt: str) -> bytes:
    with page.expect_download() as info:
        page.click(f"#downloads button[data-format={fmt}]")
    return Path(info.value.path()).read_bytes()


def test_page_shows_lines_rtl_hover_and_downloads(page: Page, tmp_path: Path) -> None:
    cfg = ServiceConfig(port=0, log_level="warning", tmp_dir=str(tmp_path))
    with run_server(cfg, SlowPipeline) as running:
        page.goto(running.url + "/")
        expect(page.locator("#langs input")).to_have_count(8)
        upload = tmp_path / "scan.png"
        upload.write_bytes(png_bytes(600, 400))
        page.set_input_files("#file", str(upload))
        expect(page.locator("#status")).to_contain_text("2 line(s)", timeout=20000)
        lines = page.locator(".line")
        expect(lines).to_have_count(2)
        expect(lines.nth(0).locator(".line-text")).to_have_text("Hello world")
        hebrew = lines.nth(1).locator(".line-text")
        expect(hebrew).to_have_text("שלום עולם")
        expect(hebrew).to_have_attribute("dir", "rtl")
        expect(hebrew).to_have_attribute("lang", "he")
        expect(lines.nth(1).locator(".line-meta")).to_have_text("he · 80%")
        # the page image came back with the JSON and is drawn under the polygons
        href = page.locator("svg.overlay image").get_attribute("href")
        assert href and href.startswith("data:image/jpeg;base64,")
        polys = page.locator("svg.overlay polygon.line-poly")
        expect(polys).to_have_count(2)
        assert polys.nth(0).get_attribute("points").split()[0] == "60,40"  # 0.1 * 600, 0.1 * 400
        lines.nth(1).hover()
        expect(polys.nth(1)).to_have_class("line-poly hot")
        expect(polys.nth(0)).to_have_class("line-poly")
        # downloads: the JSON is the Document (without the embedded preview image), others come from the server
        doc = Document.from_json(_download(page, "json"))
        assert [ln.text for ln in doc.pages[0].lines] == ["Hello world", "שלום עולם"]
        assert doc.pages[0].image == "scan.png"
        assert _download(page, "text").decode("utf-8") == "Hello world\n\nשלום עולם\n"
        assert _download(page, "pdf").startswith(b"%PDF-")
        assert b"<alto" in _download(page, "alto")
        # an unreadable file shows the server's message, not a blank page
        bad = tmp_path / "notes.txt"
        bad.write_text("not an image")
        page.set_input_files("#file", str(bad))
        expect(page.locator("#status")).to_contain_text("415 unsupported_media_type", timeout=20000)
        expect(page.locator("#status")).to_have_class("error")


def test_page_sends_accurate_only_when_ticked(page: Page, tmp_path: Path) -> None:
    """The "accurate" box reaches the server as the option it parses (accurate=true|false)."""
    cfg = ServiceConfig(port=0, log_level="warning", tmp_dir=str(tmp_path))
    upload = tmp_path / "scan.png"
    upload.write_bytes(png_bytes(600, 400))
    with run_server(cfg, SlowPipeline) as running:
        page.goto(running.url + "/")
        expect(page.locator("#accurate")).not_to_be_checked()
        configured, seen = running.state.pipelines, []

        def recording(options):  # the server's per-request pipeline choice, with the options it parsed
            seen.append(options.accurate)
            return configured(options)

        running.state.pipelines = recording
        for tick in (False, True):
            page.locator("#accurate").set_checked(tick)
            page.set_input_files("#file", [])
            page.set_input_files("#file", str(upload))
            expect(page.locator("#status")).to_contain_text("2 line(s)", timeout=20000)
            expect(page.locator("#status")).to_have_class("done")
        assert seen == [False, True]


def test_page_sends_pages_and_shows_a_refusal(page: Page, tmp_path: Path) -> None:
    """The pages box reaches the server as the selection it parses; a page past the end comes back
    as the server's one-line message in the status, not a broken page."""
    import io

    from PIL import Image

    cfg = ServiceConfig(port=0, log_level="warning", tmp_dir=str(tmp_path))
    frames = [Image.new("RGB", (600 + 40 * i, 400), "white") for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    upload = tmp_path / "scan.tif"
    upload.write_bytes(buf.getvalue())
    with run_server(cfg, SlowPipeline) as running:
        page.goto(running.url + "/")
        configured, seen = running.state.pipelines, []

        def recording(options):
            seen.append(str(options.pages) if options.pages is not None else None)
            return configured(options)

        running.state.pipelines = recording
        page.locator("#page-range").fill("3, 1")
        page.set_input_files("#file", str(upload))
        expect(page.locator("#status")).to_contain_text("scan.tif: 2 page(s)", timeout=20000)
        page.locator("#page-range").fill("")
        page.set_input_files("#file", [])
        page.set_input_files("#file", str(upload))
        expect(page.locator("#status")).to_contain_text("scan.tif: 3 page(s)", timeout=20000)
        page.locator("#page-range").fill("2-9")
        page.set_input_files("#file", [])
        page.set_input_files("#file", str(upload))
        expect(page.locator("#status")).to_contain_text("page 9 asked for, but it has 3 pages", timeout=20000)
        expect(page.locator("#status")).to_have_class("error")
        assert seen == ["3,1", None, "2-9"]


def test_page_reads_generated_page_with_real_pipeline(page: Page, generated_page, tmp_path: Path) -> None:
    """Upload a generated page to `polyocr serve` (packaged models); its text appears; the JSON parses."""
    image, truth = generated_page
    with cli_server("--concurrency", "1", "--threads", "2") as (url, _):
        page.goto(url + "/")
        page.set_input_files("#file", str(image))
        expect(page.locator("#status")).to_contain_text("line(s) in", timeout=240000)
        texts = [t for t in page.locator(".line .line-text").all_inner_texts() if t.strip()]
        assert texts, "no text appeared"
        assert page.locator("svg.overlay polygon.line-poly").count() == page.locator(".line").count()
        doc = Document.from_json(_download(page, "json"))
        assert len(doc.pages) == 1 and doc.pages[0].width == truth.width
        assert [ln.text for ln in doc.pages[0].lines] == page.locator(".line .line-text").all_inner_texts()
        assert json.loads(_download(page, "json"))["schema"] == "polyocr.document"
