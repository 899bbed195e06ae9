"""Choose among the recogniser's per-character alternatives with the line language's n-gram model.

Greedy CTC takes each character on its own. Where the network hesitates (the best class of a
character's frames is below ``confident``), this reconsiders the K best classes of those frames and
picks the sequence that maximises

    Σ log P_ocr(character) + weight · log P_lm(character | the characters before it) + bonus · characters

exactly (Viterbi over the last ``order - 1`` choices; a confident character has one candidate, so the
states stay few). A doubtful run may also be read as nothing when blank is among its frames'
alternatives (an inserted character, "ftorm" → "form"); the per-character bonus keeps that from
winning just because one character fewer pays one LM term fewer. The queries of all doubtful lines
of a page go to :mod:`polyocr.models.charlm` in one vectorised call. Characters stay where the
network put them: a CTC run changes class or disappears, nothing is inserted, so word boxes and
confidences carry over.

A full stop and a comma between words may become one another; other
punctuation, digits and symbols stay as read. A line whose model does not spell Latin (Russian,
Korean, Arabic, Hebrew) has its Latin words searched by the English model in the same pass, each word
by one model.

Right-to-left lines are decoded in display order; their characters are fed to the model in reverse,
which is logical order for the letters (digits inside such lines are scored reversed, a small error
the weight absorbs; their Latin words go to the English model in display order, their own). Vertical
lines read top to bottom already.
"""

from __future__ import annotations

import itertools
import math
import os
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from polyocr.charset import BLANK, SPACE, Charset
from polyocr.models.charlm import BOS, CharLM, LMSet
from polyocr.pipeline.constrain import LANG_SCRIPTS
from polyocr.pipeline.homoglyph import TO_CYRILLIC, TO_LATIN
from polyocr.pipeline.language import script_of
from polyocr.pipeline.recognize import LineReading, _reading, admitted_frames, infer_direction
from polyocr.pipeline.runtime import optional_weights

__all__ = ["RescoreConfig", "rescore", "rescore_page", "line_score", "language_models", "LM_FILE"]

LM_FILE = "charlm.safetensors"
# Letters the model is asked about as another: Russian prints ё or е for the same word as the text's
# editor chose, and corpora mostly write е, so the model's preference says nothing about the page. Folded,
# both readings get the same model terms and the recogniser's own evidence (the two dots) decides.
LM_FOLD = {"ё": "е", "Ё": "Е"}
_GONE = -2   # a deleted run in the query builder


def language_models(weights: str | os.PathLike[str] | None = None) -> LMSet | None:
    """The character models in a weights folder (default: the packaged one), loaded once per process;
    None when the folder has none (a custom folder may ship only a recogniser)."""
    return optional_weights(weights, LM_FILE, LMSet)


# The model's weight per language, against the recogniser's log probabilities. Chosen in session 19 on
# the validation lines (held-out fonts, seed 888, 150 a language), never the benchmark's: 0.4 where
# the languages spelled by letters or Hangul syllables read best (en, ru, ko, ar; session 7's
# single 0.3 had been chosen for recogniser v10), 0.3 where the Han-script languages and Hebrew did.
LM_WEIGHTS: dict[str, float] = {"en": 0.4, "ru": 0.4, "ko": 0.4, "ar": 0.4,
                                "zh-Hans": 0.3, "zh-Hant": 0.3, "ja": 0.3, "he": 0.3}
DEFAULT_LM_WEIGHT = 0.3        # a language without its own entry


