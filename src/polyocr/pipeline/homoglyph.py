"""One script per word where Latin and Cyrillic letters look the same.

Latin a, c, e, o, p, x, y and a dozen capitals have Cyrillic twins drawn alike in most fonts, so the
recogniser's pixels cannot tell them apart; only the word can. On Russian pages it wrote "Dеbiаn",
"Mojаve", "legасу", "12bр" (Cyrillic letters inside Latin words) and "ПАPAMETP" (the reverse): every
such letter is a character error, and the language model rarely fixes them because its Russian text
has few Latin words. A word mixing the two scripts is almost never right, so within each run of
letters that mixes them we keep the script its *distinctive* letters (those without a look-alike in
the other script: Latin b d n v w, Cyrillic б д ж л п ы ...) vote for, and write its look-alike letters
in that script. With no distinctive letter either way, the majority of the run's letters decides, then
the line's distinctive letters. Where the run's distinctive letters outvote the other script's (not on a
tie), a distinctive letter of the losing script ("Linиx", "Debiaп": a shape confused with one of its
own script, not a twin) becomes the best letter of the winning script among its frames' alternatives,
when the recogniser saw one; otherwise it stays. Runs in
one script are never touched: a Russian word read entirely as Latin ("cnocob" for "способ") holds
distinctive Latin letters the map does not cover.

Right-to-left lines get the same rule on their display order, where a Latin or Cyrillic word is
still one run, plus one more: a single Hebrew or Arabic letter with a Latin or Cyrillic letter right
beside it on both sides ("Kanguזu", "keHזypy" for "кенгуру") is a misread letter of that word, never
how a right-to-left text is written (a prefix letter sits at the word's edge: "בWiFi"). Left in,
it also cuts the word in two for the bidirectional algorithm, which then prints the halves swapped
("uזKangu"). It becomes the best letter of the word's script among its frames' alternatives when the
recogniser saw one, and the line's logical order is rebuilt from the mended display order.
"""

from __future__ import annotations

from typing import Callable

from polyocr.bidi import resolve_levels, visual_order
from polyocr.charset import BLANK, Charset
from polyocr.pipeline.language import script_of
from polyocr.pipeline.recognize import LineReading, finish_line, infer_direction

__all__ = ["TO_CYRILLIC", "TO_LATIN", "unify_scripts", "unify_reading", "stray_rtl_letters"]

_PAIRS = ("aа", "cс", "eе", "oо", "pр", "xх", "yу", "sѕ", "iі", "jј", "ëё",
          "AА", "BВ", "CС", "EЕ", "HН", "KК", "MМ", "OО", "PР", "TТ", "XХ", "IІ", "JЈ", "SЅ", "ËЁ")
TO_CYRILLIC: dict[str, str] = {lat: cyr for lat, cyr in _PAIRS}
TO_LATIN: dict[str, str] = {cyr: lat for lat, cyr in _PAIRS}
_SCRIPTS = ("latin", "cyrillic")
_RTL_SCRIPTS = ("hebrew", "arabic")


def _script(ch: str) -> str:
    s = script_of(ch)
    return s if s in _SCRIPTS else ""


def _distinctive(ch: str, script: str) -> bool:
    return script == "latin" and ch not in TO_CYRILLIC or script == "cyrillic" and ch not in TO_LATIN


def _votes(chars: str) -> dict[str, int]:
    votes = {"latin": 0, "cyrillic": 0}
    for ch in chars:
        s = _script(ch)
        if s and _distinctive(ch, s):
            votes[s] += 1
    return votes


def _choose(run: str, votes: dict[str, int], line_votes: dict[str, int]) -> str:
    """The script of a mixed run, given its distinctive letters' ``votes`` (:func:`_votes`)."""
    if votes["latin"] != votes["cyrillic"]:
        return "latin" if votes["latin"] > votes["cyrillic"] else "cyrillic"
    counts = {s: sum(_script(ch) == s for ch in run) for s in _SCRIPTS}
    if counts["latin"] != counts["cyrillic"]:
        return "latin" if counts["latin"] > counts["cyrillic"] else "cyrillic"
    return "latin" if line_votes["latin"] >= line_votes["cyrillic"] else "cyrillic"


