"""Batch mechanics on real files: outputs, journal, resume after a crash, failures, workers, Ray.

The reader here is a small real object (``read_image`` → Page from the image's pixels) so the
mechanics are tested without the models; tests/test_cli_read.py runs the real pipeline.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from badinputs import PASSWORD, text_image, write_corpus, write_pdf
from polyocr.document import Block, Document, Line, Page, Word, quad_from_box, validate
from polyocr.pipeline.batch import (JOURNAL_NAME, BatchConfig, Journal, default_factory, output_names,
                                    read_document, run_batch)
from polyocr.pipeline.pipeline import ReadConfig


class InkReader:
    """Reads a page as one word naming its size and ink share: deterministic, cheap, checkable."""

    def __init__(self, config: ReadConfig) -> None:
        self.config = config
        self.calls = 0

    def read_image(self, image: Image.Image, index: int = 0, dpi: float = 0.0) -> Page:
        self.calls += 1
        ink = float((np.asarray(image.convert("L")) < 128).mean())
        text = f"{image.width}x{image.height}:{ink:.4f}"
        w, h = image.size
        box = quad_from_box(w * 0.1, h * 0.1, w * 0.9, h * 0.9)
        line = Line(text, box, [Word(text, box)])
        return Page(w, h, [Block([line], box)], dpi=dpi, index=index).assign_ids()


class Crash(BaseException):
    """Stands in for SIGKILL inside one process: nothing catches it, nothing is cleaned up."""


class CrashingReader(InkReader):
    """Crashes on the page read after ``limit`` of them, counted over every reader of the run (a
    batch has one per thread count: one-page sources, and the pages of longer ones side by side)."""

    limit = 0
    done = 0
    lock = threading.Lock()

    def read_image(self, image: Image.Image, index: int = 0, dpi: float = 0.0) -> Page:
        with CrashingReader.lock:
            if CrashingReader.done >= CrashingReader.limit:
                raise Crash()
            CrashingReader.done += 1
        return super().read_image(image, index, dpi)


class LateCrashReader(InkReader):
    """Crashes on the 3-page TIFF's second page, but only once its third page, read beside it, has
    finished: pages read side by side complete out of order."""

    third_done = threading.Event()

    def read_image(self, image: Image.Image, index: int = 0, dpi: float = 0.0) -> Page:
        page = super().read_image(image, index, dpi)
        if image.size == (400, 80):
            LateCrashReader.third_done.set()
        if image.size == (360, 80):
            assert LateCrashReader.third_done.wait(30), "the third page was not read beside the second"
            raise Crash()
        return page


class PickyReader(InkReader):
    """Fails on wide pages with an ordinary exception (a bug in one stage)."""

    def read_image(self, image: Image.Image, index: int = 0, dpi: float = 0.0) -> Page:
        if image.width > 1000:
            raise ZeroDivisionError("wide pages break this reader")
        return super().read_image(image, index, dpi)


def _folder(root: Path) -> dict[str, Path]:
    """Three single images, a 3-page TIFF, a 2-page PDF and a name clash (a.png / a.pdf)."""
    root.mkdir(parents=True)
    (root / "sub").mkdir()
    files = {}
    for name, size in (("a.png", (300, 80)), ("b.jpg", (400, 90)), ("sub/c.webp", (1200, 100))):
        text_image(name, size).save(root / name)
        files[name] = root / name
    frames = [text_image(f"frame {i}", (320 + 40 * i, 80)) for i in range(3)]
    frames[0].save(root / "sub" / "scan.tif", save_all=True, append_images=frames[1:])
    files["sub/scan.tif"] = root / "sub" / "scan.tif"
    files["a.pdf"] = write_pdf(root / "a.pdf", ["alpha page one", "alpha page two"])
    return files


def _page_events(out: Path) -> Counter:
    return Counter((e["source"], e["index"]) for e in Journal(out / JOURNAL_NAME).entries() if e["event"] == "page")


def test_output_names() -> None:
    names = output_names(["/d/x/a.png", "/d/x/a.pdf", "/d/y/b.tif", "/d/y/c"])
    assert names == {"/d/x/a.png": "x/a.png", "/d/x/a.pdf": "x/a.pdf", "/d/y/b.tif": "y/b", "/d/y/c": "y/c"}
    assert output_names(["/only/one.png"]) == {"/only/one.png": "one"}


def test_batch_writes_every_format(tmp_path: Path) -> None:
    files = _folder(tmp_path / "in")
    out = tmp_path / "out"
    cfg = BatchConfig(out=out, formats=("text", "json", "alto", "pdf", "overlay"), progress=False)
    summary = run_batch(sorted(files.values()), ReadConfig(dpi=100), cfg, factory=InkReader)
    assert (summary.total, summary.ok, summary.failed, summary.exit_code) == (5, 5, 0, 0)
    assert summary.pages == 1 + 1 + 1 + 3 + 2
    doc = Document.from_json((out / "sub" / "scan.json").read_text())
    assert [p.index for p in doc.pages] == [0, 1, 2] and validate(doc) == []
    assert [p.width for p in doc.pages] == [320, 360, 400]
    assert (out / "sub" / "scan.txt").read_text().count("\f") == 2
    assert "<alto" in (out / "a.png.alto.xml").read_text()
    pdf = pdfium.PdfDocument(str(out / "a.pdf.pdf"))
    assert len(pdf) == 2
    pdf.close()
    overlays = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert overlays == ["a.pdf.overlay-0001.png", "a.pdf.overlay-0002.png", "a.png.overlay-0001.png",
                        "b.overlay-0001.png", "sub/c.overlay-0001.png", "sub/scan.overlay-0001.png",
                        "sub/scan.overlay-0002.png", "sub/scan.overlay-0003.png"]
    with Image.open(out / "sub" / "scan.overlay-0002.png") as im:
        assert im.size == (360, 80)
    finished = Journal(out / JOURNAL_NAME).finished()
    assert {e["status"] for e in finished.values()} == {"ok"} and len(finished) == 5
    assert all(n == 1 for n in _page_events(out).values()) and sum(_page_events(out).values()) == 8
    assert not (out / ".polyocr-partial").exists() or not any((out / ".polyocr-partial").rglob("*.json"))
    # --resume with nothing left to do reads nothing; a new format re-runs the sources for it.
    again = run_batch(sorted(files.values()), ReadConfig(dpi=100), BatchConfig(out=out, formats=("text",), resume=True,
                                                                                  progress=False), factory=InkReader)
    assert (again.skipped, again.pages) == (5, 0)
    more = run_batch(sorted(files.values()), ReadConfig(dpi=100), BatchConfig(out=out, formats=("hocr",), resume=True,
                                                                                 progress=False), factory=InkReader)
    assert (more.skipped, more.ok) == (0, 5) and (out / "b.hocr").exists()


def test_crash_then_resume_reads_each_page_once(tmp_path: Path) -> None:
    files = _folder(tmp_path / "in")
    out = tmp_path / "out"
    sources = sorted(files.values())
    cfg = BatchConfig(out=out, formats=("json",), progress=False)
    # Order: a.pdf (2 pages), a.png, b.jpg, sub/c.webp, sub/scan.tif (3 pages): crash inside the TIFF.
    CrashingReader.limit, CrashingReader.done = 2 + 1 + 1 + 1 + 2, 0
    with pytest.raises(Crash):
        run_batch(sources, ReadConfig(dpi=100), cfg, factory=CrashingReader)
    assert not (out / "sub" / "scan.json").exists()  # the unfinished source has no output yet...
    assert sum(_page_events(out).values()) == 7      # ...but its first two pages are checkpointed
    resumed = run_batch(sources, ReadConfig(dpi=100), BatchConfig(out=out, formats=("json",), resume=True,
                                                                    progress=False), factory=InkReader)
    assert (resumed.skipped, resumed.ok, resumed.pages) == (4, 1, 1)
    events = _page_events(out)
    assert sum(events.values()) == 8 and set(events.values()) == {1}
    doc = Document.from_json((out / "sub" / "scan.json").read_text())
    assert [p.lines[0].text.split(":")[0] for p in doc.pages] == ["320x80", "360x80", "400x80"]
    # Without --resume everything is read again.
    fresh = run_batch(sources, ReadConfig(dpi=100), cfg, factory=InkReader)
    assert (fresh.skipped, fresh.pages) == (0, 8)


def test_a_page_finished_beside_a_failing_one_is_kept(tmp_path: Path) -> None:
    files = _folder(tmp_path / "in")
    out = tmp_path / "out"
    LateCrashReader.third_done.clear()
    with pytest.raises(Crash):
        run_batch([files["sub/scan.tif"]], ReadConfig(dpi=100, threads=2),
                  BatchConfig(out=out, formats=("json",), progress=False), factory=LateCrashReader)
    assert sorted(index for _, index in _page_events(out)) == [0, 2]
    resumed = run_batch([files["sub/scan.tif"]], ReadConfig(dpi=100, threads=2),
                        BatchConfig(out=out, formats=("json",), resume=True, progress=False), factory=InkReader)
    assert (resumed.ok, resumed.pages) == (1, 1)      # only the page that failed is read again
    doc = Document.from_json((out / "scan.json").read_text())
    assert [p.lines[0].text.split(":")[0] for p in doc.pages] == ["320x80", "360x80", "400x80"]


def test_one_bad_source_does_not_stop_the_batch(tmp_path: Path) -> None:
    files = _folder(tmp_path / "in")
    corpus = write_corpus(tmp_path / "corpus")
    bad = [p for p, e in corpus if e is not None and p.name not in ("gone.png", "pipe.png")]
    out = tmp_path / "out"
    summary = run_batch([*files.values(), *bad], ReadConfig(dpi=72), BatchConfig(out=out, formats=("json",), progress=False),
                        factory=PickyReader, unreadable=["x.png: no such file or folder"])
    assert summary.failed == len(bad) + 1 + 1 and summary.ok == 4 and summary.exit_code == 1
    assert "failed" in summary.describe()
    finished = Journal(out / JOURNAL_NAME).finished()
    wide = finished[str(files["sub/c.webp"])]
    assert wide["status"] == "error" and "ZeroDivisionError: wide pages break this reader" in wide["message"]
    assert "Traceback" in wide["detail"]
    enc = finished[str(tmp_path / "corpus" / "encrypted.pdf")]
    assert enc["status"] == "error" and "encrypted" in enc["message"]
    # Errors are retried on --resume: with the password the encrypted PDF now reads.
    retry = run_batch([tmp_path / "corpus" / "encrypted.pdf"], ReadConfig(pdf_text=True),
                      BatchConfig(out=out, formats=("text",), resume=True, password=PASSWORD, progress=False),
                      factory=PickyReader)
    assert retry.ok == 1 and (out / "encrypted.txt").read_text() == "Encrypted hello\n"


def test_pipeline_that_cannot_load_stops_the_batch(tmp_path: Path) -> None:
    img = tmp_path / "p.png"
    text_image().save(img)

    def broken(config: ReadConfig) -> InkReader:
        raise FileNotFoundError("detector weights missing")

    with pytest.raises(RuntimeError, match="cannot load the pipeline: FileNotFoundError: detector weights missing"):
        run_batch([img], ReadConfig(), BatchConfig(out=tmp_path / "out", progress=False), factory=broken)
    # A pdf_text run over PDFs never builds the pipeline.
    pdf = write_pdf(tmp_path / "t.pdf", ["text layer only"])
    ok = run_batch([pdf], ReadConfig(pdf_text=True), BatchConfig(out=tmp_path / "out2", progress=False), factory=broken)
    assert ok.ok == 1 and (tmp_path / "out2" / "t.txt").read_text() == "text layer only\n"
    doc = read_document(pdf, ReadConfig(pdf_text=True), factory=broken)
    assert doc.text == "text layer only"


def test_workers_match_single_process(tmp_path: Path) -> None:
    files = _folder(tmp_path / "in")
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        s = run_batch(sorted(files.values()), ReadConfig(dpi=100), BatchConfig(out=out, formats=("json",), workers=workers,
                                                                                  progress=False), factory=InkReader)
        assert s.ok == 5 and s.pages == 8
    for f in (tmp_path / "out1").rglob("*.json"):
        other = tmp_path / "out2" / f.relative_to(tmp_path / "out1")
        assert json.loads(f.read_text())["pages"] == json.loads(other.read_text())["pages"]


def test_ray_backend(tmp_path: Path) -> None:
    import ray  # the 'ray' extra, installed by `make setup`: missing means a failure, not a skip
    import ray.cloudpickle

    # Ray workers do not import the test module by name: ship the reader class by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    files = _folder(tmp_path / "in")
    name = os.path.join(os.fsencode(tmp_path / "in"), b"caf\xe9.png")  # non-UTF-8 names cross Arrow as bytes
    text_image("latin-1 name").save(os.fsdecode(name), format="PNG")
    sources = [*sorted(files.values()), Path(os.fsdecode(name))]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        out = tmp_path / "out"
        s = run_batch(sources, ReadConfig(dpi=100), BatchConfig(out=out, formats=("json", "text"), workers=2,
                                                                   backend="ray", progress=False), factory=InkReader)
    finally:
        ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert (s.ok, s.failed, s.pages) == (6, 0, 9)
    assert len(Document.from_json((out / "sub" / "scan.json").read_text()).pages) == 3
    assert (out / os.fsdecode(b"caf\xe9.txt")).read_text().startswith("1200x300:")
    assert sum(_page_events(out).values()) == 9 and len(Journal(out / JOURNAL_NAME).finished()) == 6


def test_default_factory_is_the_pipeline() -> None:
    from polyocr.pipeline import pipeline

    assert default_factory.__module__ == "polyocr.pipeline.batch" and hasattr(pipeline, "Pipeline")


def test_overlay_draws_blocks_lines_and_order() -> None:
    import io

    from polyocr.formats.overlay import block_colour, render_overlay, to_overlay_png

    def line(x0: float, y0: float, x1: float, y1: float, text: str) -> Line:
        box = quad_from_box(x0, y0, x1, y1)
        return Line(text, box, [Word(text, box)])

    page = Page(600, 400, [
        Block([line(300, 50, 550, 90, "first"), line(300, 110, 550, 150, "second")], quad_from_box(290, 40, 560, 160)),
        Block([line(50, 250, 250, 290, "third")], quad_from_box(40, 240, 260, 300)),
    ]).assign_ids()
    photo = Image.new("RGB", (300, 200), (250, 250, 250))  # half the page's size: scaled up to it
    out = render_overlay(page, photo)
    assert out.size == (600, 400) and out.mode == "RGB"
    arr = np.asarray(out).astype(int)

    def near(colour: tuple[int, int, int], region: np.ndarray) -> bool:
        return bool((np.abs(region - np.array(colour)).sum(-1) < 40).any())

    c0, c1 = block_colour(0), block_colour(1)
    assert c0 != c1
    assert near(c0, arr[38:43, 300:550]) and not near(c1, arr[38:43, 300:550])   # block 0 outline, top edge
    assert near(c1, arr[238:243, 60:250]) and not near(c0, arr[238:243, 60:250])  # block 1 outline
    tinted = arr[70, 420]  # inside line 1: the page colour tinted towards block 0's colour
    assert tinted.tolist() != [250, 250, 250] and near(c0, arr[49:52, 320:540])
    assert (arr[350, 500] == 250).all()  # away from any text the image is untouched
    # Reading-order numbers: labels in the block's colour just left of each line's start corner.
    for (x, y), colour in (((300, 50), c0), ((300, 110), c0), ((50, 250), c1)):
        assert near(colour, arr[y + 2:y + 8, max(0, x - 12):x - 2]), (x, y)
    png = to_overlay_png(page)  # no image: drawn on white paper
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (600, 400)
