"""Run the app under uvicorn: our own listening socket, and 503 for waiting work on shutdown.

Binding the socket here lets ``--port 0`` pick a free port and print it (tests, benchmarks).
On SIGINT/SIGTERM uvicorn stops accepting connections and waits for running requests; the
subclass also closes the gate first, so requests still queued answer 503 at once instead of
starting work that would delay the exit.
"""

from __future__ import annotations

import math
import socket
import sys
from typing import Any, Callable

import uvicorn

from polyocr.service.app import create_app
from polyocr.service.config import ServiceConfig
from polyocr.service.work import PageReader

__all__ = ["bind", "make_server", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Any) -> None:
        super().__init__(config)
        self._polyocr = app.state.polyocr

    def handle_exit(self, sig: int, frame: Any) -> None:
        state = self._polyocr
        if state.gate is not None and state.loop is not None:
            state.loop.call_soon_threadsafe(state.gate.close)
        super().handle_exit(sig, frame)


def make_server(config: ServiceConfig, pipeline_factory: Callable[[], PageReader] | None = None) -> uvicorn.Server:
    """A uvicorn server for the app; run it with ``server.run(sockets=[bind(...)])``."""
    app = create_app(config, pipeline_factory)
    ucfg = uvicorn.Config(app, log_level=config.log_level, limit_concurrency=config.max_connections,
                          timeout_graceful_shutdown=math.ceil(config.timeout_s) + 5, server_header=False,
                          proxy_headers=False, access_log=config.log_level == "debug", lifespan="on")
    return _Server(ucfg, app)


def serve(config: ServiceConfig) -> int:
    """Serve until interrupted; returns the exit status."""
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"polyocr serve: http://{shown}:{port}/ (API /v1/read, docs /docs); Ctrl+C stops", file=sys.stderr,
          flush=True)
    server = make_server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it already handled by shutting down
        pass
    print("polyocr serve: stopped", file=sys.stderr)
    return 0 if server.started else 1
