"""The recogniser's unified charset: one versioned file, its hash, NFC encode/decode for CTC.

The vocabulary covers en, zh-Hans, zh-Hant, ja, ko, ru, ar and he in one model. It is built from
authoritative repertoires (the national standards Python's codecs enumerate, Unicode blocks) plus
the shared per-language charsets when present, and *committed* as ``data/charset-v1.txt`` so that a
model's output ids mean the same thing on every machine. A model's metadata stores the file's
sha256; loading weights against a different charset is refused (:func:`Charset.check`).

Class ids: ``0`` is the CTC blank, ``1`` is the space (every whitespace character encodes to it),
and ``2 + i`` is line ``i`` of the file. The file has one character per line, UTF-8, NFC, sorted by
code point; space is implied and not listed (a line holding only a space would not survive editors).

Usage::

    cs = Charset.load()                      # the packaged v1 file
    ids, unknown = cs.encode("價格 ¥45")     # unknown characters are dropped and returned
    cs.decode(ids)
"""

from __future__ import annotations

import hashlib
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from polyocr.languages import codec_chars

__all__ = ["CHARSET_VERSION", "CHARSET_FILE", "BLANK", "SPACE", "Charset", "build_charset", "write_charset"]

CHARSET_VERSION = "v1"
CHARSET_FILE = Path(__file__).resolve().parent / "data" / f"charset-{CHARSET_VERSION}.txt"
BLANK = 0
SPACE = 1

# Symbols that real documents in our languages use beyond the per-language core sets: typographic
# punctuation, currency, math, arrows, circled and parenthesised numbers, Roman numerals, Greek.
_SYMBOLS = (
    "‘’‚‛“”„‟‹›«»–—―‐‑‒…‥•·‧′″‴※‰‱§¶©®™℃℉№℡°±×÷¬¦¤¢£¥€₩₽₪₹¹²³⁴¼½¾⅓⅔"
    "←↑→↓↔↕⇒⇔∀∂∃∅∇∈∉∋∏∑−∓∕∗∘√∝∞∠∧∨∩∪∫∬∮∴∵∶∷∼∽≈≌≒≓≠≡≤≥≦≧≪≫≮≯⊂⊃⊆⊇⊕⊗⊙⊥⌒"
    "ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩⅪⅫⅰⅱⅲⅳⅴⅵⅶⅷⅸⅹ①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳⑴⑵⑶⑷⑸⑹⑺⑻⑼⑽㈠㈡㈢㈣㈤㈥㈦㈧㈨㈩"
    "■□▲△▼▽◆◇○◎●★☆♀♂♪♫✓✔✕✗✘"
    "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρστυφχψως"
    "ㄅㄆㄇㄈㄉㄊㄋㄌㄍㄎㄏㄐㄑㄒㄓㄔㄕㄖㄗㄘㄙㄚㄛㄜㄝㄞㄟㄠㄡㄢㄣㄤㄥㄦㄧㄨㄩ"  # bopomofo (zh-Hant)
)


