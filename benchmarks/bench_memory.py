"""Memory of one long `polyocr read` batch: does the process stay flat over many pages?

    .venv/bin/python benchmarks/bench_memory.py [--pages 1000] [--every 50] [--warmup 100] [--pdf-text]

Writes ``--pages`` page files (ten distinct text pages, repeated under different names, so every
page is a separate source as in a real batch), runs ONE ``polyocr read FOLDER -o OUT -f json``
process over them and samples its resident memory (VmRSS from /proc, polled every 50 ms; the
largest value of each stretch) each time the journal passes another ``--every`` pages. Prints the table (pages, RSS MB) and the largest deviation from the value
after ``--warmup`` pages; the target is ±10% (a leak of a few hundred KB per page shows up as a
steady climb). ``--pdf-text`` writes one-page PDFs and reads their text layer instead of running
the models (checks the input/batch path alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Invoice 2024-117: 3 items, total 1,284.50 EUR, due on 14 March.",
    "Memory must stay flat over a thousand pages of one batch run.",
    "Reading order: title first, then the columns from left to right.",
    "Scanned documents arrive as PNG, JPEG, TIFF and PDF files daily.",
    "Please return the signed form to the office before Friday noon.",
]


def _page(seed: int, size: tuple[int, int] = (1100, 800)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 30)
    for row in range(9):
        draw.text((60, 50 + row * 80), SENTENCES[(seed + row) % len(SENTENCES)], fill="black", font=font)
    return img


def make_sources(folder: Path, pages: int, pdf_text: bool) -> None:
    """``pages`` files from ten distinct pages (bytes reused; names differ)."""
    folder.mkdir(parents=True, exist_ok=True)
    blobs = []
    for seed in range(10):
        path = folder / f"distinct{seed}.tmp"
        if pdf_text:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pipeline"))
            from badinputs import write_pdf

            write_pdf(path, [SENTENCES[seed % len(SENTENCES)]], size=(1100, 200))
        else:
            _page(seed).save(path, format="PNG")
        blobs.append(path.read_bytes())
        path.unlink()
    suffix = ".pdf" if pdf_text else ".png"
    for i in range(pages):
        (folder / f"page{i:05d}{suffix}").write_bytes(blobs[i % len(blobs)])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def measure(folder: Path, out: Path, every: int, extra: list[str]) -> tuple[list[tuple[int, float]], float, int]:
    """Run one batch; (pages, RSS MB) at every ``every`` pages, the peak seen, the exit status."""
    exe = Path(sys.executable).parent / "polyocr"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}
    proc = subprocess.Popen([str(exe), "read", str(folder), "-o", str(out), "-f", "json", "--quiet", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = out / "polyocr-journal.jsonl"
    samples: list[tuple[int, float]] = []
    pages, offset, mark, peak, interval = 0, 0, every, 0.0, 0.0
    while proc.poll() is None:
        try:
            with open(journal, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            chunk = b""
        complete = chunk[: chunk.rfind(b"\n") + 1]
        offset += len(complete)
        pages += complete.count(b'"event": "page"')
        try:
            rss = rss_mb(proc.pid)
        except OSError:
            break
        peak, interval = max(peak, rss), max(interval, rss)
        # The largest RSS seen over each stretch of ``every`` pages: an instant reading can land in
        # the interpreter's teardown after the last page (and show a drop that is not there).
        while pages >= mark:
            samples.append((mark, interval))
            mark += every
            interval = rss
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    sys.stderr.write(stderr.decode(errors="replace")[-2000:])
    print(stdout.decode(errors="replace").strip())
    return samples, peak, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=100, help="pages before the reference value")
    ap.add_argument("--pdf-text", action="store_true", help="one-page PDFs read via their text layer (no models)")
    ap.add_argument("--keep", default=None, help="work folder to keep (default: a temporary one, removed)")
    ap.add_argument("--json", default=None, help="also write the samples here")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        t0 = time.perf_counter()
        make_sources(work / "in", args.pages, args.pdf_text)
        print(f"{args.pages} page files written in {time.perf_counter() - t0:.1f} s ({work / 'in'})")
        t0 = time.perf_counter()
        samples, peak, code = measure(work / "in", work / "out", args.every, ["--pdf-text"] if args.pdf_text else [])
        seconds = time.perf_counter() - t0
        if code != 0 or not samples:
            print(f"polyocr read failed (exit {code}) after {len(samples) * args.every} pages")
            return 1
        print(f"\n{'pages':>6}  {'RSS MB':>8}")
        for n, mb in samples:
            print(f"{n:>6}  {mb:>8.1f}")
        after = [(n, mb) for n, mb in samples if n >= args.warmup]
        base = after[0][1] if after else samples[-1][1]
        worst = max((abs(mb - base) / base for _, mb in after), default=0.0)
        verdict = "PASS" if worst <= 0.10 else "FAIL"
        xs = [n for n, _ in after] or [0]
        ys = [mb for _, mb in after] or [base]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 100 if var else 0.0
        print(f"\nreference (after {args.warmup} pages): {base:.1f} MB; max deviation after it: {worst * 100:+.1f}% "
              f"(target ±10%: {verdict}); trend {slope:+.2f} MB per 100 pages (least squares); peak {peak:.1f} MB; "
              f"{args.pages} pages in {seconds:.1f} s ({args.pages / seconds:.2f} pages/s, one process)")
        if args.json:
            Path(args.json).write_text(json.dumps({"pages": args.pages, "samples": samples, "reference_mb": base,
                                                   "max_deviation": worst, "mb_per_100_pages": slope, "peak_mb": peak, "seconds": seconds,
                                                   "pdf_text": args.pdf_text}, indent=1))
        return 0 if verdict == "PASS" else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
