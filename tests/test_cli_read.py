"""`polyocr read` as a user runs it: a subprocess per call, real files, real pipeline.

Reliability promises checked here: every bad input ends with exit status 2 and one line on stderr
(never a traceback), a batch carries on past bad files and says so in its exit status and summary,
and a batch killed with SIGKILL and rerun with --resume reads no page twice and loses none.
"""

from __future__ import annotations

import difflib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent / "pipeline"))
from badinputs import PASSWORD, text_image, write_corpus, write_pdf  # noqa: E402

from polyocr.document import Document  # noqa: E402
from polyocr.pipeline.batch import JOURNAL_NAME, Journal  # noqa: E402

POLYOCR = Path(sys.executable).parent / "polyocr"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1", "PYTHONIOENCODING": "utf-8"}


def polyocr(*args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    assert POLYOCR.exists(), f"{POLYOCR} missing: install the package (make setup)"
    return subprocess.run([str(POLYOCR), *map(os.fspath, args)], capture_output=True, text=True, env=ENV, cwd=cwd,
                          timeout=timeout, errors="backslashreplace")


def _no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, str | None]]]:
    root = tmp_path_factory.mktemp("cli") / "corpus"
    return root, write_corpus(root)


def test_each_bad_input_fails_with_one_line(corpus: tuple[Path, list[tuple[Path, str | None]]]) -> None:
    _, files = corpus
    bad = [(p, e) for p, e in files if e is not None]
    assert len(bad) >= 10
    with ThreadPoolExecutor(4) as pool:
        procs = list(pool.map(lambda item: polyocr("read", "--pdf-text", item[0]), bad))
    for (path, expected), proc in zip(bad, procs):
        _no_traceback(proc)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (path, proc.returncode, proc.stderr)
        assert lines[0].startswith("polyocr: error: ") and expected in lines[0], (path, lines)
        assert proc.stdout == ""


def test_pdf_text_to_stdout(corpus: tuple[Path, list[tuple[Path, str | None]]], tmp_path: Path) -> None:
    root, _ = corpus
    two = polyocr("read", "--pdf-text", root / "two-pages.pdf")
    assert (two.returncode, two.stdout) == (0, "First page text\fSecond page text\n"), two.stderr
    enc = polyocr("read", "--pdf-text", "--password", PASSWORD, root / "encrypted.pdf")
    assert (enc.returncode, enc.stdout) == (0, "Encrypted hello\n"), enc.stderr
    as_json = polyocr("read", "--pdf-text", "-f", "json", root / "thousand-pages.pdf")
    doc = Document.from_json(as_json.stdout)
    assert len(doc.pages) == 1000 and doc.pages[-1].text == "page 1000"
    latin1 = os.path.join(os.fsencode(tmp_path), b"r\xe9sum\xe9.pdf")
    with open(latin1, "wb") as fh:
        fh.write((root / "two-pages.pdf").read_bytes())
    proc = subprocess.run([os.fsencode(POLYOCR), b"read", b"--pdf-text", latin1], capture_output=True, env=ENV, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "First page text\fSecond page text\n".encode()), proc.stderr


def test_usage_errors_are_one_line(corpus: tuple[Path, list[tuple[Path, str | None]]], tmp_path: Path) -> None:
    root, _ = corpus
    cases = [
        (["-f", "pdf", root / "two-pages.pdf"], "writes files: give -o OUTDIR"),
        ([root / "two-pages.pdf", root / "page.bmp"], "2 sources: give -o OUTDIR"),
        ([tmp_path / "missing.png"], "missing.png: no such file or folder"),
        ([str(tmp_path / "*.tif")], "no file matches this pattern"),
        ([tmp_path], "no image or PDF files in"),
    ]
    for args, expected in cases:
        proc = polyocr("read", "--pdf-text", *args)
        _no_traceback(proc)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and expected in proc.stderr, (args, proc.stderr)
    proc = polyocr("read", "-f", "docx", root / "two-pages.pdf")
    assert proc.returncode == 2 and "unknown format(s) docx" in proc.stderr
    _no_traceback(proc)


