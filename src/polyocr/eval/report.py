"""Tables and JSON from engine runs: one row per language, NED columns per engine, speed last.

Means are over pages within a language, then over languages (macro), as realdev's score.py does.
A language an engine has no model for is "n/a", never a zero or a one: it is left out of that
engine's mean, and the mean cell says over how many languages it was taken when that is fewer.
"""

from __future__ import annotations

import json
import math
from typing import Mapping, Sequence

from polyocr.eval.metrics import TextScore
from polyocr.eval.run import EngineRun, PageResult
from polyocr.languages import LANGUAGES

__all__ = ["METRICS", "summarize", "format_table", "to_json", "load_runs"]

METRICS = ("ned_nows", "ned_ws", "cer_nows", "cer_ws")


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def _languages(runs: Sequence[EngineRun]) -> list[str]:
    seen = {r.language for run in runs for r in run.results}
    return [c for c in LANGUAGES if c in seen] + sorted(seen - set(LANGUAGES))


def summarize(runs: Sequence[EngineRun]) -> dict:
    """{"languages": {lang: {engine: stats | None}}, "mean": {engine: stats | None}, "engines": {...}}."""
    langs = _languages(runs)
    per_lang: dict[str, dict[str, dict | None]] = {}
    for lang in langs:
        per_lang[lang] = {}
        for run in runs:
            rs = [r for r in run.results if r.language == lang and r.score is not None]
            if not rs:
                per_lang[lang][run.name] = None
                continue
            stats = {m: _mean([getattr(r.score, m) for r in rs]) for m in METRICS}
            stats.update(pages=len(rs), s_per_page=_mean([r.seconds for r in rs]),
                         errors=sum(bool(r.error) for r in rs))
            per_lang[lang][run.name] = stats
    mean: dict[str, dict | None] = {}
    for run in runs:
        cells = [per_lang[lang][run.name] for lang in langs if per_lang[lang][run.name] is not None]
        mean[run.name] = ({m: _mean([c[m] for c in cells]) for m in METRICS} | {"languages": len(cells)}
                          if cells else None)
    return {"languages": per_lang, "mean": mean, "engines": {run.name: run.summary() for run in runs},
            "language_order": langs}


def format_table(runs: Sequence[EngineRun], reference: Mapping[str, str] | None = None,
                 reference_name: str = "reference") -> str:
    """Markdown table: languages (+ mean) × engines, NED without / with whitespace; pages/s last.

    ``reference`` adds one column of cells per language (e.g. another system's published NED).
    """
    s = summarize(runs)
    langs, names = s["language_order"], [run.name for run in runs]
    head = ["lang", "pages"]
    for n in names:
        head += [f"{n} NED", f"{n} NED ws"]
    if reference is not None:
        head.append(reference_name)
    rows = [head, ["---"] * len(head)]

    def ned_cells(stats: dict | None, note: str = "") -> list[str]:
        if stats is None:
            return ["n/a", "n/a"]
        return [f"{stats['ned_nows']:.3f}{note}", f"{stats['ned_ws']:.3f}{note}"]

    for lang in langs:
        npages = sum(1 for r in runs[0].results if r.language == lang)
        row = [lang, str(npages)]
        for n in names:
            row += ned_cells(s["languages"][lang][n])
        if reference is not None:
            row.append(reference.get(lang, ""))
        rows.append(row)
    row = ["**mean**", str(len(runs[0].results) if runs else 0)]
    partial = False
    for n in names:
        m = s["mean"][n]
        note = ""
        if m is not None and m["languages"] < len(langs):
            note, partial = f" ({m['languages']})", True
        row += ned_cells(m, note)
    if reference is not None:
        row.append("")
    rows.append(row)
    speed = ["pages/s", ""]
    for run in runs:
        speed += [f"{run.pages_per_s:.3f}" if run.pages else "n/a", f"×{run.workers}" if run.workers > 1 else ""]
    if reference is not None:
        speed.append("")
    rows.append(speed)
    out = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    notes = ["NED = edit distance / max length, after NFKC (score.py rules); 'NED' removes all whitespace, "
             "'NED ws' collapses it; mean = mean over languages."]
    if partial:
        notes.append("(k) = mean over the k languages that engine has a model for; n/a = no model, not run.")
    if any(run.workers > 1 for run in runs):
        notes.append("×N = pages read N at a time (one single-threaded process per core).")
    others = [f"{run.name} {run.other_cores:.2f}" for run in runs if run.pages]
    if others:
        notes.append("cores used by other processes during each run: " + ", ".join(others))
    return out + "\n\n" + "\n".join(notes)


def to_json(runs: Sequence[EngineRun], extra: Mapping | None = None) -> str:
    """Summary plus every page's scores and timing, for tools and for later inspection."""
    payload = summarize(runs)
    payload["pages"] = [r.as_dict() for run in runs for r in run.results]
    if extra:
        payload.update(extra)
    return json.dumps(_finite(payload), ensure_ascii=False, indent=1)


def _finite(x):
    """JSON has no NaN: empty means become null."""
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 5)
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def load_runs(text: str) -> list[EngineRun]:
    """Engine runs back from :func:`to_json` output, e.g. to put runs made at different times in one table."""
    data = json.loads(text)
    runs = []
    for name, e in data["engines"].items():
        run = EngineRun(name, e["version"], pages=e["pages"], wall_s=e["wall_s"], own_cpu_s=e["own_cpu_s"],
                        other_cores=e["other_cores"], workers=e["workers"])
        for p in data["pages"]:
            if p["engine"] != name:
                continue
            score = None if p.get("na") else TextScore(**{k: p[k] for k in TextScore.__dataclass_fields__})
            run.results.append(PageResult(p["id"], p["lang"], name, p["seconds"], score, p.get("error", "")))
        runs.append(run)
    return runs
