"""Fixtures for the service tests: real uvicorn servers on loopback, a real generated page.

``run_server`` starts the real app under uvicorn in a background thread on a free port (the
socket is bound first, so there is no port race). Mechanics tests inject ``SlowPipeline``, a
stand-in with the Pipeline's ``read_image`` signature whose run time the test controls; the
tests marked as such use the packaged Pipeline through ``polyocr serve`` in a subprocess.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from PIL import Image

from polyocr.document import Block, Line, Page, Word, quad_from_box
from polyocr.service.config import ServiceConfig
from polyocr.service.server import bind, make_server

ROOT = Path(__file__).resolve().parents[2]
POLYOCR = Path(sys.executable).with_name("polyocr")


class SlowPipeline:
    """A stand-in pipeline: one English and one Hebrew line, after ``delay`` seconds of 'work'."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()

    def read_image(self, image: Any, index: int = 0, dpi: float = 0.0) -> Page:
        with self.lock:
            self.calls += 1
        time.sleep(self.delay)
        w, h = image.size
        en = Line("Hello world", quad_from_box(w * .1, h * .1, w * .6, h * .2), language="en", confidence=.9,
                  words=[Word("Hello", quad_from_box(w * .1, h * .1, w * .3, h * .2)),
                         Word("world", quad_from_box(w * .35, h * .1, w * .6, h * .2))])
        he = Line("שלום עולם", quad_from_box(w * .4, h * .3, w * .9, h * .4), language="he", direction="rtl",
                  confidence=.8)
        page = Page(width=w, height=h, dpi=dpi, index=index, blocks=[
            Block([en], quad_from_box(w * .1, h * .1, w * .6, h * .2)),
            Block([he], quad_from_box(w * .4, h * .3, w * .9, h * .4), language="he")])
        return page.assign_ids()


@dataclass
class Running:
    url: str
    server: Any

    @property
    def state(self) -> Any:
        return self.server._polyocr

    @property
    def tmp_root(self) -> Path:
        return self.state.tmp_root


@contextmanager
def run_server(config: ServiceConfig, factory: Callable[[], Any] | None) -> Iterator[Running]:
    """A real uvicorn server with the real app in a thread; stopped (gracefully) on exit."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = make_server(config, factory)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced by the fixture, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if errors or not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server did not start: {errors}")
        time.sleep(0.02)
    try:
        yield Running(url=f"http://127.0.0.1:{port}", server=server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "server did not shut down"


def png_bytes(width: int = 400, height: int = 300, text: str = "polyocr") -> bytes:
    """A small real PNG (white page, one dark bar), for the mechanics tests."""
    im = Image.new("RGB", (width, height), "white")
    im.paste((30, 30, 30), (width // 10, height // 10, width // 2, height // 10 + max(4, height // 20)))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def generated_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Page]:
    """One page made by the real generator (`polyocr synth pages`): its image and its ground truth."""
    out = tmp_path_factory.mktemp("synth") / "pages"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(POLYOCR), "synth", "pages", "--out", str(out), "--count", "1", "--format", "folder",
                           "--langs", "en", "--workers", "1", "--quiet", "--dpi", "100", "--seed", "11",
                           "--degrade", "clean"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = next(out.glob("000000000.*g"))
    from polyocr.document import Document

    truth = Document.from_json(image.with_suffix(".json").read_text(encoding="utf-8"))
    return image, truth.pages[0]


@contextmanager
def cli_server(*args: str, timeout: float = 180) -> Iterator[tuple[str, subprocess.Popen]]:
    """``polyocr serve --port 0 ARGS`` in a subprocess (the packaged Pipeline); yields its URL."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(POLYOCR), "serve", "--port", "0", "--log-level", "warning", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines: list[str] = []
    url = ""
    try:
        deadline = time.monotonic() + timeout
        assert proc.stderr is not None
        while not url:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError(f"polyocr serve exited ({proc.poll()}): {''.join(lines)[-2000:]}")
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            if m:
                url = m.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError("polyocr serve printed no URL")
        drain = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        drain.start()
        _wait_ready(url, deadline, proc, lines)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(url: str, deadline: float, proc: subprocess.Popen, lines: list[str]) -> None:
    import httpx

    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"polyocr serve exited ({proc.returncode}): {''.join(lines)[-2000:]}")
        try:
            r = httpx.get(f"{url}/health", timeout=5)
            if r.status_code == 200:
                return
            if r.json().get("status") == "error":
                raise RuntimeError(f"polyocr serve could not load the pipeline: {r.json().get('error')}")
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("polyocr serve did not become ready")
        time.sleep(0.2)
