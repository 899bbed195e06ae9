"""Compacted line datasets: cut to the ink, scaled down, WebP; they train like the originals."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from polyocr.train.augment import ink_extent
from polyocr.train.compact import CompactConfig, compact_line, compact_shards, rarity_weights
from polyocr.train.data import ShardSource, tar_samples
from render_util import render, tiny_lines, write_shard


def test_compact_line_keeps_the_ink_and_margin():
    line = np.full((80, 300), 255, np.uint8)
    line[30:46, 20:280] = 0                                    # 16 px of ink in an 80 px crop
    small = compact_line(line, False, CompactConfig(height=36, margin=0.45))
    assert small.shape == (30, 300)                            # 16 + 2 × 7 rows, not scaled up to 36
    assert ink_extent(small) == (7, 22)
    tall = np.full((80, 300), 255, np.uint8)
    tall[5:75, 20:280] = 0
    out = compact_line(tall, False, CompactConfig(height=36))
    assert out.shape == (36, round(300 * 36 / 80))             # scaled down to 36 across
    column = np.ascontiguousarray(np.rot90(line, -1))          # the same line set vertically
    v = compact_line(column, True, CompactConfig(height=36, margin=0.45))
    assert v.shape == (300, 30)


def test_compact_shards_round_trip(tmp_path):
    lines = tiny_lines(40, seed=3)
    src = tmp_path / "src"
    src.mkdir()
    write_shard(src / "shard-00000.tar", lines[:25])
    write_shard(src / "shard-00001.tar", lines[25:])
    summary = compact_shards([src], tmp_path / "out", CompactConfig(count=30, shard_size=16, seed=1))
    assert summary["lines"] == 30 and [s["file"] for s in summary["shards"]] == ["shard-00000.tar", "shard-00001.tar"]
    assert summary["image_bytes_out"] < summary["image_bytes_in"]
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["languages"] == {"en": 30}
    groups = [g for p in sorted((tmp_path / "out").glob("*.tar")) for g in tar_samples(p)]
    assert len(groups) == 30 and all("webp" in g for g in groups)
    texts = {t for _, t, _ in lines}
    src_shards = set()
    source = ShardSource([tmp_path / "out"], seed=0)
    for _ in range(30):
        s = source.next()
        assert s.text in texts and s.image.dtype == np.uint8 and s.image.shape[0] <= 36 and not s.vertical
    for g in groups:
        src_shards.add(g["txt"].name.split("-")[2])
    assert src_shards == {"00000", "00001"}                    # lines of both inputs, shuffled together


def test_rarity_weights_favour_rare_letters_within_each_language():
    texts = ["ab", "ab", "ab", "abz", "xy", "xy", "xq"]
    langs = ["en", "en", "en", "en", "ru", "ru", "ru"]
    w = rarity_weights(texts, langs, 1.0)
    assert w[3] > w[0] == w[1] == w[2] and w[6] > w[4]
    assert abs(w[:4].sum() - 4) < 1e-9 and abs(w[4:].sum() - 3) < 1e-9  # each language keeps its share
    assert np.allclose(rarity_weights(texts, langs, 0.0), 1.0)


def test_cli_compact_and_bad_input(tmp_path):
    src = write_shard(tmp_path / "a.tar", tiny_lines(12, seed=4))
    out = tmp_path / "small"
    run = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "compact", "--data", str(src), "--out", str(out),
                          "--rare", "0.5", "--count", "8"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "8 lines in 1 shard(s)" in run.stdout and (out / "shard-00000.tar").is_file()
    again = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "compact", "--data", str(src), "--out", str(out)],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "already holds shards" in again.stderr and "Traceback" not in again.stderr
    missing = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "compact", "--data", str(tmp_path / "nope"),
                              "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert missing.returncode != 0 and "not found" in missing.stderr and "Traceback" not in missing.stderr


def test_pack_archives_cap_each_archive_and_mix_the_datasets(tmp_path):
    import tarfile

    from polyocr.train.compact import pack_archives

    a, b = tmp_path / "a", tmp_path / "b"
    for root, seed in ((a, 5), (b, 6)):
        root.mkdir()
        for k in range(3):
            write_shard(root / f"shard-{k:05d}.tar", tiny_lines(10, seed=seed * 10 + k))
    one = len(__import__("gzip").compress((a / "shard-00000.tar").read_bytes(), compresslevel=6))
    made = pack_archives([a, b], tmp_path / "out", max_mb=(2.5 * one + 3000) / 1e6)
    assert [m["shards"] for m in made] == [2, 2, 2] and sum(m["lines"] for m in made) == 60
    assert all(m["bytes"] <= 2.5 * one + 3000 for m in made)
    with tarfile.open(tmp_path / "out" / "c1.tgz") as tf:
        names = sorted(tf.getnames())
        meta = json.loads(tf.extractfile("c1/dataset.json").read())
    assert names == ["c1/a-shard-00000.tar", "c1/b-shard-00000.tar", "c1/dataset.json"]  # interleaved
    assert meta["lines"] == 20
    run = subprocess.run([sys.executable, "-m", "polyocr.cli", "train", "pack", "--data", str(a), "--out",
                          str(tmp_path / "tiny"), "--mb", "0.0001"], capture_output=True, text=True)
    assert run.returncode != 0 and "smaller --shard-size" in run.stderr and "Traceback" not in run.stderr
