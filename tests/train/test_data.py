"""Training data: real-data readers (folders, PAGE-XML, ALTO), shards, mixing, exact batch positions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from polyocr.bidi import to_visual
from polyocr.charset import Charset
from polyocr.train.data import (Batcher, LineSample, Mixture, RealSource, ShardSource, read_alto, read_line_folder,
                                read_page_xml, scan_real)
from render_util import render, tiny_lines, write_shard

LINES = [("Hello world 42", "en", "ltr"), ("שלום עולם 2024", "he", "rtl")]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A page image with two rendered lines pasted at known boxes."""
    root = tmp_path_factory.mktemp("real")
    crops = [render(t, lang, d, size=30) for t, lang, d in LINES]
    page = np.full((300, 600), 255, np.uint8)
    boxes = []
    for crop, (x, y) in zip(crops, [(40, 50), (120, 180)]):
        h, w = crop.shape
        page[y:y + h, x:x + w] = crop
        boxes.append((x, y, x + w, y + h))
    Image.fromarray(page).save(root / "page1.png")
    return root, page, boxes


def test_page_xml(page):
    root, img, boxes = page
    lines = []
    for (t, _, d), (x0, y0, x1, y1) in zip(LINES, boxes):
        pts = f"{x0},{y0} {x1 - 1},{y0} {x1 - 1},{y1 - 1} {x0},{y1 - 1}"
        rd = ' readingDirection="right-to-left"' if d == "rtl" else ""
        lines.append(f'<TextLine id="l{len(lines)}"{rd}><Coords points="{pts}"/><TextEquiv><Unicode>{t}</Unicode></TextEquiv></TextLine>')
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">
 <Page imageFilename="page1.png" imageWidth="600" imageHeight="300">
  <TextRegion id="r0"><Coords points="0,0 599,0 599,299 0,299"/>{''.join(lines)}</TextRegion>
 </Page>
</PcGts>"""
    (root / "page1.page.xml").write_text(xml, encoding="utf-8")
    items = read_page_xml(root / "page1.page.xml")
    assert [it.text for it in items] == [t for t, _, _ in LINES]
    assert [it.box for it in items] == boxes
    assert [it.direction for it in items] == [None, "rtl"]
    src = RealSource([root], seed=0)
    got = {s.text: s for s in (src.next() for _ in range(2))}
    for (t, _, d), (x0, y0, x1, y1) in zip(LINES, boxes):
        assert np.array_equal(got[t].image, img[y0:y1, x0:x1]) and got[t].direction == d
    (root / "page1.page.xml").unlink()


def test_alto(page, tmp_path):
    root, img, boxes = page
    d = tmp_path / "alto"
    d.mkdir()
    Image.fromarray(img).save(d / "scan.png")
    # in mm10 units: the page is 600 px = 1500 mm10 wide (2.5 mm10 per pixel)
    s = 2.5
    rows = []
    for (t, _, _), (x0, y0, x1, y1) in zip(LINES, boxes):
        words = t.split(" ")
        strings = '<SP/>'.join(f'<String CONTENT="{w}"/>' for w in words)
        rows.append(f'<TextLine HPOS="{x0 * s}" VPOS="{y0 * s}" WIDTH="{(x1 - x0) * s}" HEIGHT="{(y1 - y0) * s}">{strings}</TextLine>')
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
 <Description><MeasurementUnit>mm10</MeasurementUnit><sourceImageInformation><fileName>scan.png</fileName></sourceImageInformation></Description>
 <Layout><Page WIDTH="1500" HEIGHT="750" PHYSICAL_IMG_NR="1"><PrintSpace><TextBlock>{''.join(rows)}</TextBlock></PrintSpace></Page></Layout>
</alto>"""
    (d / "scan.xml").write_text(xml, encoding="utf-8")
    items = read_alto(d / "scan.xml")
    assert [it.text for it in items] == [t for t, _, _ in LINES]
    assert [it.box for it in items] == boxes
    assert len(scan_real(d)) == 2


def test_line_folder(tmp_path):
    img = render("abc 123")
    Image.fromarray(img).save(tmp_path / "a.png")
    (tmp_path / "a.gt.txt").write_text("abc 123\n", encoding="utf-8")
    Image.fromarray(img).save(tmp_path / "b.jpg")
    (tmp_path / "b.txt").write_text("b label", encoding="utf-8")
    Image.fromarray(img).save(tmp_path / "unlabelled.png")
    items = read_line_folder(tmp_path)
    assert [(it.image.rsplit("/", 1)[-1], it.text) for it in items] == [("a.png", "abc 123"), ("b.jpg", "b label")]


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    lines = tiny_lines(24, seed=3)
    rtl = [(render("שלום 12", "he", "rtl"), "שלום 12", {"language": "he", "direction": "rtl", "writing_mode": "horizontal-tb"}),
           (render("縦書き", "ja", vertical=True), "縦書き", {"language": "ja", "direction": "ltr", "writing_mode": "vertical-rl"})]
    return write_shard(tmp_path_factory.mktemp("shard") / "shard-00000.tar", lines + rtl), lines + rtl


def test_targets_are_display_order_and_vertical_turns(shard):
    path, _ = shard
    cs = Charset.load()
    b = Batcher(Mixture([ShardSource([path])], [1.0]), cs, batch_size=26, pool_batches=1, augment=False)
    batch = b.pool(0)[0]
    texts = batch.texts
    k = texts.index("שלום 12")
    start = int(batch.target_lengths[:k].sum())
    target = cs.decode(batch.targets[start:start + batch.target_lengths[k]].tolist())
    assert target == to_visual("שלום 12", "rtl") == "12 םולש"
    v = texts.index("縦書き")
    assert batch.widths[v] > 2 * 32                         # the column was turned into a wide line


def test_positions_resume_the_same_batches(shard):
    path, _ = shard
    cs = Charset.load()

    def batcher():
        return Batcher(Mixture([ShardSource([path], seed=1), ShardSource([path], seed=2)], [0.7, 0.3], seed=5), cs,
                       batch_size=4, pool_batches=3, seed=5)

    ref = []
    it = batcher().batches()
    for _ in range(11):
        ref.append(next(it))
    pos = {"pool": ref[6].pool, "index": ref[6].index + 1, "state": ref[6].state}
    again = batcher().batches(pos)
    for want in ref[7:]:
        got = next(again)
        assert got.texts == want.texts and np.array_equal(got.images, want.images)
    assert len({b.pool for b in ref}) == 4                   # crossed pool boundaries (3 batches per pool)


def test_shard_language_weights(shard):
    path, lines = shard
    src = ShardSource([path], seed=0, language_weights={"en": 1.0, "he": 0.0, "ja": 0.0})
    langs = {src.next().language for _ in range(60)}
    assert langs == {"en"} and src.skipped_language > 0


def test_mixture_ratios():
    class Const:
        def __init__(self, name):
            self.name, self.n = name, 0

        def next(self):
            self.n += 1
            return LineSample(np.zeros((1, 1), np.uint8), self.name)

        def state(self):
            return {"n": self.n}

        def restore(self, st):
            self.n = st["n"]

    m = Mixture([Const("a"), Const("b")], [3, 1], seed=0)
    got = [m.next().text for _ in range(2000)]
    assert 0.71 < got.count("a") / 2000 < 0.79
