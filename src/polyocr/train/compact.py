"""Smaller copies of line datasets, for moving them to a training machine.

A lent accelerator trains far faster than this project's CPUs render, but what reaches it is capped
(tens of MiB a call here), and the generator's crops are stored roomy (a 40 px line in a ~64 px JPEG,
5.5 KB a line). The recogniser reads lines 32 px across; the margin it ever needs is what
:func:`polyocr.train.augment.remargin` may draw (0.4 × the ink thickness a side). So each line is cut
across to its ink plus ``margin``, scaled down to ``height`` px across (never up) and stored as WebP:
measured on lines-v9, 1.37 KB a line at height 36 and quality 60, a quarter of the JPEG. Tar headers
and padding add ~2.5 KB a line on disk; they compress away (``tar czf``: 1.5 KB a line in all).

:func:`pack_archives` then groups shards into gzip'd archives of at most a given size, one folder
each (``c1/``, ``c2/``, ...; a training run takes them as ``--data c1,c2,...``), for a transfer that
caps every trip.

Lines keep their key, text and metadata; a seeded subset of ``count`` lines is shuffled across the
output shards, so every shard mixes languages and sources (data processes each read their own shards).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from polyocr.synth.shards import TarShardWriter, atomic_write_bytes
from polyocr.pipeline.recognize import cut_to_ink
from polyocr.train.data import (SHARD_IMAGE_EXTS, _member, read_shard_sample, sample_key, shard_files,
                                shard_language, tar_samples)

__all__ = ["CompactConfig", "compact_line", "compact_shards", "rarity_weights", "pack_archives"]


@dataclass(frozen=True)
class CompactConfig:
    height: int = 36        # px across the line after scaling (the recogniser reads 32)
    margin: float = 0.45    # kept on each side of the ink, × its thickness (remargin draws up to 0.4)
    quality: int = 60       # WebP quality
    count: int = 0          # 0: every line; else a seeded random subset of this many
    shard_size: int = 2000
    seed: int = 0
    rare: float = 0.0       # > 0: draw the subset favouring lines with rare letters (see rarity_weights)


def compact_line(gray: np.ndarray, vertical: bool, cfg: CompactConfig) -> np.ndarray:
    """Cut a line crop across to its ink plus margin, then scale it down to ``cfg.height`` across."""
    strip = np.ascontiguousarray(np.rot90(gray, 1)) if vertical else gray  # text running left to right
    strip = cut_to_ink(strip, cfg.margin)
    h, w = strip.shape
    if h > cfg.height:
        new_w = max(1, round(w * cfg.height / h))
        strip = cv2.resize(strip, (new_w, cfg.height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.rot90(strip, -1)) if vertical else strip


def rarity_weights(texts: Sequence[str], languages: Sequence[str], power: float) -> np.ndarray:
    """Per line, (m̃ / m) ** power, where m is the count of its rarest letter among its language's lines
    and m̃ the median of m over them: a subset drawn with these weights keeps each language's share
    about as in the input and, within it, spends its lines where the letters are rare (the recogniser's
    recall falls with a character's frequency rank; BENCHMARKS.md, bench_charset)."""
    counts: dict[str, Counter] = {}
    for text, lang in zip(texts, languages):
        counts.setdefault(lang, Counter()).update(c for c in set(text) if c.isalnum())
    m = np.array([min((counts[lang][c] for c in set(text) if c.isalnum()), default=1) for text, lang in
                  zip(texts, languages)], np.float64)
    w = np.ones(len(texts))
    langs = np.asarray(languages)
    for lang in counts:
        sel = langs == lang
        w[sel] = (np.median(m[sel]) / m[sel]) ** power
        w[sel] *= sel.sum() / w[sel].sum()  # each language keeps its total weight
    return w


def compact_shards(paths: Sequence[str | Path], out: str | Path, cfg: CompactConfig) -> dict[str, Any]:
    """Write the compacted dataset into ``out`` (tar shards + dataset.json); returns its summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = shard_files(paths)
    groups = [tar_samples(p) for p in files]
    index = [(f, g) for f in range(len(files)) for g in range(len(groups[f]))]
    rng = np.random.default_rng(cfg.seed)
    handles = [open(p, "rb") for p in files]
    if cfg.rare > 0:
        texts, langs = [], []
        for f, g in index:
            texts.append(_member(handles[f], groups[f][g]["txt"]).decode("utf-8"))
            langs.append(shard_language(handles[f], groups[f][g])[0])
        # weighted draw without replacement: the largest u ** (1 / w) (Efraimidis & Spirakis)
        keys = rng.random(len(index)) ** (1.0 / rarity_weights(texts, langs, cfg.rare))
        order = np.argsort(-keys)
        order = rng.permutation(order[:cfg.count] if cfg.count else order)
    else:
        order = rng.permutation(len(index))
        if cfg.count:
            order = order[:cfg.count]
    in_bytes = out_bytes = 0
    languages: dict[str, int] = {}
    shards = []
    try:
        for s0 in range(0, len(order), cfg.shard_size):
            writer = TarShardWriter(out / f"shard-{s0 // cfg.shard_size:05d}.tar")
            try:
                for i in order[s0:s0 + cfg.shard_size]:
                    f, g = index[int(i)]
                    fh, group = handles[f], groups[f][g]
                    _, meta = shard_language(fh, group)
                    sample = read_shard_sample(fh, group, meta)
                    small = compact_line(sample.image, sample.vertical, cfg)
                    ok, buf = cv2.imencode(".webp", small, [cv2.IMWRITE_WEBP_QUALITY, cfg.quality])
                    if not ok:
                        raise RuntimeError(f"WebP encoding failed for {files[f]} sample {g}")
                    # what training reads, and the font (per-design scores); tar headers cost more than this
                    meta = {"language": sample.language, "direction": sample.direction,
                            "writing_mode": "vertical-rl" if sample.vertical else "horizontal-tb",
                            **({"font": meta["font"]} if "font" in meta else {})}
                    writer.add(f"{files[f].parent.name}-{sample_key(files[f], group).replace('/', '-')}",
                               {"webp": buf.tobytes(), "txt": sample.text.encode("utf-8"),
                                "json": json.dumps(meta, ensure_ascii=False).encode("utf-8")})
                    in_bytes += next(group[e].size for e in SHARD_IMAGE_EXTS if e in group)
                    out_bytes += len(buf)
                    languages[sample.language] = languages.get(sample.language, 0) + 1
                shards.append(writer.commit())
            except BaseException:
                writer.abort()
                raise
    finally:
        for h in handles:
            h.close()
    summary = {"format": "polyocr-compact-lines", "sources": [str(p) for p in paths], "lines": int(len(order)),
               "languages": dict(sorted(languages.items())), "image_bytes_in": in_bytes, "image_bytes_out": out_bytes,
               "config": cfg.__dict__, "shards": shards}
    atomic_write_bytes(out / "dataset.json", json.dumps(summary, ensure_ascii=False, indent=1).encode("utf-8"))
    return summary


def pack_archives(paths: Sequence[str | Path], out: str | Path, max_mb: float) -> list[dict[str, Any]]:
    """Shards of ``paths`` (interleaved, so every archive mixes the datasets) into ``out/cK.tgz``
    archives of at most ``max_mb`` MB each, each holding ``cK/<dataset>-<shard>.tar`` and
    ``cK/dataset.json`` (its line count). Shards are grouped by their own gzip'd size (computed
    first; a tar of several compresses to about the sum), and each archive's size is checked."""
    import gzip
    import io
    import itertools
    import os
    import tarfile

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lists = [shard_files([p]) for p in paths]
    shards = [s for group in itertools.zip_longest(*lists) for s in group if s is not None]
    limit = max_mb * 1e6
    size = {s: len(gzip.compress(s.read_bytes(), compresslevel=6)) + 1024 for s in shards}
    groups: list[list[Path]] = [[]]
    for s in shards:
        if size[s] > limit:
            raise ValueError(f"{s} alone is over {max_mb} MB compressed; compact with a smaller --shard-size")
        if groups[-1] and sum(size[x] for x in groups[-1]) + size[s] > limit:
            groups.append([])
        groups[-1].append(s)
    made: list[dict[str, Any]] = []
    for k, members in enumerate(groups, 1):
        name = f"c{k}"
        final, tmp = out / f"{name}.tgz", out / f".{name}.tgz.tmp-{os.getpid()}"
        lines = sum(len(tar_samples(s)) for s in members)
        try:
            with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz, \
                    tarfile.open(fileobj=gz, mode="w") as tf:
                for s in members:
                    tf.add(s, arcname=f"{name}/{s.parent.name}-{s.name}")
                meta = json.dumps({"lines": lines, "shards": [str(s) for s in members]}).encode("utf-8")
                info = tarfile.TarInfo(f"{name}/dataset.json")
                info.size = len(meta)
                tf.addfile(info, io.BytesIO(meta))
            if tmp.stat().st_size > limit:
                raise RuntimeError(f"{name}.tgz came to {tmp.stat().st_size / 1e6:.1f} MB, over {max_mb} MB")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        made.append({"file": final.name, "shards": len(members), "lines": lines, "bytes": final.stat().st_size})
    return made
