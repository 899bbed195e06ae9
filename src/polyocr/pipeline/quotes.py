"""Quotation marks as a language's text types them, where the print cannot tell.

Hebrew fonts draw the typewriter quotation mark " slanted, as a pair of strokes hardly different from
the typographic ”, and the recogniser, which also learned Hebrew set with ” on both sides, read the
one for the other at random. The text behind a Hebrew page mostly holds ": on realdev's Hebrew pages
248 of their 286 double quotation marks (the recogniser wrote ” for 68 of those, and " for 15 of the
27 ”), and none of the 82 of the generated Hebrew pages, whose text comes from the corpora, is ”. So
on a Hebrew line a ” is written as ", the mark a reader would type to search for it. The opening “
and the low „ are drawn differently and read as they are. One character for one, in the line's text
and display order alike (no quotation mark is mirrored), so positions and confidences stay.
"""

from __future__ import annotations

from polyocr.pipeline.recognize import LineReading

__all__ = ["TYPED_QUOTES", "typed_quotes"]

# per language: what the recogniser may write → what that language's text types there
TYPED_QUOTES: dict[str, dict[str, str]] = {"he": {"”": '"'}}


def typed_quotes(reading: LineReading, lang: str) -> LineReading:
    """``reading`` with the quotation marks of a ``lang`` line written as that language types them."""
    table = TYPED_QUOTES.get(lang)
    text = reading.line.text
    if not table or not any(ch in table for ch in text):
        return reading
    swap = str.maketrans(table)
    return reading._replace(line=reading.line._replace(text=text.translate(swap)),
                            visual=reading.visual.translate(swap))