def test_pdf_batch_carries_on_past_bad_files(corpus: tuple[Path, list[tuple[Path, str | None]]], tmp_path: Path) -> None:
    root, files = corpus
    listing = tmp_path / "list.txt"
    chosen = [p for p, e in files if e is not None or p.suffix == ".pdf"]
    listing.write_text("\n".join(os.fsdecode(p) for p in chosen) + "\n", errors="surrogateescape")
    out = tmp_path / "out"
    proc = polyocr("read", f"@{listing}", "--pdf-text", "-o", out, "-f", "json,text", "--quiet")
    _no_traceback(proc)
    bad = [p for p, e in files if e is not None]
    assert proc.returncode == 1, proc.stderr
    assert f"{len(chosen)} sources: 2 ok, {len(bad)} failed" in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == len(bad)
    assert Document.from_json((out / "thousand-pages.json").read_text()).pages[999].text == "page 1000"
    assert (out / "two-pages.txt").read_text() == "First page text\fSecond page text\n"


def test_resume_after_sigkill(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(10):
        write_pdf(src / f"doc{i:02d}.pdf", [f"document {i} page {k + 1}" for k in range(150)], size=(200, 40))
    # Images read by the real pipeline, first and last, so both runs build and use it.
    text_image("Hello polyocr 2024").save(src / "a-first.png")
    text_image("Hello polyocr 2024").save(src / "z-last.png")
    out = tmp_path / "out"
    cmd = [str(POLYOCR), "read", str(src), "--pdf-text", "-o", str(out), "-f", "json", "--quiet"]
    first = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = Journal(out / JOURNAL_NAME)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not journal.finished():  # the first source is done
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    done_before = [e for e in journal.finished().values() if e["status"] == "ok"]
    assert 1 <= len(done_before) < 12, "the first run must be killed mid-way"
    second = polyocr("read", src, "--pdf-text", "-o", out, "-f", "json", "--quiet", "--resume")
    _no_traceback(second)
    assert second.returncode == 0 and f"{len(done_before)} already done" in second.stdout, second.stdout
    pages = [(e["source"], e["index"]) for e in journal.entries() if e["event"] == "page"]
    assert len(pages) == 1502 and len(set(pages)) == 1502  # every page read exactly once over both runs
    for i in range(10):
        doc = Document.from_json((out / f"doc{i:02d}.json").read_text())
        assert [p.text for p in doc.pages] == [f"document {i} page {k + 1}" for k in range(150)]
    for name in ("a-first", "z-last"):
        assert _similar(Document.from_json((out / f"{name}.json").read_text()).text, "Hello polyocr 2024") > 0.7
    assert not any((out / ".polyocr-partial").rglob("*.json"))


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, " ".join(a.lower().split()), " ".join(b.lower().split())).ratio()


def test_real_pipeline_end_to_end(corpus: tuple[Path, list[tuple[Path, str | None]]], tmp_path: Path) -> None:
    """The packaged models on real images: stdout, and a batch (two workers) over the whole corpus."""
    page = tmp_path / "page.png"
    text_image("The quick brown fox jumps over the lazy dog.", (1654, 400)).save(page)
    proc = polyocr("read", page)
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert _similar(proc.stdout, "The quick brown fox jumps over the lazy dog.") > 0.8, proc.stdout

    root, files = corpus
    out = tmp_path / "out"
    proc = polyocr("read", root, "--pdf-text", "-o", out, "-f", "json,overlay", "--quiet", "--workers", "2", timeout=600)
    _no_traceback(proc)
    bad = [p for p, e in files if e is not None]
    assert proc.returncode == 1, proc.stderr
    assert f"{len(files)} sources: {len(files) - len(bad)} ok, {len(bad)} failed" in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == len(bad)
    finished = Journal(out / JOURNAL_NAME).finished()
    for path, expected in files:
        if expected is not None:
            continue
        entry = finished[os.path.abspath(path)]
        assert entry["status"] == "ok", entry
        assert all((out / name).exists() for name in entry["outputs"]), entry["outputs"]
        doc = Document.from_json((out / entry["outputs"][0]).read_bytes())
        assert len([o for o in entry["outputs"] if o.endswith(".png")]) == len(doc.pages) == entry["pages"]
        if path.suffix == ".pdf":
            continue  # their text layer, checked above
        with Image.open(out / entry["outputs"][1]) as overlay:
            assert overlay.size == (doc.pages[0].width, doc.pages[0].height) == (1200, 300)
        want = [f"Page {i + 1} of three" for i in range(3)] if path.suffix == ".tif" and "three" in path.name \
            else ["Hello polyocr 2024"]
        for page_doc, text in zip(doc.pages, want):
            assert _similar(page_doc.text, text) > 0.7, (path, page_doc.text)


