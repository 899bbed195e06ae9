"""The pages of one source read side by side: order kept, errors where they belong, decoding lazy,
and the real pipeline reading a PDF that way exactly as page by page."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from polyocr.document import Page
from polyocr.pipeline.batch import BatchConfig, read_document, run_batch
from polyocr.pipeline.pages import in_order, side_by_side
from polyocr.pipeline.pipeline import Pipeline, ReadConfig
from badinputs import text_image
from test_batch import InkReader

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class _Gauge:
    """How many calls are inside at once, at most."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def test_in_order_keeps_order_runs_side_by_side_and_pulls_lazily() -> None:
    gauge, pulled, rng = _Gauge(), [], random.Random(3)
    delays = [rng.uniform(0.0, 0.02) for _ in range(12)]

    def items():
        for i in range(12):
            pulled.append(i)
            yield i

    def slow_square(i: int) -> int:
        with gauge:
            time.sleep(delays[i])
        return i * i

    seen = []
    for item, result in in_order(slow_square, items(), workers=2):
        assert len(pulled) <= item + 1 + 4          # at most 2 × workers decoded pages wait
        seen.append((item, result))
    assert seen == [(i, i * i) for i in range(12)] and gauge.most == 2
    gauge.most = 0
    assert [r for _, r in in_order(slow_square, range(5), workers=1)] == [0, 1, 4, 9, 16] and gauge.most == 1


def test_errors_come_where_a_page_by_page_loop_would_raise_them() -> None:
    def fails_on_3(i: int) -> int:
        if i == 3:
            raise ZeroDivisionError("page 3")
        time.sleep(0.005)
        return i

    got = []
    with pytest.raises(ZeroDivisionError, match="page 3"):
        for _, r in in_order(fails_on_3, range(8), workers=2):
            got.append(r)
    assert got == [0, 1, 2]

    def damaged_after_5():
        yield from range(5)
        raise ValueError("page 6 is damaged")

    got = []
    with pytest.raises(ValueError, match="page 6"):
        for _, r in in_order(lambda i: i, damaged_after_5(), workers=2):
            got.append(r)
    assert got == [0, 1, 2, 3, 4]                  # every page before the damaged one is kept


def test_side_by_side_only_for_sources_of_several_pages() -> None:
    for items, threads, want in (([], 2, 1), (["a"], 2, 1), (["a", "b"], 2, 2), (["a", "b", "c"], 1, 1),
                                 (["a", "b", "c"], 4, 4)):
        again, n = side_by_side(iter(items), threads)
        assert (list(again), n) == (items, want)


class GaugedReader(InkReader):
    """InkReader that records which thread count it was built for and how many pages overlap."""

    gauge = _Gauge()
    built: list[int] = []

    def __init__(self, config: ReadConfig) -> None:
        super().__init__(config)
        GaugedReader.built.append(config.threads)

    def read_image(self, image: Image.Image, index: int = 0, dpi: float = 0.0) -> Page:
        with GaugedReader.gauge:
            time.sleep(0.02)
            return super().read_image(image, index, dpi)


def test_a_long_source_is_read_two_pages_at_a_time_on_one_thread_each(tmp_path: Path) -> None:
    frames = [text_image(f"page {i}", (300 + 20 * i, 80)) for i in range(6)]
    frames[0].save(tmp_path / "six.tif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "one.png")
    GaugedReader.built, GaugedReader.gauge = [], _Gauge()
    doc = read_document(tmp_path / "six.tif", ReadConfig(threads=2), factory=GaugedReader)
    assert [p.lines[0].text.split(":")[0] for p in doc.pages] == [f"{300 + 20 * i}x80" for i in range(6)]
    assert [p.index for p in doc.pages] == list(range(6))
    assert GaugedReader.built == [1] and GaugedReader.gauge.most == 2
    GaugedReader.built, GaugedReader.gauge = [], _Gauge()
    read_document(tmp_path / "one.png", ReadConfig(threads=2), factory=GaugedReader)
    assert GaugedReader.built == [2] and GaugedReader.gauge.most == 1   # one page: its two threads
    GaugedReader.built, GaugedReader.gauge = [], _Gauge()
    out = tmp_path / "out"
    summary = run_batch([tmp_path / "six.tif", tmp_path / "one.png"], ReadConfig(threads=2),
                        BatchConfig(out=out, formats=("json", "overlay"), progress=False), factory=GaugedReader)
    assert (summary.ok, summary.pages) == (2, 7)
    assert sorted(GaugedReader.built) == [1, 2] and GaugedReader.gauge.most == 2
    assert len(list(out.glob("six.overlay-*.png"))) == 6
    GaugedReader.built, GaugedReader.gauge = [], _Gauge()
    read_document(tmp_path / "six.tif", ReadConfig(threads=1), factory=GaugedReader)   # --workers 2: one thread
    assert GaugedReader.built == [1] and GaugedReader.gauge.most == 1


def test_the_pipeline_reads_a_pdf_side_by_side_as_it_reads_each_page(tmp_path: Path) -> None:
    images = [Image.open(SAMPLES / f).convert("RGB") for f in ("en-columns.jpg", "ru-prose.jpg", "he-slide.jpg")]
    images[0].save(tmp_path / "three.pdf", save_all=True, append_images=images[1:], resolution=150)
    pipe = Pipeline(ReadConfig(threads=2, dpi=150))
    doc = pipe.read(tmp_path / "three.pdf")
    single = pipe.single_threaded()
    assert single is not pipe and single.config.threads == 1 and single.single_threaded() is single
    assert single.orderer is pipe.orderer and pipe.single_threaded() is single          # built once
    from polyocr.pipeline.inputs import load_pages

    each = [pipe.read_image(p.image, p.index, p.dpi) for p in load_pages(tmp_path / "three.pdf", dpi=150)]
    assert [p.text for p in doc.pages] == [p.text for p in each]
    assert [p.index for p in doc.pages] == [0, 1, 2] and all(p.text.strip() for p in doc.pages)
    assert [p.language for p in doc.pages] == ["en", "ru", "he"]
