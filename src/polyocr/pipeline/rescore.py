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

Right-to-left lines are decoded in display order; their characters are fed to the model in reverse,
which is logical order for the letters (digits and Latin runs inside such lines are scored reversed,
a small error the weight absorbs). Vertical lines read top to bottom already.
"""

from __future__ import annotations

import itertools
import math
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from polyocr.charset import BLANK, SPACE, Charset
from polyocr.models.charlm import BOS, CharLM, LMSet
from polyocr.pipeline.constrain import LANG_SCRIPTS
from polyocr.pipeline.homoglyph import TO_CYRILLIC, TO_LATIN
from polyocr.pipeline.language import script_of
from polyocr.pipeline.recognize import DEFAULT_WEIGHTS, LineReading, _reading, admitted_frames, infer_direction

__all__ = ["RescoreConfig", "rescore", "rescore_page", "language_models", "LM_FILE"]

LM_FILE = "charlm.safetensors"
_LOADED: dict[str, LMSet | None] = {}
# Letters the model is asked about as another: Russian prints ё or е for the same word as the text's
# editor chose, and corpora mostly write е, so the model's preference says nothing about the page. Folded,
# both readings get the same model terms and the recogniser's own evidence (the two dots) decides.
LM_FOLD = {"ё": "е", "Ё": "Е"}
_GONE = -2   # a deleted run in the query builder


def language_models(weights: str | os.PathLike[str] | None = None) -> LMSet | None:
    """The character models in a weights folder (default: the packaged one), loaded once per process;
    None when the folder has none (a custom folder may ship only a recogniser)."""
    folder = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    key = str(folder.resolve())
    if key not in _LOADED:
        path = folder / LM_FILE
        _LOADED[key] = LMSet(path) if path.is_file() else None
    return _LOADED[key]


@dataclass(frozen=True)
class RescoreConfig:
    """Weights chosen on a validation set (held-out fonts, seed 888), not on the benchmark lines."""

    weight: float = 0.3        # language-model weight against the recogniser's log probabilities
    char_bonus: float = 1.0    # added per emitted character: without it, dropping a character saves its LM cost
    deletions: bool = True     # a doubtful run may also be read as nothing (blank), removing an inserted character
    confident: float = 0.97    # a character whose best frame probability reaches this is kept as read
    alternatives: int = 3      # candidates per doubtful character (the read class and the next best)
    min_alt: float = 0.02      # an alternative below this probability cannot win at these weights
    min_prob: float = 1e-4     # floor for an alternative's probability inside the log
    max_window: int = 243      # most candidate combinations in one search window (3 ** 5): a line with
                               # many doubtful characters in a row is searched with a shorter history


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
    """Per class: a letter, a combining mark or the space. Only these may change or be chosen: the
    models learned prose, so on a bullet, a quotation mark, a digit or code punctuation they would only
    voice their corpus's habits ("•" → "*", "4.19" → "4,19", "‘" → '"'), not what is printed."""
    return _class_mask(charset, "wordlike", lambda ch: ch == " " or unicodedata.category(ch)[0] in "LM")


def _between_digits(reads: np.ndarray, charset: Charset) -> np.ndarray:
    """Per CTC run: a space with a digit right beside it on both sides ("4.4 5.1", "2 6.1"). It stays
    as read: the models know numbers only as prose spells them, and deleting such a space does not
    remove a stray character but joins two numbers, which on a right-to-left line also swaps them
    ("5.1 4.4" → "4.45.1"). A stray space between other marks ("- -") may still go."""
    digit = _class_mask(charset, "digit", lambda ch: unicodedata.category(ch) == "Nd")[reads]
    before = np.concatenate([[False], digit[:-1]])
    after = np.concatenate([digit[1:], [False]])
    return (reads == SPACE) & before & after


def native_scripts(lang: str) -> frozenset[str]:
    """The scripts a language's model learned to spell. Latin belongs to English, and to Chinese and
    Japanese, whose text writes Latin terms inline and whose models learned them (left out of those
    models, Latin words read worse on 11 of 19 realdev CJK pages they changed); not to Russian, Korean,
    Arabic or Hebrew (left out of those, 14 of 18 changed realdev pages read better, Russian all six)."""
    scripts = LANG_SCRIPTS.get(lang, frozenset())
    return scripts if lang in ("en", "ja", "zh-Hans", "zh-Hant") else scripts - {"latin"}


def _foreign_words(reads: np.ndarray, charset: Charset, native: frozenset[str]) -> np.ndarray:
    """Per CTC run: whether it belongs to a word whose distinctive letters are mostly in a script the
    model did not learn (a Latin word on a Russian line). The Russian model spelled "true" as "сгие",
    "makepen" as "пакереп" and "sparc" as "ѕрагс": it knows few Latin words, so it judges them by
    Cyrillic habits. Latin/Cyrillic look-alike twins (a, е, Т, ...) do not vote: "Sроtifу" is Latin
    by its t and f, and a word of twins only ("С." for an initial) stays the model's to judge."""
    chars = [charset.decode([c]) for c in reads.tolist()]
    scripts = [script_of(ch) if len(ch) == 1 else "" for ch in chars]
    out = np.zeros(len(scripts), bool)
    k = 0
    for is_word, group in itertools.groupby(zip(scripts, chars), key=lambda sc: bool(sc[0])):
        letters = list(group)
        if is_word:
            votes = [s in native for s, ch in letters if ch not in TO_CYRILLIC and ch not in TO_LATIN]
            out[k:k + len(letters)] = len(votes) - sum(votes) > sum(votes)
        k += len(letters)
    return out