def test_accurate_reads_the_korean_sample_at_least_as_well(tmp_path: Path) -> None:
    """`--accurate` on the bundled Korean page: same exit, no traceback, text no further from the
    truth than the default reading (the second width is kept only where it scores better)."""
    from polyocr.eval.metrics import ned

    sample = Path(__file__).resolve().parents[1] / "samples" / "ko-form.jpg"
    truth = sample.with_suffix(".txt").read_text(encoding="utf-8")
    plain, accurate = polyocr("read", sample), polyocr("read", sample, "--accurate")
    for proc in (plain, accurate):
        _no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
    strip = lambda t: "".join(t.split())  # noqa: E731
    assert ned(strip(accurate.stdout), strip(truth)) <= ned(strip(plain.stdout), strip(truth)) + 0.01
    assert ned(strip(accurate.stdout), strip(truth)) < 0.1


def test_scanned_pdf_pages_and_searchable_pdf_keep_the_original(tmp_path: Path) -> None:
    """`--pages 2` of a scanned 3-page PDF, read by the packaged models: one page out, the same as the
    original's page 2 to the pixel (its own content, not a re-encoded image), searchable with the
    text the JSON holds. A page past the end is one line and a non-zero exit."""
    import numpy as np
    import pypdfium2 as pdfium

    texts = ["First page of the scan", "The quick brown fox jumps over the lazy dog.", "Third and last page"]
    scan = tmp_path / "scan.pdf"
    pages = [text_image(t, (1654, 400)) for t in texts]
    pages[0].save(scan, format="PDF", resolution=200, save_all=True, append_images=pages[1:])
    out = tmp_path / "out"
    proc = polyocr("read", scan, "--pages", "2", "-o", out, "-f", "pdf,json", "--quiet")
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    doc = Document.from_json((out / "scan.json").read_bytes())
    assert [p.index for p in doc.pages] == [1] and _similar(doc.text, texts[1]) > 0.8, doc.text

    def render(path: Path, i: int) -> np.ndarray:
        pdf = pdfium.PdfDocument(str(path))
        try:
            return np.asarray(pdf[i].render(scale=200 / 72).to_pil().convert("RGB"))
        finally:
            pdf.close()

    assert len(pdfium.PdfDocument(str(out / "scan.pdf"))) == 1
    assert np.array_equal(render(out / "scan.pdf", 0), render(scan, 1))
    text = subprocess.run(["pdftotext", str(out / "scan.pdf"), "-"], capture_output=True, text=True).stdout
    assert _similar(text, doc.text) > 0.9, (text, doc.text)

    past = polyocr("read", scan, "--pages", "2,4")
    _no_traceback(past)
    assert past.returncode == 2 and past.stderr.strip() == "polyocr: error: " + f"{scan}: page 4 asked for, but it has 3 pages"
    bad = polyocr("read", scan, "--pages", "two")
    assert bad.returncode == 2 and "--pages" in bad.stderr and "Traceback" not in bad.stderr


def test_raw_confidence_keeps_the_recognisers_scores(tmp_path: Path) -> None:
    """The same reading with calibrated (default) and raw confidences: text and boxes identical, the
    raw scores higher on this page (the recogniser overstates), hOCR carrying whichever was asked for."""
    sample = Path(__file__).resolve().parents[1] / "samples" / "ru-prose.jpg"
    docs = {}
    for name, extra in (("cal", []), ("raw", ["--raw-confidence"])):
        proc = polyocr("read", sample, "-o", tmp_path / name, "-f", "json,hocr", *extra)
        _no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
        docs[name] = Document.from_json((tmp_path / name / f"{sample.stem}.json").read_text(encoding="utf-8"))
    cal, raw = (docs[k].pages[0] for k in ("cal", "raw"))
    assert cal.text == raw.text and [ln.polygon for ln in cal.lines] == [ln.polygon for ln in raw.lines]
    mean = lambda page: sum(ln.confidence for ln in page.lines) / len(page.lines)  # noqa: E731
    assert mean(raw) > mean(cal)
    hocr = (tmp_path / "raw" / f"{sample.stem}.hocr").read_text(encoding="utf-8")
    assert f"x_wconf {round(raw.lines[0].words[0].confidence * 100)}" in hocr


