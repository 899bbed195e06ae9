"""Natural text per language for the document generator.

Two sources, one interface:

* **corpus mode** (``<shared>/data/corpus/<lang>.txt``, one sentence or paragraph per line): real prose,
  filtered to the language's allowed characters, loaded lazily once per process;
* **fallback mode** (no shared data, or ``fallback=True``): sentences built from wordfreq's frequency
  lists with Zipf-weighted sampling, so a machine with only the PyPI packages still produces plausible text.

Structured snippets (dates, prices, names, addresses, codes…) come from :mod:`polyocr.synth.fields`
through :meth:`TextSource.field`, in both modes. Everything returned is NFC and only uses characters in
:attr:`TextSource.allowed` (see :mod:`polyocr.synth.charsets`).

Train/held-out split, so evaluation text never appears in training:

* corpus mode: a line is held out iff ``stable_hash(line) % 20 == 0`` (~5 %), computed on the cleaned line,
  so identical lines always fall on the same side and the two line lists are disjoint;
* fallback mode: the vocabulary is split the same way (``stable_hash(word) % 20 == 0``: held out) and a
  generated sentence's *first* word is drawn from its split's part (the rest from the whole list), so a
  train sentence and a held-out sentence never start alike (for zh, without spaces, this holds up to
  re-segmentation, i.e. in practice). ``words()`` and ``field()`` are not split in fallback mode: single
  words and formatted snippets are not running text.

Every function takes an explicit ``numpy.random.Generator``; nothing touches global random state.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from pathlib import Path
from typing import Iterable

import numpy as np

from polyocr.languages import get_language, shared_dir
from polyocr.synth.charsets import _CJK, _LATIN, _allowed_for, _ascii_alnum, _has_alnum, _helpers, _sanitize
from polyocr.synth.fields import _KO_FIXED, _fields_for, _title
from polyocr.synth.fields import FIELD_KINDS, mix_content  # re-exported
from polyocr.synth.rng import stable_hash

__all__ = ["TextSource", "mix_content", "FIELD_KINDS", "HELDOUT_MODULUS"]

HELDOUT_MODULUS = 20  # one line in 20 is held out
_MAX_DISALLOWED = 0.02                      # corpus lines with more unknown characters are skipped
_LOCK = threading.Lock()

# Sentence ends and clause breaks. Spaced scripts need a following space (so "3.5" or "e.g." mid-word stays).
_END_CJK = re.compile(r"[。．！？!?…]+[”’」』）)》〉\"']*")
_END_SPACED = re.compile(r"(?:[.!?…؟]+|。)[\"'”’»)\]]*(?= )")
_CLAUSE_CJK = re.compile(r"[，、；：,;:]")
_CLAUSE_SPACED = re.compile(r"[,;:،؛](?= )")
_OPENERS = "([{«“‘「『（《〈\"' "
_SENT_END_CHARS = set("。．！？!?….؟")
_CLOSERS = set("”’」』）)》〉\"'»]")


# --------------------------------------------------------------------------------------------- corpus

_CORPUS: dict[tuple[str, frozenset[str]], dict[str, list[str]]] = {}


def _clean_lines(raw: str, allowed: frozenset[str]) -> list[str]:
    """Normalise and filter corpus lines; skip lines with > 2 % disallowed characters."""
    if not unicodedata.is_normalized("NFC", raw):
        raw = unicodedata.normalize("NFC", raw)
    bad = sorted(set(raw) - allowed - {"\n"})
    table = {ord(c): None for c in bad if not c.isspace()}
    orphan = _helpers(allowed)[0]
    out: list[str] = []
    for ln in raw.split("\n"):
        ln = " ".join(ln.split())
        if len(ln) < 2:
            continue
        if table:
            kept = ln.translate(table)
            nbad = len(ln) - len(kept)
            if nbad:
                if nbad > _MAX_DISALLOWED * (len(ln) - ln.count(" ")):
                    continue
                ln = " ".join(kept.split())
                if orphan is not None:
                    ln = orphan.sub("", ln)
                if len(ln) < 2:
                    continue
        out.append(ln)
    return out


def _load_corpus(path: Path, allowed: frozenset[str]) -> dict[str, list[str]]:
    """Both splits of one corpus file, cached per process."""
    key = (str(path), allowed)
    with _LOCK:
        hit = _CORPUS.get(key)
        if hit is None:
            lines = _clean_lines(path.read_text(encoding="utf-8"), allowed)
            train: list[str] = []
            held: list[str] = []
            for ln in lines:
                (held if stable_hash(ln) % HELDOUT_MODULUS == 0 else train).append(ln)
            hit = _CORPUS[key] = {"train": train, "heldout": held}
    return hit


# --------------------------------------------------------------------------------------------- wordfreq

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KATA = re.compile(r"[\u30a1-\u30fa]")
_HIRA = re.compile(r"[\u3041-\u3096]")
_INNER_BREAK = re.compile(r"[.,!?;:…،؛؟()\[\]{}«»“”„/]+")
_JA_PIECE = re.compile(r"[\u30a1-\u30fa\u30fc]+|[\u3005\u4e00-\u9fff]+|[\u3041-\u3096]+")
_HAN_KANA_RUN = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u30fc\u3005\u4e00-\u9fff]+")
# Big5 contains these characters, but in Traditional text they are rare: wordfreq's (Simplified) words
# using them would read as Simplified (后 for 後, 于 for 於, 么 for 麼 …), so such words are dropped.
_SIMPLIFIED_IN_BIG5 = set("后于并么干里云几丑松卜斗谷范冲余占舍采郁凶涂历叶")
_KO_NOT_NOUN_END = set("다요고서면며게니데까록지라야써찮렇떻같있없는을던될할겠았었였했됐쁘르쓰")
_KO_NOT_NOUN_START = set("으을는습에")


class _Vocab:
    """A ranked word list with fast Zipf-like sampling (weight ∝ 1 / rank**power)."""

    def __init__(self, words: list[str], ranks: list[int]):
        self.words = words
        self._rank_list = ranks
        self._ranks = np.asarray(ranks, dtype=np.float64) + 1.0
        self._cum: dict[float, np.ndarray] = {}
        self._parts: dict[str, _Vocab] = {}

    def part(self, split: str) -> "_Vocab":
        """The words whose hash puts them in ``split``: fallback sentences start with one of them."""
        sub = self._parts.get(split)
        if sub is None:
            keep = [(w, r) for w, r in zip(self.words, self._rank_list)
                    if (stable_hash(w) % HELDOUT_MODULUS == 0) == (split == "heldout")]
            sub = self._parts[split] = _Vocab([w for w, _ in keep], [r for _, r in keep])
        return sub

    def sample(self, rng: np.random.Generator, n: int, power: float = 1.0) -> list[str]:
        cum = self._cum.get(power)
        if cum is None:
            cum = self._cum[power] = np.cumsum(self._ranks ** -power)
        idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
        idx = np.minimum(idx, len(self.words) - 1)
        return [self.words[i] for i in idx]


def _to_traditional(words: list[str]) -> list[str]:
    """wordfreq folds Chinese to Simplified, so without conversion a zh-Hant vocabulary keeps only the
    words spelled alike in both scripts: no 這, 們, 說, and none of Taiwan's own terms (檔案, 軟體,
    資料庫), which real zh-TW manuals are full of. OpenCC's s2twp converts characters and phrases."""
    import opencc

    conv = opencc.OpenCC("s2twp")
    # one call for the whole list (newline-joined) is ~100x faster than a call per word
    out = conv.convert("\n".join(words)).split("\n")
    return out if len(out) == len(words) else [conv.convert(w) for w in words]