def _standard_repertoires() -> set[str]:
    """The codec- and block-derived part of the charset (needs no shared data)."""
    chars: set[str] = set(string.printable.strip()) - set(string.whitespace)  # ASCII 0x21-0x7E
    chars |= codec_chars("gb2312", range(0xB0, 0xF8))                   # GB2312 level 1 + 2 hanzi (6,763)
    chars |= codec_chars("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])  # Big5 level 1
    chars |= codec_chars("euc_jp", range(0xB0, 0xD0))                   # JIS X 0208 level-1 kanji
    chars |= codec_chars("euc_jp", range(0xA4, 0xA6))                   # JIS X 0208 hiragana + katakana
    chars |= codec_chars("euc_jp", [0xA1])                               # JIS X 0208 row 1: 、。・ー々〆「」…
    chars |= codec_chars("euc_kr", range(0xB0, 0xC9))                   # KS X 1001 hangul (2,350)
    chars |= {chr(c) for c in range(0x3131, 0x3164)}                      # hangul compatibility jamo
    chars |= {chr(c) for c in range(0x3000, 0x3040)} - {"\u3000"}       # CJK symbols and punctuation
    chars |= {chr(c) for c in range(0xFF01, 0xFF5F)}                      # full-width ASCII forms
    chars |= {chr(c) for c in range(0x0400, 0x0460)}                      # Cyrillic (Russian + neighbours)
    chars |= {chr(c) for c in range(0x0621, 0x063B)} | {chr(c) for c in range(0x0640, 0x0653)}  # Arabic letters, harakat
    chars |= {chr(c) for c in range(0x0660, 0x066E)} | set("،؛؟ٰٱ۔")    # Arabic-Indic digits, ٪٫٬٭, punctuation
    chars |= {chr(c) for c in range(0x05D0, 0x05EB)} | set("־׳״")       # Hebrew letters incl. final forms
    chars |= {chr(c) for c in range(0x00A1, 0x0180)} - {"\u00ad"}       # Latin-1 + Latin Extended-A letters
    chars |= set(_SYMBOLS)
    return chars


def build_charset(shared: str | Path | None = None) -> list[str]:
    """The v1 character list (space excluded), sorted by code point.

    ``shared`` is the shared data folder (holding ``data/charsets/all.txt``); None = autodetect via
    :func:`polyocr.languages.shared_dir`. Without shared data the result is the standards-only subset,
    which is why the committed file, not this function, is what models use.
    """
    from polyocr.languages import shared_dir

    chars = _standard_repertoires()
    root = shared_dir(shared) if shared != "" else None
    if root is not None:
        path = root / "data" / "charsets" / "all.txt"
        if path.is_file():
            chars |= {ln for ln in path.read_text(encoding="utf-8").splitlines() if ln}
    # NFC-stable, printable, non-space characters only: a label is NFC before encoding, so a
    # character that NFC rewrites (U+2126 OHM SIGN → Ω) could never be a target.
    keep = {c for c in chars if len(c) == 1 and not c.isspace() and unicodedata.normalize("NFC", c) == c
            and unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")}
    return sorted(keep)


def write_charset(path: str | Path = CHARSET_FILE, shared: str | Path | None = None) -> Path:
    """Write :func:`build_charset` to ``path`` (the committed file is regenerated this way)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(c + "\n" for c in build_charset(shared)), encoding="utf-8")
    return path


@dataclass
class Charset:
    """Character ↔ class id mapping for CTC (0 = blank, 1 = space, 2.. = file lines)."""

    chars: tuple[str, ...]                       # file order; id of chars[i] is i + 2
    sha256: str = ""
    version: str = CHARSET_VERSION
    unknown: Counter = field(default_factory=Counter, repr=False)  # label characters not in the charset

    def __post_init__(self) -> None:
        self._index = {c: i + 2 for i, c in enumerate(self.chars)}
        self._index[" "] = SPACE
        self._table = ("", " ", *self.chars)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Charset":
        """Read a charset file (default: the packaged v1 file)."""
        path = Path(path) if path is not None else CHARSET_FILE
        data = path.read_bytes()
        chars = tuple(ln for ln in data.decode("utf-8").split("\n") if ln)
        bad = [c for c in chars if len(c) != 1]
        if bad:
            raise ValueError(f"{path}: lines must hold exactly one character, got {bad[:3]!r}")
        version = path.stem.rsplit("-", 1)[-1] if "-" in path.stem else CHARSET_VERSION
        return cls(chars=chars, sha256=hashlib.sha256(data).hexdigest(), version=version)

    def __len__(self) -> int:
        """Number of classes, blank included: the model head's output size."""
        return len(self.chars) + 2

    def __contains__(self, ch: str) -> bool:
        return ch in self._index

    def check(self, sha256: str, what: str = "weights") -> None:
        """Refuse ``what`` made for another charset (ids would decode to the wrong characters)."""
        if sha256 != self.sha256:
            raise ValueError(f"{what} were trained with charset sha256 {sha256[:12]}…, but the installed "
                             f"charset-{self.version}.txt has {self.sha256[:12]}…; ids would decode wrongly")

    def encode(self, text: str) -> tuple[list[int], list[str]]:
        """NFC-normalise ``text`` and map it to class ids; returns (ids, dropped unknown characters).

        Whitespace of any kind becomes the space id; unknown characters are dropped and also added to
        :attr:`unknown` so a training run can log what its labels lose.
        """
        ids: list[int] = []
        missing: list[str] = []
        for ch in unicodedata.normalize("NFC", text):
            if ch.isspace():
                ch = " "
            i = self._index.get(ch)
            if i is None:
                missing.append(ch)
            else:
                ids.append(i)
        if missing:
            self.unknown.update(missing)
        return ids, missing

    def decode(self, ids: Sequence[int]) -> str:
        """Ids → text (blank ids are skipped; no CTC collapsing here)."""
        return "".join(self._table[i] for i in ids if i != BLANK)

    def ctc_collapse(self, ids: Sequence[int]) -> list[int]:
        """Greedy CTC rule: merge repeats, then drop blanks."""
        out: list[int] = []
        prev = BLANK
        for i in ids:
            if i != prev and i != BLANK:
                out.append(int(i))
            prev = i
        return out
