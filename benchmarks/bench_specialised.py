"""Unified vs specialised recognisers at the same per-language budget (issue 3), and the cost of
reading a line whose language is unknown.

    .venv/bin/python benchmarks/bench_specialised.py --unified RUN --step 3000 \\
        --specialised ja=RUN --specialised ko=RUN ... --data /work/data/lines-v1 [--threads 1]

Budget: the lines of language ``l`` a run has seen by step ``s`` are ``s × batch × share_l``, where
``share_l`` follows from the dataset's lines per language and the run's language weights (a shard line
of language ``l`` is kept with probability ``w_l / max w``). A specialised run of ``l`` gets as many
``l`` lines as the unified run had at ``--step``; its other lines are 15 % English by weight.

Table 1 compares held-out NED/CER (the training runs' own evaluations: same held-out lines, same
scorer) per language; "gain" is the unified model's relative improvement, (spec − unified) / spec.
Table 2 gives both learning curves against lines of the language seen. Table 3 reads the held-out
lines of all the specialised languages with no language given: one unified pass, the right
specialist (an oracle language identifier: a lower bound on that route's cost), or every specialist
with the most confident reading kept; time per line is measured on the same torch graph (bf16, as
in training evaluation), so the ratio is the number of passes each route needs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def _evals(run: Path) -> dict[int, dict]:
    from polyocr.fileio import run_log

    entries, _, _ = run_log(run / "log.jsonl")
    return {int(r["step"]): r for r in entries if r.get("event") == "eval"}


def _share(cfg: dict, lines_by_language: dict[str, int]) -> dict[str, float]:
    w = cfg["language_weights"] or [1.0] * len(cfg["languages"])
    mass = {l: lines_by_language.get(l, 0) * x for l, x in zip(cfg["languages"], w)}
    total = sum(mass.values())
    return {l: m / total for l, m in mass.items()}


def _final_checkpoint(run: Path) -> Path:
    ptr = run / "checkpoints" / "latest"
    return run / "checkpoints" / ptr.read_text().strip() / "model.safetensors"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unified", required=True, help="the unified training run (its log.jsonl has the evaluations)")
    ap.add_argument("--step", type=int, required=True, help="the unified run's step the budgets were matched to")
    ap.add_argument("--specialised", action="append", required=True, metavar="LANG=RUN")
    ap.add_argument("--data", required=True, help="the line dataset both trained on (its dataset.json)")
    ap.add_argument("--cache", default="", help="held-out line cache (default: the unified run's heldout/)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    from polyocr.charset import Charset
    from polyocr.models.recognizer import load_safetensors
    from polyocr.train.data import heldout_set
    from polyocr.train.loop import line_ned, read_samples

    torch.set_num_threads(args.threads)
    unified = Path(args.unified)
    spec = {kv.split("=", 1)[0]: Path(kv.split("=", 1)[1]) for kv in args.specialised}
    counts = json.loads((Path(args.data) / "dataset.json").read_text())["totals"]["lines_by_language"]
    ucfg = json.loads((unified / "config.json").read_text())
    uevals = _evals(unified)
    if args.step not in uevals:
        print(f"{unified} has no evaluation at step {args.step} (has {sorted(uevals)})", file=sys.stderr)
        return 2
    ushare = _share(ucfg, counts)
    results: dict[str, dict] = {}

    print(f"Table 1: held-out lines at the same per-language budget (unified {unified.name} step {args.step})")
    print(f"{'lang':<6} {'lines':>7} {'uni NED':>8} {'uni CER':>8} {'spec lines':>10} {'spec NED':>9} {'spec CER':>9} {'gain':>7}")
    for lang, run in spec.items():
        scfg = json.loads((run / "config.json").read_text())
        sevals = _evals(run)
        last = max(sevals)
        u, s = uevals[args.step][lang], sevals[last][lang]
        ulines = args.step * ucfg["batch_size"] * ushare[lang]
        slines = last * scfg["batch_size"] * _share(scfg, counts)[lang]
        gain = (s["ned"] - u["ned"]) / s["ned"] if s["ned"] else 0.0
        results[lang] = {"unified": {"lines": ulines, **u}, "specialised": {"lines": slines, "step": last, **s},
                         "gain": gain}
        print(f"{lang:<6} {ulines:>7.0f} {u['ned']:>8.3f} {u['cer']:>8.3f} {slines:>10.0f} {s['ned']:>9.3f} "
              f"{s['cer']:>9.3f} {gain:>+7.0%}")

    print("\nTable 2: NED against lines of the language seen (unified | specialised)")
    for lang, run in spec.items():
        scfg = json.loads((run / "config.json").read_text())
        ss = _share(scfg, counts)[lang] * scfg["batch_size"]
        us = ushare[lang] * ucfg["batch_size"]
        ucurve = "  ".join(f"{st * us / 1000:.1f}K:{r[lang]['ned']:.3f}" for st, r in sorted(uevals.items())
                           if lang in r)
        scurve = "  ".join(f"{st * ss / 1000:.1f}K:{r[lang]['ned']:.3f}" for st, r in sorted(_evals(run).items()))
        print(f"{lang:<6} {ucurve} | {scurve}")

    # Table 3: a line of unknown language.
    charset = Charset.load()
    cache = Path(args.cache) if args.cache else unified / "heldout"
    sets = heldout_set(cache, list(spec), ucfg["eval_per_language"], ucfg["eval_seed"])
    samples = [s for lang in spec for s in sets[lang]]
    truth_lang = [lang for lang in spec for _ in sets[lang]]
    models = {lang: load_safetensors(str(_final_checkpoint(run)), charset.sha256)[0].eval() for lang, run in spec.items()}
    no_dir = [None] * len(samples)   # the language, so the direction, is unknown: inferred from the reading
    readings, seconds = {}, {}
    for lang, model in models.items():
        read_samples(model, samples[:32], charset, no_dir[:32])        # warm-up
        t0 = time.perf_counter()
        readings[lang] = read_samples(model, samples, charset, no_dir)
        seconds[lang] = time.perf_counter() - t0
    per_pass = float(np.mean(list(seconds.values()))) / len(samples)
    oracle = [readings[l][i].text for i, l in enumerate(truth_lang)]
    best = [max((readings[l][i] for l in models), key=lambda r: r.confidence).text for i in range(len(samples))]
    picked_right = float(np.mean([max(models, key=lambda l: readings[l][i].confidence) == truth_lang[i]
                                  for i in range(len(samples))]))
    size = sum(_final_checkpoint(run).stat().st_size for run in spec.values())
    uned = float(np.mean([uevals[args.step][l]["ned"] for l in spec]))
    route = {
        "unified": (uned, per_pass, size / len(spec)),
        "oracle language id + specialist": (float(np.mean([line_ned(s.text, o) for s, o in zip(samples, oracle)])),
                                            per_pass, size),
        "all specialists, most confident": (float(np.mean([line_ned(s.text, b) for s, b in zip(samples, best)])),
                                            per_pass * len(models), size),
    }
    print(f"\nTable 3: {len(samples)} held-out lines of {', '.join(spec)}, language not given "
          f"({args.threads} torch thread{'s' if args.threads > 1 else ''})")
    print(f"{'route':<34} {'NED':>6} {'ms/line':>8} {'passes':>7} {'weights MB':>11}")
    for name, (n, t, b) in route.items():
        print(f"{name:<34} {n:>6.3f} {t * 1000:>8.2f} {t / per_pass:>7.0f} {b / 1e6:>11.1f}")
    print(f"(unified NED: its step-{args.step} evaluation, mean over these languages; the most-confident "
          f"route picked the right specialist for {picked_right:.0%} of lines)")
    if args.json:
        Path(args.json).write_text(json.dumps({"languages": results, "routes": route,
                                               "picked_right": picked_right}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
