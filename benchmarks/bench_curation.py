"""Data curation at equal budget (issue 3): does filtering or loss-reweighting the synthetic lines help?

    .venv/bin/python benchmarks/bench_curation.py --scores SCORES.jsonl --arm none=RUN --arm filter=RUN \\
        --arm loss=RUN [--cache HELDOUT] [--threads 1]

Each arm is a `polyocr train rec` run with the same start weights, seed, steps and shards, differing
only in ``curation`` (see polyocr.train.curate). The table gives held-out NED per language for each
arm's final checkpoint, and the mean difference to the first arm with a 95 % paired bootstrap
interval over lines (negative = better than the first arm). The scores' summary says what each policy
did to the data: the share of lines dropped, and how much of the sampling mass moved to hard lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scores", required=True, help="the line scores the arms were curated with")
    ap.add_argument("--arm", action="append", required=True, metavar="NAME=RUN", help="first one is the reference")
    ap.add_argument("--cache", default="", help="held-out line cache (default: the first run's eval_cache)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    from polyocr.charset import Charset
    from polyocr.models.recognizer import load_safetensors
    from polyocr.train.curate import curation_weights, load_scores
    from polyocr.train.data import heldout_set
    from polyocr.train.loop import line_ned, read_samples

    torch.set_num_threads(args.threads)
    arms = {kv.split("=", 1)[0]: Path(kv.split("=", 1)[1]) for kv in args.arm}
    cfgs = {name: json.loads((run / "config.json").read_text()) for name, run in arms.items()}
    first = next(iter(cfgs.values()))
    for name, cfg in cfgs.items():
        same = {k: cfg[k] for k in ("init", "steps", "seed", "shards", "lr") if cfg[k] != first[k]}
        if same:
            print(f"arm {name} differs from the reference in more than curation: {same}", file=sys.stderr)
            return 2

    scores = load_scores(args.scores)
    loss = np.asarray([s.loss for s in scores])
    print(f"Scores: {len(scores)} lines, median loss/char {np.median(loss):.3f}, "
          f"mean NED under the scoring model {np.mean([s.ned for s in scores]):.3f}")
    for name, cfg in cfgs.items():
        w = curation_weights(scores, cfg["curation"], cfg["curation_drop"], cfg["curation_power"], cfg["curation_clip"])
        if not w:
            continue
        v = np.asarray([w[s.key] for s in scores])
        hard = loss > np.quantile(loss, 0.9)
        print(f"  {name:<8} ({cfg['curation']}): drops {np.mean(v == 0):.1%} of lines; the hardest 10 % get "
              f"{v[hard].sum() / v.sum():.1%} of the sampling mass")

    charset = Charset.load()
    cache = Path(args.cache or first["eval_cache"])
    sets = heldout_set(cache, first["languages"], first["eval_per_language"], first["eval_seed"])
    langs = list(sets)
    samples = [s for l in langs for s in sets[l]]
    lang_of = np.asarray([l for l in langs for _ in sets[l]])
    neds: dict[str, np.ndarray] = {}
    for name, run in arms.items():
        ptr = (run / "checkpoints" / "latest").read_text().strip()
        model, _ = load_safetensors(str(run / "checkpoints" / ptr / "model.safetensors"), charset.sha256)
        reads = read_samples(model.eval(), samples, charset)
        neds[name] = np.asarray([line_ned(s.text, r.text) for s, r in zip(samples, reads)])

    ref = next(iter(neds))
    rng = np.random.default_rng(0)
    print(f"\nHeld-out NED after {first['steps']} steps from {Path(first['init']).name or 'scratch'} "
          f"({len(samples)} lines, {len(langs)} languages)")
    print(f"{'arm':<8} " + " ".join(f"{l:>7}" for l in langs) + f" {'mean':>7}  {'Δ vs ' + ref:>12} {'95% CI':>17}")
    results = {}
    for name, v in neds.items():
        per = [float(v[lang_of == l].mean()) for l in langs]
        d = v - neds[ref]
        boot = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(args.boot)]
        lo, hi = np.percentile(boot, [2.5, 97.5])
        results[name] = {"per_language": dict(zip(langs, per)), "mean": float(v.mean()), "delta": float(d.mean()),
                         "ci": [float(lo), float(hi)]}
        print(f"{name:<8} " + " ".join(f"{x:>7.3f}" for x in per) + f" {v.mean():>7.3f}  {d.mean():>+12.4f} "
              f"[{lo:+.4f}, {hi:+.4f}]")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