@functools.lru_cache(maxsize=None)
def _wordfreq_vocab(lang: str, allowed: frozenset[str], kind: str = "all") -> _Vocab:
    """Filtered wordfreq list: ``all`` (every usable token), ``content`` (nouns-ish, for ja/ko phrases)."""
    import wordfreq  # lazy: only fallback mode and CJK words() need it

    language = get_language(lang)
    wlist = "best" if lang == "ko" else "large"
    try:
        raw = wordfreq.top_n_list(language.wordfreq, 50000, wordlist=wlist)
    except (LookupError, ValueError):
        raw = wordfreq.top_n_list(language.wordfreq, 50000)
    if lang == "zh-Hant":
        raw = _to_traditional(raw)
    words: list[str] = []
    ranks: list[int] = []
    seen: set[str] = set()
    for rank, w in enumerate(raw):
        w = unicodedata.normalize("NFC", w)
        if w in seen:
            continue
        seen.add(w)
        if not w or not all(c in allowed for c in w) or not w[0].isalpha() or not w[-1].isalpha():
            continue
        if not all(c.isalpha() or c in "'-\"׳״־" or unicodedata.combining(c) for c in w):
            continue
        if lang != "en" and _LATIN.search(w):
            continue
        if lang in ("ar", "he") and len(w) < 2:
            continue
        if lang == "zh-Hant" and any(c in _SIMPLIFIED_IN_BIG5 for c in w):
            continue
        if lang in ("zh-Hans", "zh-Hant") and not all(_HAN.match(c) for c in w):
            continue
        if kind == "content":
            if lang == "ja":
                # Han/katakana-only tokens of two or more characters: nouns, not verb stems or particles
                if len(w) < 2 or _HIRA.search(w) or not (_HAN.search(w) or _KATA.search(w)) or w[0] == "ー":
                    continue
            elif lang == "ko":
                if len(w) < 2 or rank < 60 or w[-1] in _KO_NOT_NOUN_END or w[0] in _KO_NOT_NOUN_START:
                    continue
        words.append(w)
        ranks.append(len(ranks) if kind == "all" else rank)
    if not words:
        raise RuntimeError(f"wordfreq gave no usable words for {lang}")
    return _Vocab(words, ranks)


