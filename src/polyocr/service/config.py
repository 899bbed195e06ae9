"""Settings of the HTTP service and the per-request read options, as typed dataclasses.

``ServiceConfig`` is fixed when the server starts (``polyocr serve`` flags); ``ReadOptions`` is
parsed from each request's form fields and checked here, so a bad value is a 422 with a message
naming the field, never an exception deep in the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from polyocr.languages import LANGUAGES
from polyocr.pipeline.inputs import InputError, PageSelection

__all__ = ["ServiceConfig", "ReadOptions", "OptionError", "OUTPUT_FORMATS", "CONTENT_TYPES", "parse_options"]

# format → (content type, file suffix used in Content-Disposition)
CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "json": ("application/json", "json"),
    "text": ("text/plain; charset=utf-8", "txt"),
    "hocr": ("text/html; charset=utf-8", "hocr.html"),
    "alto": ("application/xml; charset=utf-8", "alto.xml"),
    "pagexml": ("application/xml; charset=utf-8", "page.xml"),
    "pdf": ("application/pdf", "pdf"),
}
OUTPUT_FORMATS: tuple[str, ...] = tuple(CONTENT_TYPES)
ORDERS = ("learned", "xycut")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``polyocr serve`` is started with; limits protect the one machine it runs on."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000       # per page, after decoding
    max_pages: int = 100                # per upload (PDF, multi-page TIFF)
    concurrency: int = 2                # reads running at once (worker threads)
    queue: int = 16                     # reads admitted and waiting; beyond that: 429
    timeout_s: float = 120.0            # per request, queue wait included: 504
    threads: int = 2                    # onnxruntime threads of the one shared pipeline
    max_connections: int = 200          # uvicorn answers 503 above this many open connections
    tmp_dir: str | None = None          # parent of the private upload folder (default: system temp)
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.max_upload_bytes <= 0:
            raise ValueError("--max-upload-mb must be positive")
        if self.max_pixels <= 0 or self.max_pages <= 0:
            raise ValueError("--max-pixels and --max-pages must be positive")
        if self.concurrency < 1 or self.queue < 0:
            raise ValueError("--concurrency must be at least 1 and --queue at least 0")
        if self.timeout_s <= 0:
            raise ValueError("--timeout must be positive")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port} is not a TCP port")


class OptionError(ValueError):
    """A request option with a bad value (HTTP 422); ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ReadOptions:
    """One request's options: the CLI's read options plus the output format."""

    format: str = "json"
    dpi: int = 200
    pdf_text: bool = False
    order: str = "learned"
    orientation: bool = True
    languages: tuple[str, ...] = field(default=())
    page_images: bool = False  # json only: put each decoded page in Page.image as a data: URI
    accurate: bool = False     # doubtful Korean, Arabic, traditional Chinese lines read at a second width too
    raw_confidence: bool = False  # the recogniser's raw scores instead of calibrated confidences
    pages: PageSelection | None = None  # pages of a PDF, multi-page TIFF, GIF or HEIC to read (None: all)


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise OptionError(name, f"expected true or false, got {value!r:.40}")


def _int(name: str, value: str, lo: int, hi: int) -> int:
    try:
        n = int(value.strip())
    except ValueError:
        raise OptionError(name, f"expected an integer, got {value!r:.40}") from None
    if not lo <= n <= hi:
        raise OptionError(name, f"{n} is outside {lo}..{hi}")
    return n


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    v = value.strip().lower()
    if v not in choices:
        raise OptionError(name, f"{value!r:.40} is not one of {', '.join(choices)}")
    return v


def _languages(name: str, value: str) -> tuple[str, ...]:
    codes = tuple(c.strip() for c in value.split(",") if c.strip())
    bad = [c for c in codes if c not in LANGUAGES]
    if bad:
        raise OptionError(name, f"unknown language(s) {', '.join(repr(b[:20]) for b in bad[:5])}; "
                                f"known: {', '.join(LANGUAGES)}")
    return tuple(dict.fromkeys(codes))


def parse_options(fields: Mapping[str, str]) -> ReadOptions:
    """Form fields (or query parameters) → ReadOptions; unknown names are errors, not ignored.

    ``lang`` and ``languages`` are synonyms (comma-separated codes, hints only).
    """
    known = {"format", "dpi", "pdf_text", "order", "orientation", "lang", "languages", "page_images", "accurate",
             "pages", "raw_confidence"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise OptionError(unknown[0][:40], f"unknown option; known: {', '.join(sorted(known))}")
    kw: dict[str, object] = {}
    if "format" in fields:
        kw["format"] = _choice("format", fields["format"], OUTPUT_FORMATS)
    if "dpi" in fields:
        kw["dpi"] = _int("dpi", fields["dpi"], 50, 600)
    if "order" in fields:
        kw["order"] = _choice("order", fields["order"], ORDERS)
    for name in ("pdf_text", "orientation", "page_images", "accurate", "raw_confidence"):
        if name in fields:
            kw[name] = _bool(name, fields[name])
    if "pages" in fields and fields["pages"].strip():
        try:
            kw["pages"] = PageSelection.parse(fields["pages"])
        except InputError as exc:
            raise OptionError("pages", str(exc).removeprefix("pages: ")) from None
    langs = [k for k in ("lang", "languages") if k in fields]
    if len(langs) == 2:
        raise OptionError("lang", "give lang or languages, not both")
    if langs:
        kw["languages"] = _languages(langs[0], fields[langs[0]])
    return ReadOptions(**kw)  # type: ignore[arg-type]
