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
"""

from __future__ import annotations

from typing import Callable

from polyocr.charset import BLANK, Charset
from polyocr.pipeline.language import script_of
from polyocr.pipeline.recognize import LineReading

__all__ = ["TO_CYRILLIC", "TO_LATIN", "unify_scripts", "unify_reading"]

_PAIRS = ("aа", "cс", "eе", "oо", "pр", "xх", "yу", "sѕ", "iі", "jј", "ëё",
          "AА", "BВ", "CС", "EЕ", "HН", "KК", "MМ", "OО", "PР", "TТ", "XХ", "IІ", "JЈ", "SЅ", "ËЁ")
TO_CYRILLIC: dict[str, str] = {lat: cyr for lat, cyr in _PAIRS}
TO_LATIN: dict[str, str] = {cyr: lat for lat, cyr in _PAIRS}
_SCRIPTS = ("latin", "cyrillic")


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


def unify_reading(reading: LineReading, charset: Charset | None = None) -> LineReading:
    """:func:`unify_scripts` on a line's text and its display-order characters, when the two are the
    same string (a left-to-right line: no reordering to keep in step); with ``charset``, the frames'
    alternatives supply the winning script's letters for the losing script's distinctive ones."""
    text = reading.line.text
    if reading.visual != text or len(reading.spans) != len(text):
        return reading
    fixed = unify_scripts(text, _seen(reading, charset) if charset is not None else None)
    if fixed == text:
        return reading
    return reading._replace(line=reading.line._replace(text=fixed), visual=fixed)
