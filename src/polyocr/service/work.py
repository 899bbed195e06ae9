"""What one request does in its worker thread: decode the upload, read each page, export.

Everything here is blocking and CPU-bound; ``app.py`` runs it through the Gate. The decoded page
images are kept only for the web page's page images; a PDF output decodes them again only when the
upload is not a PDF keeping its own pages.
"""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
from PIL import Image

from polyocr.document import Document, Page
from polyocr.service.config import CONTENT_TYPES, ReadOptions

__all__ = ["PageReader", "Configured", "Result", "InputProblem", "read_upload_file", "page_data_uri"]

_PREVIEW_SIDE = 2000  # longest side of the page images sent to the web page


class PageReader(Protocol):
    """What the service needs from a pipeline (``polyocr.pipeline.pipeline.Pipeline`` or a test double)."""

    def read_image(self, image: Any, index: int = 0, dpi: float = 0.0) -> Page: ...


class InputProblem(Exception):
    """The upload cannot be read: ``status`` 400 (undecodable, empty, encrypted), 413 (over a limit),
    415 (type) or 422 (a bad read option)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass
class Result:
    """The response body of one read and what describes it."""

    body: bytes
    content_type: str
    suffix: str
    pages: int
    lines: int


class Configured:
    """The shared pipeline with one request's read options; models are shared, never reloaded.

    The packaged :class:`~polyocr.pipeline.pipeline.Pipeline` takes its stages by injection, so a
    per-request pipeline is the same detector and recogniser with another ``ReadConfig``; the
    reading-order stage depends on ``order`` and is built once per method. Any other reader
    (a test stand-in) is used as it is.
    """

    def __init__(self, pipeline: PageReader) -> None:
        self.base = pipeline
        self._lock = threading.Lock()
        self._orderers: dict[str, Any] = {}
        cfg = getattr(pipeline, "config", None)
        if cfg is not None and hasattr(pipeline, "orderer"):
            self._orderers[cfg.order] = pipeline.orderer  # type: ignore[attr-defined]

    def __call__(self, options: ReadOptions, side_by_side: bool = False) -> PageReader:
        """The reader for ``options``; ``side_by_side``: one whose sessions run on one thread each, for
        the pages of a long upload read ``threads`` at a time (:mod:`polyocr.pipeline.pages`)."""
        from polyocr.pipeline.pipeline import Pipeline

        base = self.base
        if not isinstance(base, Pipeline):
            return base
        if side_by_side:
            base = base.single_threaded()     # built once, on the first long upload
        want = replace(base.config, dpi=options.dpi, pdf_text=options.pdf_text, order=options.order,
                       orientation=options.orientation, languages=options.languages,
                       calibrated=not options.raw_confidence).accurate(options.accurate)
        if want == base.config:
            return base
        return Pipeline(want, detector=base.detector, recognizer=base.recognizer, orderer=self._orderer(want.order),
                        orientation=base.orientation)

    @property
    def threads(self) -> int:
        """How many pages of one upload are read at once: the pipeline's threads (1 for a stand-in)."""
        cfg = getattr(self.base, "config", None)
        return int(getattr(cfg, "threads", 1))

    def _orderer(self, method: str) -> Any:
        with self._lock:
            if method not in self._orderers:
                from polyocr.pipeline.order import Orderer

                self._orderers[method] = Orderer(method=method, weights=self.base.config.weights)  # type: ignore[attr-defined]
            return self._orderers[method]


# InputError.kind → (HTTP status, error code). An encrypted PDF is a 400, not a 422: the API takes
# no password, so no option the client could change would make the same upload succeed.
_KIND_STATUS: dict[str, tuple[int, str]] = {
    "unsupported": (415, "unsupported_media_type"),
    "too_large": (413, "too_large"),
    "corrupt": (400, "undecodable"),
    "empty": (400, "empty"),
    "encrypted": (400, "encrypted"),
    "unreadable": (400, "undecodable"),
    "invalid": (422, "invalid_option"),
}


