"""Our UAX #9 level resolution against python-bidi (an independent implementation)."""

import numpy as np
import pytest
from bidi import get_display

from polyocr.bidi import base_direction, resolve_levels, visual_order, word_visual_order

CASES = ["שלום עולם 123 abc def", "מחיר 120 ש״ח ב-2024", "abc אב גד def", "טל 03 555 1234", "Windows 10 היא",
         "مرحبا بالعالم 2024 Microsoft Office!", "السعر: 45.50 دولار", "hello world שלום.", "1-2 אב", "abc 12 אב",
         "٣٤٥ ريال و 12%", "email a.b@c.com עכשיו"]
MIRROR = str.maketrans("()[]{}<>", "()()()()")


def _display(text: str, direction: str) -> str:
    return "".join(text[i] for i in visual_order(resolve_levels(text, direction)))


@pytest.mark.parametrize("direction", ["ltr", "rtl"])
@pytest.mark.parametrize("text", CASES)
def test_matches_python_bidi(text, direction):
    ref = get_display(text, base_dir="R" if direction == "rtl" else "L")
    assert _display(text, direction).translate(MIRROR) == ref.translate(MIRROR)


def test_random_mixtures_match_python_bidi():
    rng = np.random.default_rng(0)
    pool = ["אב", "גדה", "سلام", "abc", "XY", "12", "3.5", "-", "(", ")", ",", "%", "$", "٣", " ", " ", " "]
    for _ in range(1500):
        text = "".join(rng.choice(pool, size=int(rng.integers(2, 12)))).strip()
        if not text:
            continue
        for d in ("ltr", "rtl"):
            ref = get_display(text, base_dir="R" if d == "rtl" else "L")
            assert _display(text, d).translate(MIRROR) == ref.translate(MIRROR), (text, d)


def test_word_order_of_rtl_line_with_embedded_ltr():
    words = ["המחיר", "הוא", "120", "Microsoft", "Office", "היום"]
    order = word_visual_order(words, "rtl")
    # Displayed left to right: היום, then the LTR run "Microsoft Office", then 120, ...
    assert [words[i] for i in order] == ["היום", "Microsoft", "Office", "120", "הוא", "המחיר"]
    assert base_direction("  123 שלום") == "rtl"
    assert base_direction("123", default="ltr") == "ltr"
