"""polyocr: multilingual OCR trained on synthetic documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from polyocr.document import Block, Document, Line, Page, Word

if TYPE_CHECKING:
    from polyocr.pipeline.recognize import RecognizedLine

__version__ = "0.1.0"
__all__ = ["Document", "Page", "Block", "Line", "Word", "recognize", "__version__"]


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
