"""``polyocr serve``: the HTTP API and the web page, one process, the pipeline loaded once.

Endpoints: ``POST /v1/read`` (multipart upload or raw body → json/text/hocr/alto/pagexml/pdf), ``GET /health``,
``GET /version``, ``GET /openapi.json``, ``GET /docs`` (a plain page rendering the OpenAPI
document, no CDN) and the web page at ``/``. Errors are JSON ``{"error": {"code", "message"}}``.

Request path: refuse early when the gate is full (429) or the model is missing (503) → stream the
body into a private folder with the size limit (413) → parse options (422) → check the file type
(415) → decode, read and export in a worker thread (400 undecodable/empty/encrypted, 413 over a
page or pixel limit, 504 past the timeout; statuses from ``InputError.kind``) → the
folder is removed when the worker really finishes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from polyocr import __version__
from polyocr.document import SCHEMA_VERSION
from polyocr.languages import LANGUAGES
from polyocr.pipeline.inputs import SUPPORTED, detect_type
from polyocr.service.config import OUTPUT_FORMATS, OptionError, ServiceConfig, parse_options
from polyocr.service.gate import Closed, Full, Gate
from polyocr.service.upload import UploadError, read_upload
from polyocr.service.work import Configured, InputProblem, PageReader, read_upload_file

__all__ = ["create_app", "ApiError", "model_info"]

log = logging.getLogger("polyocr.service")
STATIC = Path(str(resources.files("polyocr.service") / "static"))
WEIGHTS = Path(str(resources.files("polyocr") / "weights"))

_PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
             "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


class ApiError(Exception):
    """An error answer: HTTP ``status``, a stable machine ``code`` and a human ``message``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class _SecurityHeaders:
    """Plain ASGI middleware (no body buffering): CSP and nosniff on every answer.

    The web page may only load its own files; API answers (hOCR is HTML) may run nothing.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = _PAGE_CSP if path in ("/", "/docs") or path.startswith("/static/") else _API_CSP

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for k, v in ((b"content-security-policy", csp), (b"x-content-type-options", "nosniff"),
                             (b"referrer-policy", "no-referrer")):
                    if k not in names:
                        headers.append((k, v.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


@dataclass
class _State:
    config: ServiceConfig
    pipeline: PageReader | None = None
    pipelines: Configured | None = None
    load_error: str = ""
    gate: Gate | None = None
    tmp_root: Path | None = None
    started: float = field(default_factory=time.time)
    loop: asyncio.AbstractEventLoop | None = None
    models: list[dict[str, Any]] = field(default_factory=list)


def model_info(folder: Path = WEIGHTS) -> list[dict[str, Any]]:
    """Each packaged model manifest (``weights/*.json``) with the sha256 of the files it names.

    Hashes are recomputed from the files on disk, so ``/version`` shows what is really loaded
    and whether it matches the manifest.
    """
    out = []
    for manifest in sorted(folder.glob("*.json")):
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            out.append({"manifest": manifest.name, "error": str(exc)})
            continue
        files = {}
        for key, part in meta.items():
            if isinstance(part, dict) and isinstance(part.get("file"), str):
                path = folder / Path(part["file"]).name
                if path.is_file():
                    actual = _sha256(path)
                    files[path.name] = {"bytes": path.stat().st_size, "sha256": actual,
                                        "matches_manifest": actual == part.get("sha256", actual)}
        entry = {"manifest": manifest.name, "manifest_sha256": _sha256(manifest),
                 "format": meta.get("format", ""), "architecture": meta.get("architecture", ""),
                 "files": files}
        if isinstance(meta.get("charset"), dict):
            entry["charset"] = {k: meta["charset"].get(k) for k in ("version", "sha256")}
        out.append(entry)
    return out


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _default_pipeline(config: ServiceConfig) -> PageReader:
    from polyocr.pipeline.pipeline import Pipeline, ReadConfig

    return Pipeline(ReadConfig(threads=config.threads))


def _ascii_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "page"


def create_app(config: ServiceConfig | None = None,
               pipeline_factory: Callable[[], PageReader] | None = None) -> FastAPI:
    """The ASGI app; ``pipeline_factory`` replaces the packaged Pipeline (tests, other models).

    The factory runs once, in the lifespan, in a thread; if it raises, the server still starts
    and answers 503 with the reason, so a missing model shows up in ``/health``, not as a crash.
    """
    config = config or ServiceConfig()
    state = _State(config=config)
    factory = pipeline_factory or functools.partial(_default_pipeline, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        state.tmp_root = Path(tempfile.mkdtemp(prefix="polyocr-serve-", dir=config.tmp_dir))
        os.chmod(state.tmp_root, 0o700)
        state.gate = Gate(config.concurrency, config.queue)
        state.models = await asyncio.to_thread(model_info)
        try:
            state.pipeline = await asyncio.to_thread(factory)
            state.pipelines = Configured(state.pipeline)
        except Exception as exc:  # any failure to load is reported, not fatal
            state.load_error = f"{type(exc).__name__}: {exc}"
            log.error("polyocr serve: the pipeline did not load: %s", state.load_error)
        try:
            yield
        finally:
            state.gate.close()
            await asyncio.to_thread(state.gate.shutdown)
            shutil.rmtree(state.tmp_root, ignore_errors=True)

    app = FastAPI(title="polyocr", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Multilingual OCR: upload a page image or PDF, get a Document "
                              "(JSON) or text, hOCR, ALTO, PAGE-XML or a searchable PDF.")
    app.state.polyocr = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_option", "; ".join(str(e.get("msg", e)) for e in exc.errors())[:500])

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("polyocr serve: unhandled error on %s", request.url.path, exc_info=exc)
        return _error(500, "internal", "internal error; see the server log")

    app.add_middleware(_SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8")

    @app.get("/health", summary="Liveness and readiness",
             responses={503: {"description": "model not loaded, or shutting down"}})
    async def health() -> JSONResponse:
        gate = state.gate
        if state.pipeline is None:
            status = "error" if state.load_error else "loading"
        else:
            status = "closing" if gate is None or gate.closing else "ok"
        body: dict[str, Any] = {"status": status, "model_loaded": state.pipeline is not None,
                                "uptime_s": round(time.time() - state.started, 1)}
        if state.load_error:
            body["error"] = state.load_error
        if gate is not None:
            body.update(running=gate.running, waiting=gate.waiting, capacity=gate.capacity,
                        completed=gate.completed)
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    @app.get("/version", summary="Package, schema and model versions with file hashes")
    async def version() -> dict[str, Any]:
        import onnxruntime

        return {"polyocr": __version__, "schema_version": SCHEMA_VERSION, "python": platform.python_version(),
                "onnxruntime": onnxruntime.__version__, "formats": list(OUTPUT_FORMATS),
                "languages": list(LANGUAGES), "models": state.models,
                "limits": {"max_upload_bytes": config.max_upload_bytes, "max_pixels": config.max_pixels,
                           "max_pages": config.max_pages, "concurrency": config.concurrency,
                           "queue": config.queue, "timeout_s": config.timeout_s}}

    @app.post("/v1/read", summary="Read an image or PDF", openapi_extra=_READ_OPENAPI,
              responses=_READ_RESPONSES, response_class=Response)
    async def read(request: Request) -> Response:
        t0 = time.monotonic()
        return await _read(state, request, t0)

    return app


async def _read(state: _State, request: Request, t0: float) -> Response:
    config, gate = state.config, state.gate
    if gate is None or state.pipelines is None:
        raise ApiError(503, "model_unavailable", state.load_error or "the model is still loading",
                       {"Retry-After": "5"})
    try:
        gate.check()
    except Full as exc:
        raise ApiError(429, "busy", str(exc), {"Retry-After": str(exc.retry_after)}) from None
    except Closed:
        raise ApiError(503, "shutting_down", "the server is shutting down") from None
    length = request.headers.get("content-length")
    declared = int(length) if length and length.isdigit() else None
    assert state.tmp_root is not None
    folder = Path(tempfile.mkdtemp(prefix="req-", dir=state.tmp_root))
    handed_over = False
    try:
        try:  # a client that trickles its body must not hold a connection and a folder forever
            upload = await asyncio.wait_for(read_upload(request.stream(), request.headers.get("content-type", ""),
                                                        folder, config.max_upload_bytes, declared,
                                                        request.headers.get("content-disposition", "")),
                                            timeout=config.timeout_s)
        except asyncio.TimeoutError:
            raise ApiError(408, "upload_timeout", f"the upload took longer than {config.timeout_s:g} s") from None
        fields = dict(request.query_params)
        fields.update(upload.fields)
        options = parse_options(fields)
        if upload.size == 0:  # the same answer the reader gives; checked here, before the queue
            raise ApiError(400, "empty", f"{upload.filename}: empty file (0 bytes)")
        with open(upload.path, "rb") as fh:
            kind = detect_type(fh.read(1024))
        if kind is None:
            raise ApiError(415, "unsupported_media_type",
                           f"{upload.filename}: not a supported file type (expected {SUPPORTED})")
        job = functools.partial(read_upload_file, state.pipelines, upload.path, upload.filename, options,
                                config.max_upload_bytes, config.max_pixels, config.max_pages)
        handed_over = True
        result = await gate.run(job, t0 + config.timeout_s,
                                on_done=functools.partial(shutil.rmtree, folder, ignore_errors=True))
    except UploadError as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    except OptionError as exc:
        raise ApiError(422, "invalid_option", str(exc)) from None
    except InputProblem as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    except Full as exc:
        raise ApiError(429, "busy", str(exc), {"Retry-After": str(exc.retry_after)}) from None
    except Closed:
        raise ApiError(503, "shutting_down", "the server is shutting down") from None
    except asyncio.TimeoutError:
        raise ApiError(504, "timeout", f"reading took longer than {config.timeout_s:g} s") from None
    finally:
        if not handed_over:
            shutil.rmtree(folder, ignore_errors=True)
    name = _ascii_name(upload.filename)
    headers = {"Content-Disposition": f'inline; filename="{name}.{result.suffix}"',
               "X-Polyocr-Pages": str(result.pages), "X-Polyocr-Lines": str(result.lines),
               "X-Polyocr-Seconds": f"{time.monotonic() - t0:.3f}"}
    return Response(result.body, media_type=result.content_type, headers=headers)


_OPTION_SCHEMA: dict[str, Any] = {
    "format": {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "json"},
    "dpi": {"type": "integer", "minimum": 50, "maximum": 600, "default": 200,
            "description": "PDF rasterisation resolution"},
    "pdf_text": {"type": "boolean", "default": False, "description": "use a PDF's own text layer"},
    "order": {"type": "string", "enum": ["learned", "xycut"], "default": "learned"},
    "orientation": {"type": "boolean", "default": True, "description": "detect page rotation"},
    "lang": {"type": "string", "description": f"comma-separated hints from {', '.join(LANGUAGES)}"},
    "pages": {"type": "string", "description": "pages of a PDF, multi-page TIFF, GIF or HEIC to read, counting from 1, "
                                               "e.g. 1-3,7,10- (default all)"},
    "page_images": {"type": "boolean", "default": False,
                    "description": "json only: each page image as a data: URI in Page.image"},
    "raw_confidence": {"type": "boolean", "default": False,
                       "description": "the recogniser's raw scores instead of the calibrated chance that a word "
                                      "or line is right"},
    "accurate": {"type": "boolean", "default": False,
                 "description": "read doubtful Korean, Arabic and traditional Chinese lines at a second width "
                                "too (fewer errors; those pages take about twice as long)"},
}
_RAW_BODY: dict[str, Any] = {"schema": {"type": "string", "format": "binary",
                                         "description": f"{SUPPORTED}; options as query parameters"}}
_READ_OPENAPI: dict[str, Any] = {
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary",
                                    "description": SUPPORTED}, **_OPTION_SCHEMA}}},
        "application/octet-stream": _RAW_BODY, "image/*": _RAW_BODY, "application/pdf": _RAW_BODY}},
    "parameters": [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in _OPTION_SCHEMA.items()],
}
_ERR = {"application/json": {"schema": {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}}}}}}}
_READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the Document in the requested format",
          "content": {"application/json": {}, "text/plain": {}, "text/html": {}, "application/xml": {},
                      "application/pdf": {}}},
    400: {"description": "undecodable, empty or encrypted file, or malformed request", "content": _ERR},
    408: {"description": "the upload itself took longer than the timeout", "content": _ERR},
    413: {"description": "upload, pixels or pages over the limit", "content": _ERR},
    415: {"description": "not a supported file type", "content": _ERR},
    422: {"description": "a bad option", "content": _ERR},
    429: {"description": "busy: retry after the Retry-After header", "content": _ERR},
    503: {"description": "model not loaded or shutting down", "content": _ERR},
    504: {"description": "timed out", "content": _ERR},
}
