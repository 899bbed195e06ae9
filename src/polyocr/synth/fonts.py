"""Font faces, the fixed train/held-out font split, and the library the generator picks faces from.

A :class:`FontFace` is one face of one font file with what the generator filters on, including its
cmap, so a line is only ever drawn with a face that maps all of its characters (Pillow has no font
fallback: a missing glyph would show tofu and the label would be wrong). :class:`FontLibrary` scans the
machine's fonts (reading and caching them is :mod:`polyocr.synth.fontscan`'s job), decides which faces
cover which language, and picks faces per line.

Held-out fonts measure generalisation to unseen designs; the split is by *design group* (family
name with region, weight and width words stripped, plus a few known clones merged), so no
held-out design leaks into training through a sibling family. See ``split_of`` for the rule.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
from PIL import ImageFont

from polyocr.languages import LANGUAGES, charset, get_language
from polyocr.synth.fontscan import (
    DEFAULT_CACHE,
    SYSTEM_FONT_DIRS,
    CodepointSet,
    _load_cache,
    _needed,
    _QuietFontTools,
    _read_file,
    _walk_fonts,
    _write_cache,
)

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

COVERAGE_THRESHOLD = 0.97   # share of charset(lang) (space excluded) a face must map (CMU, STIX, URW Uralic: 97.8 %)
HELDOUT_FRACTION = 0.15     # share of design groups the hash rule holds out
BOLD_WEIGHT = 600           # usWeightClass from which a face counts as bold

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
# Languages whose one-script designs (no ASCII signs) are drawn with a fallback face for those signs
# (FontLibrary.script_face), and the designs that rule would wrongly admit.
SCRIPT_FACE_LANGUAGES = frozenset({"ar", "he"})
SCRIPT_FACE_EXCLUDED: dict[str, str] = {
    "noto nastaliq": "Urdu Nastaliq: a cascading hand that Arabic documents are not set in, twice a line's height",
    "linux libertine initials": "drop-cap ornaments mapped onto letters",
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
# Faces from scan records
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# The library
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _charset_cps(lang: str) -> np.ndarray:
    """Sorted code points of charset(lang), space excluded."""
    cps = {ord(c) for entry in charset(lang) for c in entry if not c.isspace()}
    return np.asarray(sorted(cps), dtype=np.int64)


@functools.lru_cache(maxsize=None)
def _script_cps(lang: str) -> np.ndarray:
    """Sorted code points of charset(lang) outside ASCII that are letters, marks or digits: the
    script itself, without the punctuation and signs a fallback face may draw."""
    cps = [cp for cp in _charset_cps(lang).tolist()
           if cp > 0x7F and unicodedata.category(chr(cp))[0] in "LMN"]
    return np.asarray(cps, dtype=np.int64)


class FontLibrary:
    """All usable faces on the machine and the per-language, per-split views the generator draws from."""

    def __init__(self, faces: Sequence[FontFace], failures: Sequence[tuple[str, int, str]] = (),
                 stats: dict[str, Any] | None = None, script_faces: bool = False) -> None:
        self.faces: tuple[FontFace, ...] = tuple(sorted(faces, key=lambda f: (f.path, f.index)))
        self.script_faces = script_faces    # admit one-script faces (script_face) for their languages
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
             cache: Path | None = DEFAULT_CACHE, script_faces: bool = False) -> "FontLibrary":
        """Find every face under the system font folders (when ``system``) and ``extra_dirs``.

        ``extra_dirs`` may also name single font files. Cmaps are cached in ``cache`` (None: no
        cache), keyed on (path, size, mtime), so a second scan only stats the files.
        ``script_faces``: see :meth:`script_face`.
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
        return cls(faces, failures, stats, script_faces=script_faces)

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
        """The language rule: usable, right region, required GSUB script, sample, and >= COVERAGE_THRESHOLD
        of charset; with ``script_faces``, every letter, mark and native digit of it will do (:meth:`script_face`)."""
        language = get_language(lang)
        if not face.usable:
            return False
        if face.region and language.script in ("Hans", "Hant", "Jpan", "Kore") and face.region != language.script:
            return False
        if language.required_gsub and language.required_gsub not in face.gsub_scripts:
            return False
        if not face.covers(language.font_sample):
            return False
        if len(face.cmap) >= COVERAGE_THRESHOLD * _charset_cps(lang).size and \
                self.coverage(face, lang) >= COVERAGE_THRESHOLD:
            return True
        return self.script_faces and self.script_face(face, lang)

    def script_face(self, face: FontFace, lang: str) -> bool:
        """Whether ``face`` maps all of ``lang``'s own script (letters, marks, native digits) but not
        enough of the rest of its charset (ASCII digits and signs) to pass the coverage rule.

        Many good designs are made for one script alone: Noto Naskh/Sans/Kufi Arabic, the fourteen
        KACST designs, Noto Hebrew, Miriam CLM and the twenty Hebrew designs of fonts-ldco. Arabic
        has 46 training designs without them and Hebrew 19, and what the recogniser reads worst is
        an unseen design. A page or line set in such a face draws the characters it lacks in a
        fallback face, as a word processor or a browser would (:class:`~polyocr.synth.typeset.Typesetter`).

        Opt-in (``FontLibrary(script_faces=True)``, ``polyocr synth --script-faces``): at an equal
        budget of 30K lines from v15 they did not lower the held-out fonts' error (BENCHMARKS.md,
        session 22), and by default the held-out pools stay the ones every benchmark was made with.
        Only for :data:`SCRIPT_FACE_LANGUAGES`: elsewhere the faces this rule would add are CJK faces
        with a few Cyrillic letters from their national charsets, which the coverage rule leaves out
        on purpose.
        """
        if lang not in SCRIPT_FACE_LANGUAGES or face.design in SCRIPT_FACE_EXCLUDED or len(face.cmap) == 0:
            return False
        own = _script_cps(lang)
        return own.size > 0 and face.cmap.count_in(own) == own.size

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
             vertical: bool | None = None, weights: Mapping[str, float] | None = None) -> FontFace | None:
        """A random face for ``lang`` that passes the filters (None = don't care) and covers ``text``.

        Each design group is equally likely, then each family in it, then each face: otherwise
        the 30 Noto CJK faces would outweigh a dozen one-face Han designs. None when nothing fits.
        ``weights`` (design key → weight, missing = 1) makes some design groups likelier than others
        (``polyocr train fontweights``: the designs a model reads worst).
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
        if weights:  # a weighted random order (Efraimidis-Spirakis keys u ** (1 / w)), first match wins
            w = np.array([max(float(weights.get(g[0][1][0].design, 1.0)), 1e-6) for g in groups])
            order = np.argsort(-(rng.random(len(groups)) ** (1.0 / w)), kind="stable")
        else:
            order = rng.permutation(len(groups))
        for gi in order:
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
    wide = FontLibrary(lib.faces, lib.failures, lib.stats, script_faces=True)
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
        "**One-script faces** (" + ", ".join(sorted(SCRIPT_FACE_LANGUAGES)) + "; opt-in: `polyocr synth "
        "--script-faces`, `FontLibrary(script_faces=True)`; the counts below are without them): a face that "
        "misses the coverage rule but maps every letter, mark and native digit of the language's charset then "
        "also covers it (`FontLibrary.script_face`): Noto Naskh/Sans/Kufi Arabic, the KACST designs (`fonts-kacst`), Noto "
        "Hebrew, Miriam CLM and the Hebrew display designs of `fonts-ldco` lack ASCII digits and signs. The "
        "typesetter draws what such a face lacks (digits, brackets, `#`) in a fallback face, within the word, "
        "as a browser does; a word missing a letter or mark is drawn whole in the fallback, so no letters "
        "change their joined shapes. Left out by name: "
        + "; ".join(f"`{k}` ({v})" for k, v in sorted(SCRIPT_FACE_EXCLUDED.items())) + ". With them: "
        + "; ".join(f"{lang} {c['train']['designs']} train and {c['heldout']['designs']} held-out design groups"
                    for lang, c in ((lang, wide.split_counts(lang)) for lang in sorted(SCRIPT_FACE_LANGUAGES))) + ".",
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