@dataclass(frozen=True)
class RescoreConfig:
    """Settings chosen on a validation set (held-out fonts, seed 888), not on the benchmark lines."""

    weight: float | None = None  # language-model weight for every language; None: LM_WEIGHTS, language by language
    char_bonus: float = 1.0    # added per emitted character: without it, dropping a character saves its LM cost
    deletions: bool = True     # a doubtful run may also be read as nothing (blank), removing an inserted character
    confident: float = 0.97    # a character whose best frame probability reaches this is kept as read
    alternatives: int = 4      # candidates per doubtful character (the read class and the next best)
    min_alt: float = 0.02      # an alternative below this probability cannot win at these weights
    min_prob: float = 1e-4     # floor for an alternative's probability inside the log
    max_window: int = 1024     # most candidate combinations in one search window (4 ** 5): a line with
                               # many doubtful characters in a row is searched with a shorter history
    marks: bool = True         # full stops and commas between words may change into one another
    latin_model: str = "en"    # whose model judges the Latin words of lines whose own model does not
                               # spell Latin (Russian, Korean, Arabic, Hebrew); "" leaves them as read

    def for_language(self, lang: str) -> RescoreConfig:
        """These settings with the weight ``lang``'s lines are searched with."""
        if self.weight is not None:
            return self
        return replace(self, weight=LM_WEIGHTS.get(lang, DEFAULT_LM_WEIGHT))

    @property
    def search_weight(self) -> float:
        """The weight searches use: ``weight``, or the default where it was left to the table."""
        return self.weight if self.weight is not None else DEFAULT_LM_WEIGHT


@dataclass
class _Plan:
    """One doubtful line: its CTC runs, their candidates in language-model order, and the queries."""

    reading: LineReading
    top: np.ndarray                       # per frame: the admitted best class (BLANK elsewhere)
    top_p: np.ndarray                     # per frame: its probability
    ok: np.ndarray                        # (frames, K) admitted alternatives
    runs: list[tuple[int, int]]           # (first, last) frame per run, display order
    order: list[int]                      # runs in language-model order
    cands: list[list[tuple[int, float]]]  # per position in ``order``: (class, probability), read class first
    combos: list[list[tuple[int, ...]]]   # per searched position: candidate indices of positions i-k..i
    free: list[bool] = field(default_factory=list)  # per searched position: one candidate in its whole window
    span: tuple[int, int] = (0, 0)        # the positions searched: from the first with a choice to k past the last
    start: int = 0                        # first row of this line's queries in the page batch
    k: int = 0                            # history length searched (the model's, or shorter: max_window)


_CLASS_MASKS: dict[tuple[str, str], np.ndarray] = {}


def _class_mask(charset: Charset, kind: str, test: Callable[[str], bool]) -> np.ndarray:
    """Per class of ``charset``: does ``test`` hold for its one character (never for blank or a
    class of several characters). Built once per charset and ``kind``."""
    key = (charset.sha256, kind)
    got = _CLASS_MASKS.get(key)
    if got is None:
        got = _CLASS_MASKS[key] = np.array([i != BLANK and len(ch := charset.decode([i])) == 1 and test(ch)
                                            for i in range(len(charset))], bool)
    return got


def _wordlike(charset: Charset) -> np.ndarray:
    """Per class: a letter, a combining mark or the space. Only these (and sentence marks between words,
    :func:`_sentence_marks`) may change or be chosen: the models learned prose, so on a bullet, a
    quotation mark, a digit or code punctuation they would only voice their corpus's habits ("•" → "*",
    "4.19" → "4,19", "‘" → '"'), not what is printed."""
    return _class_mask(charset, "wordlike", lambda ch: ch == " " or unicodedata.category(ch)[0] in "LM")


# Sentence punctuation the models learned from prose, where they may choose between its forms: the
# full stop and the comma. Not the colon: a form's "Label:" ends a line, where prose ends with a full
# stop (30 of them on the generated pages became "Label."). Not the semicolon (code's "R_ENVIRON; if"
# became "," on realdev). Not the CJK marks: "、" and "；" separate list items, which the Chinese
# models told from "，" wrongly 4 times in 7 on the generated pages and never rightly, and "。"/"，"
# changed once rightly there, once wrongly on the held-out lines and none of realdev's seven "，"
# read as "。". Not the Arabic "،" and "؛" (6 changes on the generated pages, 4 wrong, none right:
# Arabic text writes "," too).
SENTENCE_MARKS = ".,"


def _marks(charset: Charset) -> np.ndarray:
    """Per class: one of :data:`SENTENCE_MARKS`."""
    return _class_mask(charset, "sentence", lambda ch: ch in SENTENCE_MARKS)


def _before(x: np.ndarray, edge: Any = False) -> np.ndarray:
    """Per position: the value one to the left (``edge`` at the start)."""
    return np.concatenate([np.array([edge], x.dtype), x[:-1]])


