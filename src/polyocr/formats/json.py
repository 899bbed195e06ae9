"""polyocr's own lossless JSON (the Document schema), so that every format lives in ``formats``."""

from __future__ import annotations

from polyocr.document import Document

__all__ = ["to_json", "from_json"]


def to_json(doc: Document, indent: int | None = None) -> str:
    """``Document.to_json``: UTF-8 JSON that ``from_json`` reads back to an equal Document."""
    return doc.to_json(indent=indent)


def from_json(text: str | bytes, check: bool = True) -> Document:
    """``Document.from_json``; ``check`` runs ``document.validate`` and raises SchemaError."""
    return Document.from_json(text, check=check)
