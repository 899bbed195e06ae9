"""Font discovery, per-face code-point coverage and the fixed train/held-out font split.

Pillow has no font fallback: a line rendered with a face that lacks one of its characters shows
tofu, and the label would be wrong. So the generator needs, for every face on the machine, exactly
which code points it maps, and picks a face per line that maps all of them. Reading ~3,000 cmaps
takes ~15 s, so they are cached per file, keyed on (path, size, mtime).

Held-out fonts measure generalisation to unseen designs; the split is by *design group* (family
name with region, weight and width words stripped, plus a few known clones merged), so no
held-out design leaks into training through a sibling family. See ``split_of`` for the rule.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import logging
import os
import re
import struct
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

import numpy as np
from PIL import ImageFont

from polyocr.languages import LANGUAGES, charset, get_language

__all__ = [
    "CodepointSet",
    "FontFace",
    "FontLibrary",
    "Split",
    "DEFAULT_CACHE",
    "SYSTEM_FONT_DIRS",
    "COVERAGE_THRESHOLD",
    "HELDOUT_FRACTION",
    "design_key",
    "split_of",
    "load_font",
    "coverage_report",
]

log = logging.getLogger(__name__)

Split = Literal["train", "heldout", "all"]

CACHE_VERSION = 1
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polyocr" / "fonts-v1.json"
SYSTEM_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
)
FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc", ".otc"})
COVERAGE_THRESHOLD = 0.99   # share of charset(lang) (space excluded) a face must map
HELDOUT_FRACTION = 0.15     # share of design groups the hash rule holds out
BOLD_WEIGHT = 600           # usWeightClass from which a face counts as bold

# Visible format characters (prepended concatenation marks): unlike the other Cf characters
# they are drawn, so a face must map them.
_VISIBLE_CF = frozenset({0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890,
                         0x0891, 0x08E2, 0x110BD, 0x110CD})


def _needs_glyph(cp: int) -> bool:
    """Whether a face must map ``cp`` to render it.

    Spaces and controls are never drawn; default-ignorable format characters (ZWJ, ZWNJ, bidi
    marks, BOM) are hidden by HarfBuzz even when unmapped. Combining marks do need a glyph.
    """
    ch = chr(cp)
    if ch.isspace():
        return False
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Zs", "Zl", "Zp"):
        return False
    if cat == "Cf" and cp not in _VISIBLE_CF:
        return False
    return True


@functools.lru_cache(maxsize=8192)
def _needed(text: str) -> tuple[int, ...]:
    """The distinct code points of ``text`` a face must map (cached: lines repeat a lot)."""
    return tuple(sorted(cp for cp in {ord(c) for c in text} if _needs_glyph(cp)))


class CodepointSet:
    """An immutable set of code points kept as sorted, disjoint, inclusive ranges.

    A CJK face maps ~65k code points; as frozensets ~3,000 faces would take hundreds of MB in
    every worker process, as ranges they take a few MB. Membership is one bisect; bulk counts
    (charset coverage) are one vectorised ``searchsorted``.
    """

    __slots__ = ("starts", "ends", "_size", "_arrays")

    def __init__(self, starts: Sequence[int] = (), ends: Sequence[int] = ()) -> None:
        if len(starts) != len(ends):
            raise ValueError("starts and ends differ in length")
        self.starts: tuple[int, ...] = tuple(int(s) for s in starts)
        self.ends: tuple[int, ...] = tuple(int(e) for e in ends)
        self._size = sum(e - s + 1 for s, e in zip(self.starts, self.ends))
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_iterable(cls, cps: Iterable[int]) -> "CodepointSet":
        starts: list[int] = []
        ends: list[int] = []
        for cp in sorted(set(cps)):
            if ends and cp == ends[-1] + 1:
                ends[-1] = cp
            else:
                starts.append(cp)
                ends.append(cp)
        return cls(starts, ends)

    @classmethod
    def from_flat(cls, flat: Sequence[int]) -> "CodepointSet":
        """From the cache's ``[s0, e0, s1, e1, ...]`` list."""
        return cls(flat[0::2], flat[1::2])

    def to_flat(self) -> list[int]:
        return [v for pair in zip(self.starts, self.ends) for v in pair]

    def __contains__(self, cp: object) -> bool:
        if not isinstance(cp, int):
            return False
        i = bisect.bisect_right(self.starts, cp) - 1
        return i >= 0 and cp <= self.ends[i]

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[int]:
        for s, e in zip(self.starts, self.ends):
            yield from range(s, e + 1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CodepointSet) and self.starts == other.starts and self.ends == other.ends

    def __hash__(self) -> int:
        return hash((self.starts, self.ends))

    def __repr__(self) -> str:
        return f"CodepointSet({self._size} code points in {len(self.starts)} ranges)"

    def _np(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            self._arrays = (np.asarray(self.starts, dtype=np.int64), np.asarray(self.ends, dtype=np.int64))
        return self._arrays

    def count_in(self, cps: np.ndarray) -> int:
        """How many of ``cps`` (an int array, no duplicates) are members."""
        if not self.starts or cps.size == 0:
            return 0
        starts, ends = self._np()
        idx = np.searchsorted(starts, cps, side="right") - 1
        ok = idx >= 0
        ok &= cps <= ends[np.maximum(idx, 0)]
        return int(ok.sum())

    def missing(self, cps: Iterable[int]) -> list[int]:
        return [cp for cp in cps if cp not in self]


_EMPTY = CodepointSet()


@dataclass(frozen=True)
class FontFace:
    """One face (one TTC index) of one font file, with what the generator filters on.

    ``cmap`` is left out of equality, hashing and repr: the identity of a face is (path, index).
    """

    path: str
    index: int                      # face index inside a TTC/OTC (0 for plain files)
    family: str                     # typographic family (name ID 16, else 1)
    style: str                      # subfamily (name ID 17, else 2), e.g. "Bold Italic"
    weight: int                     # OS/2 usWeightClass, 100-900
    italic: bool
    monospace: bool                 # post.isFixedPitch or PANOSE proportion "monospaced"
    vertical: bool                  # GSUB has 'vert' or 'vrt2' (vertical glyph forms)
    gsub_scripts: tuple[str, ...]   # OpenType script tags in GSUB, sorted
    postscript_name: str = ""
    outlines: str = ""              # "glyf", "CFF " or "CFF2"; "" = bitmap/colour-only (unusable)
    symbol: bool = False            # symbol cmap / symbol code page / PANOSE pictorial
    pillow_ok: bool = True          # Pillow/raqm opened it and laid out a probe string at scan time
    cmap: CodepointSet = field(default=_EMPTY, repr=False, compare=False)

    @property
    def bold(self) -> bool:
        return self.weight >= BOLD_WEIGHT

    @property
    def usable(self) -> bool:
        """Whether Pillow/raqm can draw text with it: vector outlines and a real Unicode cmap."""
        return bool(self.outlines) and not self.symbol and self.pillow_ok and len(self.cmap) > 0

    @property
    def design(self) -> str:
        """The design group the split and the family weighting work on."""
        return design_key(self.family)

    @property
    def region(self) -> str:
        """ISO 15924 script a regional CJK variant is made for ("Hans", "Hant", "Jpan", "Kore"), or ""."""
        return _region(self.family)

    @property
    def name(self) -> str:
        return f"{self.family} {self.style}".strip()

    def covers(self, text: str) -> bool:
        """Every code point of ``text`` that needs a glyph is mapped."""
        cmap = self.cmap
        return all(cp in cmap for cp in _needed(text))


# --------------------------------------------------------------------------------------------
# Design groups and the held-out split
# --------------------------------------------------------------------------------------------

# Region tags of pan-CJK fonts (Noto CJK SC/TC/JP/KR/HK, AR PL UKai/UMing CN/HK/TW/TW MBE): the
# same design with regional glyph forms. Used both to merge them and to keep e.g. the JP forms
# away from Chinese text.
_REGION_TAGS = {"sc": "Hans", "cn": "Hans", "tc": "Hant", "tw": "Hant", "hk": "Hant", "mbe": "Hant",
                "jp": "Jpan", "kr": "Kore"}
# Words that name a weight, width, spacing or minor variant of a design rather than a design
# ("Eco", "YetHangul", "SR", "ex" and the PakType language variants share their base's glyphs).
_VARIANT_WORDS = frozenset("""
    mono monospace sharp thin hairline extralight ultralight light semilight demilight book regular
    normal medium semibold demibold demi bold extrabold ultrabold heavy black extrablack ultrablack
    condensed semicondensed extracondensed narrow compressed expanded extended wide width italic
    oblique ui display text caption subhead std pro ps ttf otf variable vf eco yethangul ac sr ex
    smallcaps ligature tohaba air extra upright farsi urdu sindhi sa
""".split())
# Known clones and derivatives, merged with their source so that a held-out design cannot leak
# into training through a copy: Takao is a renamed IPA, IPAex shares IPA's kanji; Arimo/Tinos/
# Cousine are Liberation 2.x; Carlito derives from Lato; FreeFont and the Uralic fonts extend the
# URW base-35 clones; AR PL UKai/UMing are the Unicode versions of KaitiM and SungtiL/Mingti2L;
# Migu and MigMix both combine M+ kana/Latin with IPA kanji.
_DESIGN_ALIASES = {
    "migu": "migmix",
    "takaogothic": "ipa gothic", "takaopgothic": "ipa gothic", "ipagothic": "ipa gothic",
    "ipapgothic": "ipa gothic", "ipaexgothic": "ipa gothic",
    "takaomincho": "ipa mincho", "takaopmincho": "ipa mincho", "ipamincho": "ipa mincho",
    "ipapmincho": "ipa mincho", "ipaexmincho": "ipa mincho",
    "arimo": "liberation sans", "tinos": "liberation serif", "cousine": "liberation mono",
    "carlito": "lato",
    "freesans": "nimbus sans", "sans uralic": "nimbus sans", "tex gyre heros": "nimbus sans",
    "freeserif": "nimbus roman", "roman uralic": "nimbus roman", "tex gyre termes": "nimbus roman",
    "freemono": "nimbus mono", "mono uralic": "nimbus mono", "tex gyre cursor": "nimbus mono",
    "bookman uralic": "urw bookman", "gothic uralic": "urw gothic", "chancery uralic": "z003",
    "palladio uralic": "p052", "schoolbook uralic": "c059",
    "ar pl kaitim gb": "ar pl ukai", "ar pl kaitim big5": "ar pl ukai",
    "ar pl sungtil gb": "ar pl uming", "ar pl mingti2l big5": "ar pl uming",
}

# The hash rule alone leaves Han with too few held-out designs (it has ~12 in all), so Han is
# hand-split: each entry overrides the hash and says why. With these, every language keeps
# >= 3 train and >= 2 held-out design groups on the project's font set (docs/fonts.md).
HELDOUT_DESIGNS: dict[str, str] = {
    "ar pl ukai": "Han kai (brush) style; LXGW WenKai stays in train for the style",
    "wenquanyi zen hei": "Han hei (sans) style; Noto Sans CJK, WenQuanYi Micro Hei stay in train",
}
TRAIN_DESIGNS: dict[str, str] = {
    "ar pl uming": "Han ming (serif) style; only Noto Serif CJK and HanaMinA would be left to train on",
}
# Families drawn as pictures through an ordinary Unicode cmap (e.g. Dingbats maps "A" to a star).
PICTORIAL_FAMILIES = frozenset({"d050000l", "dingbats", "zapf dingbats", "zapfdingbats", "standard symbols ps",
                                "symbol", "wingdings", "webdings", "opensymbol", "z003 dingbats"})


def _words(family: str) -> list[str]:
    return re.findall(r"[^\W_]+", family)


@functools.lru_cache(maxsize=None)
def _region(family: str) -> str:
    for w in reversed(_words(family)):
        tag = _REGION_TAGS.get(w.lower())
        if tag:
            return tag
        if not _is_variant(w.lower()):
            break
    return ""


def _is_variant(word: str) -> bool:
    # single letters ("Ume P Gothic", "kiloji - B", "Linux Libertine O") and letter+digit codes
    # ("Ume Gothic C5", "MigMix 1P") mark spacing/kana variants of one design
    return word in _VARIANT_WORDS or len(word) == 1 or bool(re.fullmatch(r"[a-z]\d|\d[a-z]", word))


@functools.lru_cache(maxsize=None)
def design_key(family: str) -> str:
    """Normalised family name: lower case, region tags and weight/width/Mono words dropped,
    known clones mapped to their source.

    "Noto Sans Mono CJK SC" and "Noto Sans CJK JP" → "noto sans cjk"; "AR PL UKai TW MBE" →
    "ar pl ukai"; "TakaoPGothic" → "ipa gothic". "Mono" is only dropped when two words remain,
    so "Liberation Mono" and "JetBrains Mono" keep it.
    """
    words = [w.lower() for w in _words(family)] or [family.lower()]
    full = " ".join(words)
    if full in _DESIGN_ALIASES:
        return _DESIGN_ALIASES[full]
    base = [w for w in words if w not in _REGION_TAGS]
    kept = [w for w in base if not _is_variant(w)]
    if len(kept) < 2:
        kept = [w for w in base if w == "mono" or not _is_variant(w)]
    key = " ".join(kept) or " ".join(base) or full
    return _DESIGN_ALIASES.get(key, key)


def _hash_unit(key: str) -> float:
    """A stable number in [0, 1) for a design key (blake2b, not ``hash()``)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=b"polyocr-split").digest()
    return int.from_bytes(digest, "big") / 2.0**64


def split_of(face: FontFace | str) -> Literal["train", "heldout"]:
    """The fixed split of a face (or of a family name).

    Rule: take ``design_key(family)``; if it is listed in ``HELDOUT_DESIGNS`` or ``TRAIN_DESIGNS``
    that decides; otherwise a design is held out when blake2b(key) / 2**64 < ``HELDOUT_FRACTION``.
    Faces of one family always share a key, so they are always on the same side.
    """
    key = design_key(face.family if isinstance(face, FontFace) else face)
    if key in HELDOUT_DESIGNS:
        return "heldout"
    if key in TRAIN_DESIGNS:
        return "train"
    return "heldout" if _hash_unit(key) < HELDOUT_FRACTION else "train"


# --------------------------------------------------------------------------------------------
# Reading faces
# --------------------------------------------------------------------------------------------

def _face_count(path: str) -> int:
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[:4] == b"ttcf" and len(head) == 12:
        return max(1, struct.unpack(">I", head[8:12])[0])
    return 1


def _read_face(path: str, index: int) -> dict[str, Any]:
    """One face's metadata and cmap as a JSON-able dict (the cache format)."""
    from fontTools.ttLib import TTFont  # heavy import, only needed on a cache miss

    with TTFont(path, fontNumber=index, lazy=True) as tt:
        cmap = tt.getBestCmap() or {}
        subtables = {(t.platformID, t.platEncID) for t in tt["cmap"].tables} if "cmap" in tt else set()
        name = tt["name"]
        family = (name.getBestFamilyName() or Path(path).stem).strip()
        style = (name.getBestSubFamilyName() or "Regular").strip()
        ps_name = (name.getDebugName(6) or "").strip()
        weight, italic, monospace, panose_family, codepages = 400, False, False, 0, 0
        if "OS/2" in tt:
            os2 = tt["OS/2"]
            weight = int(os2.usWeightClass)
            if 1 <= weight <= 9:  # some old fonts use a 1-9 scale
                weight *= 100
            italic = bool(os2.fsSelection & 0x01)
            panose = getattr(os2, "panose", None)
            if panose is not None:
                panose_family = int(panose.bFamilyType)
                monospace = panose_family == 2 and panose.bProportion == 9
            codepages = int(getattr(os2, "ulCodePageRange1", 0) or 0)
        if "head" in tt:
            italic = italic or bool(tt["head"].macStyle & 0x02)
        if "post" in tt:
            post = tt["post"]
            monospace = monospace or bool(post.isFixedPitch)
            italic = italic or abs(float(post.italicAngle)) > 0.5
        scripts: list[str] = []
        features: set[str] = set()
        if "GSUB" in tt:
            try:
                table = tt["GSUB"].table
                if table.ScriptList is not None:
                    scripts = [r.ScriptTag for r in table.ScriptList.ScriptRecord]
                if table.FeatureList is not None:
                    features = {r.FeatureTag for r in table.FeatureList.FeatureRecord}
            except Exception as exc:  # a broken GSUB: HarfBuzz ignores it, so do we
                log.debug("%s#%d: unreadable GSUB (%s)", path, index, exc)
        outlines = next((t for t in ("glyf", "CFF ", "CFF2") if t in tt), "")
        if outlines == "glyf" and "loca" in tt and cmap:
            cmap = _drop_empty_glyphs(tt, cmap)
        return {
            "index": index, "family": family, "style": style, "weight": max(1, min(1000, weight)),
            "italic": italic, "monospace": monospace,
            "vertical": bool(features & {"vert", "vrt2"}),
            "gsub_scripts": sorted({s.strip() for s in scripts}),
            "postscript_name": ps_name, "outlines": outlines,
            # raw inputs of the symbol test, so the test can change without rescanning
            "symbol_cmap": (3, 0) in subtables and not any(p == 0 or (p, e) in ((3, 1), (3, 10))
                                                          for p, e in subtables),
            "panose_family": panose_family, "codepages1": codepages,
            "cmap": CodepointSet.from_iterable(cmap).to_flat(),
        }


def _drop_empty_glyphs(tt: Any, cmap: dict[int, str]) -> dict[int, str]:
    """The cmap without code points that map to an outline-less glyph (spaces excepted).

    Supplementary fonts do this wholesale: SetoFont-ex maps 58k code points, 57.9k of them to
    empty glyphs, and would otherwise "cover" Japanese with blank boxes. For glyf fonts a glyph is
    empty when its loca entry has zero length, which costs no glyph parsing.
    """
    locations = tt["loca"].locations
    order = {name: i for i, name in enumerate(tt.getGlyphOrder())}
    out: dict[int, str] = {}
    for cp, name in cmap.items():
        gid = order.get(name)
        if gid is None or gid + 1 >= len(locations):
            continue
        if locations[gid + 1] > locations[gid] or not _needs_glyph(cp):
            out[cp] = name
    return out


def _is_symbol(d: dict[str, Any]) -> bool:
    """Symbol/dingbat faces, which would claim letters they draw as pictures.

    True for: a symbol-only cmap (3,0); PANOSE family "Latin Pictorial" (5); a family in
    ``PICTORIAL_FAMILIES``; or the OS/2 "Symbol" code page (bit 31) with no text code page
    besides Latin-1 (cwTeX sets bit 31 next to its CJK code pages, so bit 31 alone is not enough).
    """
    cp = int(d.get("codepages1", 0))
    return (bool(d.get("symbol_cmap")) or int(d.get("panose_family", 0)) == 5
            or d["family"].strip().lower() in PICTORIAL_FAMILIES
            or (bool(cp & (1 << 31)) and not cp & 0x003FFFFE))


class _QuietFontTools:
    """Silence fontTools' warnings about sloppy but harmless tables (timestamps, post padding)
    while scanning, restoring the logger level afterwards."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("fontTools")
        self._level = self._logger.level
        self._logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)


def _pillow_error(path: str, index: int, flat_cmap: Sequence[int]) -> str:
    """Why Pillow/raqm cannot draw with this face ("" when it can).

    fontTools reads fonts FreeType rejects: e.g. three Ume Gothic S4/S5 faces fail every size
    with "invalid opcode" in their hinting bytecode. So each face is opened and a probe string
    (up to 8 of its letters/digits, else of any drawn characters) is laid out once.
    """
    letters: list[int] = []
    drawn: list[int] = []
    for s, e in zip(flat_cmap[0::2], flat_cmap[1::2]):
        for cp in range(s, min(e, s + 255) + 1):
            if _needs_glyph(cp):
                (letters if chr(cp).isalnum() else drawn).append(cp)
        if len(letters) >= 8:
            break
    probe = "".join(chr(cp) for cp in (letters or drawn)[:8])
    try:
        font = ImageFont.truetype(path, 24, index=index, layout_engine=ImageFont.Layout.RAQM)
        if probe:
            font.getbbox(probe)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200] or "error"
    return ""


def _read_file(path: str) -> dict[str, Any]:
    faces: list[dict[str, Any]] = []
    failures: list[list[Any]] = []
    try:
        n = _face_count(path)
    except OSError as exc:
        return {"faces": [], "failures": [[0, f"{type(exc).__name__}: {exc}"]]}
    for i in range(n):
        try:
            face = _read_face(path, i)
            face["pillow_error"] = _pillow_error(path, i, face["cmap"])
            faces.append(face)
        except Exception as exc:  # corrupt or unsupported face: count it, keep scanning
            failures.append([i, f"{type(exc).__name__}: {exc}"[:200]])
    return {"faces": faces, "failures": failures}


def _face_from_dict(path: str, d: dict[str, Any]) -> FontFace:
    return FontFace(path=path, index=int(d["index"]), family=d["family"], style=d["style"],
                    weight=int(d["weight"]), italic=bool(d["italic"]), monospace=bool(d["monospace"]),
                    vertical=bool(d["vertical"]), gsub_scripts=tuple(d["gsub_scripts"]),
                    postscript_name=d.get("postscript_name", ""), outlines=d.get("outlines", ""),
                    symbol=_is_symbol(d), pillow_ok=not d.get("pillow_error"), cmap=CodepointSet.from_flat(d["cmap"]))


def _entry_faces(path: str, entry: dict[str, Any]) -> tuple[list[FontFace], list[tuple[str, int, str]]] | None:
    """The faces and failures of one cache entry; None when the entry is malformed (rescan it)."""
    try:
        return ([_face_from_dict(path, d) for d in entry["faces"]],
                [(path, int(i), str(why)) for i, why in entry["failures"]])
    except (KeyError, TypeError, ValueError):
        return None


def _walk_fonts(roots: Sequence[Path]) -> list[str]:
    """Font files under ``roots`` (folders or single files), deterministic order, each real file once."""
    found: list[str] = []
    seen_files: set[str] = set()
    seen_dirs: set[str] = set()

    def add(p: str) -> None:
        if Path(p).suffix.lower() not in FONT_SUFFIXES:
            return
        real = os.path.realpath(p)
        if real not in seen_files and os.path.isfile(real):
            seen_files.add(real)
            found.append(p)

    for root in roots:
        root = Path(root).expanduser()
        if root.is_file():
            add(str(root))
            continue
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real_dir = os.path.realpath(dirpath)
            if real_dir in seen_dirs:  # a symlink loop, or a root inside another root
                dirnames[:] = []
                continue
            seen_dirs.add(real_dir)
            dirnames.sort()
            for fn in sorted(filenames):
                add(os.path.join(dirpath, fn))
    return found


def _load_cache(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable font cache %s (%s)", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _write_cache(path: Path, files: dict[str, Any]) -> None:
    """Atomic: a reader (another worker) sees the old file or the new one, never half of one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": CACHE_VERSION, "files": files}, fh, separators=(",", ":"),
                          ensure_ascii=False, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:  # a read-only home must not stop the generator
        log.warning("could not write font cache %s (%s)", path, exc)


# --------------------------------------------------------------------------------------------
# The library
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _charset_cps(lang: str) -> np.ndarray:
    """Sorted code points of charset(lang), space excluded."""
    cps = {ord(c) for entry in charset(lang) for c in entry if not c.isspace()}
    return np.asarray(sorted(cps), dtype=np.int64)


class FontLibrary:
    """All usable faces on the machine and the per-language, per-split views the generator draws from."""

    def __init__(self, faces: Sequence[FontFace], failures: Sequence[tuple[str, int, str]] = (),
                 stats: dict[str, Any] | None = None) -> None:
        self.faces: tuple[FontFace, ...] = tuple(sorted(faces, key=lambda f: (f.path, f.index)))
        self.failures: tuple[tuple[str, int, str], ...] = tuple(failures)
        self.stats: dict[str, Any] = dict(stats or {})
        self._by_lang: dict[tuple[str, str], list[FontFace]] = {}
        self._grouped: dict[tuple[str, str], list[list[tuple[str, list[FontFace]]]]] = {}
        self._coverage: dict[tuple[str, int, str], float] = {}
        self._fallback: dict[tuple[tuple[int, ...], str, str], FontFace | None] = {}

    def __repr__(self) -> str:
        return f"FontLibrary({len(self.faces)} faces, {self.failed} failed)"

    def __len__(self) -> int:
        return len(self.faces)

    @property
    def failed(self) -> int:
        """Faces that could not be opened (corrupt files, unsupported formats)."""
        return len(self.failures)

    # ---- scanning ---------------------------------------------------------------------------

    @classmethod
    def scan(cls, extra_dirs: Sequence[Path | str] = (), system: bool = True,
             cache: Path | None = DEFAULT_CACHE) -> "FontLibrary":
        """Find every face under the system font folders (when ``system``) and ``extra_dirs``.

        ``extra_dirs`` may also name single font files. Cmaps are cached in ``cache`` (None: no
        cache), keyed on (path, size, mtime), so a second scan only stats the files.
        """
        t0 = time.perf_counter()
        roots = [Path(d) for d in extra_dirs]
        if system:
            roots = list(SYSTEM_FONT_DIRS) + roots
        paths = _walk_fonts(roots)
        cache_path = Path(cache).expanduser() if cache is not None else None
        cached = _load_cache(cache_path)
        faces: list[FontFace] = []
        failures: list[tuple[str, int, str]] = []
        hits = misses = 0
        changed = False
        for p in paths:
            try:
                st = os.stat(p)
            except OSError as exc:
                failures.append((p, 0, f"{type(exc).__name__}: {exc}"))
                continue
            entry = cached.get(p)
            got: tuple[list[FontFace], list[tuple[str, int, str]]] | None = None
            if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
                got = _entry_faces(p, entry)
            if got is not None:
                hits += 1
            else:
                misses += 1
                with _QuietFontTools():
                    entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, **_read_file(p)}
                cached[p] = entry
                changed = True
                got = _entry_faces(p, entry)
                assert got is not None
            faces.extend(got[0])
            failures.extend(got[1])
        if cache_path is not None and changed:
            # keep entries of other scans (other --font-dir) unless their file is gone
            seen = set(paths)
            _write_cache(cache_path, {k: v for k, v in cached.items() if k in seen or os.path.exists(k)})
        stats = {"files": len(paths), "faces": len(faces), "failed": len(failures), "cache_hits": hits,
                 "cache_misses": misses, "seconds": round(time.perf_counter() - t0, 3),
                 "cache": str(cache_path) if cache_path else ""}
        log.info("font scan: %s", stats)
        return cls(faces, failures, stats)

    # ---- coverage ---------------------------------------------------------------------------

    def coverage(self, face: FontFace, lang: str) -> float:
        """Share of charset(lang) (space excluded) the face maps."""
        key = (face.path, face.index, lang)
        got = self._coverage.get(key)
        if got is None:
            cps = _charset_cps(lang)
            got = face.cmap.count_in(cps) / max(1, cps.size)
            self._coverage[key] = got
        return got

    def supports(self, face: FontFace, lang: str) -> bool:
        """The language rule: usable, right region, required GSUB script, sample, >= 99 % of charset."""
        language = get_language(lang)
        if not face.usable:
            return False
        if face.region and language.script in ("Hans", "Hant", "Jpan", "Kore") and face.region != language.script:
            return False
        if language.required_gsub and language.required_gsub not in face.gsub_scripts:
            return False
        if not face.covers(language.font_sample):
            return False
        if len(face.cmap) < COVERAGE_THRESHOLD * _charset_cps(lang).size:
            return False
        return self.coverage(face, lang) >= COVERAGE_THRESHOLD

    def for_language(self, lang: str, split: Split = "train") -> list[FontFace]:
        """Faces that cover ``lang`` on one side of the split (or "all"), sorted by (path, index)."""
        if split not in ("train", "heldout", "all"):
            raise ValueError(f"split must be 'train', 'heldout' or 'all', not {split!r}")
        get_language(lang)
        key = (lang, split)
        got = self._by_lang.get(key)
        if got is None:
            if split == "all":
                got = [f for f in self.faces if self.supports(f, lang)]
            else:
                got = [f for f in self.for_language(lang, "all") if split_of(f) == split]
            self._by_lang[key] = got
        return list(got)

    def covers(self, face: FontFace, text: str) -> bool:
        """Every non-space, non-control code point of ``text`` is in the face's cmap."""
        return face.covers(text)

    # ---- choosing ---------------------------------------------------------------------------

    def pick(self, rng: np.random.Generator, lang: str, split: Split = "train", text: str | None = None,
             monospace: bool | None = None, bold: bool | None = None, italic: bool | None = None,
             vertical: bool | None = None) -> FontFace | None:
        """A random face for ``lang`` that passes the filters (None = don't care) and covers ``text``.

        Each design group is equally likely, then each family in it, then each face: otherwise
        the 30 Noto CJK faces would outweigh a dozen one-face Han designs. None when nothing fits.
        """
        def ok(f: FontFace) -> bool:
            return ((monospace is None or f.monospace == monospace)
                    and (bold is None or f.bold == bold)
                    and (italic is None or f.italic == italic)
                    and (vertical is None or f.vertical == vertical)
                    and (text is None or f.covers(text)))

        # Visiting design groups in a random order and taking the first with a match is the same
        # as drawing uniformly among the matching groups, but checks coverage for only a few.
        groups = self._groups(lang, split)
        for gi in rng.permutation(len(groups)):
            families = [(fam, m) for fam, faces in groups[gi] if (m := [f for f in faces if ok(f)])]
            if families:
                faces = families[int(rng.integers(len(families)))][1]
                return faces[int(rng.integers(len(faces)))]
        return None

    def _groups(self, lang: str, split: Split) -> list[list[tuple[str, list[FontFace]]]]:
        """for_language(lang, split) as design groups → families → faces, all sorted."""
        key = (lang, split)
        got = self._grouped.get(key)
        if got is None:
            tree: dict[str, dict[str, list[FontFace]]] = {}
            for f in self.for_language(lang, split):
                tree.setdefault(f.design, {}).setdefault(f.family, []).append(f)
            got = [sorted(fams.items()) for _, fams in sorted(tree.items())]
            self._grouped[key] = got
        return got

    def fallback(self, text: str, lang: str, split: Split = "train") -> FontFace | None:
        """A face covering ``text``: first among ``lang``'s faces in ``split``, then any usable face
        in ``split``, then any usable face at all. Deterministic: prefers upright regular-weight
        proportional faces, then by (family, path, index).
        """
        need = _needed(text)
        key = (need, lang, split)
        if key in self._fallback:
            return self._fallback[key]

        def rank(f: FontFace) -> tuple[Any, ...]:
            return (f.italic, abs(f.weight - 400), f.monospace, f.family, f.path, f.index)

        def first(faces: Iterable[FontFace]) -> FontFace | None:
            for f in sorted(faces, key=rank):
                if all(cp in f.cmap for cp in need):
                    return f
            return None

        got = first(self.for_language(lang, split))
        if got is None:
            usable = [f for f in self.faces if f.usable]
            if split != "all":
                got = first(f for f in usable if split_of(f) == split)
            if got is None:
                got = first(usable)
        if len(self._fallback) > 4096:
            self._fallback.clear()
        self._fallback[key] = got
        return got

    # ---- reporting --------------------------------------------------------------------------

    def split_counts(self, lang: str) -> dict[str, dict[str, int]]:
        """{split: {"designs", "families", "faces"}} for a language."""
        out: dict[str, dict[str, int]] = {}
        for split in ("train", "heldout", "all"):
            faces = self.for_language(lang, split)  # type: ignore[arg-type]
            out[split] = {"designs": len({f.design for f in faces}), "families": len({f.family for f in faces}),
                          "faces": len(faces)}
        return out

    def split_problems(self, min_train: int = 3, min_heldout: int = 2) -> list[str]:
        """Languages with fewer than ``min_train``/``min_heldout`` design groups on a side."""
        problems = []
        for lang in LANGUAGES:
            c = self.split_counts(lang)
            if c["train"]["designs"] < min_train:
                problems.append(f"{lang}: only {c['train']['designs']} train design groups (< {min_train})")
            if c["heldout"]["designs"] < min_heldout:
                problems.append(f"{lang}: only {c['heldout']['designs']} held-out design groups (< {min_heldout})")
        return problems


