"""The command line as a user runs it: real subprocesses, exit codes, no tracebacks."""

import hashlib
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

POLYOCR = [sys.executable, "-m", "polyocr.cli"]
SMALL = ["--dpi", "100", "--seed", "5", "--langs", "en,ar,ja", "--workers", "1", "--quiet"]


def _run(*args, timeout=300):
    return subprocess.run([*POLYOCR, *args], capture_output=True, text=True, timeout=timeout)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("shard-*.tar"))}


def test_pages_are_byte_identical_across_runs_and_workers(tmp_path):
    a = _run("synth", "pages", "--out", str(tmp_path / "a"), "--count", "6", "--shard-size", "3", *SMALL)
    assert a.returncode == 0, a.stderr
    b = _run("synth", "pages", "--out", str(tmp_path / "b"), "--count", "6", "--shard-size", "3",
             *[x if x != "1" else "2" for x in SMALL])  # --workers 2
    assert b.returncode == 0, b.stderr
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != {}
    card = (tmp_path / "a" / "README.md").read_text()
    assert "en" in card and "ar" in card
    with tarfile.open(tmp_path / "a" / "shard-00000.tar") as tf:
        names = tf.getnames()
    assert any(n.endswith(".json") for n in names) and any(n.endswith(".jpg") for n in names)


def test_kill_and_resume_equals_an_uninterrupted_run(tmp_path):
    args = ["--count", "8", "--shard-size", "2", *SMALL]
    full = _run("synth", "lines", "--out", str(tmp_path / "full"), *args)
    assert full.returncode == 0, full.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen([*POLYOCR, "synth", "lines", "--out", str(out), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("shard-*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("shard-*.json")))
    assert 1 <= done_before < 4, "the kill should land mid-run"
    again = _run("synth", "lines", "--out", str(out), *args)
    assert again.returncode == 2 and "resume" in again.stderr.lower() and "Traceback" not in again.stderr
    resumed = _run("synth", "lines", "--out", str(out), "--resume", *args)
    assert resumed.returncode == 0, resumed.stderr
    assert _digest(out) == _digest(tmp_path / "full")
    keys = []
    for tar in sorted(out.glob("shard-*.tar")):
        with tarfile.open(tar) as tf:
            keys += sorted({n.split(".")[0] for n in tf.getnames()})
    assert len(keys) == len(set(keys)) == 8


@pytest.mark.parametrize("args,message", [
    (["synth", "pages", "--out", "x", "--count", "1", "--langs", "fr"], "unknown language"),
    (["synth", "pages", "--out", "x", "--count", "0"], "must be positive"),
    (["synth", "pages", "--out", "x", "--count", "2", "--font-dir", "/nonexistent"], "not a folder"),
    (["synth", "pages", "--out", "x", "--count", "2", "--layouts", "poster"], "unknown layout"),
    (["synth", "lines", "--out", "x", "--count", "2", "--marks", "1.5"], "between 0 and 1"),
    (["synth", "pages", "--out", "x", "--count", "2", "--shared", "/nonexistent"], "no data/ inside"),
    (["train", "score", "--weights", "/nonexistent.safetensors", "--data", ".", "--out", "s.jsonl"], "not found"),
    (["train", "rec", "--out", "r", "--set", "curation=best"], "unknown curation"),
    (["train", "rec", "--out", "r", "--set", "curation=filter"], "needs scores="),
    (["train", "rec", "--out", "r", "--set", "init_layers=0,3"], "give them with --init"),
    (["train", "rec", "--out", "r", "--set", "teacher=/nonexistent.safetensors"], "not a file"),
    (["train", "fontweights", "--scores", "/nonexistent.jsonl", "--out", "w.json"], "no line scores"),
    (["synth", "lines", "--out", "x", "--count", "2", "--font-weights", "/nonexistent.json"], "font weights"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    r = subprocess.run([*POLYOCR, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_check_command_prints_the_quality_table():
    r = _run("synth", "check", "--pages", "2", "--lines", "5", "--langs", "he,zh-Hant", "--dpi", "100", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| he | 2 |" in r.stdout and "| zh-Hant | 2 |" in r.stdout


def test_fallback_without_shared_data(tmp_path):
    """A fresh machine without ../shared: text from wordfreq/Faker, procedural backgrounds."""
    env = {**os.environ, "POLYOCR_SHARED": ""}
    r = subprocess.run([*POLYOCR, "synth", "pages", "--out", str(tmp_path / "o"), "--count", "3", "--shard-size", "3",
                        "--shared", "", *SMALL], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "shard-00000.tar").stat().st_size > 10_000


def test_script_faces_flag_draws_lines_in_one_script_faces(tmp_path):
    """`--script-faces` reaches the workers: Hebrew lines come out in faces the 97 % rule leaves out."""
    import json

    from polyocr.synth.fonts import FontLibrary

    lib = FontLibrary.scan(script_faces=True)
    narrow = {f.family for f in lib.faces if lib.script_face(f, "he") and lib.coverage(f, "he") < 0.97}
    families = {}
    for flag in ((), ("--script-faces",)):
        out = tmp_path / ("on" if flag else "off")
        r = _run("synth", "lines", "--out", str(out), "--count", "32", "--langs", "he", "--seed", "4",
                 "--workers", "1", "--quiet", *flag)
        assert r.returncode == 0, r.stderr
        with tarfile.open(out / "shard-00000.tar") as tf:
            metas = [json.loads(tf.extractfile(m).read()) for m in tf.getmembers() if m.name.endswith(".json")]
        families[bool(flag)] = [m["font"]["family"] for m in metas]
    assert families[False] and not set(families[False]) & narrow
    assert set(families[True]) & narrow, families[True]
