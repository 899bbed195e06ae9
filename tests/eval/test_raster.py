"""Eval folders of any input type: the baselines read our decoding of the files they would misread,
our pipeline reads the files themselves, and a file that is not one readable page stops the run
with one line before any engine starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from eval_pages import TEXTS, page_image, write_page
from PIL import Image

from polyocr.cli import main
from polyocr.eval.datasets import load_folder
from polyocr.eval.raster import baseline_images, needs_decoding
from polyocr.eval.run import run_engines
from polyocr.pipeline.inputs import load_pages


def _truth(folder: Path, name: str, lang: str = "en") -> None:
    (folder / f"{name}.txt").write_text("\n".join(TEXTS[lang]) + "\n", encoding="utf-8")
    (folder / f"{name}.lang").write_text(lang, encoding="utf-8")


def _odd_pages(folder: Path) -> None:
    """The English fixture page as WebP, PGM, a one-page PDF, and a JPEG stored sideways with an
    EXIF orientation that turns it upright; plus the plain PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    write_page(folder, "plain", "en")
    page = page_image(TEXTS["en"], "en")
    page.save(folder / "web.webp", lossless=True)
    page.convert("L").save(folder / "gray.pgm")
    page.save(folder / "doc.pdf", resolution=200)
    exif = Image.Exif()
    exif[0x0112] = 6                                        # stored turned left: "rotate 90° clockwise to view"
    page.transpose(Image.Transpose.ROTATE_90).save(folder / "turned.jpg", quality=95, dpi=(200, 200), exif=exif)
    for name in ("web", "gray", "doc", "turned"):
        _truth(folder, name)


def test_odd_files_are_decoded_once_for_the_baselines(tmp_path):
    _odd_pages(tmp_path / "gt")
    pages = load_folder(tmp_path / "gt")
    assert [p.image.name for p in pages] == ["doc.pdf", "gray.pgm", "plain.png", "turned.jpg", "web.webp"]
    assert [needs_decoding(p.image) for p in pages] == [True, True, False, True, True]
    images = baseline_images(pages, tmp_path / "dec")
    assert images["plain"] == tmp_path / "gt" / "plain.png"
    assert sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["doc.png", "gray.png", "turned.png", "web.png"]
    for p in pages:
        ours = next(load_pages(p.image)).image
        with Image.open(images[p.id]) as im:
            assert im.size == ours.size, p.id
            assert np.array_equal(np.asarray(im.convert("RGB")), np.asarray(ours)), p.id   # lossless: our pixels
            assert im.size[0] > im.size[1], p.id                                         # upright (a wide page)


def test_tesseract_and_polyocr_read_every_type_in_one_run(tmp_path, capsys):
    """Tesseract cannot open a PDF and ignores EXIF orientation: on the raw files it would score 1.0
    and ~1.0 on those two pages. Given the decoded pages it reads all five as it reads the PNG."""
    _odd_pages(tmp_path / "gt")
    out, js = tmp_path / "out", tmp_path / "res.json"
    assert main(["eval", str(tmp_path / "gt"), "--engines", "polyocr,tesseract", "--out", str(out),
                 "--json", str(js), "--workers", "1"]) == 0
    assert "4 page file(s) decoded to PNG" in capsys.readouterr().err
    res = json.loads(js.read_text(encoding="utf-8"))
    ned = {(r["engine"], r["id"]): r["ned_ws"] for r in res["pages"]}
    assert not [r for r in res["pages"] if r.get("error")]
    for engine in ("polyocr", "tesseract"):
        for pid in ("doc", "gray", "plain", "turned", "web"):
            assert ned[(engine, pid)] < 0.1, (engine, pid, ned[(engine, pid)])


def test_run_engines_hands_each_engine_its_file(tmp_path):
    _odd_pages(tmp_path / "gt")
    pages = load_folder(tmp_path / "gt")
    seen: dict[str, list[str]] = {"ours": [], "base": []}

    class Recorder:
        parallel, version = False, "0"

        def __init__(self, name: str, decodes_all: bool) -> None:
            self.name, self.decodes_all = name, decodes_all

        def supports(self, language: str) -> bool:
            return True

        def read(self, image_path, language, vertical=False) -> str:
            seen[self.name].append(Path(image_path).name)
            return ""

    run_engines([Recorder("ours", True), Recorder("base", False)], pages, tmp_path / "out", echo=lambda m: None)
    assert seen["ours"] == ["doc.pdf", "gray.pgm", "plain.png", "turned.jpg", "web.webp"]
    assert seen["base"] == ["doc.png", "gray.png", "plain.png", "turned.png", "web.png"]
    assert len(list((tmp_path / "out" / "_pages").glob("*.png"))) == 4


@pytest.mark.parametrize("kind", ["tiff", "pdf", "truncated"])
def test_a_file_that_is_not_one_page_stops_the_run_in_one_line(tmp_path, kind):
    gt = tmp_path / "gt"
    gt.mkdir()
    page = page_image(TEXTS["en"], "en")
    if kind == "tiff":
        page.save(gt / "p.tif", save_all=True, append_images=[page])
    elif kind == "pdf":
        page.save(gt / "p.pdf", resolution=200, save_all=True, append_images=[page])
    else:
        page.save(gt / "p.webp", quality=80)
        (gt / "p.webp").write_bytes((gt / "p.webp").read_bytes()[:200])
    _truth(gt, "p")
    r = subprocess.run([sys.executable, "-m", "polyocr.cli", "eval", str(gt), "--engines", "tesseract",
                        "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert "Traceback" not in r.stderr and len(errors) == 1 and errors[0].startswith("polyocr: error: "), r.stderr
    assert "p." in errors[0]
    assert ("more than one page" in r.stderr) == (kind != "truncated")
    assert not (tmp_path / "out" / "tesseract").exists()     # stopped before any engine ran


def test_a_folder_with_no_page_names_the_types_it_looks_for(tmp_path):
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="HEIC or PDF"):
        load_folder(tmp_path, language="en")