def _plan(reading: LineReading, cfg: RescoreConfig, allowed: np.ndarray | None, charset: Charset,
          native: frozenset[str] | None = None) -> _Plan | None:
    """The line's doubtful characters and their alternatives, or None when nothing is in doubt.
    ``native``: the scripts the model spells; a word mostly in another script stays as read."""
    ai, ap = reading.alt_ids, reading.alt_probs
    if ai is None or ap is None or not len(ai) or cfg.weight <= 0:
        return None
    wordlike = _wordlike(charset)
    # the frames as the reading being rescored has them (greedy, or re-decoded under ``allowed``)
    top, top_p = admitted_frames(ai, ap, allowed)
    ok = (allowed[ai] if allowed is not None else np.ones(ai.shape, bool)) & (ai != BLANK)
    # CTC runs, vectorised: most lines have no doubtful letter and leave here
    nz = top != BLANK
    starts = np.flatnonzero(nz & (top != np.concatenate([[BLANK], top[:-1]])))
    if not len(starts):
        return None
    ends = np.flatnonzero(nz & (top != np.concatenate([top[1:], [BLANK]])))
    p_read = np.where(nz, np.where(ai == top[:, None], ap, 0.0).max(1), 0.0)
    run_p = np.maximum.reduceat(p_read, starts)
    reads = top[starts]
    doubtful = np.flatnonzero((run_p < cfg.confident) & wordlike[reads] & ~_between_digits(reads, charset))
    if len(doubtful) and native is not None:
        doubtful = doubtful[~_foreign_words(reads, charset, native)[doubtful]]
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
        others = sorted(((c, p) for c, p in best.items() if c != read and p >= cfg.min_alt and wordlike[c]),
                        key=lambda x: -x[1])
        if cfg.deletions:
            # the run read as nothing: blank in every one of its frames (the least of them, as a bound)
            blank = np.where(seg_ids == BLANK, seg_p, 0.0).max(1).min()
            if blank >= cfg.min_alt:
                others = sorted(others + [(BLANK, float(blank))], key=lambda x: -x[1])
        cands[r] = [(read, read_p)] + others[:cfg.alternatives - 1]
        doubt = doubt or len(others) > 0
    if not doubt:
        return None
    direction = reading.direction or infer_direction(reading.visual)
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
                v += cfg.weight * score + cfg.char_bonus
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


def _apply(plan: _Plan, choice: list[int], charset: Charset) -> LineReading:
    r = plan.reading
    if not any(choice):
        return r
    ai, ap = r.alt_ids, r.alt_probs
    ids = plan.top.copy()
    probs = np.where(ids == BLANK, plan.top_p, 0.0).astype(np.float32)
    for pos, ci in enumerate(choice):
        f0, f1 = plan.runs[plan.order[pos]]
        c = plan.cands[pos][ci][0]
        ids[f0:f1 + 1] = c
        if c == BLANK:
            probs[f0:f1 + 1] = plan.cands[pos][ci][1]
            continue
        seg = ai[f0:f1 + 1] == c
        probs[f0:f1 + 1] = np.where(seg.any(1), np.where(seg, ap[f0:f1 + 1], 0.0).max(1), 0.0)
    return _reading(charset, ids, probs, len(ids), r.direction, ai, ap)


def rescore(reading: LineReading, lm: CharLM, charset: Charset, cfg: RescoreConfig = RescoreConfig(),
            allowed: np.ndarray | None = None) -> LineReading:
    """``reading`` decoded again with ``lm`` over its alternatives; unchanged when the graph exported no
    alternatives or no character is in doubt. ``allowed`` (bool per class) limits the candidates, as
    :func:`polyocr.pipeline.recognize.redecode` does."""
    return _rescore_lines([reading], lm, charset, cfg, [allowed])[0]


def _rescore_lines(readings: Sequence[LineReading], lm: CharLM, charset: Charset, cfg: RescoreConfig,
                   allowed: Sequence[np.ndarray | None], native: frozenset[str] | None = None) -> list[LineReading]:
    """Lines of one language: all their queries go to the model in one call."""
    plans = [_plan(r, cfg, a, charset, native) for r, a in zip(readings, allowed)]
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
        return list(readings)
    k = lm.order - 1
    lp = lm.logprob(np.array(hists, np.int64).reshape(len(chars), k), np.array(chars, np.int64))
    out = []
    for r, p in zip(readings, plans):
        if p is None:
            out.append(r)
            continue
        n = sum(len(c) for c, free in zip(p.combos, p.free) if not free)
        out.append(_apply(p, _search(p, lp[p.start:p.start + n], p.k, cfg), charset))
    return out


def rescore_page(readings: Sequence[LineReading], langs: Sequence[str], lms: LMSet, charset: Charset,
                 cfg: RescoreConfig = RescoreConfig(),
                 allowed: Sequence[np.ndarray | None] | None = None) -> list[LineReading]:
    """Every line rescored with its language's model (lines in a language without one stay as read)."""
    out = list(readings)
    masks = list(allowed) if allowed is not None else [None] * len(readings)
    for lang in sorted(set(langs)):
        lm = lms.get(lang)
        if lm is None:
            continue
        idx = [i for i, l in enumerate(langs) if l == lang]
        for i, r in zip(idx, _rescore_lines([readings[i] for i in idx], lm, charset, cfg, [masks[i] for i in idx],
                                            native_scripts(lang))):
            out[i] = r
    return out