def _input_problem(exc: Exception, path: Path, display_name: str) -> InputProblem:
    """The inputs module's error as an HTTP answer; the private path is replaced by the upload's name.

    The status comes from ``InputError.kind``; an error without a kind (raised outside
    ``polyocr.pipeline.inputs``) falls back to the words of its message.
    """
    message = str(exc).replace(str(path), display_name)
    kind = getattr(exc, "kind", None)
    if kind == "encrypted" and "(--password)" in message:  # the CLI's hint means nothing over HTTP
        message = message.replace("give its password (--password)", "the service takes no password; "
                                  "send a decrypted copy")
    message = message.replace("(read fewer with --pages)", "(read fewer with the pages field)")
    if kind in _KIND_STATUS:
        status, code = _KIND_STATUS[kind]
        return InputProblem(status, code, message)
    if "limit" in message:
        return InputProblem(413, "too_large", message)
    if "supported" in message:
        return InputProblem(415, "unsupported_media_type", message)
    return InputProblem(400, "undecodable", message)


def _load_pages(path: Path, options: ReadOptions, limits: Any) -> Any:
    from polyocr.pipeline.inputs import load_pages

    return load_pages(path, dpi=options.dpi, pdf_text=options.pdf_text, limits=limits, pages=options.pages)


def read_upload_file(pipelines: Configured | Callable[[ReadOptions], PageReader], path: Path, display_name: str, options: ReadOptions,
                     max_bytes: int, max_pixels: int, max_pages: int) -> Result:
    """Decode ``path`` page by page, read every page (two or more at once, as the pipeline's threads
    allow), and export in ``options.format``.

    With ``pdf_text`` a PDF page that has its own text layer is taken as it is, without OCR.
    """
    from polyocr.pipeline.inputs import InputError, InputLimits, PageImages
    from polyocr.pipeline.pages import in_order, side_by_side

    limits = InputLimits(max_bytes=max_bytes, max_pixels=max_pixels, max_pages=max_pages)

    reader = pipelines(options)
    keep_images = options.format == "json" and options.page_images
    pages: list[Page] = []
    images: list[Any] = []
    try:
        # the pages of a long upload are read side by side on one-thread sessions, as `polyocr read`
        # reads a long PDF: 1.5× the pages/s of page by page on two threads (BENCHMARKS.md)
        items, at_once = side_by_side(_load_pages(path, options, limits), getattr(pipelines, "threads", 1))
        if at_once > 1:
            reader = pipelines(options, side_by_side=True)  # type: ignore[call-arg]

        def one(item: Any) -> Page:
            layer = item.text_layer
            if options.pdf_text and layer is not None and layer.lines:
                return layer
            return reader.read_image(item.image, index=item.index, dpi=item.dpi)

        for item, page in in_order(one, items, at_once):
            pages.append(page)
            if keep_images:
                images.append(item.image)
    except InputError as exc:
        raise _input_problem(exc, path, display_name) from None
    if not pages:
        raise InputProblem(400, "undecodable", "the upload holds no pages")
    doc = Document(pages=pages, source=display_name, meta={"engine": "polyocr serve"})
    if options.format == "pdf":   # decoded again only if needed: an uploaded PDF keeps its own pages
        body = _export(doc, PageImages(path, len(pages), dpi=options.dpi, limits=limits, pages=options.pages),
                       options, path)
    else:
        body = _export(doc, images, options, path)
    ctype, suffix = CONTENT_TYPES[options.format]
    return Result(body=body, content_type=ctype, suffix=suffix, pages=len(pages),
                  lines=sum(len(p.lines) for p in pages))


def _export(doc: Document, images: Sequence[Any], options: ReadOptions, path: Path) -> bytes:
    from polyocr.formats import WRITERS, searchable_pdf

    if options.format == "pdf":   # an uploaded PDF keeps its own pages under the text
        return searchable_pdf(doc, path, images)
    if options.format == "json" and options.page_images:
        for page, image in zip(doc.pages, images):
            page.image = page_data_uri(image)
    out = WRITERS[options.format](doc)
    return out.encode("utf-8") if isinstance(out, str) else out


def page_data_uri(image: Image.Image | np.ndarray) -> str:
    """A page image as a ``data:image/jpeg`` URI, at most 2000 px on its long side (for display)."""
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    scale = _PREVIEW_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