def _after(x: np.ndarray, edge: Any = False) -> np.ndarray:
    """Per position: the value one to the right (``edge`` at the end)."""
    return np.concatenate([x[1:], np.array([edge], x.dtype)])


def _sentence_marks(reads: np.ndarray, charset: Charset) -> np.ndarray:
    """Per CTC run: a sentence mark between words (a letter on one side, a letter or a space on the
    other; not at the line's edge). There the models know the punctuation as well as the letters:
    "…the document, The" is a full stop read as a comma (24 of 195 realdev English lines with such a
    mark, the full stop the second choice each time). Beside a digit ("4.19", "2.") or ending a line
    a mark stays as read."""
    mark = _marks(charset)[reads]
    letter = _class_mask(charset, "letter", lambda ch: unicodedata.category(ch)[0] == "L")[reads]
    ok = letter | (reads == SPACE)
    return mark & ((_before(letter) & _after(ok)) | (_after(letter) & _before(ok)))


def _between_digits(reads: np.ndarray, charset: Charset) -> np.ndarray:
    """Per CTC run: a space with a digit right beside it on both sides ("4.4 5.1", "2 6.1"). It stays
    as read: the models know numbers only as prose spells them, and deleting such a space does not
    remove a stray character but joins two numbers, which on a right-to-left line also swaps them
    ("5.1 4.4" → "4.45.1"). A stray space between other marks ("- -") may still go."""
    digit = _class_mask(charset, "digit", lambda ch: unicodedata.category(ch) == "Nd")[reads]
    return (reads == SPACE) & _before(digit) & _after(digit)


def native_scripts(lang: str) -> frozenset[str]:
    """The scripts a language's model learned to spell. Latin belongs to English, and to Chinese and
    Japanese, whose text writes Latin terms inline and whose models learned them (left out of those
    models, Latin words read worse on 11 of 19 realdev CJK pages they changed); not to Russian, Korean,
    Arabic or Hebrew (left out of those, 14 of 18 changed realdev pages read better, Russian all six)."""
    scripts = LANG_SCRIPTS.get(lang, frozenset())
    return scripts if lang in ("en", "ja", "zh-Hans", "zh-Hant") else scripts - {"latin"}


_SCRIPT_IDS: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}


def _class_scripts(charset: Charset) -> tuple[tuple[str, ...], np.ndarray]:
    """The script names (index 0: none) and, per class, its script's index: a letter's script by
    :func:`script_of`, 0 for blank, non-letters and classes of several characters. Built once."""
    got = _SCRIPT_IDS.get(charset.sha256)
    if got is None:
        per = [script_of(ch) if i != BLANK and len(ch := charset.decode([i])) == 1 else "" for i in range(len(charset))]
        names = ("",) + tuple(sorted(set(per) - {""}))
        got = _SCRIPT_IDS[charset.sha256] = (names, np.array([names.index(x) for x in per], np.int16))
    return got


def _words(script: np.ndarray) -> np.ndarray:
    """Per CTC run: its word's number (1, 2, ...; 0 for a run that is not a letter). A word is a
    maximal run of letters, of any scripts."""
    letter = script > 0
    start = letter & ~_before(letter)
    return np.cumsum(start) * letter


def _word_votes(reads: np.ndarray, charset: Charset, inside: Callable[[str], bool]) -> np.ndarray:
    """Per CTC run: whether it belongs to a word whose distinctive letters are mostly in scripts for
    which ``inside`` holds. Latin/Cyrillic look-alike twins (a, е, Т, ...) do not vote: "Sроtifу" is
    Latin by its t and f, and a word of twins only ("С." for an initial) is in no script's majority."""
    names, ids = _class_scripts(charset)
    script = ids[reads]
    word = _words(script)
    twin = _class_mask(charset, "twin", lambda ch: ch in TO_CYRILLIC or ch in TO_LATIN)[reads]
    votes = (script > 0) & ~twin
    ins = np.array([bool(n) and inside(n) for n in names])
    total = np.bincount(word[votes], minlength=int(word.max(initial=0)) + 1)
    yes = np.bincount(word[votes], weights=ins[script[votes]], minlength=len(total))
    return (word > 0) & (2 * yes[word] > total[word])


