"""Documents for the format tests: one built by hand, one from the real generator."""

from __future__ import annotations

import pytest

from polyocr.document import Block, Document, Line, Page, Word, quad_from_box, validate


def _vquad(x0: float, y0: float, x1: float, y1: float):
    """A vertical column's quad, starting at its top-right corner and going clockwise."""
    return ((x1, y0), (x1, y1), (x0, y1), (x0, y0))


def _hline(text: str, words: list[tuple[str, float, float]], y0: float, y1: float, **kw) -> Line:
    ws = [Word(t, quad_from_box(a, y0, b, y1), confidence=0.5 + 0.05 * i) for i, (t, a, b) in enumerate(words)]
    xs = [a for _, a, _ in words] + [b for _, _, b in words]
    return Line(text, quad_from_box(min(xs), y0, max(xs), y1), ws, confidence=0.9, **kw)


def hand_document() -> Document:
    """A 600×400 page: English paragraph, Hebrew RTL line, vertical Japanese column, table cell."""
    en = Block([
        _hline("Hello, world of OCR.", [("Hello,", 20, 80), ("world", 90, 150), ("of", 160, 180), ("OCR.", 190, 240)],
               20, 40, language="en"),
        _hline("Second line & <tags>",
               [("Second", 20, 90), ("line", 100, 140), ("&", 150, 160), ("<tags>", 170, 240)],
               45, 65, language="en"),
    ], quad_from_box(20, 20, 240, 65), kind="paragraph", region="col0", language="en")
    # Logical order: the first word is the rightmost on the image.
    he = Block([
        _hline("שלום עולם 2024 PDF",
               [("שלום", 500, 560), ("עולם", 430, 490), ("2024", 370, 420), ("PDF", 320, 360)],
               80, 100, language="he", direction="rtl"),
    ], quad_from_box(320, 80, 560, 100), kind="heading", region="col1", language="he")
    ja_words = [("縦書き", 120, 180), ("の", 180, 200), ("日本語", 200, 260)]
    ja = Block([
        Line("縦書きの日本語", _vquad(540, 120, 570, 260),
             [Word(t, _vquad(540, a, 570, b), confidence=0.97) for t, a, b in ja_words],
             language="ja", writing_mode="vertical-rl", confidence=0.95),
    ], _vquad(540, 120, 570, 260), kind="paragraph", region="col2", language="ja")
    cell = Block([
        _hline("42 kg", [("42", 20, 40), ("kg", 45, 70)], 300, 320, language="en"),
    # slightly outside the page on the left/bottom: within validate()'s tolerance, clamped by writers
    ], ((-1.5, 300.0), (70.0, 300.0), (70.0, 401.0), (-1.5, 401.0)), kind="table_cell", region="table0.r0c1")
    empty = Block([Line("no words here", quad_from_box(20, 340, 200, 360), language="en")],
                  quad_from_box(20, 340, 200, 360), kind="caption")
    page = Page(600, 400, [en, he, ja, cell, empty], language="en", image="hand page.png", dpi=100).assign_ids()
    doc = Document([page], source="hand page.png", meta={"note": "hand-built"})
    assert validate(doc) == []
    return doc


@pytest.fixture(scope="session")
def hand_doc() -> Document:
    return hand_document()


@pytest.fixture(scope="session")
def synth_doc() -> Document:
    """One Arabic page from the real generator (~1 s)."""
    from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_page

    cfg = SynthConfig(seed=3, languages=("ar",), width=827, height=1170, dpi=100)
    res = Resources(cfg)
    for i in range(6):
        try:
            sample = generate_page(cfg, res, i)
        except Rejected:
            continue
        sample.page.image = "synth-ar.png"
        return Document([sample.page], source="synth-ar.png")
    pytest.fail("no Arabic page in 6 tries")


@pytest.fixture(params=["hand", "synth"])
def doc(request) -> Document:
    return request.getfixturevalue(f"{request.param}_doc")
