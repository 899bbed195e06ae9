"""One script per word where Latin and Cyrillic letters look the same.

Latin a, c, e, o, p, x, y and a dozen capitals have Cyrillic twins drawn alike in most fonts, so the
recogniser's pixels cannot tell them apart; only the word can. On Russian pages it wrote "Dеbiаn",
"Mojаve", "legасу", "12bр" (Cyrillic letters inside Latin words) and "ПАPAMETP" (the reverse): every
such letter is a character error, and the language model rarely fixes them because its Russian text
has few Latin words. A word mixing the two scripts is almost never right, so within each run of
letters that mixes them we keep the script its *distinctive* letters (those without a look-alike in
the other script: Latin b d n v w, Cyrillic б д ж л п ы ...) vote for, and write its look-alike letters
in that script. With no distinctive letter either way, the majority of the run's letters decides, then
the line's distinctive letters. Runs in one script are never touched: a Russian word read entirely as
Latin ("cnocob" for "способ") holds distinctive Latin letters the map does not cover.
"""

from __future__ import annotations

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


def _choose(run: str, line_votes: dict[str, int]) -> str:
    votes = _votes(run)
    if votes["latin"] != votes["cyrillic"]:
        return "latin" if votes["latin"] > votes["cyrillic"] else "cyrillic"
    counts = {s: sum(_script(ch) == s for ch in run) for s in _SCRIPTS}
    if counts["latin"] != counts["cyrillic"]:
        return "latin" if counts["latin"] > counts["cyrillic"] else "cyrillic"
    return "latin" if line_votes["latin"] >= line_votes["cyrillic"] else "cyrillic"


def unify_scripts(text: str) -> str:
    """``text`` with every letter run that mixes Latin and Cyrillic look-alikes written in one script.

    Same length, character for character (only look-alikes are swapped), so per-character
    confidences and positions stay valid."""
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
            table = TO_LATIN if _choose(run, line_votes) == "latin" else TO_CYRILLIC
            for k in range(i, j):
                out[k] = table.get(text[k], text[k])
        i = j
    return "".join(out)


def unify_reading(reading: LineReading) -> LineReading:
    """:func:`unify_scripts` on a line's text and its display-order characters, when the two are the
    same string (a left-to-right line: no reordering to keep in step)."""
    text = reading.line.text
    if reading.visual != text:
        return reading
    fixed = unify_scripts(text)
    if fixed == text:
        return reading
    return reading._replace(line=reading.line._replace(text=fixed), visual=fixed)