def _piped(args: list[str | os.PathLike[str]], data: bytes | None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`polyocr read - ...` with ``data`` on stdin (None: stdin is a pseudo-terminal, as typed at a shell)."""
    cmd = [str(POLYOCR), "read", "-", *map(os.fspath, args)]
    if data is not None:
        return subprocess.run(cmd, input=data, capture_output=True, env=ENV, timeout=timeout)
    import pty

    leader, follower = pty.openpty()
    try:
        return subprocess.run(cmd, stdin=follower, capture_output=True, env=ENV, timeout=timeout)
    finally:
        os.close(leader)
        os.close(follower)


def test_a_file_piped_in_is_read_like_the_file(corpus: tuple[Path, list[tuple[Path, str | None]]], tmp_path: Path) -> None:
    """`polyocr read -` reads the bytes piped in: the same text as the file, every format under -o
    (the searchable PDF of a piped PDF keeps its pages), and one line for each way it can go wrong;
    a terminal on stdin is refused at once rather than waited on."""
    page = tmp_path / "page.png"
    text_image("The quick brown fox jumps over the lazy dog.", (1654, 400)).save(page)
    from_file = polyocr("read", "-f", "json", page)
    piped = _piped(["-f", "json"], page.read_bytes())
    assert piped.returncode == 0, piped.stderr
    a, b = Document.from_json(from_file.stdout), Document.from_json(piped.stdout.decode())
    assert b.source == "<stdin>" and a.text == b.text and _similar(b.text, "The quick brown fox jumps over the lazy dog.") > 0.8
    root, _ = corpus
    out = tmp_path / "out"
    proc = _piped(["--pdf-text", "-o", out, "-f", "text,pdf,json"], (root / "two-pages.pdf").read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert "<stdin>: 2 pages read" in proc.stdout.decode()
    assert (out / "stdin.txt").read_text() == "First page text\fSecond page text\n"
    assert subprocess.run(["pdftotext", out / "stdin.pdf", "-"], capture_output=True, text=True).stdout.split() == \
        ["First", "page", "text", "Second", "page", "text"]
    proc = _piped(["-o", out, "-f", "overlay"], page.read_bytes())
    assert proc.returncode == 0 and (out / "stdin.overlay-0001.png").is_file(), proc.stderr
    with Image.open(out / "stdin.overlay-0001.png") as im:
        assert im.size == (1654, 400)
    cases = [([], b"", "<stdin>: empty input"),
             ([], os.fsencode(page) + b"\n", "<stdin>: not a supported file type"),   # a path piped in is not a file
             ([], page.read_bytes()[:300], "<stdin>: damaged or truncated PNG"),
             ([page], page.read_bytes(), "must be the only source"),
             (["-f", "pdf"], page.read_bytes(), "writes files: give -o OUTDIR"),
             ([], None, "stdin is a terminal")]
    for extra, data, expected in cases:
        proc = _piped(extra, data, timeout=60)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.count("\n") == 1 and expected in err, (extra, err)
        assert "Traceback" not in err and proc.stdout == b""


def test_white_lettering_on_a_transparent_image_is_read(tmp_path: Path) -> None:
    """A PNG exported for a dark slide: white letters, alpha for the ink, nothing else. Laid on white
    paper it would be blank; it is read as dark lettering on white."""
    import numpy as np

    ink = np.asarray(text_image("The quick brown fox jumps over the lazy dog.", (1654, 400)).convert("L")) < 128
    rgba = np.full(ink.shape + (4,), 255, np.uint8)
    rgba[..., 3] = np.where(ink, 255, 0)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "slide-title.png")
    proc = polyocr("read", tmp_path / "slide-title.png")
    _no_traceback(proc)
    assert proc.returncode == 0 and _similar(proc.stdout, "The quick brown fox jumps over the lazy dog.") > 0.8, proc.stdout
