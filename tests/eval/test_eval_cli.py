"""`polyocr eval` end to end on tiny real pages: one table, a JSON file, predictions score.py agrees with."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from eval_pages import paint_over, write_realdev

from polyocr.cli import main
from polyocr.eval.report import format_table, load_runs
from polyocr.languages import shared_dir


def test_eval_folder_table_json_and_predictions(tmp_path, capsys):
    gt = write_realdev(tmp_path / "pages", [("en-1", "en"), ("ru-1", "ru")])
    out, js = tmp_path / "out", tmp_path / "res.json"
    rc = main(["eval", str(gt), "--engines", "tesseract,rapidocr", "--out", str(out), "--json", str(js),
               "--workers", "2", "--threads", "1"])
    assert rc == 0
    table = capsys.readouterr().out
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in table.splitlines()
            if ln.startswith("| ")}
    assert rows["lang"] == ["pages", "tesseract NED", "tesseract NED ws", "rapidocr NED", "rapidocr NED ws"]
    assert rows["en"][0] == "1" and float(rows["en"][1]) < 0.05 and float(rows["en"][3]) < 0.05
    assert rows["ru"][3:] == ["n/a", "n/a"]                        # RapidOCR has no Russian model
    assert float(rows["ru"][1]) < 0.2
    assert rows["**mean**"][3].endswith("(1)")                      # its mean is over the one language it reads
    assert float(rows["pages/s"][1]) > 0 and rows["pages/s"][2] == "×2"

    res = json.loads(js.read_text(encoding="utf-8"))
    assert res == json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert res["languages"]["ru"]["rapidocr"] is None
    assert res["engines"]["tesseract"]["pages"] == 2 and res["engines"]["rapidocr"]["pages"] == 1
    assert res["engines"]["rapidocr"]["version"] == "3.10.0"
    by_page = {(p["engine"], p["id"]): p for p in res["pages"]}
    assert by_page[("rapidocr", "ru-1")]["na"] is True
    assert {"ned_ws", "ned_nows", "cer_ws", "cer_nows", "seconds"} <= set(by_page[("tesseract", "en-1")])
    assert (out / "tesseract" / "en-1.txt").read_text(encoding="utf-8").startswith("The quick brown fox")

    # The JSON is enough to rebuild the table (runs made at different times can share one table).
    rebuilt = format_table(load_runs(js.read_text(encoding="utf-8"))).splitlines()
    assert rebuilt[:5] == table.splitlines()[:5]

    # The saved predictions are in score.py's layout, and it gives the numbers we report.
    score_py = shared_dir() / "realdev" / "score.py"
    subprocess.run([sys.executable, str(score_py), str(out / "tesseract"), str(gt), "--json", str(tmp_path / "s.json")],
                   check=True, capture_output=True)
    for row in json.loads((tmp_path / "s.json").read_text(encoding="utf-8")):
        ours = by_page[("tesseract", row["id"])]
        assert "seconds" in row                                     # our timing.tsv was read
        for key in ("ned_ws", "ned_nows", "cer_ws", "cer_nows"):
            assert ours[key] == pytest.approx(row[key], abs=1e-5)


def test_eval_generated_pages(tmp_path, capsys):
    rc = main(["eval", "--generated", "--langs", "en", "--per-language", "1", "--seed", "3", "--degrade", "clean",
               "--cache", str(tmp_path / "cache"), "--engines", "tesseract", "--out", str(tmp_path / "out")])
    assert rc == 0
    table = capsys.readouterr().out
    en = next(ln for ln in table.splitlines() if ln.startswith("| en |"))
    assert float(en.split("|")[3]) < 0.3
    assert len(list((tmp_path / "cache").glob("*/en-s3-*.jpg"))) == 1


def test_eval_user_errors_are_one_line(tmp_path):
    exe = [sys.executable, "-m", "polyocr.cli", "eval"]
    for args, needle in (([str(tmp_path / "none")], "not a folder"),
                         ([], "give a page folder or --generated"),
                         ([str(tmp_path), "--engines", "nope"], "unknown engine")):
        r = subprocess.run(exe + args, capture_output=True, text=True)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr


def test_eval_leaves_out_truth_that_was_painted_over(tmp_path, capsys):
    """A realdev line painted white has no pixels to read: by default it is not scored (and the run says
    so, in the output and the JSON); --hidden-truth scores it, and every engine pays for it."""
    gt = write_realdev(tmp_path / "pages", [("en-1", "en")])
    paint_over(gt, "en-1", hide=1, mask_only=2)
    neds = {}
    for extra in ([], ["--hidden-truth"]):
        js = tmp_path / f"res{len(extra)}.json"
        assert main(["eval", str(gt), "--engines", "tesseract", "--out", str(tmp_path / f"out{len(extra)}"),
                     "--json", str(js), "--workers", "1"] + extra) == 0
        printed = capsys.readouterr().out
        res = json.loads(js.read_text(encoding="utf-8"))
        neds[bool(extra)] = res["pages"][0]["ned_ws"]
        if extra:
            assert res["hidden_truth_lines"] == {} and "painted over" not in printed
        else:
            assert res["hidden_truth_lines"] == {"en-1": 1} and "1 ground-truth lines on 1 pages" in printed
    assert neds[False] < 0.05 < neds[True]