def _capital_words(reads: np.ndarray, charset: Charset) -> np.ndarray:
    """Per CTC run: whether it belongs to a word of two or more letters, all capitals (NFC, CTAN,
    LG3): acronyms, which a model of prose respells as its common words ("NFC" → "NEC")."""
    word = _words(_class_scripts(charset)[1][reads])
    cased = _class_mask(charset, "cased", lambda ch: ch.islower() or ch.isupper() or ch.istitle())[reads]
    small = cased & ~_class_mask(charset, "upper", str.isupper)[reads]
    size = np.bincount(word, minlength=int(word.max(initial=0)) + 1)
    n_cased = np.bincount(word[cased], minlength=len(size))
    n_small = np.bincount(word[small], minlength=len(size))
    return (word > 0) & (size[word] > 1) & (n_cased[word] > 0) & (n_small[word] == 0)


def _foreign_words(reads: np.ndarray, charset: Charset, native: frozenset[str]) -> np.ndarray:
    """Per CTC run: whether it belongs to a word whose distinctive letters are mostly in a script the
    model did not learn (a Latin word on a Russian line). The Russian model spelled "true" as "сгие",
    "makepen" as "пакереп" and "sparc" as "ѕрагс": it knows few Latin words, so it judges them by
    Cyrillic habits."""
    return _word_votes(reads, charset, lambda s: s not in native)


def _plan(reading: LineReading, cfg: RescoreConfig, allowed: np.ndarray | None, charset: Charset,
          native: frozenset[str] | None = None, within: frozenset[str] | None = None) -> _Plan | None:
    """The line's doubtful characters and their alternatives, or None when nothing is in doubt.
    ``native``: the scripts the model spells; a word mostly in another script stays as read.
    ``within``: only words mostly in these left-to-right scripts are reconsidered, and the line is fed
    to the model in display order, which is those words' own order on a right-to-left line too."""
    ai, ap = reading.alt_ids, reading.alt_probs
    if ai is None or ap is None or not len(ai) or cfg.search_weight <= 0:
        return None
    if within is not None and not any(script_of(ch) in within for ch in reading.visual):
        return None                      # no letter of those scripts: most lines, before any frame work
    wordlike = _wordlike(charset)
    # the frames as the reading being rescored has them (greedy, or re-decoded under ``allowed``)
    top, top_p = admitted_frames(ai, ap, allowed)
    ok = (allowed[ai] if allowed is not None else np.ones(ai.shape, bool)) & (ai != BLANK)
    # CTC runs, vectorised: most lines have no doubtful letter and leave here
    nz = top != BLANK
    starts = np.flatnonzero(nz & (top != _before(top, BLANK)))
    if not len(starts):
        return None
    ends = np.flatnonzero(nz & (top != _after(top, BLANK)))
    p_read = np.where(nz, np.where(ai == top[:, None], ap, 0.0).max(1), 0.0)
    run_p = np.maximum.reduceat(p_read, starts)
    reads = top[starts]
    marks = _marks(charset)
    doubtful = np.flatnonzero((run_p < cfg.confident) & ~_between_digits(reads, charset)
                              & (wordlike[reads] | (cfg.marks & _sentence_marks(reads, charset))))
    if len(doubtful) and native is not None:
        doubtful = doubtful[~_foreign_words(reads, charset, native)[doubtful]]
    if len(doubtful) and within is not None:
        doubtful = doubtful[_word_votes(reads, charset, lambda s: s in within)[doubtful]
                            & ~_capital_words(reads, charset)[doubtful]]
    if not len(doubtful):
        return None
    runs = list(zip(starts.tolist(), ends.tolist()))
    cands: list[list[tuple[int, float]]] = [[(int(c), float(p))] for c, p in zip(reads, run_p)]
    doubt = False
    for r in doubtful.tolist():
        f0, f1 = runs[r]
        seg_ids, seg_p, seg_ok = ai[f0:f1 + 1], ap[f0:f1 + 1], ok[f0:f1 + 1]
        read, read_p = cands[r][0]
        best: dict[int, float] = {}
        for c, p in zip(seg_ids[seg_ok].tolist(), seg_p[seg_ok].tolist()):
            if p > best.get(c, 0.0):
                best[c] = p
        kind = marks if marks[read] else wordlike          # a mark becomes another mark, a letter a letter
        others = sorted(((c, p) for c, p in best.items() if c != read and p >= cfg.min_alt and kind[c]),
                        key=lambda x: -x[1])
        if within is not None:
            # a foreign word's case is the image's to say: an English prose model would write
            # "\LaTeX" as "\LaTex", and acronyms and code are written as they are
            low = charset.decode([read]).lower()
            others = [(c, p) for c, p in others if charset.decode([c]).lower() != low]
        if cfg.deletions and not marks[read]:
            # the run read as nothing: blank in every one of its frames (the least of them, as a bound)
            blank = np.where(seg_ids == BLANK, seg_p, 0.0).max(1).min()
            if blank >= cfg.min_alt:
                others = sorted(others + [(BLANK, float(blank))], key=lambda x: -x[1])
        cands[r] = [(read, read_p)] + others[:cfg.alternatives - 1]
        doubt = doubt or len(others) > 0
    if not doubt:
        return None
    direction = "ltr" if within is not None else reading.direction or infer_direction(reading.visual)
    order = list(range(len(runs)))[::-1] if direction == "rtl" else list(range(len(runs)))
    return _Plan(reading, top, top_p, ok, runs, order, [cands[r] for r in order], [])


