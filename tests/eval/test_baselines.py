"""Each baseline adapter on real rendered pages, with the real engines (tesseract, RapidOCR 3.10.0)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eval_pages import TEXTS, write_page

from polyocr.eval.baselines import (UNIFIED_PACKS, EngineUnavailable, OursEngine, RapidOCREngine, TesseractEngine,
                                    make_engine, tesseract_languages)
from polyocr.eval.datasets import EvalPage, generate_heldout_pages
from polyocr.eval.metrics import ned, score_text
from polyocr.eval.run import run_engine


@pytest.fixture(scope="module")
def fixture_pages(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pages")
    return {lang: write_page(d, lang, lang) for lang in ("en", "zh-Hans", "ru")}


def test_tesseract_packs_and_installation():
    have = tesseract_languages()
    spec, uni = TesseractEngine(), TesseractEngine(unified=True)
    assert spec.name == "tesseract" and uni.name == "tesseract-unified" and spec.version.startswith("5.")
    assert spec.packs("zh-Hant") == "chi_tra" and spec.packs("he") == "heb"
    assert spec.packs("ja", vertical=True) == "jpn_vert"        # vertical pages get the vertical pack
    assert spec.packs("ru", vertical=True) == "rus"             # no vertical Russian
    assert uni.packs("ko") == uni.packs("en", vertical=True) == UNIFIED_PACKS
    for pack in UNIFIED_PACKS.split("+") + ["jpn_vert", "chi_sim_vert", "chi_tra_vert"]:
        assert pack in have, f"tesseract pack {pack} is not installed (make setup installs it)"
    spec.check([("ja", True), ("en", False)])
    with pytest.raises(EngineUnavailable):
        TesseractEngine(binary="no-such-tesseract").check([("en", False)])


def test_tesseract_reads_a_clean_generated_english_page(tmp_path):
    page = generate_heldout_pages(tmp_path, ["en"], 1, seed=3, degrade="clean", layouts=("prose",))[0]
    text = TesseractEngine().read(page.image, "en")
    assert "\f" not in text and text.count("\n") > 5
    assert ned(text, page.text, whitespace="remove") < 0.2


def test_tesseract_specialised_and_unified_on_fixture_pages(fixture_pages):
    spec, uni = TesseractEngine(), TesseractEngine(unified=True)
    for lang in ("en", "zh-Hans"):
        truth = "\n".join(TEXTS[lang])
        assert score_text(spec.read(fixture_pages[lang], lang), truth).ned_nows < 0.05, lang
    assert score_text(uni.read(fixture_pages["ru"], "ru"), "\n".join(TEXTS["ru"])).ned_nows < 0.15
    with pytest.raises(RuntimeError, match="tesseract failed"):
        spec.read(fixture_pages["en"].with_name("missing.png"), "en")


def test_rapidocr_reads_chinese_and_skips_languages_it_has_no_model_for(fixture_pages, tmp_path):
    engine = make_engine("rapidocr", threads=1)
    assert isinstance(engine, RapidOCREngine) and engine.version == "3.10.0"
    text = engine.read(fixture_pages["zh-Hans"], "zh-Hans")
    assert score_text(text, "\n".join(TEXTS["zh-Hans"])).ned_nows < 0.05
    assert len(text.splitlines()) == 3                     # one line per line, in reading order here
    assert [engine.supports(c) for c in ("en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "ar", "he")] == \
        [True, True, True, True, False, False, False, False]
    # A Russian page is not read at all: it is n/a (no score), not a zero or a one.
    pages = [EvalPage("ru", fixture_pages["ru"], "\n".join(TEXTS["ru"]), "ru")]
    run = run_engine(engine, pages, tmp_path, echo=None)
    assert run.pages == 0 and run.results[0].score is None and not (tmp_path / "rapidocr" / "ru.txt").exists()


def test_our_pipeline_adapter_reads_a_page(fixture_pages):
    engine = make_engine("polyocr", threads=1)
    assert engine.name == "polyocr" and engine.version and engine.supports("he") and not engine.parallel
    text = engine.read(fixture_pages["en"], "en")
    # the page's three lines, in reading order, read nearly exactly (a typo may slip through)
    starts = [text.find(k) for k in ("quick brown fox", "Invoice number 4521", "signed form")]
    assert -1 not in starts and starts == sorted(starts)
    assert score_text(text, "\n".join(TEXTS["en"])).ned_nows < 0.05


def test_our_pipeline_in_worker_processes_matches_one_process_and_counts_their_cpu(fixture_pages, tmp_path):
    one = OursEngine(threads=1)
    pool = OursEngine(threads=1, processes=2)
    try:
        assert pool.parallel and pool.pipeline is None
        pool.warm(fixture_pages["en"])
        assert len(pool._pids) == 2 and os.getpid() not in pool._pids     # two real worker processes
        pages = [EvalPage(lang, path, "\n".join(TEXTS[lang]), lang) for lang, path in fixture_pages.items()]
        run = run_engine(pool, pages, tmp_path, workers=2)
        for page, result in zip(pages, run.results):
            assert (tmp_path / "polyocr" / f"{page.id}.txt").read_text() == one.read(page.image, page.language)
            assert result.score is not None and not result.error
        assert run.results[0].page_id == "en" and run.results[0].score.ned_nows < 0.2
        assert run.own_cpu_s > 0.1           # the workers' CPU is counted, though they are not yet reaped
    finally:
        pool.close()