_BALANCED = ("zh-Hans", "zh-Hant", "ja", "ko")  # scripts with thousands of letters
_BALANCE_POWER = 0.3  # character weight ∝ (its frequency in the word list) ** this


def _letter_pattern(lang: str) -> re.Pattern[str]:
    return re.compile(r"[\uac00-\ud7a3]") if lang == "ko" else _HAN


def letter_frequencies(lang: str, allowed: frozenset[str]) -> tuple[dict[str, float], dict[str, list[int]]]:
    """For Chinese, Japanese (kanji) and Korean (syllables): each letter's frequency in wordfreq's list
    (words weighted 1/rank) and the indices of the listed words that hold it, best-ranked first.
    ``benchmarks/bench_charset.py`` ranks characters by it."""
    vocab = _wordfreq_vocab(lang, allowed)
    letter = _letter_pattern(lang)
    freq: dict[str, float] = {}
    words: dict[str, list[int]] = {}
    for i, (w, r) in enumerate(zip(vocab.words, vocab._rank_list)):
        for c in set(w):
            if letter.match(c):
                freq[c] = freq.get(c, 0.0) + 1.0 / (r + 1.0)
                words.setdefault(c, []).append(i)
    return freq, words


def unlisted_letters(lang: str, allowed: frozenset[str], listed: Iterable[str]) -> list[str]:
    """Letters of the script in ``allowed`` that are not in ``listed`` (no word of the list uses them), sorted."""
    letter = _letter_pattern(lang)
    known = set(listed)
    return sorted(c for c in allowed if letter.match(c) and c not in known)


