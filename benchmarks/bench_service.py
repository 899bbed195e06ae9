"""Load and memory of ``polyocr serve`` on loopback: a steady run, then an overload run.

    .venv/bin/python benchmarks/bench_service.py [--requests 500] [--clients 16] [--page PAGE]
        [--concurrency 2] [--queue 16] [--overload-clients 64] [--overload-queue 4] [--overload-seconds 30]
        [--stub SECONDS] [--rss-every 100] [--warmup 100]

1. steady: ``polyocr serve --concurrency 2 --queue 16`` (the defaults) and REQUESTS reads of one small
   real page (the top 300 px of a generated English page at 100 dpi, about ten lines, unless
   --page or --crop) from CLIENTS threads with keep-alive connections. Reports errors, p50/p95/max
   latency, throughput, and the server's RSS (from /proc) after start-up, halfway and at the end,
   plus its peak (VmHWM), and every --rss-every answers with the largest deviation after --warmup.
2. overload: a fresh server with ``--queue 4``, OVERLOAD_CLIENTS clients sending as fast as they can;
   for --overload-seconds without waiting out 429s; counts 200 / 429 / 503 / other answers, the
   goodput (200s per second) and checks the server still answers /health and exits cleanly.

``--stub SECONDS`` replaces the packaged pipeline by a stand-in that sleeps, to measure the
service's own overhead (or to run before the models exist). Prints one table; writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import httpx  # noqa: E402

POLYOCR = Path(sys.executable).with_name("polyocr")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc/PID/status."""
    text = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", text).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))
    return rss / 1024, hwm / 1024


class Server:
    """``polyocr serve --port 0`` (or the stub server below) in a subprocess."""

    def __init__(self, args: list[str], stub: float | None) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        cmd = ([sys.executable, __file__, "_stub", str(stub)] if stub is not None else [str(POLYOCR), "serve"])
        self.proc = subprocess.Popen([*cmd, "--port", "0", "--log-level", "error", *args], env=env,
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.url = ""
        log: list[str] = []
        while not self.url:
            line = self.proc.stderr.readline()
            if not line:
                raise SystemExit(f"server exited: {''.join(log)[-2000:]}")
            log.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            self.url = m.group(1) if m else ""
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()
        t0 = time.monotonic()
        while True:
            try:
                r = httpx.get(self.url + "/health", timeout=10)
                if r.status_code == 200:
                    break
                if r.json().get("status") == "error":
                    raise SystemExit(f"the pipeline did not load: {r.json().get('error')}")
            except httpx.TransportError:
                pass
            if time.monotonic() - t0 > 300 or self.proc.poll() is not None:
                raise SystemExit("server did not become ready")
            time.sleep(0.2)
        self.ready_s = time.monotonic() - t0

    def rss(self) -> tuple[float, float]:
        return rss_mb(self.proc.pid)

    def cpu(self) -> float:
        return cpu_s(self.proc.pid)

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=120)


@dataclass
class Run:
    name: str
    requests: int
    clients: int
    seconds: float = 0.0
    codes: dict[str, int] = field(default_factory=dict)
    transport_errors: int = 0
    latencies_ok: list[float] = field(default_factory=list, repr=False)
    rss_mb: dict[str, float] = field(default_factory=dict)
    rss_series: list[tuple[int, float]] = field(default_factory=list)  # (requests answered, RSS MiB)
    server_cpu_s: float = 0.0
    alive_after: bool = False

    def summary(self) -> dict:
        lat = sorted(self.latencies_ok)
        q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan"))
        d = {k: v for k, v in asdict(self).items() if k != "latencies_ok"}
        d.update(ok=len(lat), p50_s=q(0.50), p95_s=q(0.95), max_s=lat[-1] if lat else float("nan"),
                 mean_s=statistics.fmean(lat) if lat else float("nan"),
                 ok_per_s=len(lat) / self.seconds if self.seconds else 0.0)
        return d