# --------------------------------------------------------------------------------------------
# Pillow
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _load_font(path: str, index: int, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size_px, index=index, layout_engine=ImageFont.Layout.RAQM)


def load_font(face: FontFace, size_px: int) -> ImageFont.FreeTypeFont:
    """A Pillow font for ``face`` at ``size_px`` (RAQM layout), cached per process (LRU, 256):
    opening a CJK TTC costs milliseconds, and the generator draws thousands of lines per font.
    """
    return _load_font(face.path, face.index, int(size_px))


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def coverage_report(lib: FontLibrary) -> str:
    """docs/fonts.md: the split rule and the per-language counts on this machine (Markdown)."""
    usable = [f for f in lib.faces if f.usable]
    out = [
        "# Fonts: coverage and the train / held-out split",
        "",
        "Generated by `polyocr.synth.fonts.coverage_report(FontLibrary.scan())`; do not edit by hand.",
        "",
        f"Scanned: {lib.stats.get('files', '?')} font files, {len(lib.faces)} faces ({lib.failed} failed to open), "
        f"{len(usable)} usable (see below). Cmaps are cached per file in `~/.cache/polyocr/fonts-v1.json`.",
        "",
        "## Which faces cover a language",
        "",
        f"A face covers a language when it maps >= {COVERAGE_THRESHOLD:.0%} of `charset(lang)` (space excluded), "
        "maps every character of `Language.font_sample`, has the `Language.required_gsub` script in its GSUB "
        "(Arabic: `arab`, without it letters do not join), and is usable: vector outlines (glyf/CFF), a Unicode "
        "cmap, not a symbol/dingbat font, and Pillow/raqm lays out a probe string with it (three Ume Gothic "
        "S4/S5 faces fail with FreeType's \"invalid opcode\"). Code points a glyf font maps to an empty glyph "
        "do not count as mapped (spaces excepted): SetoFont-ex maps 58k code points, nearly all to blank "
        "glyphs, and the Kouzan/Aoyagi/kiloji fonts draw some punctuation blank. A regional CJK variant (Noto CJK "
        "SC/TC/HK/JP/KR, AR PL UKai/UMing CN/TW/HK/MBE) only covers the Han/kana/Hangul language of its region, "
        "so Chinese is never drawn with Japanese glyph forms; for other languages the region does not matter.",
        "",
        "## The split rule",
        "",
        "The split is by *design group*, so all faces of a family (and of a family's clones) are on one side:",
        "",
        "1. `design_key(family)`: lower-case the family name (name ID 16, else 1), drop region tags "
        "(SC, TC, HK, JP, KR, CN, TW, MBE), weight/width/variant words (Bold, Light, Condensed, Display, UI, "
        "Eco, YetHangul, ...), single letters and letter+digit codes (Ume P Gothic C5, MigMix 1P), and `Mono` "
        "when two words remain; then map known clones to their source (Takao→IPA, Arimo/Tinos/Cousine→"
        "Liberation, FreeSans/FreeSerif/FreeMono and the Uralic fonts→URW, AR PL KaitiM→UKai, "
        "SungtiL/Mingti2L→UMing, Migu→MigMix, Carlito→Lato).",
        "2. If the key is in `HELDOUT_DESIGNS` or `TRAIN_DESIGNS` (below), that decides.",
        f"3. Otherwise the design is held out when `blake2b(key, digest_size=8, person=b'polyocr-split')` read as a "
        f"big-endian integer / 2**64 < {HELDOUT_FRACTION} (about {HELDOUT_FRACTION:.0%} of design groups).",
        "",
        "Explicit choices (Han has only about a dozen designs, too few for the hash alone):",
        "",
    ]
    for key, why in sorted(HELDOUT_DESIGNS.items()):
        out.append(f"- held out: `{key}` — {why}")
    for key, why in sorted(TRAIN_DESIGNS.items()):
        out.append(f"- train: `{key}` — {why}")
    out += [
        "",
        "The rule depends only on the family name, never on which other fonts are installed, so a face's side "
        "is the same on every machine. `FontLibrary.split_problems()` lists languages that end up with fewer "
        "than 3 train or 2 held-out design groups (none on this machine, see below).",
        "",
        "## Per-language counts on this machine",
        "",
        "| lang | train designs / families / faces | held-out designs / families / faces | all faces |",
        "|---|---|---|---|",
    ]
    for lang in LANGUAGES:
        c = lib.split_counts(lang)
        t, h = c["train"], c["heldout"]
        out.append(f"| {lang} | {t['designs']} / {t['families']} / {t['faces']} | "
                   f"{h['designs']} / {h['families']} / {h['faces']} | {c['all']['faces']} |")
    out += ["", "## Held-out families per language", ""]
    for lang in LANGUAGES:
        fams = sorted({f.family for f in lib.for_language(lang, "heldout")})
        out.append(f"- **{lang}**: " + (", ".join(fams) if fams else "(none)"))
    problems = lib.split_problems()
    out += ["", "## Problems", ""]
    out += [f"- {p}" for p in problems] if problems else ["None: every language has >= 3 train and >= 2 held-out design groups."]
    if lib.failures:
        out += ["", "Faces that failed to open:", ""]
        out += [f"- `{p}` #{i}: {why}" for p, i, why in lib.failures[:50]]
    return "\n".join(out) + "\n"
