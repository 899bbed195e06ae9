"""Text accuracy metrics with explicit normalisation rules.

NED = edit distance / max(len(prediction), len(truth)) (0 = identical, 1 = nothing in common);
CER = edit distance / len(truth). Both sides are NFKC-normalised; bidi marks, soft hyphens and
tatweel are dropped (they carry no reading). ``whitespace`` says what happens to spaces: "keep"
(runs collapse to one space), or "remove" (the headline for CJK, where spaces between characters
are a layout accident).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize", "edit_distance", "ned", "cer"]

_DROP = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u00ad\ufeff\u0640"))
_SPACES = re.compile(r"\s+")


def normalize(text: str, whitespace: str = "keep") -> str:
    text = unicodedata.normalize("NFKC", text).translate(_DROP)
    if whitespace == "remove":
        return _SPACES.sub("", text)
    if whitespace == "keep":
        return _SPACES.sub(" ", text).strip()
    raise ValueError(f"whitespace must be 'keep' or 'remove', not {whitespace!r}")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insert, delete, substitute: cost 1 each)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def ned(prediction: str, truth: str, whitespace: str = "keep") -> float:
    p, t = normalize(prediction, whitespace), normalize(truth, whitespace)
    if not p and not t:
        return 0.0
    return edit_distance(p, t) / max(len(p), len(t))


def cer(prediction: str, truth: str, whitespace: str = "keep") -> float:
    p, t = normalize(prediction, whitespace), normalize(truth, whitespace)
    if not t:
        return float(bool(p))
    return edit_distance(p, t) / len(t)