def _history(sizes: list[int], k: int, max_window: int) -> int:
    """The longest history (at most ``k``) whose every window has at most ``max_window`` combinations."""
    if max(sizes, default=1) ** (k + 1) <= max_window:
        return k
    while k > 1:
        widest = max(math.prod(sizes[max(0, i - k):i + 1]) for i in range(len(sizes)))
        if widest <= max_window:
            break
        k -= 1
    return k


def _queries(plan: _Plan, lm: CharLM, charset: Charset, lm_ids: dict[int, tuple[int, int]],
             max_window: int = RescoreConfig.max_window) -> tuple[list[tuple[int, ...]], list[int]]:
    """Every (history, character) the exact search over ``plan`` needs, as LM indices (histories of the
    model's full length; a search with a shorter one cuts them with -1).

    A line's first letter is asked in lower case: the models learned sentences, which start with a
    capital, but most lines of a page start inside a sentence, and asked as it is the models
    capitalise a wrapped line's first word ("лена" → "Лена"). Lower-cased, both cases of that letter
    get the same term and the recogniser's evidence decides; the letters after it keep their case in
    the history (an all-capitals heading stays one)."""
    full = lm.order - 1

    def lm_id(c: int) -> tuple[int, int]:
        v = lm_ids.get(c)
        if v is None:
            ch = charset.decode([c])
            ch = LM_FOLD.get(ch, ch)
            low = ch.lower()
            v = lm_ids[c] = ((lm.index(ch), lm.index(low) if len(low) == 1 else lm.index(ch))
                             if len(ch) == 1 else (-1, -1))
        return v

    # a deleted run (BLANK) emits nothing: it gets no query of its own (a placeholder row) and the
    # history skips it; a window shortened by deletions is cut with -1 unless it reaches the line start
    both = [[lm_id(c) if c != BLANK else (_GONE, _GONE) for c, _ in cs] for cs in plan.cands]
    hists: list[tuple[int, ...]] = []
    chars: list[int] = []
    plan.combos = []
    plan.free = []
    sizes = [len(c) for c in plan.cands]
    k = plan.k = _history(sizes, full, max_window) if full > 0 else 0
    # outside [first choice, last choice + k] every window holds one candidate: the same LM terms on
    # every path, so the search leaves those positions out (most of a line, on most lines)
    choices = [i for i, n in enumerate(sizes) if n > 1]
    plan.span = (choices[0], min(len(sizes), choices[-1] + k + 1)) if choices else (0, 0)
    seen = list(itertools.accumulate((n > 1 for n in sizes), initial=0))   # choices before each position
    for i in range(*plan.span):
        lo = max(0, i - k)
        # a character whose whole window has one candidate adds the same LM term to every path: no query
        free = seen[i + 1] == seen[lo]
        plan.free.append(free)
        if free:
            plan.combos.append([(0,) * (i + 1 - lo)])
            continue
        combos = list(itertools.product(*[range(sizes[j]) for j in range(lo, i + 1)]))
        plan.combos.append(combos)
        for combo in combos:
            h = tuple(v[0] for v in (both[lo + j][c] for j, c in enumerate(combo[:-1])) if v[0] != _GONE)
            x = both[i][combo[-1]]
            hists.append((BOS if lo == 0 else -1,) * (full - len(h)) + h)
            # the line's first letter (nothing before it but the line start) is asked in lower case
            chars.append(-1 if x[0] == _GONE else x[1] if lo == 0 and not h else x[0])
    return hists, chars


