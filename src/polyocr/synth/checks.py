"""Label checks run on every generated page: the labels must describe exactly the pixels.

Each check uses a different route from the code that drew the page, so a bug in the drawing code
cannot hide itself:

* ink: the clean text-ink layer is compared with the rasterised word polygons (every word covers
  ink; no text ink lies outside all words);
* tofu: every character drawn is rendered alone and compared with the face's .notdef glyph;
* right-to-left order: python-bidi (an independent UAX #9 implementation) turns each logical label
  into display order, which must match the left-to-right order of the word boxes;
* vertical: words of a column go down the page, columns of a block go right to left;
* schema: :func:`polyocr.document.validate`.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Iterable

import cv2
import numpy as np
from PIL import Image

from polyocr.document import Page, polygon_bounds, validate

if TYPE_CHECKING:
    from polyocr.synth.fonts import FontFace, FontLibrary

__all__ = ["check_page", "check_ink", "check_tofu", "check_rtl_order", "check_vertical", "INK_THRESHOLD"]

INK_THRESHOLD = 96   # alpha above which a pixel counts as ink
TOLERANCE_PX = 2     # polygons may sit this far inside antialiased ink edges

_TOFU_CACHE: dict[tuple[str, int, str], bool] = {}
_NOTDEF_CACHE: dict[tuple[str, int], bytes] = {}
_PROBE = ("\U0010fffd", "\u0378", "\U000e01ef")  # code points fonts practically never map


def check_ink(page: Page, alpha: np.ndarray) -> list[str]:
    """Word polygons against the clean text-ink layer (same size as the page)."""
    problems: list[str] = []
    ink = alpha > INK_THRESHOLD
    mask = np.zeros(alpha.shape, np.uint8)
    for w in page.words:
        pts = np.round(np.asarray(w.polygon, np.float64)).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255)
        x0, y0, x1, y1 = (int(v) for v in polygon_bounds(w.polygon))
        if not (alpha[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] > 32).any():
            problems.append(f"{w.id}: word {w.text!r} covers no ink")
    if TOLERANCE_PX:
        mask = cv2.dilate(mask, np.ones((2 * TOLERANCE_PX + 1,) * 2, np.uint8))
    outside = int(np.count_nonzero(ink & (mask == 0)))
    if outside:
        ys, xs = np.nonzero(ink & (mask == 0))
        problems.append(f"{outside} text-ink pixels outside every word polygon (e.g. at x={xs[0]}, y={ys[0]})")
    return problems


def _needs_glyph(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Zs")


def _mask_bytes(font, text: str) -> bytes:
    core, _ = font.getmask2(text, mode="L")
    arr = np.asarray(Image.Image()._new(core))
    return arr.shape[0].to_bytes(4, "little") + arr.shape[1].to_bytes(4, "little") + arr.tobytes()


def _is_tofu(face: "FontFace", ch: str) -> bool:
    from polyocr.synth.fonts import load_font

    key = (face.path, face.index, ch)
    hit = _TOFU_CACHE.get(key)
    if hit is None:
        font = load_font(face, 32)
        nk = (face.path, face.index)
        notdef = _NOTDEF_CACHE.get(nk)
        if notdef is None:
            notdef = _mask_bytes(font, _PROBE[0])
            _NOTDEF_CACHE[nk] = notdef
        glyph = _mask_bytes(font, ch)
        blank = glyph[8:].strip(b"\x00") == b""
        hit = glyph == notdef or (blank and unicodedata.category(ch)[0] != "M")
        _TOFU_CACHE[key] = hit
    return hit


def check_tofu(drawn: Iterable[tuple["FontFace", str]], fonts: "FontLibrary | None" = None) -> list[str]:
    """Characters that came out as the .notdef box (or blank) in the face that drew them."""
    problems = []
    for face, text in sorted(drawn, key=lambda t: (t[0].path, t[0].index, t[1])):
        for ch in set(text):
            if _needs_glyph(ch) and _is_tofu(face, ch):
                problems.append(f"tofu: U+{ord(ch):04X} {ch!r} in {face.family} ({text!r})")
    return problems


def _runs(display: str) -> list[str]:
    """Maximal runs of right-to-left letters, and of other letters and digits, in display order."""
    runs: list[str] = []
    cur, cur_rtl = "", False
    for ch in display:
        if not (ch.isalnum() or unicodedata.category(ch)[0] == "M"):
            if cur:
                runs.append(cur)
            cur = ""
            continue
        rtl = unicodedata.bidirectional(ch) in ("R", "AL")
        if cur and rtl != cur_rtl:
            runs.append(cur)
            cur = ""
        cur += ch
        cur_rtl = rtl
    if cur:
        runs.append(cur)
    return runs


def check_rtl_order(page: Page) -> list[str]:
    """Lines holding right-to-left text: logical labels must display as the boxes are laid out."""
    from bidi import get_display

    problems = []
    for ln in page.lines:
        if ln.writing_mode != "horizontal-tb" or len(ln.words) < 2:
            continue
        if ln.direction != "rtl" and not any(unicodedata.bidirectional(c) in ("R", "AL") for c in ln.text):
            continue
        base = "R" if ln.direction == "rtl" else "L"
        # Compare runs of letters and digits in display order: python-bidi's display string against
        # the words sorted by their boxes (each shown in its own direction). Punctuation is left out:
        # where it lands inside a run is the shaper's business, and the ink check covers its box.
        # A word's own runs are compared as a set (their order inside the word is the shaper's).
        expected = _runs(get_display(ln.text, base_dir=base))
        # Centres, not left edges: Arabic tails (final ي) reach left under a narrow neighbour.
        by_x = sorted(ln.words, key=lambda w: sum(polygon_bounds(w.polygon)[0::2]))
        ok, at = True, 0
        for w in by_x:
            mine = _runs(get_display(w.text, base_dir=base))
            theirs = expected[at:at + len(mine)]
            at += len(mine)
            if sorted(mine) != sorted(theirs):
                ok = False
                break
        if not ok or at != len(expected):
            expected, seen = get_display(ln.text, base_dir=base).split(" "), [w.text for w in by_x]
            problems.append(f"{ln.id}: words laid out as {seen!r} but the label displays as {expected!r}")
    return problems


def check_vertical(page: Page) -> list[str]:
    problems = []
    for b in page.blocks:
        cols = [ln for ln in b.lines if ln.writing_mode == "vertical-rl"]
        for ln in cols:
            tops = [polygon_bounds(w.polygon)[1] for w in ln.words]
            if tops != sorted(tops):
                problems.append(f"{ln.id}: vertical words not top to bottom")
        centres = [sum(polygon_bounds(ln.polygon)[0::2]) / 2 for ln in cols]
        if centres != sorted(centres, reverse=True):
            problems.append(f"{b.id}: vertical columns not right to left")
    return problems


def check_page(page: Page, alpha: np.ndarray, drawn: Iterable[tuple["FontFace", str]],
               fonts: "FontLibrary | None" = None, tofu: bool = True) -> list[str]:
    """Every problem with a generated page's labels (empty list = the labels are right).

    ``tofu=False`` skips the pixel-level tofu check (a render per new face and character, a fifth
    of a page's generation time in a short run); fonts are chosen by cmap coverage, so it only
    re-verifies that choice, which `polyocr synth check` does over thousands of pages and lines.
    """
    from polyocr.document import Document

    problems = validate(Document(pages=[page]))
    problems += check_ink(page, alpha)
    if tofu:
        problems += check_tofu(drawn, fonts)
    problems += check_rtl_order(page)
    problems += check_vertical(page)
    return problems
