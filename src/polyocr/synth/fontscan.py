"""Reading fonts from disk: each face's metadata and cmap, the on-disk cmap cache, walking font folders.

Pillow has no font fallback: a line rendered with a face that lacks one of its characters shows
tofu, and the label would be wrong. So the generator needs, for every face on the machine, exactly
which code points it maps (a :class:`CodepointSet`). Faces are read with fontTools into plain
JSON-able records (the cache format); reading ~3,000 cmaps takes ~15 s, so the records are cached
per file, keyed on (path, size, mtime). :mod:`polyocr.synth.fonts` turns the records into
``FontFace`` objects and decides which faces serve which language.
"""

from __future__ import annotations

import bisect
import functools
import json
import logging
import os
import struct
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from PIL import ImageFont

from polyocr.fileio import atomic_write

__all__ = ["CodepointSet", "DEFAULT_CACHE", "SYSTEM_FONT_DIRS"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "polyocr" / "fonts-v1.json"
SYSTEM_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
)
FONT_SUFFIXES = frozenset({".ttf", ".otf", ".ttc", ".otc"})

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
        atomic_write(path, json.dumps({"version": CACHE_VERSION, "files": files}, separators=(",", ":"),
                                      ensure_ascii=False, sort_keys=True))
    except OSError as exc:  # a read-only home must not stop the generator
        log.warning("could not write font cache %s (%s)", path, exc)
