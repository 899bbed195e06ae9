"""`polyocr train lm`: the character models built from the generator's training text."""

import json
import subprocess
import sys

import numpy as np

from polyocr.models.charlm import BOS, load_lms
from polyocr.train.charlm import LMConfig, build_lms, training_text


def test_without_shared_data_the_models_come_from_fallback_sentences(tmp_path):
    empty = tmp_path / "noshared"
    (empty / "data").mkdir(parents=True)
    cfg = LMConfig(out=str(tmp_path / "lm.safetensors"), languages=("en", "ko"), order=3, min_count=1,
                   shared=str(empty), fallback_sentences=200)
    lines, source = training_text("ko", cfg)
    assert source.startswith("fallback") and len(lines) == 200
    build_lms(cfg, log=lambda *_: None)
    lms = load_lms(cfg.out)
    assert set(lms.languages) == {"en", "ko"}
    ko = lms.get("ko")
    assert len(ko.vocab) > 100 and ko.order == 3
    assert lms.info["sources"]["en"].startswith("fallback")


def test_cli_builds_from_the_corpus_training_split(tmp_path):
    r = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "lm", "--out", str(tmp_path),
                        "--langs", "he", "--order", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["ngrams"]["he"] > 1000
    lms = load_lms(tmp_path / "charlm.safetensors")
    assert "train split" in lms.info["sources"]["he"]
    he = lms.get("he")
    # after ה, a Hebrew letter is far likelier than a Latin one
    h = np.array([[he.index("ה")]])
    assert he.logprob(h, np.array([he.index("ל")]))[0] > he.logprob(np.array([[BOS]]), np.array([-1]))[0]


def test_cli_refuses_a_missing_folder(tmp_path):
    r = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "lm", "--out", str(tmp_path / "no" / "x.st")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such folder" in r.stderr and "Traceback" not in r.stderr


def test_wordfreq_sentences_widen_the_corpus_text():
    """Everyday words join the corpus lines, so the model learns what the corpus hardly shows."""
    plain_cfg = LMConfig(languages=("zh-Hans",), wordfreq_sentences=0)
    plain, source = training_text("zh-Hans", plain_cfg)
    if not source.startswith("corpus"):
        raise AssertionError(f"this test needs the shared corpus (../shared/data), got: {source}")
    mixed, mixed_source = training_text("zh-Hans", LMConfig(languages=("zh-Hans",), wordfreq_sentences=3000))
    assert mixed[:len(plain)] == plain and len(mixed) == len(plain) + 3000
    assert mixed_source.endswith("+ 3000 wordfreq sentences")
    rate = lambda lines: sum(s.count("您") for s in lines) / sum(len(s) for s in lines)  # noqa: E731
    assert rate(mixed[len(plain):]) > 5 * rate(plain) > 0
    assert training_text("zh-Hans", LMConfig(languages=("zh-Hans",), wordfreq_sentences=3000))[0] == mixed


def test_cli_sets_the_order_per_language_and_refuses_a_language_not_built(tmp_path):
    from polyocr.cli import LM_MAX_ORDER
    from polyocr.models.charlm import MAX_ORDER

    assert LM_MAX_ORDER == MAX_ORDER                         # the CLI's copy of the bound, kept in step
    r = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "lm", "--out", str(tmp_path),
                        "--langs", "he,ar", "--order", "2", "--order-for", "ar=5"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lms = load_lms(tmp_path / "charlm.safetensors")
    assert lms.get("he").order == 2 and lms.get("ar").order == 5
    assert lms.info["orders"] == {"ar": 5}
    ar = lms.get("ar")
    assert ar.bits == 8 and len(ar.keys[4]) > 1000              # 160 letters: 8-bit indices, 5-grams kept
    for bad, says in ((["--langs", "he", "--order-for", "ar=5"], "not among the languages built"),
                      (["--order-for", "ar=9"], "expected LANG=N"), (["--order-for", "xx=3"], "expected LANG=N")):
        r = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "lm", "--out", str(tmp_path), *bad],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
