"""The ``polyocr`` command line: thin subcommands over the package's modules.

Errors a user can cause (bad paths, bad options, missing fonts) print one line and exit 2;
nothing the user does should show a traceback (``--debug`` shows it for developers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from polyocr import __version__
from polyocr.languages import LANGUAGES

__all__ = ["main"]


class UsageError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


def _langs(value: str) -> tuple[str, ...]:
    codes = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [c for c in codes if c not in LANGUAGES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown language(s) {', '.join(bad)}; known: {', '.join(LANGUAGES)}")
    return codes


def _weights(value: str) -> tuple[float, ...]:
    try:
        w = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {value!r}") from None
    if any(x < 0 for x in w) or not any(w):
        raise argparse.ArgumentTypeError("weights must be non-negative and not all zero")
    return w


def _layouts(value: str) -> tuple[str, ...]:
    from polyocr.synth.layouts import LAYOUTS

    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in LAYOUTS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown layout(s) {', '.join(bad)}; known: {', '.join(LAYOUTS)}")
    return names


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return n


def _synth_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="run seed; sample i depends only on (seed, i)")
    p.add_argument("--langs", type=_langs, default=tuple(LANGUAGES), help="comma-separated language codes")
    p.add_argument("--lang-weights", type=_weights, default=(), help="comma-separated sampling weights, one per --langs")
    p.add_argument("--layouts", type=_layouts, default=(), help="comma-separated layouts (default: all)")
    p.add_argument("--split", choices=("train", "heldout"), default="train", help="font and corpus split")
    p.add_argument("--degrade", choices=("clean", "scan", "photo", "mixed"), default="mixed")
    p.add_argument("--shared", default=None, help="shared data folder (default: $POLYOCR_SHARED or ../shared); '' for none")
    p.add_argument("--font-dir", action="append", default=[], help="extra font folder (repeatable)")
    p.add_argument("--dpi", type=_positive, default=200)


def _config(args: argparse.Namespace):
    from polyocr.synth.page import SynthConfig

    for d in args.font_dir:
        if not Path(d).is_dir():
            raise UsageError(f"--font-dir {d}: not a folder")
    scale = args.dpi / 200
    if args.lang_weights and len(args.lang_weights) != len(args.langs):
        raise UsageError(f"--lang-weights has {len(args.lang_weights)} values for {len(args.langs)} languages")
    if args.shared:
        from polyocr.languages import shared_dir
        shared_dir(args.shared)  # fail now, not in every worker
    return SynthConfig(seed=args.seed, languages=args.langs, language_weights=args.lang_weights, layouts=args.layouts, split=args.split,
                       degrade=args.degrade, shared=args.shared, font_dirs=tuple(args.font_dir), dpi=args.dpi,
                       width=int(round(1654 * scale)), height=int(round(2339 * scale)),
                       image_format=getattr(args, "image_format", "jpg"),
                       line_height_px=getattr(args, "line_height", 0) or 0,
                       pixel_tofu=getattr(args, "pixel_tofu", False))


def cmd_synth_generate(args: argparse.Namespace) -> int:
    from functools import partial

    from polyocr.languages import charset
    from polyocr.synth.producers import KINDS
    from polyocr.synth.runner import RunConfig, run

    cfg = _config(args)
    out = Path(args.out)
    run_cfg = RunConfig(out=out, count=args.count, samples_per_shard=args.shard_size, workers=args.workers,
                        backend=args.backend, resume=args.resume, format=args.format, progress=not args.quiet,
                        start=args.start)
    if args.start % args.shard_size:
        raise UsageError(f"--start must be a multiple of --shard-size ({args.shard_size})")
    # The card records the command without the options that do not change the data.
    command = [a for a in sys.argv[1:] if a != "--resume"]
    info = {"kind": args.kind, "seed": cfg.seed, "command": " ".join(["polyocr", *command]), "config": dict(cfg.__dict__)}
    # Text in every language carries Latin, digits and ASCII punctuation: they belong to its charset.
    summary = run(partial(KINDS[args.kind], cfg), run_cfg, card_info=info,
                  charset={c: set(charset(c)) | set(charset("en")) for c in cfg.languages})
    print(summary.describe())
    return summary.exit_code


def cmd_synth_check(args: argparse.Namespace) -> int:
    from polyocr.synth.report import label_quality

    cfg = replace(_config(args), check=False)
    table, failures = label_quality(cfg, pages_per_language=args.pages, progress=not args.quiet,
                                    lines_per_language=args.lines)
    print(table)
    return 1 if failures else 0


def cmd_synth_preview(args: argparse.Namespace) -> int:
    from polyocr.synth.report import preview_sheets

    cfg = _config(args)
    paths = preview_sheets(cfg, Path(args.out), per_sheet=args.per_sheet, by=args.by)
    for p in paths:
        print(p)
    return 0


def cmd_train_rec(args: argparse.Namespace) -> int:
    from polyocr.train.loop import train
    from polyocr.train.recipes import apply_overrides, get_recipe

    cfg = get_recipe(args.recipe)
    shards = tuple(d for item in args.data for d in item.split(",") if d)
    real = tuple(d for item in args.real for d in item.split(",") if d)
    for d in (*shards, *real):
        if not Path(d).exists():
            raise UsageError(f"data folder {d} not found")
    sets = list(args.set)
    if shards:
        sets.append(f"shards={','.join(shards)}")
        if args.synth_ratio is None:
            sets.append("synth_ratio=0")
    if real:
        sets.append(f"real={','.join(real)}")
        sets.append(f"real_ratio={args.real_ratio}")
    if args.synth_ratio is not None:
        sets.append(f"synth_ratio={args.synth_ratio}")
    for flag, key in (("steps", "steps"), ("batch_size", "batch_size"), ("threads", "threads"), ("workers", "workers"),
                      ("seed", "seed"), ("lr", "lr"), ("eval_every", "eval_every"), ("ckpt_minutes", "ckpt_minutes"),
                      ("ckpt_every", "ckpt_every"), ("log_every", "log_every"), ("init", "init"), ("eval_cache", "eval_cache")):
        value = getattr(args, flag)
        if value is not None:
            sets.append(f"{key}={value}")
    if args.langs:
        sets.append(f"languages={','.join(args.langs)}")
        if not any(s.startswith("language_weights=") for s in sets):
            sets.append("language_weights=")
    try:
        cfg = apply_overrides(cfg, sets)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out)
    if not args.resume and (out / "checkpoints" / "latest").exists():
        raise UsageError(f"{out} already holds a run; add --resume to continue it or choose another --out")
    result = train(cfg, out, resume=args.resume, echo=None if args.quiet else print)
    print(json.dumps({"step": result["step"], **({"eval": result["metrics"].get("mean")} if result["metrics"] else {})}))
    return 0


def cmd_export_rec(args: argparse.Namespace) -> int:
    from polyocr.train.export import export

    meta = export(args.ckpt, args.out, quantize=args.quantize, weights_dtype=args.weights_dtype)
    size = meta["onnx"]["bytes"] + meta["safetensors"]["bytes"]
    print(f"wrote {args.out}: model.onnx ({meta['onnx']['bytes'] / 1e6:.1f} MB, {meta['onnx']['quantization']}), "
          f"model.safetensors ({meta['safetensors']['bytes'] / 1e6:.1f} MB), model.json; {size / 1e6:.1f} MB in all; "
          f"parity {json.dumps(meta['parity'])}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="polyocr", description="Multilingual OCR trained on synthetic documents.")
    parser.add_argument("--version", action="version", version=f"polyocr {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="generate synthetic documents").add_subparsers(dest="synth_command", required=True)
    for kind, helptext in (("pages", "full pages: image + JSON page model"), ("lines", "line crops: image + text")):
        p = synth.add_parser(kind, help=helptext)
        _synth_common(p)
        p.add_argument("--out", required=True, help="output dataset folder")
        p.add_argument("--count", type=_positive, required=True, help="number of sample indices to generate")
        p.add_argument("--start", type=int, default=0, help="first sample index (to extend a dataset)")
        p.add_argument("--workers", type=_positive, default=os.cpu_count() or 1)
        p.add_argument("--backend", choices=("local", "ray"), default="local")
        p.add_argument("--shard-size", type=_positive, default=256 if kind == "pages" else 4096)
        p.add_argument("--format", choices=("tar", "folder"), default="tar")
        p.add_argument("--image-format", choices=("jpg", "png"), default="jpg")
        p.add_argument("--resume", action="store_true", help="continue a killed run (skips finished shards)")
        p.add_argument("--quiet", action="store_true")
        if kind == "pages":
            p.add_argument("--pixel-tofu", action="store_true",
                           help="also render each new (font, character) to look for tofu (slower)")
        if kind == "lines":
            p.add_argument("--line-height", type=int, default=0, help="rescale crops to this height in px (0 = keep)")
        p.set_defaults(func=cmd_synth_generate, kind=kind)

    p = synth.add_parser("check", help="label-quality report over generated pages")
    _synth_common(p)
    p.add_argument("--pages", type=_positive, default=200, help="pages per language")
    p.add_argument("--lines", type=int, default=500, help="line crops per language checked for tofu")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_synth_check)

    p = synth.add_parser("preview", help="contact sheets with polygons and reading order drawn")
    _synth_common(p)
    p.add_argument("--out", required=True, help="folder for the PNG sheets")
    p.add_argument("--per-sheet", type=_positive, default=8)
    p.add_argument("--by", choices=("language", "layout"), default="language")
    p.set_defaults(func=cmd_synth_preview)

    train = sub.add_parser("train", help="train models").add_subparsers(dest="train_command", required=True)
    p = train.add_parser("rec", help="the line recogniser (see polyocr.train.recipes for every setting)")
    p.add_argument("--recipe", default="unified", help="named recipe: unified, ja, ko, ru, ar")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, checkpoints/, heldout/")
    p.add_argument("--data", action="append", default=[], help="line shards (`polyocr synth lines` folders or .tar), comma-separated or repeated; without --synth-ratio only these are used")
    p.add_argument("--synth-ratio", type=float, default=None, help="share of lines rendered on the fly (default 1 without --data, 0 with it)")
    p.add_argument("--real", action="append", default=[], help="folders of real annotated lines (images + .txt/.gt.txt, PAGE-XML, ALTO)")
    p.add_argument("--real-ratio", type=float, default=0.2, help="share of real lines when --real is given")
    p.add_argument("--langs", type=_langs, default=None, help="comma-separated languages (default: the recipe's)")
    p.add_argument("--steps", type=_positive, default=None)
    p.add_argument("--batch-size", type=_positive, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--threads", type=_positive, default=None, help="torch threads (default 2; 1 when the other core renders)")
    p.add_argument("--workers", type=int, default=None, help="data worker processes (0 or 1)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=None, help="steps between held-out evaluations (0 = never)")
    p.add_argument("--eval-cache", default=None, help="folder for the cached held-out sets (default OUT/heldout)")
    p.add_argument("--log-every", type=_positive, default=None)
    p.add_argument("--ckpt-minutes", type=float, default=None)
    p.add_argument("--ckpt-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--init", default=None, help="start from these weights (a model.safetensors)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any TrainConfig field, e.g. model.d_model=256")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train_rec)

    export = sub.add_parser("export", help="export trained models").add_subparsers(dest="export_command", required=True)
    p = export.add_parser("rec", help="recogniser checkpoint → ONNX + safetensors + model.json")
    p.add_argument("--ckpt", required=True, help="run folder (its latest checkpoint) or a checkpoint folder")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "weights"), help="output folder (default: the package weights)")
    p.add_argument("--quantize", choices=("int8", "none"), default="int8", help="int8: dynamic int8 MatMul/Gemm weights (smaller, faster)")
    p.add_argument("--weights-dtype", choices=("float16", "bfloat16", "float32"), default="float16")
    p.set_defaults(func=cmd_export_rec)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        print("polyocr: interrupted; finished shards are kept (rerun with --resume)", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    except (UsageError, OSError, ValueError, RuntimeError) as exc:
        if args.debug:
            raise
        print(f"polyocr: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
