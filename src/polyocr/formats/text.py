"""Plain text: the page's reading order, logical (Unicode) order for right-to-left text."""

from __future__ import annotations

from polyocr.document import Document

__all__ = ["to_text"]


def to_text(doc: Document) -> str:
    """Lines in reading order, a blank line between blocks, a form feed between pages.

    Right-to-left lines stay in logical order, as in any Unicode text file; a viewer's bidi
    algorithm displays them. Ends with a newline unless the document has no text at all.

    >>> to_text(Document())
    ''
    """
    text = doc.text
    return text + "\n" if text else ""
