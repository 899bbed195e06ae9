"""Page-set loaders, the held-out page cache, and our scorer against realdev's own score.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from eval_pages import TEXTS, paint_over, write_page, write_realdev

from polyocr.document import Document
from polyocr.eval.datasets import (generate_heldout_pages, hidden_lines, limit_per_language, load_folder, load_pages,
                                   load_realdev)
from polyocr.eval.metrics import _dp_distance, edit_distance, score_text
from polyocr.languages import shared_dir


def test_folder_loader(tmp_path):
    write_page(tmp_path, "b-page", "ru")
    write_page(tmp_path, "a-page", "en", suffix=".jpg", lang_file=False)
    (tmp_path / "orphan.png").write_bytes((tmp_path / "b-page.png").read_bytes())   # no .txt: not a page
    with pytest.raises(ValueError, match="a-page.jpg: no a-page.lang"):
        load_folder(tmp_path)
    pages = load_folder(tmp_path, language="zh-Hans")
    assert [(p.id, p.language, p.image.suffix) for p in pages] == [("a-page", "zh-Hans", ".jpg"), ("b-page", "ru", ".png")]
    assert pages[1].text == "\n".join(TEXTS["ru"]) + "\n" and not pages[1].vertical
    with pytest.raises(ValueError, match="unknown language"):
        load_folder(tmp_path, language="xx")
    with pytest.raises(FileNotFoundError):
        load_folder(tmp_path / "nowhere")


def test_realdev_loader_and_limits(tmp_path):
    write_realdev(tmp_path, [("en-1", "en"), ("ru-1", "ru"), ("en-2", "en"), ("en-3", "en")])
    # A page whose line boxes are taller than wide is vertical.
    boxes = {"lines": [{"text": "x", "bbox": [100, 10, 140, 900]}, {"text": "y", "bbox": [40, 10, 80, 700]}]}
    (tmp_path / "ru-1.lines.json").write_text(json.dumps(boxes), encoding="utf-8")
    pages = load_pages(tmp_path)                           # index.tsv → realdev loader
    assert [(p.id, p.language, p.vertical) for p in pages] == \
        [("en-1", "en", False), ("ru-1", "ru", True), ("en-2", "en", False), ("en-3", "en", False)]
    assert [p.id for p in limit_per_language(pages, 2)] == ["en-1", "ru-1", "en-2"]
    assert [p.id for p in limit_per_language(pages, None, ["ru"])] == ["ru-1"]
    (tmp_path / "en-2.txt").unlink()
    with pytest.raises(FileNotFoundError, match="en-2"):
        load_realdev(tmp_path)


def test_heldout_pages_are_generated_once_and_extended(tmp_path):
    first = generate_heldout_pages(tmp_path, ["he"], 1, seed=5, degrade="clean")
    (page,) = first
    folder = page.image.parent
    assert page.language == "he" and page.image.suffix == ".jpg" and page.id.startswith("he-s5-")
    from PIL import Image
    with Image.open(page.image) as im:
        assert round(im.info["dpi"][0]) == 200
    doc = Document.from_json((folder / f"{page.id}.json").read_text(encoding="utf-8"))
    assert doc.pages[0].meta["split"] == "heldout"            # held-out fonts and corpus
    assert page.text == doc.pages[0].text and any("\u05d0" <= c <= "\u05ea" for c in page.text)
    stamp = page.image.stat().st_mtime_ns
    again = generate_heldout_pages(tmp_path, ["he"], 1, seed=5, degrade="clean")
    assert again == first and page.image.stat().st_mtime_ns == stamp      # read from the cache
    more = generate_heldout_pages(tmp_path, ["he"], 2, seed=5, degrade="clean")
    assert more[0] == first[0] and len(more) == 2 and more[1].id != page.id


def test_bit_parallel_distance_matches_the_reference():
    import random
    rng = random.Random(1)
    for _ in range(500):
        a = "".join(rng.choice("ab д日\u05d0") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("ab д日\u05d0") for _ in range(rng.randint(0, 90)))
        assert edit_distance(a, b) == _dp_distance(a, b)


CASES = {  # (lang, ground truth, prediction): normalisation corner cases score.py handles
    "en-a": ("en", "The  quick\nbrown fox\u00ad jumps.\n", "The quick brovvn fox jumps"),
    "zh-Hans-a": ("zh-Hans", "我们 在 北京\n学习中文。", "我们在北京\n学习中交."),
    "ja-a": ("ja", "ＡＢＣ１２３ カタカナ\u3000ひらがな", "ABC123 ｶﾀｶﾅ ひらかな"),
    "ar-a": ("ar", "\u200fمرحـبا بالعالم\u061c ٢٠٢٤", "مرحبا بالعالم 2024"),
    "he-a": ("he", "\u202bשלום עולם\u202c\n123", "שלום  עולס 123"),
    "ru-a": ("ru", "Съешь же ещё", ""),                   # empty prediction
    "ko-a": ("ko", "한국어 문장", None),                    # no prediction file at all
}


def test_scorer_matches_realdev_score_py(tmp_path):
    shared = shared_dir()
    assert shared is not None, "the shared folder (with realdev/score.py) is needed"
    score_py = shared / "realdev" / "score.py"
    assert score_py.is_file(), f"{score_py} missing"
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    rows = ["id\tlang"]
    for pid, (lang, truth, prediction) in CASES.items():
        (gt / f"{pid}.txt").write_text(truth, encoding="utf-8")
        if prediction is not None:
            (pred / f"{pid}.txt").write_text(prediction, encoding="utf-8")
        rows.append(f"{pid}\t{lang}")
    (gt / "index.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, str(score_py), str(pred), str(gt), "--json", str(tmp_path / "s.json")],
                         capture_output=True, text=True, check=True)
    assert "macro" in out.stdout
    theirs = {r["id"]: r for r in json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))}
    assert set(theirs) == set(CASES)
    for pid, (_, truth, prediction) in CASES.items():
        ours = score_text(prediction or "", (gt / f"{pid}.txt").read_text(encoding="utf-8")).as_dict()
        for key, value in ours.items():
            assert value == pytest.approx(theirs[pid][key], abs=1e-12), (pid, key)
    assert 0 < theirs["en-a"]["ned_ws"] < 0.2 and theirs["ru-a"]["ned_ws"] == 1.0


def test_realdev_lines_painted_over_are_not_scored(tmp_path):
    """realdev paints white the regions its text layer does not transcribe, and sometimes a region
    holds transcribed lines too: truth without pixels. Only a line mostly under a mask *and* without ink
    is left out; a mask that left its ink, or a truth that is not its line boxes' text, changes nothing."""
    write_realdev(tmp_path, [("en-1", "en")])
    path = tmp_path / "en-1.png"
    paint_over(tmp_path, "en-1", hide=1, mask_only=2)            # line 2 painted away, a mask around line 3's ink
    assert hidden_lines(json.loads((tmp_path / "en-1.lines.json").read_text(encoding="utf-8")), path) == {1}
    page = load_realdev(tmp_path)[0]
    assert page.text == "\n".join([TEXTS["en"][0], TEXTS["en"][2]]) and page.hidden == 1
    whole = load_realdev(tmp_path, hidden_truth=True)[0]
    assert whole.text == "\n".join(TEXTS["en"]) + "\n" and whole.hidden == 0
    # the truth file differs from the line boxes' text: kept whole, nothing guessed
    (tmp_path / "en-1.txt").write_text("something else\n", encoding="utf-8")
    assert load_realdev(tmp_path)[0].text == "something else\n"
