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

    ``source`` is a path (PNG, JPEG, TIFF, WebP, BMP, GIF, PNM, JPEG 2000, AVIF, HEIC, PDF), raw file bytes, a PIL image or an
    H×W(×3) array. Options are the fields of :class:`polyocr.pipeline.pipeline.ReadConfig`
    (``dpi``, ``pdf_text``, ``pages`` such as ``"1-3,7"``, ``order``, ``orientation``, ``languages``,
    ``threads``). Models load
    on first use (onnxruntime only) and are reused by later calls.
    """
    from polyocr.pipeline.pipeline import read as _read

    return _read(source, **options)


def recognize(image: Any, vertical: bool | None = None, direction: str | None = None,
              weights: str | None = None, language: str | None = None) -> "RecognizedLine | list[RecognizedLine]":
    """Read one text-line image (array, PIL image or path) with the packaged recogniser.

    Returns ``(text, confidence, char_confidences)``; ``text`` is in logical order. A list of images
    gives a list of results. ``vertical=None`` treats crops more than twice as tall as wide as
    vertical-rl columns; ``direction=None`` infers right-to-left from the characters read (a
    ``language`` gives it). With ``language`` (e.g. "ja"), that language's character model settles
    the characters the network is unsure of, and a word mixing Latin and Cyrillic look-alikes is
    written in one script, as :func:`read` does on pages. The model is loaded on
    first use (onnxruntime; torch is not needed) and kept for later calls.
    """
    from polyocr.languages import get_language
    from polyocr.pipeline.recognize import default_recognizer

    rec = default_recognizer(weights)
    single = not isinstance(image, (list, tuple))
    images: Sequence[Any] = [image] if single else image
    if language is None:
        out = rec.recognize(images, [vertical] * len(images), [direction] * len(images))
    else:
        from polyocr.pipeline.homoglyph import unify_reading
        from polyocr.pipeline.rescore import language_models, rescore_page

        direction = direction or get_language(language).direction
        readings = rec.read(images, [vertical] * len(images), [direction] * len(images))
        lms = language_models(weights)
        if lms is not None:
            readings = rescore_page(readings, [language] * len(readings), lms, rec.charset)
        out = [unify_reading(r).line for r in readings]
    return out[0] if single else out