def unify_scripts(text: str, seen: Callable[[int, str], str | None] | None = None) -> str:
    """``text`` with every letter run that mixes Latin and Cyrillic look-alikes written in one script.

    ``seen(k, script)``: the best letter of ``script`` the recogniser also saw for character ``k``
    (None: none), for the losing script's letters that have no twin. Same length, character for
    character, so per-character confidences and positions stay valid."""
    if not any(_script(ch) == "cyrillic" for ch in text) or not any(_script(ch) == "latin" for ch in text):
        return text
    out = list(text)
    line_votes = _votes(text)
    i = 0
    while i < len(text):
        if not _script(text[i]):
            i += 1
            continue
        j = i
        while j < len(text) and _script(text[j]):
            j += 1
        run = text[i:j]
        if len({_script(ch) for ch in run}) == 2:
            votes = _votes(run)
            chosen = _choose(run, votes, line_votes)
            table = TO_LATIN if chosen == "latin" else TO_CYRILLIC
            # a letter without a twin is replaced only where the run's own distinctive letters outvote it
            outvoted = seen is not None and votes[chosen] > votes["cyrillic" if chosen == "latin" else "latin"]
            for k in range(i, j):
                if text[k] in table:
                    out[k] = table[text[k]]
                elif outvoted and _script(text[k]) != chosen:
                    out[k] = seen(k, chosen) or text[k]
        i = j
    return "".join(out)


MIN_SEEN = 0.01   # an alternative below this probability was not really seen


def _seen(reading: LineReading, charset: Charset) -> Callable[[int, str], str | None] | None:
    ai, ap = reading.alt_ids, reading.alt_probs
    if ai is None or ap is None or not len(ai):
        return None
    n = len(ai)

    def seen(k: int, script: str) -> str | None:
        s0, s1 = reading.spans[k]
        f0 = int(round(s0 * n))
        f1 = max(f0 + 1, int(round(s1 * n)))
        best, best_p = None, MIN_SEEN
        for c, p in zip(ai[f0:f1].ravel().tolist(), ap[f0:f1].ravel().tolist()):
            if c != BLANK and p >= best_p:
                ch = charset.decode([c])
                if len(ch) == 1 and _script(ch) == script:
                    best, best_p = ch, p
        return best

    return seen


def stray_rtl_letters(visual: str) -> list[int]:
    """Display positions of single Hebrew or Arabic letters with a Latin or Cyrillic letter right
    beside them on both sides: misread letters of a left-to-right word (module docstring)."""
    return [k for k in range(1, len(visual) - 1)
            if script_of(visual[k]) in _RTL_SCRIPTS and _script(visual[k - 1]) and _script(visual[k + 1])]


def _word_script(visual: str, k: int) -> str:
    """The script the letters around display position ``k`` (up to the next non-letter) vote for."""
    i, j = k, k + 1
    while i > 0 and (_script(visual[i - 1]) or script_of(visual[i - 1]) in _RTL_SCRIPTS):
        i -= 1
    while j < len(visual) and (_script(visual[j]) or script_of(visual[j]) in _RTL_SCRIPTS):
        j += 1
    run = "".join(ch for ch in visual[i:j] if _script(ch))
    return _choose(run, _votes(run), _votes(visual))


def unify_reading(reading: LineReading, charset: Charset | None = None) -> LineReading:
    """:func:`unify_scripts` on a line's display-order characters, its text following; with
    ``charset``, the frames' alternatives supply the winning script's letters for the losing script's
    distinctive ones, and on a line that holds right-to-left letters, for :func:`stray_rtl_letters`.
    Same length, character for character, so positions and confidences carry over."""
    text, visual = reading.line.text, reading.visual
    if len(reading.spans) != len(visual) or len(text) != len(visual):
        return reading
    seen = _seen(reading, charset) if charset is not None else None
    if visual == text:
        fixed = unify_scripts(text, seen)
        if fixed == text:
            return reading
        return reading._replace(line=reading.line._replace(text=fixed), visual=fixed)
    if seen is None or charset is None:
        return reading            # reordered, and no alternatives to mend it with
    chars = list(visual)
    for k in stray_rtl_letters(visual):
        chars[k] = seen(k, _word_script(visual, k)) or chars[k]
    fixed = unify_scripts("".join(chars), seen)
    if fixed == visual:
        return reading
    # the display order changed script at some positions: rebuild the logical text from it, each
    # character keeping its confidence (carried back to display order through the old permutation)
    direction = reading.direction or infer_direction(visual)
    order = visual_order(resolve_levels(text, direction))
    conf = [reading.line.char_confidences[li] for li in order]
    ids, _ = charset.encode(fixed)
    if len(ids) != len(fixed):    # composed by normalisation: the confidences would not line up
        return reading
    line = finish_line(charset, ids, conf, reading.line.confidence, direction)
    return reading._replace(line=line, visual=fixed, direction=direction)
