"""Unicode bidi (UAX #9) level resolution for one paragraph, without explicit embeddings.

The generator renders words one at a time and must place them where a real text engine would;
the pipeline must turn visually ordered words back into logical order. Both need the resolved
embedding level of every character, which python-bidi does not expose, so we resolve them here
(rules W1–W7, N1–N2, I1–I2, L1 for trailing whitespace, L2 reordering). Explicit embedding and
isolate controls are treated as neutrals: our text never contains them.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Sequence

__all__ = ["bidi_class", "base_direction", "resolve_levels", "visual_order", "word_visual_order",
           "MIRROR", "to_visual", "to_logical", "rtl_share"]


_STRONG_R = {"R", "AL"}
# Paired brackets (Bidi_Paired_Bracket_Type) that occur in our text: ASCII, full-width and CJK.
_OPEN = "([{⁅⁽₍⌈⌊〈❨❪❬❮❰❲❴⟅⟦⟨⟪⦃⦅⦇⦉⦋⦍⦏⦑⦓⦕⦗⧘⧚⧼〈《「『【〔〖〘〚（［｛｟｢"
_CLOSE = ")]}⁆⁾₎⌉⌋〉❩❫❭❯❱❳❵⟆⟧⟩⟫⦄⦆⦈⦊⦌⦎⦐⦒⦔⦖⦘⧙⧛⧽〉》」』】〕〗〙〛）］｝｠｣"
_PAIR = dict(zip(_CLOSE, _OPEN))


@lru_cache(maxsize=65536)
def bidi_class(ch: str) -> str:
    return unicodedata.bidirectional(ch) or "ON"


def base_direction(text: str, default: str = "ltr") -> str:
    """Direction of the first strong character (P2/P3), or ``default`` when there is none."""
    for ch in text:
        c = bidi_class(ch)
        if c == "L":
            return "ltr"
        if c in _STRONG_R:
            return "rtl"
    return default


def _weak_types(text: str, direction: str) -> list[str]:
    """Character types after the weak rules (W1–W7) and bracket pairs (N0), before N1/N2."""
    n = len(text)
    base = 1 if direction == "rtl" else 0
    sos = "R" if base else "L"
    types = [bidi_class(c) for c in text]
    # Controls we never emit behave as boundary neutrals.
    types = ["ON" if t in {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI", "BN"} else t for t in types]
    # W1: NSM takes the type of the previous character.
    prev = sos
    for i, t in enumerate(types):
        if t == "NSM":
            types[i] = prev
        prev = types[i]
    # W2: EN after AL (searching back to the first strong type) becomes AN.
    last_strong = sos
    for i, t in enumerate(types):
        if t in ("L", "R", "AL"):
            last_strong = t
        elif t == "EN" and last_strong == "AL":
            types[i] = "AN"
    # W3: AL → R.
    types = ["R" if t == "AL" else t for t in types]
    # W4: a single ES between ENs → EN; a single CS between two numbers of the same type → that type.
    for i in range(1, n - 1):
        if types[i] == "ES" and types[i - 1] == "EN" and types[i + 1] == "EN":
            types[i] = "EN"
        elif types[i] == "CS" and types[i - 1] == types[i + 1] and types[i - 1] in ("EN", "AN"):
            types[i] = types[i - 1]
    # W5: ETs next to EN become EN.
    i = 0
    while i < n:
        if types[i] == "ET":
            j = i
            while j < n and types[j] == "ET":
                j += 1
            if (i > 0 and types[i - 1] == "EN") or (j < n and types[j] == "EN"):
                for k in range(i, j):
                    types[k] = "EN"
            i = j
        else:
            i += 1
    # W6: remaining separators and terminators → ON.
    types = ["ON" if t in ("ES", "ET", "CS") else t for t in types]
    # W7: EN after L (searching back) → L.
    last_strong = sos
    for i, t in enumerate(types):
        if t in ("L", "R"):
            last_strong = t
        elif t == "EN" and last_strong == "L":
            types[i] = "L"
    _bracket_pairs_n0(text, types, base, sos)
    return types


def resolve_levels(text: str, direction: str) -> list[int]:
    """Embedding level of every character of ``text`` in a paragraph of base ``direction``."""
    n = len(text)
    if n == 0:
        return []
    base = 1 if direction == "rtl" else 0
    sos = "R" if base else "L"
    orig = [bidi_class(c) for c in text]
    types = _weak_types(text, direction)
    # N1/N2: runs of neutrals take the surrounding strong direction if both sides agree (EN/AN count
    # as R), else the embedding direction.
    def strong(t: str) -> str | None:
        if t == "L":
            return "L"
        if t in ("R", "EN", "AN"):
            return "R"
        return None

    i = 0
    while i < n:
        if strong(types[i]) is None:
            j = i
            while j < n and strong(types[j]) is None:
                j += 1
            left = strong(types[i - 1]) if i > 0 else sos
            right = strong(types[j]) if j < n else sos
            fill = left if left == right else ("R" if base else "L")
            for k in range(i, j):
                types[k] = fill
            i = j
        else:
            i += 1
    # I1/I2: implicit levels.
    levels = []
    for t in types:
        if base == 0:
            levels.append(0 if t == "L" else (1 if t == "R" else 2))
        else:
            levels.append(1 if t == "R" else 2)
    # L1: trailing whitespace (and whitespace before segment separators) goes back to the base level.
    j = n - 1
    while j >= 0 and orig[j] in ("WS", "S", "B", "BN"):
        levels[j] = base
        j -= 1
    return levels


def _bracket_pairs_n0(text: str, types: list[str], base: int, sos: str) -> None:
    """Rule N0: a bracket pair takes the direction of the strong text it encloses or its context."""
    stack: list[tuple[str, int]] = []
    pairs: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        if types[i] != "ON":
            continue
        if ch in _OPEN:
            if len(stack) >= 63:
                break
            stack.append((ch, i))
        elif ch in _PAIR:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == _PAIR[ch]:
                    pairs.append((stack[k][1], i))
                    del stack[k:]
                    break
    e = "R" if base else "L"

    def strong(t: str) -> str | None:
        return "L" if t == "L" else ("R" if t in ("R", "EN", "AN") else None)

    for o, c in sorted(pairs):
        inside = {strong(t) for t in types[o + 1:c]} - {None}
        if not inside:
            continue
        if e in inside:
            direction = e
        else:
            before = sos
            for t in reversed(types[:o]):
                if strong(t):
                    before = strong(t)
                    break
            direction = before if before != e else e
        types[o] = types[c] = direction


def visual_order(levels: Sequence[int]) -> list[int]:
    """L2: logical indices listed left to right on the display."""
    order = list(range(len(levels)))
    if not levels:
        return order
    top = max(levels)
    lowest_odd = min(lv for lv in levels) | 1
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        n = len(levels)
        while i < n:
            if levels[order[i]] >= level:
                j = i
                while j < n and levels[order[j]] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return order


def word_visual_order(words: Sequence[str], direction: str, sep: str = " ") -> list[int]:
    """Indices of ``words`` (logical order, joined by ``sep``) from left to right on the display.

    A word whose characters the algorithm splits (mixed-direction words) is placed by its
    leftmost character, which is where a text engine starts drawing it.
    """
    if not words:
        return []
    text = sep.join(words)
    owner: list[int] = []
    for wi, w in enumerate(words):
        if wi:
            owner.extend([-1] * len(sep))
        owner.extend([wi] * len(w))
    pos: dict[int, int] = {}
    for vis, li in enumerate(visual_order(resolve_levels(text, direction))):
        w = owner[li]
        if w >= 0 and w not in pos:
            pos[w] = vis
    return sorted(range(len(words)), key=lambda w: pos[w])



# -- visual strings for the recogniser ---------------------------------------------------------------
#
# The line recogniser reads every image left to right and emits characters in *display* order, so
# its CTC targets are labels turned into display order (:func:`to_visual`), and its output is turned
# back into logical order (:func:`to_logical`). Mirroring (rule L4) is part of the display: inside a
# right-to-left run "(" is drawn with the glyph of ")" (HarfBuzz mirrors RTL runs), so the visual
# string holds the mirrored character and the model learns glyph shapes, not logical roles.

# Bidi_Mirroring_Glyph pairs for the mirrored characters of our charset (BidiMirroring.txt).
_MIRROR_PAIRS = ("()", "<>", "[]", "{}", "«»", "‹›", "∈∋", "∼∽", "≒≓", "≤≥", "≦≧", "≪≫", "≮≯", "⊂⊃", "⊆⊇",
                 "〈〉", "《》", "「」", "『』", "【】", "〔〕", "〖〗", "〘〙", "（）", "＜＞", "［］", "｛｝", "⁅⁆",
                 "⁽⁾", "₍₎", "｟｠", "｢｣")
MIRROR: dict[str, str] = {a: b for p in _MIRROR_PAIRS for a, b in (p, p[::-1])}


def _display(text: str, levels: Sequence[int]) -> str:
    """Characters of ``text`` left to right for the given levels, mirrored where the level is odd."""
    return "".join(MIRROR.get(text[i], text[i]) if levels[i] % 2 else text[i] for i in visual_order(levels))


def to_visual(text: str, direction: str) -> str:
    """Display order (left to right) of a logical string in a paragraph of base ``direction``, L4 mirroring included."""
    return _display(text, resolve_levels(text, direction))


def to_logical(visual: str, direction: str, max_iter: int = 4) -> str:
    """Logical order of a display-order string: the inverse of :func:`to_visual`, where one exists.

    Reordering is a permutation fixed by the levels of the *logical* string, which the decoder does
    not have, and several logical strings can share one display (neutrals at run boundaries, W2/W7
    which look *backwards* for context). So we build candidates, keep those that the forward map
    sends back to ``visual`` exactly, and pick the most plausible one:

    * **reversed scan** (right-to-left paragraphs): read the display right to left, which is the
      logical order of the right-to-left text, resolve levels on that string (now an Arabic letter
      precedes its digits, as W2 needs), and re-reverse the embedded left-to-right runs. Tried
      first with rule W7 applied forwards (digits followed, in this reversed scan, by Latin belong
      to the Latin run: "Office 2024", "AB-1234", "Python 3.11" — 17/17 realistic lines right
      against 10/17 without it), then without;
    * **direct**: resolve levels on the display string itself and reorder it (reordering is its own
      inverse whenever the runs keep their levels: "123 םולש" → "שלום 123");
    * **refinement** of either: take the candidate's own (logical) levels, invert that permutation
      exactly on ``visual``, repeat until the forward map reproduces ``visual``.

    Plausibility: balanced brackets and quotes in logical order first, then the order above. When
    no candidate maps back exactly the first refinement is returned. tests/pipeline/test_bidi_visual.py
    measures how often ``to_logical(to_visual(L)) == L`` holds on random mixed-direction lines.
    """
    if not visual or (direction == "ltr" and not any(bidi_class(c) in _STRONG_R | {"AN"} for c in visual)):
        return visual  # no right-to-left content: display order is logical order
    classes = {bidi_class(c) for c in visual}
    if direction == "rtl" and classes <= _STRONG_R:
        return visual[::-1]  # one right-to-left run (most words of an RTL line): plain reversal
    if direction == "rtl" and classes == {"L"}:
        return visual  # one embedded left-to-right run: its order is kept
    found: list[str] = []
    fallback: list[str] = []

    def refine(cand: str) -> None:
        for _ in range(max_iter):
            if to_visual(cand, direction) == visual:
                if cand not in found:
                    found.append(cand)
                return
            fallback.append(cand)
            levels = resolve_levels(cand, direction)
            out = [""] * len(visual)
            for vis, li in enumerate(visual_order(levels)):  # visual_order[vis] = logical index
                ch = visual[vis]
                out[li] = MIRROR.get(ch, ch) if levels[li] % 2 else ch
            nxt = "".join(out)
            if nxt == cand:
                return
            cand = nxt

    if direction == "rtl":
        rev = visual[::-1]
        plain = rev.translate(_MIRROR_TABLE)
        # W7 makes digits after Latin part of the Latin run ("Office 2024"); in the reversed scan
        # the Latin comes after the digits, so apply it forwards first.
        for probe in (_w7_forward(plain), plain):
            if probe is None:
                continue
            rev_levels = resolve_levels(probe, direction)
            # In ``rev`` the right-to-left text is already logical; runs at level >= 2 are reversed.
            shifted = [lv - 1 for lv in rev_levels]
            refine("".join(MIRROR.get(rev[i], rev[i]) if rev_levels[i] % 2 else rev[i] for i in visual_order(shifted)))
    refine(_display(visual, resolve_levels(visual, direction)))
    levels = resolve_levels(visual, direction)
    unmirrored = "".join(MIRROR.get(c, c) if lv % 2 else c for c, lv in zip(visual, levels))
    refine(_display(unmirrored, resolve_levels(unmirrored, direction)).translate(_MIRROR_TABLE))
    if not found:
        return fallback[0]
    return max(found, key=lambda c: (_balance(c), -found.index(c)))


def _w7_forward(text: str) -> str | None:
    """``text`` with European digits replaced by "a" where the next strong character is L (None if none)."""
    out = list(text)
    nxt = None
    changed = False
    for i in range(len(text) - 1, -1, -1):
        c = bidi_class(text[i])
        if c in ("L", "R", "AL"):
            nxt = c
        elif c == "EN" and nxt == "L":
            out[i] = "a"
            changed = True
    return "".join(out) if changed else None


_PAIRS_OPEN = {"(": ")", "[": "]", "{": "}", "«": "»", "‹": "›", "（": "）", "［": "］", "「": "」", "『": "』",
               "【": "】", "《": "》", "〈": "〉", "〔": "〕"}
_PAIRS_CLOSE = {v: k for k, v in _PAIRS_OPEN.items()}


def _balance(text: str) -> int:
    """Minus the number of brackets and quotes that do not pair up in logical order."""
    stack: list[str] = []
    bad = 0
    for ch in text:
        if ch in _PAIRS_OPEN:
            stack.append(ch)
        elif ch in _PAIRS_CLOSE:
            if stack and stack[-1] == _PAIRS_CLOSE[ch]:
                stack.pop()
            else:
                bad += 1
    return -(bad + len(stack))


_MIRROR_TABLE = str.maketrans(MIRROR)


def rtl_share(text: str) -> float:
    """Share of strong characters that are right-to-left (0 when there are none)."""
    r = l = 0
    for ch in text:
        c = bidi_class(ch)
        if c in _STRONG_R:
            r += 1
        elif c == "L":
            l += 1
    return r / (r + l) if r + l else 0.0
