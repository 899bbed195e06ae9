"""polyocr: multilingual OCR trained on synthetic documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from polyocr.document import Block, Document, Line, Page, Word

if TYPE_CHECKING:
    from polyocr.pipeline.recognize import RecognizedLine

__version__ = "0.1.0"
__all__ = ["Document", "Page", "Block", "Line", "Word", "read", "recognize", "__version__"]


def read(source: Any, **options: Any) -> Document:
    """Read a page image, PDF, bytes or array into a :class:`Document` with the packaged models.

    ``source`` is a path (PNG, JPEG, TIFF, WebP, BMP, PDF), raw file bytes, a PIL image or an
    H×W(×3) array. Options are the fields of :class:`polyocr.pipeline.pipeline.ReadConfig`
    (``dpi``, ``pdf_text``, ``order``, ``orientation``, ``languages``, ``threads``). Models load
    on first use (onnxruntime only) and are reused by later calls.
    """
    from polyocr.pipeline.pipeline import read as _read

    return _read(source, **options)


def recognize(image: Any, vertical: bool | None = None, direction: str | None = None,
              weights: str | None = None) -> "RecognizedLine | list[RecognizedLine]":
    """Read one text-line image (array, PIL image or path) with the packaged recogniser.

    Returns ``(text, confidence, char_confidences)``; ``text`` is in logical order. A list of images
    gives a list of results. ``vertical=None`` treats crops more than twice as tall as wide as
    vertical-rl columns; ``direction=None`` infers right-to-left from the characters read. The model
    is loaded on first use (onnxruntime; torch is not needed) and kept for later calls.
    """
    from polyocr.pipeline.recognize import default_recognizer

    rec = default_recognizer(weights)
    if isinstance(image, (list, tuple)):
        images: Sequence[Any] = image
        return rec.recognize(images, [vertical] * len(images), [direction] * len(images))
    return rec.recognize([image], [vertical], [direction])[0]