class _CharIndex:
    """Letters of a large script with flattened sampling weights, and the words that contain each.

    A letter's weight is its :func:`letter_frequencies` value raised to ``_BALANCE_POWER``: one
    1,000× rarer than another is drawn only ~8× less often. Letters of the charset no listed word
    uses are drawn alone, at the lowest weight.
    """

    def __init__(self, vocab: _Vocab, allowed: frozenset[str], lang: str):
        freq, self.words = letter_frequencies(lang, allowed)
        floor = min(freq.values()) if freq else 1.0
        for c in unlisted_letters(lang, allowed, freq):
            freq[c] = floor
        self.chars = sorted(freq)
        self.vocab = vocab
        self._cum = np.cumsum(np.asarray([freq[c] for c in self.chars]) ** _BALANCE_POWER)

    def token(self, rng: np.random.Generator) -> str:
        """A word holding a drawn letter (one of its five best-ranked words), or the letter alone."""
        c = self.chars[min(int(np.searchsorted(self._cum, rng.random() * self._cum[-1], side="right")),
                           len(self.chars) - 1)]
        holders = self.words.get(c)
        if not holders:
            return c
        return self.vocab.words[holders[int(rng.integers(min(5, len(holders))))]]


@functools.lru_cache(maxsize=None)
def _char_index(lang: str, allowed: frozenset[str]) -> _CharIndex:
    return _CharIndex(_wordfreq_vocab(lang, allowed), allowed, lang)


@functools.lru_cache(maxsize=None)
def _vocab_set(lang: str, allowed: frozenset[str]) -> frozenset[str]:
    return frozenset(_wordfreq_vocab(lang, allowed).words)


# --------------------------------------------------------------------------------------------- ko/ja phrases

def _ko_batchim(word: str) -> bool:
    code = ord(word[-1]) - 0xAC00
    return 0 <= code < 11172 and code % 28 != 0