def _search(plan: _Plan, lp: np.ndarray, k: int, cfg: RescoreConfig) -> list[int]:
    """Exact best path (Viterbi over the last k choices): candidate index per position."""
    # touching runs (no blank frame between them) must not take one class: CTC would merge them
    a, b = plan.span
    touch = [i > 0 and plan.runs[max(plan.order[i], plan.order[i - 1])][0]
             == plan.runs[min(plan.order[i], plan.order[i - 1])][1] + 1 for i in range(a, b)]
    # the positions before the span have one candidate each: the search starts from that state
    dp: dict[tuple[int, ...], float] = {(0,) * min(a, k): 0.0}
    back: list[dict[tuple[int, ...], tuple[int, ...]]] = []
    row = 0
    for n, combos in enumerate(plan.combos):
        i = a + n
        cs = plan.cands[i]
        new: dict[tuple[int, ...], float] = {}
        ptr: dict[tuple[int, ...], tuple[int, ...]] = {}
        free = plan.free[n]
        for combo in combos:
            prev = combo[:-1]
            s = dp.get(prev)
            if free:
                score = 0.0
            else:
                score = lp[row]
                row += 1
            if s is None:
                continue
            c = cs[combo[-1]][0]
            if touch[n] and prev and c != BLANK and c == plan.cands[i - 1][prev[-1]][0]:
                continue
            state = combo[1:] if len(combo) > k else combo
            v = s + math.log(max(cs[combo[-1]][1], cfg.min_prob))
            if c != BLANK:
                v += cfg.search_weight * score + cfg.char_bonus
            if v > new.get(state, -math.inf):
                new[state] = v
                ptr[state] = prev
        if not new:  # every path broke the touching rule: keep the line as read
            return [0] * len(plan.cands)
        dp = new
        back.append(ptr)
    state = max(dp, key=dp.get)
    choice = [0] * len(plan.cands)
    for i in range(b - 1, a - 1, -1):
        choice[i] = state[-1]
        state = back[i - a][state]
    return choice


Choice = tuple[_Plan, list[int]]   # a searched line and the candidate index chosen at each position


def _apply(reading: LineReading, chosen: Sequence[Choice], charset: Charset) -> LineReading:
    """``reading`` with the chosen candidates of one or more searches over it. The plans share the
    reading's frames (the same ``allowed``) and never change the same run."""
    chosen = [(p, c) for p, c in chosen if any(c)]
    if not chosen:
        return reading
    ai, ap = reading.alt_ids, reading.alt_probs
    ids = chosen[0][0].top.copy()
    probs = chosen[0][0].top_p.astype(np.float32)     # a run kept as read keeps its frames' probabilities
    for plan, choice in chosen:
        for pos, ci in enumerate(choice):
            if not ci:
                continue
            f0, f1 = plan.runs[plan.order[pos]]
            c = plan.cands[pos][ci][0]
            ids[f0:f1 + 1] = c
            if c == BLANK:
                probs[f0:f1 + 1] = plan.cands[pos][ci][1]
                continue
            seg = ai[f0:f1 + 1] == c
            probs[f0:f1 + 1] = np.where(seg.any(1), np.where(seg, ap[f0:f1 + 1], 0.0).max(1), 0.0)
    return _reading(charset, ids, probs, len(ids), reading.direction, ai, ap)


def rescore(reading: LineReading, lm: CharLM, charset: Charset, cfg: RescoreConfig = RescoreConfig(),
            allowed: np.ndarray | None = None) -> LineReading:
    """``reading`` decoded again with ``lm`` over its alternatives; unchanged when the graph exported no
    alternatives or no character is in doubt. ``allowed`` (bool per class) limits the candidates, as
    :func:`polyocr.pipeline.recognize.redecode` does."""
    got = _choose([reading], lm, charset, cfg, [allowed])[0]
    return _apply(reading, [got] if got else [], charset)