def fire(server: Server, run: Run, body: bytes, name: str, on_progress=None, duration: float = 0.0) -> None:
    """POSTs from ``run.clients`` threads, each sending its next request as soon as it has an answer
    (429s are not waited out): ``run.requests`` in all, or as many as fit in ``duration`` seconds."""
    lock = threading.Lock()
    next_i = [0]
    done = [0]
    t_end = time.perf_counter() + duration

    def worker() -> None:
        with httpx.Client(base_url=server.url, timeout=600) as c:
            while True:
                with lock:
                    if (duration and time.perf_counter() >= t_end) or (not duration and next_i[0] >= run.requests):
                        return
                    next_i[0] += 1
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/read", files={"file": (name, body)}, data={"format": "json"})
                    code = str(r.status_code)
                except httpx.TransportError:
                    code = "transport"
                dt = time.perf_counter() - t0
                with lock:
                    if code == "transport":
                        run.transport_errors += 1
                    run.codes[code] = run.codes.get(code, 0) + 1
                    if code == "200":
                        run.latencies_ok.append(dt)
                    done[0] += 1
                    n = done[0]
                if on_progress:
                    on_progress(n)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(run.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - t0
    run.requests = done[0]


def make_page(folder: Path, crop: int) -> Path:
    """A generated English page at 100 dpi (827x1170 px), cut to its top ``crop`` px (0 = whole page)."""
    out = folder / "pages"
    subprocess.run([str(POLYOCR), "synth", "pages", "--out", str(out), "--count", "1", "--format", "folder",
                    "--langs", "en", "--workers", "1", "--quiet", "--dpi", "100", "--seed", "11", "--degrade", "clean"],
                   check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
    page = next(out.glob("000000000.*g"))
    if not crop:
        return page
    from PIL import Image

    small = folder / f"page-top{crop}.jpg"
    with Image.open(page) as im:
        im.convert("RGB").crop((0, 0, im.width, min(crop, im.height))).save(small, quality=90)
    return small


def steady(args: argparse.Namespace, body: bytes, name: str) -> tuple[Run, float, float]:
    server = Server(["--concurrency", str(args.concurrency), "--queue", str(args.queue), "--threads", str(args.threads)],
                    args.stub)
    run = Run("steady", args.requests, args.clients)
    try:
        run.rss_mb["start"] = server.rss()[0]
        # one request alone first: the service time without queueing (not counted in the run)
        t0 = time.perf_counter()
        r = httpx.post(server.url + "/v1/read", files={"file": (name, body)}, data={"format": "json"}, timeout=600)
        single = time.perf_counter() - t0
        if r.status_code != 200:
            raise SystemExit(f"a single read failed: {r.status_code} {r.text[:300]}")
        lines = int(r.headers.get("x-polyocr-lines", "0"))
        half = args.requests // 2

        def progress(n: int) -> None:
            if n == half:
                run.rss_mb["middle"] = server.rss()[0]
            if args.rss_every and n % args.rss_every == 0:
                run.rss_series.append((n, server.rss()[0]))

        c0 = server.cpu()
        fire(server, run, body, name, progress)
        run.server_cpu_s = server.cpu() - c0
        run.rss_mb["end"], run.rss_mb["peak"] = server.rss()
        run.alive_after = httpx.get(server.url + "/health", timeout=10).status_code == 200
    finally:
        server.stop()
    return run, single, lines


def rss_drift(series: list[tuple[int, float]], warmup: int) -> str:
    """The steady run's RSS samples and their largest deviation from the first sample after warm-up
    (a leak shows as a steady climb; allocator noise as a few percent either way)."""
    if not series:
        return "RSS series: none (--rss-every 0 or fewer answers than one step)"
    points = " ".join(f"{n}:{mb:.0f}" for n, mb in series)
    after = [mb for n, mb in series if n >= warmup]
    if not after:
        return f"RSS MiB by answers: {points}"
    ref = after[0]
    dev = max(abs(mb - ref) for mb in after) / ref * 100
    return (f"RSS MiB by answers: {points}\nafter warm-up ({warmup} answers): reference {ref:.0f} MiB, "
            f"range {min(after):.0f}..{max(after):.0f} MiB, max deviation {dev:.1f}%")


def overload(args: argparse.Namespace, body: bytes, name: str) -> Run:
    server = Server(["--concurrency", str(args.concurrency), "--queue", str(args.overload_queue),
                     "--threads", str(args.threads)], args.stub)
    run = Run("overload", 0, args.overload_clients)
    try:
        run.rss_mb["start"] = server.rss()[0]
        c0 = server.cpu()
        fire(server, run, body, name, duration=args.overload_seconds)
        run.server_cpu_s = server.cpu() - c0
        run.rss_mb["end"], run.rss_mb["peak"] = server.rss()
        h = httpx.get(server.url + "/health", timeout=10)
        run.alive_after = h.status_code == 200 and h.json()["running"] == 0
    finally:
        code = server.stop()  # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly
        run.alive_after = run.alive_after and code in (0, -signal.SIGTERM)
    return run


def _stub_server(argv: list[str]) -> None:
    """``bench_service.py _stub SECONDS [serve flags]``: the real service around a sleeping pipeline."""
    from polyocr.cli import build_parser
    from polyocr.document import Line, Page, Block, quad_from_box
    from polyocr.service.config import ServiceConfig
    from polyocr.service.server import bind, make_server

    delay = float(argv[0])

    class Stub:
        def read_image(self, image, index=0, dpi=0.0):
            time.sleep(delay)
            w, h = image.size
            ln = Line("stub", quad_from_box(1, 1, w - 1, h / 2), language="en")
            return Page(width=w, height=h, blocks=[Block([ln], ln.polygon)], index=index).assign_ids()

    a = build_parser().parse_args(["serve", *argv[1:]])
    cfg = ServiceConfig(port=a.port, concurrency=a.concurrency, queue=a.queue, threads=a.threads, log_level=a.log_level)
    sock = bind(cfg.host, cfg.port)
    print(f"stub serve: http://127.0.0.1:{sock.getsockname()[1]}/", file=sys.stderr, flush=True)
    make_server(cfg, Stub).run(sockets=[sock])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_stub":
        _stub_server(sys.argv[2:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--queue", type=int, default=16)
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads per read (server --threads)")
    p.add_argument("--overload-clients", type=int, default=64)
    p.add_argument("--overload-queue", type=int, default=4)
    p.add_argument("--overload-seconds", type=float, default=30.0)
    p.add_argument("--page", type=Path, default=None, help="page image to send (default: a generated one)")
    p.add_argument("--crop", type=int, default=300, help="keep the top N px of the generated page (0 = all of it)")
    p.add_argument("--stub", type=float, default=None, help="stand-in pipeline sleeping this many seconds per page")
    p.add_argument("--rss-every", type=int, default=100, help="sample the server's RSS every N answers (0 = off)")
    p.add_argument("--warmup", type=int, default=100, help="answers before the RSS drift reference is taken")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        page = args.page or make_page(Path(tmp), args.crop)
        body = page.read_bytes()
        steady_run, single, lines = steady(args, body, page.name)
        over = overload(args, body, page.name)

    what = f"stub {args.stub:g} s" if args.stub is not None else "packaged pipeline"
    print(f"\npolyocr serve on loopback, {what}; page {page.name} ({len(body) / 1024:.0f} KiB, {lines} lines read); "
          f"one read alone: {single:.2f} s; {os.cpu_count()} CPUs\n")
    head = ("run", "server", "clients", "requests", "200", "429", "503", "other", "p50 s", "p95 s", "max s",
            "ok/s", "seconds", "server CPU s", "RSS MiB start/mid/end (peak)", "alive")
    rows = []
    for run, srv in ((steady_run, f"c{args.concurrency} q{args.queue}"),
                     (over, f"c{args.concurrency} q{args.overload_queue}")):
        s = run.summary()
        other = sum(v for k, v in run.codes.items() if k not in ("200", "429", "503"))
        r = run.rss_mb
        rss = f"{r['start']:.0f}/{r.get('middle', float('nan')):.0f}/{r['end']:.0f} ({r['peak']:.0f})"
        rows.append((run.name, srv, str(run.clients), str(run.requests), str(run.codes.get("200", 0)),
                     str(run.codes.get("429", 0)), str(run.codes.get("503", 0)), str(other), f"{s['p50_s']:.2f}",
                     f"{s['p95_s']:.2f}", f"{s['max_s']:.2f}", f"{s['ok_per_s']:.2f}", f"{run.seconds:.1f}",
                     f"{run.server_cpu_s:.1f}", rss,
                     "yes" if run.alive_after else "NO"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(rss_drift(steady_run.rss_series, args.warmup))
    if args.json:
        args.json.write_text(json.dumps({"single_read_s": single, "page": page.name, "stub": args.stub,
                                         "runs": [steady_run.summary(), over.summary()]}, indent=1))
    bad = (steady_run.codes.get("200", 0) != args.requests or not steady_run.alive_after or not over.alive_after
           or over.transport_errors or any(k not in ("200", "429", "503") for k in over.codes))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
