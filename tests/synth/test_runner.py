"""The shard runner: determinism across workers/backends, crash-resume, failures, card."""

from __future__ import annotations

import functools
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polyocr.synth.runner import RunConfig, RunSummary, run
from polyocr.synth.shards import RejectSample, Sample

COUNT = 40
PER_SHARD = 4
N_SHARDS = COUNT // PER_SHARD
CARD = {"seed": 7, "command": "polyocr synth --seed 7 --count 40", "generator": {"kind": "fake"}}
CHARSET = {"en": set("abcd"), "ja": {"日": 5.0, "本": 3.0, "語": 9.0}}
REJECTED = {i for i in range(COUNT) if i % 7 == 0}
HERE = Path(__file__).resolve().parent


# --- a fake deterministic producer (top-level, so process pools and Ray can pickle it) ----------


def fake_sample(index: int, sleep: float = 0.0, fail_on: int | None = None) -> Sample:
    if sleep:
        time.sleep(sleep)
    if index % 7 == 0:
        raise RejectSample("test")
    if index == fail_on:
        raise ValueError("boom")
    rng = np.random.default_rng(index)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (6, 12, 3), dtype=np.uint8)).save(buf, "PNG")
    lang = "ja" if index % 2 else "en"
    text = ("abc" if lang == "en" else "日本")[: 1 + index % 3]
    return Sample(
        key=f"{index:09d}",
        files={"png": buf.getvalue(), "json": json.dumps({"index": index}).encode()},
        stats={"language": lang, "layout": "line", "lines": 1, "chars": text},
    )


def fake_factory(sleep: float = 0.0, fail_on: int | None = None):
    return functools.partial(fake_sample, sleep=sleep, fail_on=fail_on)


# --- helpers ------------------------------------------------------------------------------------


def make(out: Path, factory=fake_factory, **kw) -> RunSummary:
    cfg = RunConfig(out=out, count=COUNT, samples_per_shard=PER_SHARD, progress=False, **kw)
    return run(factory, cfg, card_info=CARD, charset=CHARSET)


