"""Output formats: each module is a pure function from a Document to text (or bytes).

``WRITERS`` holds the formats made from the Document alone; ``to_pdf`` and ``to_overlay_png``
(one PNG per page) also need the page images, and ``onto_pdf`` the original PDF, so they are
called directly. Writers never
compute reading order: they write pages, blocks, lines and words in the order the Document
stores them (``Page.blocks`` is already in reading order).

>>> from polyocr.formats import write
>>> write(doc, "alto", "page.xml")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from polyocr.document import Document
from polyocr.fileio import atomic_write
from polyocr.formats.alto import to_alto
from polyocr.formats.hocr import to_hocr
from polyocr.formats.json import from_json, to_json
from polyocr.formats.overlay import render_overlay, to_overlay_png
from polyocr.formats.pagexml import to_pagexml
from polyocr.formats.pdf import onto_pdf, searchable_pdf, to_pdf
from polyocr.formats.text import to_text

__all__ = ["WRITERS", "FORMATS", "write", "to_text", "to_json", "from_json", "to_hocr", "to_alto",
           "to_pagexml", "to_pdf", "onto_pdf", "searchable_pdf", "render_overlay", "to_overlay_png"]

WRITERS: dict[str, Callable[[Document], str | bytes]] = {
    "text": to_text,
    "json": to_json,
    "hocr": to_hocr,
    "alto": to_alto,
    "pagexml": to_pagexml,
}
FORMATS: tuple[str, ...] = tuple(WRITERS)


def write(doc: Document, fmt: str, path: str | os.PathLike[str]) -> Path:
    """Write ``doc`` as ``fmt`` to ``path`` atomically (temp file in the same folder, then rename).

    A reader never sees a half-written file, and an existing file is only replaced once the new
    one is complete. Text formats are UTF-8. Returns the path written.
    """
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None
    return atomic_write(path, writer(doc))