# (_KO_FIXED, the particles that do not depend on a final consonant, is in fields.py: mix_content uses it too)
_KO_PAIRS = (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"))
_KO_ENDINGS = ("했다", "한다", "합니다", "했습니다", "하였다", "된다", "되었다", "할 수 있다", "하고 있다")
_JA_PARTICLES = ("の", "は", "が", "を", "に", "で", "と", "も", "から", "まで", "へ", "には", "では", "として")
_JA_ENDINGS = ("です", "でした", "する", "した", "します", "しました", "である", "となる", "を行う", "がある",
               "が必要です", "について説明する")


def _ko_particle(rng: np.random.Generator, word: str) -> str:
    if rng.random() < 0.6:
        pair = _KO_PAIRS[int(rng.integers(len(_KO_PAIRS)))]
        return pair[0] if _ko_batchim(word) else pair[1]
    return _KO_FIXED[int(rng.integers(len(_KO_FIXED)))]


# --------------------------------------------------------------------------------------------- TextSource

class TextSource:
    """Sentences, paragraphs, words and formatted fields for one language and split."""

    def __init__(self, lang: str, shared: Path | str | None = None, split: str = "train", *,
                 fallback: bool = False, wordfreq_share: float = 0.0, char_balance: float = 0.0):
        """``shared``: the folder holding ``data/`` (None: found by :func:`shared_dir`, may be absent).

        ``fallback=True`` ignores the shared data entirely (built-in charsets, wordfreq text) to behave
        exactly as on a machine without it.

        ``wordfreq_share``: in corpus mode, the share of sentences and paragraphs drawn from wordfreq
        instead. The corpora are narrow in register (encyclopedia, news, fortunes): the zh-Hans one has
        您 9 times in 934K characters and 悠 136 times, so a recogniser trained on it reads 您 as 悠 on
        every page of a manual. wordfreq's lists (subtitles, web, books) give everyday words their
        real frequency; its word salad is poor grammar, which a line recogniser hardly needs.

        ``char_balance`` (Chinese, Japanese, Korean): the share of sentences built around characters
        drawn with flattened frequencies (:class:`_CharIndex`), each inside a word that uses it.
        Natural text spends a line recogniser's samples on a few hundred characters: in 64K
        training lines 盘, 块 and 键 (a manual's "disk", "block", "key") occurred 11-13 times each,
        and the recogniser read them as 急, 決 and an Arabic letter on clean renders.
        """
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
        if not 0.0 <= wordfreq_share <= 1.0:
            raise ValueError(f"wordfreq_share must be in [0, 1], not {wordfreq_share}")
        self.wordfreq_share = float(wordfreq_share)
        if not 0.0 <= char_balance <= 1.0:
            raise ValueError(f"char_balance must be in [0, 1], not {char_balance}")
        self.char_balance = float(char_balance) if lang in _BALANCED else 0.0
        self.language = get_language(lang)
        self.lang = lang
        self.split = split
        root: Path | None = None
        if not fallback:
            root = shared_dir(shared) if shared is not None else shared_dir()
        self.shared = root
        self.allowed: frozenset[str] = _allowed_for(lang, str(root) if root is not None else None)
        path = root / "data" / "corpus" / f"{lang}.txt" if root is not None else None
        self._path = path if path is not None and path.is_file() else None
        self.mode = "corpus" if self._path is not None else "fallback"
        self.cjk = lang in _CJK
        self.sep = "" if self.cjk else " "
        self._end_re = _END_CJK if self.cjk else _END_SPACED
        self._clause_re = _CLAUSE_CJK if self.cjk else _CLAUSE_SPACED
        self._orphan, self._punct = _helpers(self.allowed)
        self._comb = frozenset(c for c in self.allowed if unicodedata.combining(c))
        self._fields = _fields_for(lang, self.allowed)
        self._lines: list[str] | None = None

    # ----------------------------------------------------------------- data

    @property
    def corpus_path(self) -> Path | None:
        """The corpus file this source reads (None in fallback mode)."""
        return self._path

    @property
    def lines(self) -> list[str]:
        """The corpus lines of this split (empty in fallback mode)."""
        if self._lines is None:
            self._lines = _load_corpus(self._path, self.allowed)[self.split] if self._path is not None else []
        return self._lines

    def _balanced(self, rng: np.random.Generator) -> bool:
        """Whether the next sentence is a character-balanced one; draws from ``rng`` only when the
        share is above 0, so share 0 reproduces earlier datasets exactly."""
        return self.char_balance > 0.0 and bool(rng.random() < self.char_balance)

    def _balanced_sentence(self, rng: np.random.Generator) -> str:
        """A first word from this split's part of the list, then words around drawn characters."""
        index = _char_index(self.lang, self.allowed)
        toks = self._vocab().part(self.split).sample(rng, 1) + [index.token(rng) for _ in range(int(rng.integers(3, 9)))]
        comma = self._comma()
        for k in range(1, len(toks) - 1):
            if rng.random() < 0.12:
                toks[k] += comma
        return _sanitize(self.sep.join(toks) + self._end_mark(rng), self.allowed)

    def _from_wordfreq(self, rng: np.random.Generator) -> bool:
        """Whether the next sentence or paragraph comes from wordfreq. Draws from ``rng`` only when the
        share is strictly between 0 and 1, so share 0 reproduces earlier datasets exactly."""
        if self.mode == "fallback" or self.wordfreq_share >= 1.0:
            return True
        return self.wordfreq_share > 0.0 and bool(rng.random() < self.wordfreq_share)

    def _vocab(self, kind: str = "all") -> _Vocab:
        return _wordfreq_vocab(self.lang, self.allowed, kind)

    # ----------------------------------------------------------------- cutting

    def _cut(self, text: str, limit: int, hard: bool = True) -> str:
        """Shorten ``text`` to at most ``limit`` characters at the most natural boundary.

        Preference: sentence end, clause punctuation, space (spaced scripts) / any character (CJK);
        never between a base letter and its combining marks. Returns "" if ``hard`` is False and a
        spaced text has no boundary in reach.
        """
        if len(text) <= limit:
            return text
        if limit <= 0:
            return ""
        lo = max(1, int(limit * 0.4))
        best = -1
        for m in self._end_re.finditer(text, 0, limit + 1):
            if lo <= m.end() <= limit:
                best = m.end()
        if best > 0:
            return text[:best].rstrip()
        for m in self._clause_re.finditer(text, 0, limit + 1):
            e = m.end() if self.cjk else m.start()
            if lo <= e <= limit:
                best = e
        if best > 0:
            out = text[:best]
            if self.cjk:
                out = out.rstrip("，、；：,;: ")
            return out.rstrip(_OPENERS).rstrip()
        if not self.cjk:
            sp = text.rfind(" ", 0, limit + 1)
            if sp >= lo or (sp > 0 and not hard):
                return text[:sp].rstrip(",;:،؛ -–—").rstrip(_OPENERS).rstrip()
            if not hard:
                return ""
        cut = limit
        # keep ASCII words and numbers whole inside CJK text when possible
        if self.cjk:
            j = cut
            while j > lo and _ascii_alnum(text[j - 1]) and _ascii_alnum(text[j]):
                j -= 1
            if j > lo:
                cut = j
        while cut > 1 and text[cut] in self._comb:
            cut -= 1
        return text[:cut].rstrip(_OPENERS).rstrip() or text[:cut]

    def _sentence_starts(self, line: str) -> list[int]:
        starts = []
        for m in self._end_re.finditer(line):
            e = m.end()
            while e < len(line) and line[e] == " ":
                e += 1
            if e < len(line) - 8:
                starts.append(e)
        return starts

    # ----------------------------------------------------------------- sentences

    def sentence(self, rng: np.random.Generator, max_chars: int | None = None) -> str:
        """One natural sentence or chunk, at most ``max_chars`` characters long."""
        if max_chars is not None and max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        if self._balanced(rng):
            s = self._balanced_sentence(rng)
            return s if max_chars is None or len(s) <= max_chars else self._cut(s, max_chars)
        if self._from_wordfreq(rng):
            for _ in range(6):
                s = self._fallback_sentence(rng)
                if max_chars is None or len(s) <= max_chars:
                    return s
                cut = self._cut(s, max_chars, hard=False)
                if _has_alnum(cut):
                    return cut
            return self._short(rng, s, max_chars)
        lines = self.lines
        if not lines:
            raise RuntimeError(f"no corpus lines for {self.lang} ({self.split})")
        line = ""
        for _ in range(8):
            line = lines[int(rng.integers(len(lines)))]
            if len(line) > 60 and rng.random() < 0.35:
                starts = self._sentence_starts(line)
                if starts:
                    line = line[starts[int(rng.integers(len(starts)))]:]
            if max_chars is None or len(line) <= max_chars:
                return line
            cut = self._cut(line, max_chars, hard=False)
            if _has_alnum(cut):
                return cut
        return self._short(rng, line, max_chars)

    def _short(self, rng: np.random.Generator, line: str, max_chars: int) -> str:
        """Last resort for tiny limits: a whole word that fits, else a hard cut."""
        for w in self.words(rng, 8):
            if len(w) <= max_chars:
                return w
        return self._cut(line, max_chars)

    def paragraph(self, rng: np.random.Generator, min_chars: int, max_chars: int) -> str:
        """Consecutive sentences joined the language's way (no spaces between CJK sentences).

        The result never exceeds ``max_chars``; ``min_chars`` is met unless the window is too narrow
        to fit another boundary-cut piece.
        """
        if max_chars < 1 or min_chars > max_chars:
            raise ValueError("need 1 <= max_chars and min_chars <= max_chars")
        if self._balanced(rng):
            nxt = lambda: self._balanced_sentence(rng)  # noqa: E731
        elif self._from_wordfreq(rng):
            nxt = lambda: self._fallback_sentence(rng)  # noqa: E731
        else:
            lines = self.lines
            i = int(rng.integers(len(lines)))

            def nxt() -> str:
                nonlocal i
                s = lines[i % len(lines)]
                i += 1
                return s

        out = ""
        first = True
        for _ in range(200):
            s = nxt()
            if first and len(s) > 60 and rng.random() < 0.3:
                starts = self._sentence_starts(s)
                if starts:
                    s = s[starts[int(rng.integers(len(starts)))]:]
            joiner = ""
            if out:
                joiner = self.sep
                if self.cjk and out[-1] not in _SENT_END_CHARS and out[-1] not in _CLOSERS:
                    joiner = "。"
            budget = max_chars - len(out) - len(joiner)
            if budget <= 0:
                break
            if len(s) > budget:
                s = self._cut(s, budget, hard=not out)
                if not s:
                    break
                out += joiner + s
                if len(out) >= min_chars:
                    break
                continue
            out += joiner + s
            first = False
            if len(out) >= min_chars:
                break
        return out

    # ----------------------------------------------------------------- fallback generation

    def _end_mark(self, rng: np.random.Generator) -> str:
        r = rng.random()
        lang = self.lang
        if lang in ("zh-Hans", "zh-Hant"):
            return "。" if r < 0.88 else ("？" if r < 0.96 else "！")
        if lang == "ja":
            return "。" if r < 0.93 else "？"
        if lang == "ar":
            return "." if r < 0.87 else ("؟" if r < 0.97 else "!")
        return "." if r < 0.87 else ("?" if r < 0.96 else "!")

    def _comma(self) -> str:
        return {"zh-Hans": "，", "zh-Hant": "，", "ja": "、", "ar": "،"}.get(self.lang, ",")

    def _fallback_sentence(self, rng: np.random.Generator) -> str:
        """A generated sentence whose first word's hash decides the split (see module docstring)."""
        r = rng
        if self.lang == "ja":
            s = self._ja_sentence(r)
        elif self.lang == "ko":
            s = self._ko_sentence(r)
        else:
            n = int(r.integers(5, 21))
            vocab = self._vocab()
            toks = vocab.part(self.split).sample(r, 1) + vocab.sample(r, n - 1)
            toks = [t for k, t in enumerate(toks) if k == 0 or t != toks[k - 1]]
            comma = self._comma()
            parts: list[str] = []
            last_comma = 0
            for k, t in enumerate(toks):
                if self.lang == "en" and (t == "i" or t.startswith("i'")):
                    t = "I" + t[1:]
                parts.append(t)
                if 1 < k < len(toks) - 2 and k - last_comma > 2 and r.random() < 0.1:
                    parts[-1] += comma
                    last_comma = k
            if self.lang in ("en", "ru"):
                parts[0] = parts[0][:1].upper() + parts[0][1:]
            s = self.sep.join(parts) + self._end_mark(r)
        return _sanitize(s, self.allowed)

    def _nouns(self, r: np.random.Generator, n: int) -> list[str]:
        vocab = self._vocab("content")
        return vocab.part(self.split).sample(r, 1, 0.8) + vocab.sample(r, n - 1, 0.8)

    def _ja_sentence(self, r: np.random.Generator) -> str:
        k = int(r.integers(2, 5))
        nouns = self._nouns(r, 2 * k + 1)
        u = r.random(3 * k)
        pk = r.integers(len(_JA_PARTICLES), size=k)
        out = []
        for j in range(k):
            w = nouns[2 * j] + ("の" + nouns[2 * j + 1] if u[j] < 0.25 else "")
            p = _JA_PARTICLES[int(pk[j])]
            out.append(w + p + ("、" if p in ("は", "が", "で", "では", "には") and u[k + j] < 0.35 else ""))
        out.append(nouns[-1] + _JA_ENDINGS[int(r.integers(len(_JA_ENDINGS)))])
        return "".join(out) + self._end_mark(r)

    def _ko_sentence(self, r: np.random.Generator) -> str:
        k = int(r.integers(2, 6))
        nouns = self._nouns(r, 2 * k + 1)
        u = r.random(2 * k)
        out = []
        for j in range(k):
            w = nouns[2 * j] + (" " + nouns[2 * j + 1] if u[j] < 0.2 else "")
            out.append(w + _ko_particle(r, w) + ("," if u[k + j] < 0.08 else ""))
        last = nouns[-1]
        if r.random() < 0.1:
            return " ".join(out) + " " + last + ("입니까?" if _ko_batchim(last) else "합니까?")
        ending = _KO_ENDINGS[int(r.integers(len(_KO_ENDINGS)))]
        if r.random() < 0.15:
            ending = "이다" if _ko_batchim(last) else "다"
        return " ".join(out) + " " + last + ending + "."

    # ----------------------------------------------------------------- words

    def words(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` word-like tokens (zh/ja: dictionary words or short segments of 1-6 characters)."""
        if n <= 0:
            return []
        if self.mode == "fallback":
            if self.lang in ("ja", "ko"):
                return self._vocab("content").sample(rng, n, 0.6)
            return self._vocab().sample(rng, n, 0.6)
        out: list[str] = []
        lines = self.lines
        tries = 0
        while len(out) < n and tries < 50 * n:
            tries += 1
            line = lines[int(rng.integers(len(lines)))]
            if self.cjk:
                out.extend(self._cjk_segments(rng, line, n - len(out)))
            else:
                toks = line.split(" ")
                for _ in range(3):
                    t = _INNER_BREAK.split(toks[int(rng.integers(len(toks)))].strip(self._punct))[0]
                    latin_ok = self.lang == "en" or not _LATIN.search(t)
                    if t and len(t) <= 24 and latin_ok and any(c.isalpha() for c in t):
                        out.append(t)
                        break
        return out[:n]

    def _cjk_segments(self, rng: np.random.Generator, line: str, want: int) -> list[str]:
        """Dictionary-matched words (greedy longest match on wordfreq's list) from a window of a line;
        runs the list does not know are chunked into 2-3 character pieces."""
        vocab = _vocab_set(self.lang, self.allowed)
        start = int(rng.integers(len(line)))
        window = line[start:start + 8 + 5 * want]
        res: list[str] = []
        pieces = _JA_PIECE.finditer(window) if self.lang == "ja" else _HAN_KANA_RUN.finditer(window)
        for m in pieces:
            run = m.group()
            if self.lang == "ja":
                # katakana runs are loanwords, kept whole; hiragana runs are inflections and particles;
                # kanji runs of up to 4 are usually one word, longer ones are split with the dictionary
                if _HIRA.match(run) or len(run) > 10 or (len(run) == 1 and rng.random() < 0.8):
                    continue
                if _KATA.match(run) or len(run) <= 4:
                    if run[0] != "ー":
                        res.append(run)
                    continue
            i = 0
            unknown = ""
            while i < len(run):
                for L in range(min(6, len(run) - i), 0, -1):
                    w = run[i:i + L]
                    if (L > 1 or _HAN.match(w)) and w in vocab:
                        break
                else:
                    unknown += run[i]
                    i += 1
                    continue
                if unknown:
                    res.extend(self._chunks(rng, unknown))
                    unknown = ""
                if self._good_segment(w, rng):
                    res.append(w)
                i += L
            if unknown:
                res.extend(self._chunks(rng, unknown))
        if res and start > 0 and len(res) > 1:  # the first piece may start mid-word
            res = res[1:]
        return res[:want]

    def _good_segment(self, w: str, rng: np.random.Generator) -> bool:
        if self.lang == "ja":
            return bool(_HAN.search(w) or (_KATA.search(w) and len(w) >= 2)) and not _HIRA.match(w[0])
        return len(w) >= 2 or rng.random() < 0.15

    def _chunks(self, rng: np.random.Generator, run: str) -> list[str]:
        if self.lang == "ja" and not (_HAN.search(run) or _KATA.search(run)):
            return []
        if self.lang == "ja" and _HIRA.search(run):
            run = _HIRA.split(run)[0]
            if len(run) < 2:
                return []
        out = []
        i = 0
        while i < len(run):
            k = 2 if rng.random() < 0.7 else 3
            piece = run[i:i + k]
            if len(piece) >= 2:
                out.append(piece)
            i += k
        return out

    # ----------------------------------------------------------------- fields

    def field(self, rng: np.random.Generator, kind: str) -> str:
        """A structured snippet of ``kind`` (see FIELD_KINDS) in this language's conventions."""
        if kind == "title":
            s = _title(self, rng)
        else:
            maker = getattr(self._fields, kind, None)
            if kind not in FIELD_KINDS or maker is None:
                raise ValueError(f"unknown field kind {kind!r}; known: {', '.join(FIELD_KINDS)}")
            s = maker(rng)
        s = _sanitize(s, self.allowed)
        return s or "1"