def _choose(readings: Sequence[LineReading], lm: CharLM, charset: Charset, cfg: RescoreConfig,
            allowed: Sequence[np.ndarray | None], native: frozenset[str] | None = None,
            within: frozenset[str] | None = None) -> list[Choice | None]:
    """Lines of one language searched with ``lm``: all their queries go to the model in one call."""
    plans = [_plan(r, cfg, a, charset, native, within) for r, a in zip(readings, allowed)]
    hists: list[tuple[int, ...]] = []
    chars: list[int] = []
    lm_ids: dict[int, tuple[int, int]] = {}
    for p in plans:
        if p is not None:
            p.start = len(chars)
            h, c = _queries(p, lm, charset, lm_ids, cfg.max_window)
            hists += h
            chars += c
    if not chars:
        return [None] * len(readings)
    k = lm.order - 1
    lp = lm.logprob(np.array(hists, np.int64).reshape(len(chars), k), np.array(chars, np.int64))
    out: list[Choice | None] = []
    for p in plans:
        if p is None:
            out.append(None)
            continue
        n = sum(len(c) for c, free in zip(p.combos, p.free) if not free)
        out.append((p, _search(p, lp[p.start:p.start + n], p.k, cfg)))
    return out


def rescore_page(readings: Sequence[LineReading], langs: Sequence[str], lms: LMSet, charset: Charset,
                 cfg: RescoreConfig = RescoreConfig(),
                 allowed: Sequence[np.ndarray | None] | None = None) -> list[LineReading]:
    """Every line rescored with its language's model (lines in a language without one stay as read).

    The Latin words of a line whose model does not spell Latin ("Deblan" on a Russian line) are
    judged by ``cfg.latin_model``'s model in the same pass: the line's own model leaves them as read,
    and a Latin word in Russian, Korean, Arabic or Hebrew text is mostly a name or a term that English
    text writes too. Each word is searched by one model, so the two choices never touch the same run."""
    masks = list(allowed) if allowed is not None else [None] * len(readings)
    chosen: list[list[Choice]] = [[] for _ in readings]
    latin = lms.get(cfg.latin_model) if cfg.latin_model else None
    for lang in sorted(set(langs)):
        lm = lms.get(lang)
        if lm is None:
            continue
        idx = [i for i, l in enumerate(langs) if l == lang]
        native = native_scripts(lang)
        passes = [(lm, cfg.for_language(lang), native, None)]
        if latin is not None and "latin" not in native:
            passes.append((latin, replace(cfg.for_language(cfg.latin_model), deletions=False), None,
                           frozenset({"latin"})))
        for model, c, nat, within in passes:
            for i, got in zip(idx, _choose([readings[i] for i in idx], model, charset, c,
                                           [masks[i] for i in idx], nat, within)):
                if got is not None:
                    chosen[i].append(got)
    return [_apply(r, c, charset) for r, c in zip(readings, chosen)]


def line_score(reading: LineReading, lm: CharLM | None, cfg: RescoreConfig = RescoreConfig()) -> float:
    """What the search maximises, per character of the line: (Σ log P_ocr + weight · log P_lm(text) +
    bonus · characters) / characters. It compares readings of one line made at different widths; the
    model's term is what settles it (choosing by the recogniser's confidence alone read Korean
    held-out lines worse than one width did, session 17)."""
    text = reading.line.text
    conf = np.maximum(np.asarray(reading.line.char_confidences, np.float64), cfg.min_prob)
    if not text or not len(conf):
        return -math.inf
    score = float(np.log(conf).sum()) + cfg.char_bonus * len(conf)
    if lm is not None and cfg.search_weight > 0:
        ids = lm.encode("".join(LM_FOLD.get(c, c) for c in text))
        k = lm.order - 1
        padded = [BOS] * k + ids
        hist = np.array([padded[i:i + k] for i in range(len(ids))], np.int64).reshape(len(ids), k)
        score += cfg.search_weight * float(lm.logprob(hist, np.array(ids, np.int64)).sum())
    return score / len(text)
