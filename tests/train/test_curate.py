"""Data curation: the shipped recogniser scores real rendered lines; mislabelled ones are dropped or upweighted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polyocr.pipeline.recognize import DEFAULT_WEIGHTS
from polyocr.train.curate import LineScore, curation_weights, design_weights, load_scores, score_shards
from polyocr.train.data import ShardSource
from polyocr.train.loop import make_batcher
from polyocr.train.recipes import TrainConfig
from render_util import tiny_lines, write_shard

torch.set_num_threads(1)
WEIGHTS = DEFAULT_WEIGHTS / "model.safetensors"
BROKEN = (3, 11, 20, 31)  # lines whose label is replaced by another string


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("curate")
    lines = tiny_lines(40, seed=4)
    wrong = tiny_lines(len(BROKEN), seed=99)
    for i, (_, text, _) in zip(BROKEN, wrong):
        img, _, meta = lines[i]
        lines[i] = (img, text, meta)
    shard = write_shard(root / "shard-00007.tar", lines)
    n = score_shards(WEIGHTS, [shard], root / "scores.jsonl")
    return shard, lines, load_scores(root / "scores.jsonl"), n


def test_scores_rank_mislabelled_lines_worst(scored):
    _, lines, scores, n = scored
    assert n == len(scores) == len(lines)
    assert scores[0].key.startswith("shard-00007/")
    by_index = {int(s.key.split("/")[1]): s for s in scores}
    worst = sorted(by_index, key=lambda i: -by_index[i].loss)[:len(BROKEN)]
    assert sorted(worst) == list(BROKEN)
    assert min(by_index[i].ned for i in BROKEN) > 0.5
    assert np.median([by_index[i].ned for i in by_index if i not in BROKEN]) < 0.2  # the model reads the rest


def test_filter_drops_the_worst_share_per_language(scored):
    _, _, scores, _ = scored
    w = curation_weights(scores, "filter", drop=0.1)
    dropped = sorted(int(k.split("/")[1]) for k, v in w.items() if v == 0.0)
    assert dropped == list(BROKEN)
    assert set(w.values()) == {0.0, 1.0}


def test_loss_weights_favour_hard_lines_keep_mean_and_clip(scored):
    _, _, scores, _ = scored
    w = curation_weights(scores, "loss", power=0.5, clip=4.0)
    v = np.asarray(list(w.values()))
    assert abs(v.mean() - 1.0) < 1e-9
    assert v.max() / v.min() <= 16.0 + 1e-9                 # clipped to [1/4, 4] before the rescale
    # a well-trained model reads most lines almost perfectly (median loss ~0.01), so some correctly
    # labelled but harder lines reach the clip too: the broken ones must be among the clipped top...
    broken = [w[k] for k in w if int(k.split("/")[1]) in BROKEN]
    assert min(broken) == pytest.approx(v.max())
    # ...and without a clip the weight follows the loss: the broken lines are exactly the top four
    free = curation_weights(scores, "loss", power=0.5, clip=1e9)
    top = {int(k.split("/")[1]) for k, _ in sorted(free.items(), key=lambda kv: -kv[1])[:len(BROKEN)]}
    assert top == set(BROKEN)
    assert curation_weights(scores, "none") == {}
    with pytest.raises(ValueError, match="unknown curation"):
        curation_weights(scores, "best")


def test_shard_source_never_yields_dropped_lines(scored):
    shard, lines, scores, _ = scored
    src = ShardSource([shard], seed=0, sample_weights=curation_weights(scores, "filter", drop=0.1))
    seen = [src.next().text for _ in range(2 * (len(lines) - len(BROKEN)))]   # two epochs
    broken = {lines[i][1] for i in BROKEN}
    assert not broken & set(seen)
    assert src.skipped_curation == 2 * len(BROKEN)


def test_shard_source_samples_in_proportion_to_weight(scored):
    shard, lines, scores, _ = scored
    weights = {s.key: (2.0 if int(s.key.split("/")[1]) % 2 else 0.5) for s in scores}
    src = ShardSource([shard], seed=3, sample_weights=weights)
    texts = [src.next().text for _ in range(1500)]
    heavy = sum(t in {lines[i][1] for i in range(1, 40, 2)} for t in texts)
    ratio = heavy / (len(texts) - heavy)
    assert 3.2 < ratio < 5.0, ratio                          # 2.0 / 0.5 = 4


def test_curation_config_needs_scores(scored, tmp_path):
    shard, _, _, _ = scored
    cfg = TrainConfig(synth_ratio=0, shards=(str(shard),), curation="filter")
    with pytest.raises(ValueError, match="needs line scores"):
        make_batcher(cfg)


def test_scores_name_the_font(scored):
    _, lines, scores, _ = scored
    assert all(s.font == "" for s in scores)  # tiny_lines' meta has no font
    root = scored[0].parent
    named = [(img, text, {**meta, "font": {"family": "DejaVu Sans" if i % 2 else "Noto Serif CJK SC"}})
             for i, (img, text, meta) in enumerate(lines[:8])]
    shard = write_shard(root / "shard-00008.tar", named)
    score_shards(WEIGHTS, [shard], root / "named.jsonl")
    fonts = [s.font for s in load_scores(root / "named.jsonl")]
    assert sorted(set(fonts)) == ["DejaVu Sans", "Noto Serif CJK SC"] and len(fonts) == 8


def test_design_weights_favour_hard_designs():
    def line(lang, font, loss):
        return LineScore(f"k/{font}/{loss}", lang, loss, 0.0, 10, font)

    scores = [line("ar", "Amiri", 2.0) for _ in range(10)] + [line("ar", "Noto Naskh Arabic", 0.5) for _ in range(10)]
    scores += [line("ar", "KacstOne", 0.25) for _ in range(10)] + [line("ar", "Lateef", 9.0) for _ in range(3)]
    scores += [line("he", "Ezra SIL", 1.0) for _ in range(10)] + [line("he", "", 5.0) for _ in range(10)]
    w = design_weights(scores, power=1.0, clip=3.0, min_lines=8)
    assert set(w) == {"ar", "he"}
    assert set(w["ar"]) == {"amiri", "noto naskh arabic", "kacstone"}      # design keys; Lateef has too few lines
    assert w["ar"]["noto naskh arabic"] == 1.0                               # the median design
    assert w["ar"]["amiri"] == 3.0                                           # 4× the median, clipped to 3
    assert w["ar"]["kacstone"] == 0.5
    assert w["he"] == {"ezra sil": 1.0}                                      # lines without a font are left out