def files_of(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def tar_samples(out: Path) -> list[tuple[str, dict[str, bytes]]]:
    """All samples of all shards, grouped WebDataset-style (key = name up to the first dot)."""
    samples = []
    for shard in sorted(out.glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            members = tar.getmembers()
            for m in members:
                assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
            for key, group in itertools.groupby(members, key=lambda m: m.name.split(".", 1)[0]):
                files = {m.name.split(".", 1)[1]: tar.extractfile(m).read() for m in group}
                samples.append((key, files))
    return samples


def expected_keys() -> list[str]:
    return [f"{i:09d}" for i in range(COUNT) if i not in REJECTED]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """An uninterrupted single-process run: every other run must match it byte for byte."""
    out = tmp_path_factory.mktemp("ref") / "ds"
    summary = make(out)
    assert summary.ok and summary.card_written
    assert summary.samples_written == COUNT - len(REJECTED)
    assert summary.rejected == {"test": len(REJECTED)}
    assert (summary.shards_done, summary.shards_skipped) == (N_SHARDS, 0)
    return files_of(out)


# --- tests --------------------------------------------------------------------------------------


def test_tar_readable_and_grouped(reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    for name, data in reference.items():
        (out / name).write_bytes(data)
    samples = tar_samples(out)
    keys = [k for k, _ in samples]
    assert keys == expected_keys()  # sorted, rejected absent, no duplicates
    for key, files in samples:
        assert set(files) == {"png", "json"}
        assert json.loads(files["json"]) == {"index": int(key)}
        assert Image.open(io.BytesIO(files["png"])).size == (12, 6)
    sidecar = json.loads(reference["shard-00001.json"])
    assert (sidecar["start"], sidecar["stop"], sidecar["samples"], sidecar["rejected"]) == (4, 8, 3, {"test": 1})
    assert sidecar["size"] == len(reference["shard-00001.tar"])

    card = json.loads(reference["dataset.json"])
    assert card["seed"] == 7 and card["command"] == CARD["command"]
    assert card["totals"]["samples"] == COUNT - len(REJECTED)
    assert card["totals"]["rejected"] == {"test": len(REJECTED)}
    assert card["coverage"]["ja"]["missing"] == ["語"]  # weighted charset: most common missing first
    assert card["coverage"]["en"]["percent"] == 75.0
    readme = reference["README.md"].decode()
    for needle in ("load_dataset(\"webdataset\"", "wds.WebDataset", "tarfile", CARD["command"], "| ja |", "| test | 6 |"):
        assert needle in readme


def test_workers_give_identical_bytes(reference: dict[str, bytes], tmp_path: Path) -> None:
    summary = make(tmp_path / "ds", workers=2)
    assert summary.ok
    assert files_of(tmp_path / "ds") == reference  # tars, sidecars, dataset.json, README.md


def test_kill_and_resume(reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "ds"
    script = textwrap.dedent(f"""
        import functools, sys
        sys.path.insert(0, {str(HERE)!r})
        from test_runner import fake_factory, make
        make(__import__("pathlib").Path({str(out)!r}), functools.partial(fake_factory, sleep=0.03))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(list(out.glob("shard-*.json"))) < 3:
            assert proc.poll() is None, "generator exited before it could be killed"
            assert time.monotonic() < deadline, "no shards appeared"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done_at_kill = len(list(out.glob("shard-*.json")))
    assert 3 <= done_at_kill < N_SHARDS
    (out / "shard-00009.tar.tmp-424242").write_bytes(b"debris of a dead writer")

    with pytest.raises(FileExistsError, match="resume"):
        make(out)
    summary = make(out, resume=True, workers=2)
    assert summary.ok
    assert summary.shards_skipped == done_at_kill
    assert summary.shards_done == N_SHARDS - done_at_kill
    assert files_of(out) == reference
    keys = [k for k, _ in tar_samples(out)]
    assert keys == expected_keys()  # none lost, none duplicated


def test_resume_cleans_tmp_and_redoes_damaged_shards(reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    for name, data in reference.items():
        (out / name).write_bytes(data)
    (out / "shard-00002.tar.tmp-99999").write_bytes(b"x")
    (out / "shard-00004.tar").write_bytes(reference["shard-00004.tar"][:1000])  # truncated
    (out / "shard-00005.json").unlink()  # killed between tar and sidecar
    with pytest.raises(FileExistsError):
        make(out)
    summary = make(out, resume=True)
    assert (summary.shards_done, summary.shards_skipped) == (2, N_SHARDS - 2)
    assert files_of(out) == reference

    # a resume that changes the generator settings must not mix shards
    with pytest.raises(ValueError, match="other generator settings"):
        run(fake_factory, RunConfig(out, COUNT, PER_SHARD, resume=True, progress=False), card_info={"seed": 8})


def test_failing_sample_fails_only_its_shard(reference: dict[str, bytes], tmp_path: Path, caplog) -> None:
    out = tmp_path / "ds"
    bad = functools.partial(fake_factory, fail_on=13)  # index 13 lives in shard 3
    summary = make(out, bad, workers=2)
    assert not summary.ok and summary.exit_code == 1
    assert summary.shards_failed == (3,)
    assert summary.shards_done == N_SHARDS - 1
    assert "sample 13" in summary.failures[3] and "ValueError: boom" in summary.failures[3]
    assert "shard-00003" in summary.describe()
    assert any("sample 13" in r.getMessage() for r in caplog.records)  # traceback in the log
    names = {p.name for p in out.iterdir()}
    assert "shard-00003.tar" not in names and "shard-00003.json" not in names
    assert not [n for n in names if ".tmp-" in n]
    assert "README.md" not in names and "dataset.json" not in names  # card only when complete

    summary = make(out, resume=True)
    assert summary.ok and (summary.shards_done, summary.shards_skipped) == (1, N_SHARDS - 1)
    assert files_of(out) == reference


def test_folder_format_and_resume(reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert make(out, format="folder").ok
    full = files_of(out)
    by_key = {}
    for name, data in full.items():
        if not name.startswith("shard-") and name not in ("dataset.json", "README.md"):
            key, ext = name.split(".", 1)
            by_key.setdefault(key, {})[ext] = data
    assert sorted(by_key.items()) == tar_samples_from(reference)
    card = json.loads(full["dataset.json"])
    assert card["totals"] == json.loads(reference["dataset.json"])["totals"]

    (out / "shard-00006.json").unlink()
    (out / "000000025.png").unlink()  # sample of shard 6
    (out / "000000030.json").write_bytes(b"{")  # shard 7: wrong size
    (out / "000000033.png.tmp-77777").write_bytes(b"half")
    summary = make(out, format="folder", resume=True, verify=True)
    assert (summary.shards_done, summary.shards_skipped) == (2, N_SHARDS - 2)
    assert files_of(out) == full


def tar_samples_from(files: dict[str, bytes]) -> list[tuple[str, dict[str, bytes]]]:
    samples = []
    for name in sorted(n for n in files if n.endswith(".tar")):
        with tarfile.open(fileobj=io.BytesIO(files[name])) as tar:
            for key, group in itertools.groupby(tar.getmembers(), key=lambda m: m.name.split(".", 1)[0]):
                samples.append((key, {m.name.split(".", 1)[1]: tar.extractfile(m).read() for m in group}))
    return samples


@pytest.mark.ray
def test_ray_backend_matches_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import ray
    except ImportError:
        pytest.fail("ray is not installed: CI must install polyocr[ray] (pip install 'ray[data]')")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    # Ray workers import the fake producer's module: they inherit this env from the local raylet
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    assert not ray.is_initialized()
    cfg = dict(count=12, samples_per_shard=4, progress=False)
    local = run(fake_factory, RunConfig(out=tmp_path / "local" / "ds", **cfg), card_info=CARD)
    remote = run(fake_factory, RunConfig(out=tmp_path / "ray" / "ds", backend="ray", workers=2, **cfg), card_info=CARD)
    assert local.ok and remote.ok and remote.shards_done == 3
    assert not ray.is_initialized()  # the runner stops the Ray it started
    assert files_of(tmp_path / "ray" / "ds") == files_of(tmp_path / "local" / "ds")
