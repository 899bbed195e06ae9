"""The typesetter with one-script faces: characters a face lacks are drawn in a fallback face."""

from __future__ import annotations

import numpy as np
import pytest

from polyocr.document import polygon_bounds
from polyocr.synth.checks import check_tofu
from polyocr.synth.fonts import FontFace, FontLibrary, _script_cps, load_font
from polyocr.synth.render import Canvas, Run, RunCache, join_runs
from polyocr.synth.typeset import TextStyle, Typesetter


def _regular(lib: FontLibrary, family: str) -> FontFace:
    faces = [f for f in lib.faces if f.family == family and not f.bold and not f.italic]
    assert faces, f"{family} is not installed (packaging/apt-packages.txt installs it)"
    return faces[0]


def _setter(lib: FontLibrary, lang: str, width: int = 1100) -> Typesetter:
    return Typesetter(Canvas(width, 120), lib, lang, "all", RunCache(), load_font)


def test_join_runs_places_runs_on_one_baseline() -> None:
    a = Run(np.full((10, 4), 255, np.uint8), 1, -10, 6.0)     # ink 10 px above the baseline
    b = Run(np.full((3, 2), 255, np.uint8), 0, -2, 3.0)       # a mark from 2 px above to 1 px below it
    blank = Run(np.zeros((0, 0), np.uint8), 0, 0, 2.0)        # a space: advances, draws nothing
    r = join_runs([a, blank, b])
    assert r.advance == 11.0 and (r.dx, r.dy) == (1, -10)
    assert r.mask.shape == (11, 9)
    assert r.mask[:10, :4].all() and not r.mask[10, :4].any()
    assert r.mask[8:, 7:9].all() and not r.mask[:8, 7:].any() and not r.mask[:, 4:7].any()
    assert join_runs([blank]).empty and join_runs([blank]).advance == 2.0


@pytest.mark.parametrize("lang,family,text,inner", [
    ("ar", "Noto Naskh Arabic", "في عام 1979 كانت (43.8%) من العائلات {تقريباً} #12", "تقريباً"),
    ("he", "Noto Sans Hebrew", "בשנת 1979 היו (43.8%) מהמשפחות, ראו #12 [שם]", "שם"),
])
def test_one_script_face_draws_what_it_lacks_in_a_fallback(font_library: FontLibrary, lang: str, family: str,
                                                           text: str, inner: str) -> None:
    lib = FontLibrary(font_library.faces, script_faces=True)
    face = _regular(lib, family)
    assert lib.script_face(face, lang) and lib.coverage(face, lang) < 0.97
    assert face in lib.for_language(lang, "all")
    ts = _setter(lib, lang)
    line = ts.draw_line(text.split(), TextStyle(face, 30), 10, 1090, 80, direction="rtl")
    assert line is not None and line.text == text
    assert [w.text for w in line.words] == text.split()
    # the page's face draws the script; the signs it lacks come from another face, in the same words
    faces = {f for f, _ in ts.drawn}
    assert face in faces and len(faces) >= 2
    assert all(f is face or not face.covers(part) for f, part in ts.drawn)
    assert any(f is not face and "(" in part for f, part in ts.drawn)
    assert (face, inner) in ts.drawn          # the letters inside brackets keep the page's face
    assert check_tofu(ts.drawn, lib) == []
    # every inked pixel lies in a word box, and every word box holds ink
    ink = ts.canvas.text[0] > 0
    inside = np.zeros_like(ink)
    for w in line.words:
        x0, y0, x1, y1 = (int(round(v)) for v in polygon_bounds(w.polygon))
        assert ink[y0:y1, x0:x1].any(), w.text
        inside[y0:y1, x0:x1] = True
    assert not (ink & ~inside).any()


def test_a_missing_letter_sends_the_whole_word_to_the_fallback(font_library: FontLibrary) -> None:
    """Cutting inside a word would change its letters' joined shapes; only signs are cut off."""
    lib = font_library
    face = _regular(lib, "Noto Naskh Arabic")
    ts = _setter(lib, "ar")                     # the page's face need not be one of the language's
    style = TextStyle(face, 30)
    assert ts._segments("عائلة.", style) == [("عائلة.", face)]              # Naskh maps the full stop
    parts = ts._segments("(عائلة)", style)
    assert [p for p, _ in parts] == ["(", "عائلة", ")"] and parts[1][1] is face
    word = "عائلةA"                                                             # a Latin letter it lacks
    if face.covers("A"):
        word = "عائلة\u0915"                                                    # Devanagari KA
    (only,) = ts._segments(word, style)
    assert only[0] == word and only[1] is not face and only[1].covers(word)


def test_script_faces_only_where_meant(font_library: FontLibrary) -> None:
    lib = FontLibrary(font_library.faces, script_faces=True)
    sans_hebrew = _regular(lib, "Noto Sans Hebrew")
    assert lib.script_face(sans_hebrew, "he") and not lib.script_face(sans_hebrew, "en")
    assert sans_hebrew in lib.for_language("he", "all")
    assert sans_hebrew not in font_library.for_language("he", "all")          # opt-in: off by default
    nastaliq = _regular(lib, "Noto Nastaliq Urdu")
    own = _script_cps("ar")
    assert nastaliq.cmap.count_in(own) == own.size                             # it would pass the rule...
    assert nastaliq not in lib.for_language("ar", "all")                       # ...but is excluded by name
    # no language outside Arabic and Hebrew gains faces from the rule
    for lang in ("en", "ru", "ko", "ja", "zh-Hans", "zh-Hant"):
        assert not any(lib.script_face(f, lang) for f in lib.faces if f.usable)


def test_lines_in_one_script_faces_pass_the_label_checks() -> None:
    """End to end with ``--script-faces``: Arabic line crops set in the new faces, tofu checked pixel by pixel."""
    from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line

    cfg = SynthConfig(seed=3, languages=("ar",), script_faces=True, pixel_tofu=True)
    res = Resources(cfg)
    assert res.fonts.script_faces
    seen = 0
    for i in range(160):
        try:
            s = generate_line(cfg, res, i)
        except Rejected:
            continue
        face = next(f for f in res.fonts.faces if f.family == s.meta["font"]["family"])
        if res.fonts.coverage(face, "ar") < 0.97:
            seen += 1
            assert s.line.text.strip() and check_tofu(s.drawn, res.fonts) == []
    assert seen >= 8, seen
