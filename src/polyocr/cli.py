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
from typing import TYPE_CHECKING

from polyocr import __version__
from polyocr.languages import LANGUAGES

if TYPE_CHECKING:
    from polyocr.pipeline.inputs import PageSelection
    from polyocr.pipeline.pipeline import ReadConfig

__all__ = ["main"]


class UsageError(Exception):
    """A problem with what the user asked for; printed without a traceback."""


LM_MAX_ORDER = 8   # polyocr.models.charlm.MAX_ORDER, not imported here: it would load numpy at start-up


def _lang_orders(value: str) -> tuple[tuple[str, int], ...]:
    """"ar=5,he=5" → (("ar", 5), ("he", 5)), each language known and each order 1..LM_MAX_ORDER."""
    out = []
    for item in filter(None, (v.strip() for v in value.split(","))):
        lang, sep, n = item.partition("=")
        if not sep or lang not in LANGUAGES or not n.isdigit() or not 1 <= int(n) <= LM_MAX_ORDER:
            raise argparse.ArgumentTypeError(f"{item!r}: expected LANG=N with LANG one of "
                                             f"{','.join(LANGUAGES)} and N in 1..{LM_MAX_ORDER}")
        out.append((lang, int(n)))
    return tuple(out)


def _pages(value: str) -> PageSelection:
    from polyocr.pipeline.inputs import InputError, PageSelection

    try:
        return PageSelection.parse(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("pages: ")) from None


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


def _listed(values: list[str]) -> tuple[str, ...]:
    """A repeatable option whose values may each be comma-separated, as one flat tuple."""
    return tuple(d for item in values for d in item.split(",") if d)


def _must_exist(paths: tuple[str, ...], message: str = "data folder {} not found", folder: bool = False
                ) -> tuple[str, ...]:
    """``paths`` as given, once each is there (a folder, with ``folder``); else a UsageError of ``message``."""
    for d in paths:
        if not (Path(d).is_dir() if folder else Path(d).exists()):
            raise UsageError(message.format(d))
    return paths


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return n


def _share(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {value}")
    return x


def _synth_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="run seed; sample i depends only on (seed, i)")
    p.add_argument("--langs", type=_langs, default=tuple(LANGUAGES), help="comma-separated language codes")
    p.add_argument("--lang-weights", type=_weights, default=(), help="comma-separated sampling weights, one per --langs")
    p.add_argument("--layouts", type=_layouts, default=(), help="comma-separated layouts (default: all)")
    p.add_argument("--split", choices=("train", "heldout"), default="train", help="font and corpus split")
    p.add_argument("--degrade", choices=("clean", "scan", "photo", "defocus", "desk", "mixed"), default="mixed")
    p.add_argument("--shared", default=None, help="shared data folder (default: $POLYOCR_SHARED or ../shared); '' for none")
    p.add_argument("--font-dir", action="append", default=[], help="extra font folder (repeatable)")
    p.add_argument("--dpi", type=_positive, default=200)
    p.add_argument("--script-faces", action="store_true",
                   help="Arabic, Hebrew: also draw with faces made for the script alone (Noto Naskh Arabic, "
                        "KACST, Noto Hebrew, fonts-ldco), their missing digits and signs from a fallback face")


def _font_weights(path: str) -> str:
    """Check a --font-weights file now (a bad one would otherwise fail in every worker)."""
    if path:
        from polyocr.synth.page import load_font_weights

        try:
            load_font_weights(path)
        except ValueError as e:
            raise UsageError(str(e)) from None
    return path


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
                       typeset_marks=getattr(args, "marks", 0.25),
                       wordfreq_share=getattr(args, "wordfreq_share", 0.0),
                       font_weights=_font_weights(getattr(args, "font_weights", "")),
                       char_balance=getattr(args, "char_balance", 0.0),
                       pixel_tofu=getattr(args, "pixel_tofu", False), script_faces=args.script_faces)


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


def cmd_train_compact(args: argparse.Namespace) -> int:
    from polyocr.train.compact import CompactConfig, compact_shards

    paths = _must_exist(_listed(args.data), "data {} not found")
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be 1-100, not {args.quality}")
    if args.count < 0:
        raise UsageError(f"--count must be 0 or more, not {args.count}")
    out = Path(args.out)
    if out.exists() and any(out.glob("*.tar")):
        raise UsageError(f"{out} already holds shards; choose another --out")
    try:
        summary = compact_shards(paths, out, CompactConfig(height=args.height, quality=args.quality, count=args.count,
                                                           shard_size=args.shard_size, seed=args.seed, rare=args.rare))
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    print(f"{summary['lines']} lines in {len(summary['shards'])} shard(s) → {out}: images "
          f"{summary['image_bytes_in'] / 1e6:.1f} MB → {summary['image_bytes_out'] / 1e6:.1f} MB")
    return 0


def cmd_train_pack(args: argparse.Namespace) -> int:
    from polyocr.train.compact import pack_archives

    paths = _must_exist(_listed(args.data), folder=True)
    if args.mb <= 0:
        raise UsageError(f"--mb must be positive, not {args.mb}")
    try:
        made = pack_archives(paths, args.out, args.mb)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    for m in made:
        print(f"{m['file']}: {m['shards']} shards, {m['lines']} lines, {m['bytes'] / 1e6:.1f} MB")
    return 0


def cmd_train_rec(args: argparse.Namespace) -> int:
    from polyocr.train.loop import train
    from polyocr.train.recipes import apply_overrides, get_recipe

    cfg = get_recipe(args.recipe)
    shards = _must_exist(_listed(args.data))
    real = _must_exist(_listed(args.real))
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
                      ("ckpt_every", "ckpt_every"), ("log_every", "log_every"), ("init", "init"), ("eval_cache", "eval_cache"),
                      ("device", "device")):
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
    from polyocr.train.curate import POLICIES

    if cfg.curation not in POLICIES:
        raise UsageError(f"unknown curation {cfg.curation!r}; known: {', '.join(POLICIES)}")
    if cfg.curation != "none" and not Path(cfg.scores).is_file():
        raise UsageError(f"curation={cfg.curation} needs scores=<file from `polyocr train score`>; "
                         f"{cfg.scores or 'none given'} is not a file")
    if cfg.workers < 0:
        raise UsageError(f"workers must be 0 or more, not {cfg.workers}")
    from polyocr.train.loop import resolve_device

    try:
        resolve_device(cfg.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if (cfg.init_layers or cfg.init_ffn_mult) and not cfg.init:
        raise UsageError("init_layers / init_ffn_mult shrink the initial weights: give them with --init")
    for name in ("init", "teacher"):
        if getattr(cfg, name) and not Path(getattr(cfg, name)).is_file():
            raise UsageError(f"{name} {getattr(cfg, name)}: not a file")
    out = Path(args.out)
    if not args.resume and (out / "checkpoints" / "latest").exists():
        raise UsageError(f"{out} already holds a run; add --resume to continue it or choose another --out")
    result = train(cfg, out, resume=args.resume, echo=None if args.quiet else print)
    print(json.dumps({"step": result["step"], **({"eval": result["metrics"].get("mean")} if result["metrics"] else {})}))
    return 0


def cmd_train_score(args: argparse.Namespace) -> int:
    from polyocr.train.curate import score_shards

    shards = _must_exist(_listed(args.data), "{} not found")
    _must_exist((args.weights,), "{} not found")
    n = score_shards(args.weights, shards, args.out, limit_per_shard=args.limit, threads=args.threads)
    print(json.dumps({"lines": n, "out": str(args.out)}))
    return 0


def cmd_train_fontweights(args: argparse.Namespace) -> int:
    from polyocr.fileio import atomic_write
    from polyocr.train.curate import design_weights, load_scores

    if args.clip < 1.0 or args.power < 0:
        raise UsageError("--clip must be >= 1 and --power >= 0")
    try:
        scores = load_scores(args.scores)
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise UsageError(f"--scores {args.scores}: {e}") from None
    weights = design_weights(scores, power=args.power, clip=args.clip, min_lines=args.min_lines)
    if not weights:
        raise UsageError(f"--scores {args.scores}: no line names its font (score shards written by `polyocr synth lines`)")
    atomic_write(Path(args.out), (json.dumps(weights, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    summary = {lang: {"designs": len(w), "max": max(w.items(), key=lambda kv: kv[1])} for lang, w in weights.items()}
    print(json.dumps({"out": args.out, "languages": summary}, ensure_ascii=False))
    return 0


def _out_file(out: str, name: str) -> Path:
    """``--out`` as a file, or a folder for ``name`` (a weights folder): its folder must exist."""
    path = Path(out)
    if path.is_dir():
        path = path / name
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent}: no such folder")
    return path


def cmd_train_lm(args: argparse.Namespace) -> int:
    from polyocr.train.charlm import LMConfig, build_lms

    out = _out_file(args.out, "charlm.safetensors")
    if args.shared and not Path(args.shared).is_dir():
        raise UsageError(f"--shared {args.shared}: no such folder")
    languages = args.langs or tuple(LANGUAGES)
    stray = sorted(set(dict(args.order_for)) - set(languages))
    if stray:
        raise UsageError(f"--order-for {','.join(stray)}: not among the languages built ({','.join(languages)})")
    cfg = LMConfig(out=str(out), languages=languages, order=args.order, orders=tuple(args.order_for),
                   min_count=args.min_count, shared=args.shared or None,
                   wordfreq_sentences=args.wordfreq_sentences)
    models = build_lms(cfg, log=print)
    print(json.dumps({"out": str(out), "bytes": out.stat().st_size,
                      "ngrams": {lang: lm.size for lang, lm in models.items()}}))
    return 0


def cmd_train_confidence(args: argparse.Namespace) -> int:
    from polyocr.eval.confidence import score_confidences, units
    from polyocr.fileio import atomic_write
    from polyocr.train.confidence import FitConfig, fit_calibration, labelled_pages

    out = _out_file(args.out, "confidence.json")
    for name, folder in (("--pages", args.pages), ("--readings", args.readings)):
        if folder and not Path(folder).is_dir():
            raise UsageError(f"{name} {folder}: no such folder")
    if args.l2 < 0:
        raise UsageError(f"--l2 must be >= 0, not {args.l2}")
    try:
        lines = labelled_pages(args.pages, args.readings, args.weights, echo=print)
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None
    cal = fit_calibration(lines, {"pages": Path(args.pages).name}, FitConfig(l2=args.l2), args.weights)
    report = {kind: {"raw": score_confidences(*units(lines, kind)[:2]).as_dict(),
                     "calibrated": score_confidences(*units(lines, kind, cal)[:2]).as_dict()}
              for kind in ("word", "line")}
    atomic_write(out, cal.to_json().encode("utf-8"))
    print(json.dumps({"out": str(out), "lines": len(lines), "fit_set": report}))
    return 0


def cmd_train_det(args: argparse.Namespace) -> int:
    from polyocr.train.detector import DetTrainConfig, train_detector

    shards = _must_exist(_listed(args.data))
    cfg = DetTrainConfig(shards=shards, steps=args.steps, batch_size=args.batch_size, lr=args.lr, crop=args.crop,
                         threads=args.threads, seed=args.seed, ckpt_minutes=args.ckpt_minutes,
                         partial_shards=args.partial)
    out = Path(args.out)
    if not args.resume and (out / "checkpoints" / "state.json").exists():
        raise UsageError(f"{out} already holds a run; add --resume to continue it or choose another --out")
    train_detector(cfg, out, resume=args.resume, init=args.init or "", echo=None if args.quiet else print)
    return 0


def cmd_export_det(args: argparse.Namespace) -> int:
    from polyocr.train.detector import export_detector

    meta = export_detector(args.ckpt, args.out)
    print(f"wrote {args.out}: detector.onnx, detector.safetensors, detector.json (step {meta['step']}, "
          f"parity {meta['parity_max_abs']:.2e})")
    return 0


def cmd_train_order(args: argparse.Namespace) -> int:
    from polyocr.train.order import CacheConfig, OrderTrainConfig, cache_pages, train_order

    data = _listed(args.data)
    if args.cache_pages:
        cache_pages(CacheConfig(out=Path(data[0]), count=args.cache_pages, seed=args.seed),
                    echo=None if args.quiet else print)
    missing = [d for d in data if not Path(d).is_dir()]
    if missing:
        raise UsageError(f"page cache {missing[0]} not found (add --cache-pages N to generate it)")
    if args.heldout and not Path(args.heldout).is_dir():
        raise UsageError(f"--heldout {args.heldout}: not a folder")
    cfg = OrderTrainConfig(data=data, heldout=args.heldout or "", steps=args.steps, minutes=args.minutes, lr=args.lr,
                           seed=args.seed, threads=args.threads, eval_every=args.eval_every)
    summary = train_order(cfg, args.out, echo=None if args.quiet else print)
    print(json.dumps(summary))
    return 0


def cmd_export_order(args: argparse.Namespace) -> int:
    from polyocr.train.order import export_order, load_pages

    run = Path(args.ckpt)
    if not (run / "best.safetensors").is_file() and not run.is_file():
        raise UsageError(f"{run}: no best.safetensors (a `polyocr train order` run folder or a .safetensors file)")
    pages = load_pages(args.parity_pages, limit=8) if args.parity_pages else []
    info = export_order(run, args.out, pages=pages)
    print(f"wrote {args.out}: order.onnx ({info['onnx']['bytes'] / 1e3:.0f} kB), order.safetensors "
          f"({info['safetensors']['bytes'] / 1e3:.0f} kB), order.json; parity {json.dumps(info['parity'])}")
    return 0


def cmd_train_orient(args: argparse.Namespace) -> int:
    from polyocr.train.orientation import OrientTrainConfig, train_orientation

    data = _must_exist(_listed(args.data), "{}: no such shard folder or file")
    heldout = _must_exist(_listed(args.heldout), "{}: no such shard folder or file")
    cfg = OrientTrainConfig(shards=data, max_shards=args.max_shards, heldout=heldout,
                            heldout_vertical=tuple(args.heldout_vertical), steps=args.steps, minutes=args.minutes,
                            lr=args.lr, seed=args.seed, threads=args.threads, eval_every=args.eval_every)
    summary = train_orientation(cfg, args.out, echo=None if args.quiet else print)
    print(json.dumps(summary))
    return 0


def cmd_export_orient(args: argparse.Namespace) -> int:
    from polyocr.train.orientation import export_orientation

    run = Path(args.ckpt)
    if not (run / "best.safetensors").is_file() and not run.is_file():
        raise UsageError(f"{run}: no best.safetensors (a `polyocr train orient` run folder or a .safetensors file)")
    info = export_orientation(run, args.out)
    print(f"wrote {args.out}: orientation.onnx ({info['onnx']['bytes'] / 1e3:.0f} kB), orientation.safetensors, "
          f"orientation.json; parity {json.dumps(info['parity'])}")
    return 0


def _margin_or_none(value: str) -> float | None:
    if value.strip().lower() == "none":
        return None
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', not {value!r}") from None


def cmd_export_rec(args: argparse.Namespace) -> int:
    from polyocr.pipeline.recognize import INK_MARGIN
    from polyocr.train.export import export

    margin = getattr(args, "ink_margin", INK_MARGIN)
    if margin is not None and not 0.0 <= margin <= 2.0:
        print(f"polyocr: error: --ink-margin must be between 0 and 2 (or 'none'), not {margin}", file=sys.stderr)
        return 2
    meta = export(args.ckpt, args.out, quantize=args.quantize, weights_dtype=args.weights_dtype, ink_margin=margin)
    size = meta["onnx"]["bytes"] + meta["safetensors"]["bytes"]
    print(f"wrote {args.out}: model.onnx ({meta['onnx']['bytes'] / 1e6:.1f} MB, {meta['onnx']['quantization']}), "
          f"model.safetensors ({meta['safetensors']['bytes'] / 1e6:.1f} MB), model.json; {size / 1e6:.1f} MB in all; "
          f"parity {json.dumps(meta['parity'])}")
    return 0


def _engine_names(value: str) -> tuple[str, ...]:
    from polyocr.eval.baselines import ENGINE_NAMES

    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in ENGINE_NAMES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown engine(s) {', '.join(bad)}; known: {', '.join(ENGINE_NAMES)}")
    return names


def cmd_eval(args: argparse.Namespace) -> int:
    from polyocr.eval.command import EvalOptions, run_eval

    if bool(args.dir) == bool(args.generated):
        raise UsageError("give a page folder or --generated (not both)")
    return run_eval(EvalOptions(**{k: v for k, v in vars(args).items() if k in EvalOptions.__dataclass_fields__}))


def _number(value: str) -> float:
    try:
        n = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not n > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return n


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from polyocr.service.config import ServiceConfig
        from polyocr.service.server import serve
    except ImportError as exc:
        raise UsageError(f"the service needs the 'service' extra (pip install 'polyocr[service]'): {exc}") from None
    return serve(ServiceConfig(host=args.host, port=args.port, max_upload_bytes=int(args.max_upload_mb * (1 << 20)),
                               max_pixels=int(args.max_pixels), max_pages=args.max_pages, concurrency=args.concurrency,
                               queue=args.queue, timeout_s=args.timeout, threads=args.threads,
                               max_connections=args.max_connections, log_level=args.log_level))


def _formats(value: str) -> tuple[str, ...]:
    from polyocr.pipeline.batch import ALL_FORMATS

    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    bad = [n for n in names if n not in ALL_FORMATS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown format(s) {', '.join(bad)}; known: {', '.join(ALL_FORMATS)}")
    return names


def cmd_read(args: argparse.Namespace) -> int:
    from polyocr.formats import WRITERS
    from polyocr.pipeline.batch import BatchConfig, read_document, run_batch
    from polyocr.pipeline.inputs import expand_sources
    from polyocr.pipeline.pipeline import ReadConfig

    rc = ReadConfig(dpi=args.dpi, pdf_text=args.pdf_text, order=args.order, orientation=not args.no_orientation,
                    calibrated=not args.raw_confidence,
                    languages=args.lang or (), pages=args.pages, threads=max(1, min(2, (os.cpu_count() or 1) // args.workers)))
    if args.accurate:
        rc = rc.accurate()
    if STDIN in args.sources:
        return _read_stdin(args, rc)
    problems: list[str] = []
    sources = expand_sources(args.sources, on_error=lambda name, why: problems.append(f"{name}: {why}"),
                             exclude=[args.out] if args.out else ())
    if args.out is None:  # one source → its text on stdout
        if len(sources) + len(problems) > 1:
            raise UsageError(f"{len(sources) + len(problems)} sources: give -o OUTDIR for one output per source")
        if problems:
            raise UsageError(problems[0])
        if not sources:
            raise UsageError(f"no image or PDF files in {' '.join(args.sources)}")
        if len(args.format) != 1 or args.format[0] not in WRITERS:
            raise UsageError(f"-f {','.join(args.format)} writes files: give -o OUTDIR (stdout takes one of "
                             f"{', '.join(WRITERS)})")
        doc = read_document(sources[0], rc, password=args.password)
        sys.stdout.write(WRITERS[args.format[0]](doc))
        return 0
    if not sources and not problems:
        raise UsageError(f"no image or PDF files in {' '.join(args.sources)}")
    for problem in problems:
        print(f"polyocr: {problem}", file=sys.stderr)
    summary = run_batch(sources, rc, BatchConfig(out=Path(args.out), formats=args.format, workers=args.workers,
                                                 resume=args.resume, progress=not args.quiet, password=args.password,
                                                 backend="ray" if args.ray else "local"), unreadable=problems)
    print(f"{summary.describe()}; outputs in {args.out}")
    return summary.exit_code


STDIN = "-"   # `polyocr read -`: the file piped in (./- names a file called "-")


def _stdin_bytes(limit: int) -> bytes:
    """The file piped in (an empty one is the reader's to refuse). A terminal is refused, not waited
    on; a stream is read no further than one byte past ``limit``, so its size is only known here; the
    type is checked here so that piped text never passes for a path (the bytes API reads a path given
    as bytes)."""
    from polyocr.pipeline.inputs import SUPPORTED, detect_type

    stream = sys.stdin
    if stream is None or stream.isatty():
        raise UsageError("'-' reads an image or PDF piped in (polyocr read - < scan.png); stdin is a terminal")
    data = stream.buffer.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"<stdin>: over the {limit / 1e6:.0f} MB limit")
    if data and detect_type(data[:1024]) is None:
        raise UsageError(f"<stdin>: not a supported file type (expected {SUPPORTED})")
    return data


def _read_stdin(args: argparse.Namespace, rc: ReadConfig) -> int:
    """``polyocr read -``: text (or one format) on stdout, or every format under ``-o`` as ``stdin.*``."""
    from polyocr.formats import WRITERS
    from polyocr.pipeline.batch import BatchConfig, read_document, write_document

    if args.sources != [STDIN]:
        raise UsageError("'-' (standard input) must be the only source")
    if args.out is None and (len(args.format) != 1 or args.format[0] not in WRITERS):
        raise UsageError(f"-f {','.join(args.format)} writes files: give -o OUTDIR (stdout takes one of "
                         f"{', '.join(WRITERS)})")
    cfg = BatchConfig(out=Path(args.out or "."), formats=args.format, password=args.password)
    data = _stdin_bytes(cfg.limits.max_bytes)
    doc = read_document(data, rc, password=args.password, limits=cfg.limits, name="<stdin>")
    if args.out is None:
        sys.stdout.write(WRITERS[args.format[0]](doc))
        return 0
    cfg.out.mkdir(parents=True, exist_ok=True)
    written = write_document(doc, data, "stdin", rc, cfg, overlays=True)
    print(f"<stdin>: {len(doc.pages)} page{'s' if len(doc.pages) != 1 else ''} read; wrote {', '.join(written)} "
          f"in {args.out}")
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
        p.add_argument("--wordfreq-share", type=_share, default=0.0,
                       help="with the shared corpus: share of sentences drawn from wordfreq's everyday words "
                            "instead, for a wider character distribution (0-1)")
        p.add_argument("--char-balance", type=_share, default=0.0,
                       help="Chinese, Japanese, Korean: share of sentences built around characters drawn with "
                            "flattened frequencies, so rarely written characters are seen often enough (0-1)")
        p.add_argument("--font-weights", default="",
                       help="JSON {language: {design: weight}} from `polyocr train fontweights`: draw the "
                            "designs a model reads worst more often")
        if kind == "pages":
            p.add_argument("--pixel-tofu", action="store_true",
                           help="also render each new (font, character) to look for tofu (slower)")
        if kind == "lines":
            p.add_argument("--line-height", type=int, default=0, help="rescale crops to this height in px (0 = keep)")
            p.add_argument("--marks", type=_share, default=0.25,
                           help="share of lines given typeset quotes, dashes, bullets, symbols, markup (0-1)")
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
    p.add_argument("--workers", type=int, default=None,
                   help="data processes: 0 = in the trainer, 1 = one beside it, n > 1 = n in turn (for a GPU)")
    p.add_argument("--device", default=None, help="cpu (default), cuda, or auto (cuda when torch sees one)")
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

    p = train.add_parser("score", help="score line shards with a recogniser, for data curation "
                                       "(then train rec --set scores=FILE --set curation=filter|loss)")
    p.add_argument("--weights", required=True, help="a recogniser model.safetensors (e.g. a checkpoint's)")
    p.add_argument("--data", action="append", required=True, help="line shards (folders or .tar), comma-separated or repeated")
    p.add_argument("--out", required=True, help="scores file (JSON lines: key, language, loss per char, NED)")
    p.add_argument("--limit", type=int, default=0, help="score at most N lines per shard (0 = all)")
    p.add_argument("--threads", type=_positive, default=1)
    p.set_defaults(func=cmd_train_score)

    p = train.add_parser("fontweights", help="font-design sampling weights for the generator from line scores "
                                             "(`polyocr train score`): the designs read worst are drawn more often")
    p.add_argument("--scores", required=True, help="scores file written by `polyocr train score`")
    p.add_argument("--out", required=True, help="JSON file for `polyocr synth lines --font-weights`")
    p.add_argument("--power", type=float, default=1.0, help="weight = (design loss / language median) ** power")
    p.add_argument("--clip", type=float, default=4.0, help="weights are clipped to [1/clip, clip]")
    p.add_argument("--min-lines", type=_positive, default=8, help="designs with fewer scored lines keep weight 1")
    p.set_defaults(func=cmd_train_fontweights)

    p = train.add_parser("compact", help="a smaller copy of line shards (cut to the ink, scaled, WebP) to carry "
                         "to a training machine")
    p.add_argument("--data", action="append", required=True, help="line shards (folders or .tar), comma-separated or repeated")
    p.add_argument("--out", required=True, help="new dataset folder")
    p.add_argument("--count", type=int, default=0, help="a seeded random subset of this many lines (0 = all)")
    p.add_argument("--height", type=_positive, default=36, help="px across the line, after scaling down (default 36)")
    p.add_argument("--quality", type=int, default=60, help="WebP quality 1-100 (default 60)")
    p.add_argument("--shard-size", type=_positive, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rare", type=float, default=0.0,
                   help="with --count: favour lines whose rarest letter is rare in its language, weight ∝ (median/count)**RARE")
    p.set_defaults(func=cmd_train_compact)

    p = train.add_parser("pack", help="compacted shards → gzip'd archives of at most --mb each (cK.tgz holding cK/), "
                         "for transfers that cap every trip")
    p.add_argument("--data", action="append", required=True, help="compacted datasets (folders), comma-separated or repeated")
    p.add_argument("--out", required=True, help="folder for c1.tgz, c2.tgz, ...")
    p.add_argument("--mb", type=float, required=True, help="most MB per archive")
    p.set_defaults(func=cmd_train_pack)

    p = train.add_parser("lm", help="the per-language character n-gram models that rescore doubtful characters")
    p.add_argument("--out", required=True, help="a .safetensors file, or a folder for charlm.safetensors "
                                                "(the packaged one: src/polyocr/weights)")
    p.add_argument("--langs", type=_langs, default=None, help="comma-separated languages (default: all eight)")
    p.add_argument("--order", type=int, choices=range(1, LM_MAX_ORDER + 1), metavar=f"1..{LM_MAX_ORDER}", default=4,
                   help="longest n-gram; capped per language where the keys would not fit (Han: 4)")
    p.add_argument("--order-for", type=_lang_orders, default=(), metavar="LANG=N[,LANG=N]",
                   help="another order for some languages (the shipped models: ar=5)")
    p.add_argument("--min-count", type=_positive, default=2, help="prune n-grams (n >= 2) seen fewer times")
    p.add_argument("--wordfreq-sentences", type=int, default=0,
                   help="with the corpus: add this many sentences of wordfreq's everyday words per language")
    p.add_argument("--shared", default="", help="folder holding data/corpus (default: the usual search)")
    p.set_defaults(func=cmd_train_lm)

    p = train.add_parser("confidence", help="the calibration that turns raw scores into the chance a word or "
                                            "line is right, on generated held-out pages")
    p.add_argument("--pages", required=True,
                   help="generated pages with their page models (a `polyocr eval --generated --cache` folder, "
                        "e.g. CACHE/heldout-s888-mixed-all; never the benchmark's seed)")
    p.add_argument("--readings", default=None,
                   help="their readings as JSON from `polyocr read --raw-confidence -f json` (default: read them now)")
    p.add_argument("--weights", default=None, help="weights folder the pipeline reads with (default: packaged)")
    p.add_argument("--l2", type=float, default=1.0, help="penalty on the feature weights")
    p.add_argument("--out", required=True, help="a .json file, or a folder for confidence.json "
                                                "(the packaged one: src/polyocr/weights)")
    p.set_defaults(func=cmd_train_confidence)

    p = train.add_parser("det", help="the text-line detector, on `polyocr synth pages` shards")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, checkpoints/")
    p.add_argument("--data", action="append", required=True, help="page shards (folders of .tar), comma-separated or repeated")
    p.add_argument("--steps", type=_positive, default=4000)
    p.add_argument("--batch-size", type=_positive, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=_positive, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--crop", type=_positive, default=512, help="training crop size in px (multiple of 32)")
    p.add_argument("--partial", action="store_true", help="also use shards still being written")
    p.add_argument("--init", default=None, help="start from these weights (a model.safetensors)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train_det)

    p = train.add_parser("order", help="the reading-order model, on cached generator pages (see docs/training.md)")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, best.safetensors, last.safetensors")
    p.add_argument("--data", action="append", required=True, help="page-cache folders (one JSON per page), comma-separated or repeated")
    p.add_argument("--heldout", default="", help="folder of held-out cached pages (searched recursively) for evaluation")
    p.add_argument("--cache-pages", type=int, default=0, help="first generate this many pages into the first --data folder (resumable)")
    p.add_argument("--steps", type=_positive, default=4000)
    p.add_argument("--minutes", type=float, default=25.0, help="wall-time cap; the learning rate schedule follows it")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--eval-every", type=int, default=500, help="steps between held-out evaluations (0 = only at the end)")
    p.add_argument("--threads", type=_positive, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train_order)

    p = train.add_parser("orient", help="the glyph-orientation classifier behind page rotation, on line shards")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, best.safetensors, last.safetensors")
    p.add_argument("--data", action="append", required=True, help="line shards (folders of .tar), comma-separated or repeated")
    p.add_argument("--max-shards", type=int, default=40, help="use the first N shards (0 = all)")
    p.add_argument("--heldout", action="append", default=[], help="held-out line shards for evaluation (never trained on)")
    p.add_argument("--heldout-vertical", action="append", default=[],
                   help="more held-out shards, of which only the vertical columns are used")
    p.add_argument("--steps", type=_positive, default=12000)
    p.add_argument("--minutes", type=float, default=18.0, help="wall-time cap; the learning rate schedule follows it")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=1000, help="steps between held-out evaluations (0 = only at the end)")
    p.add_argument("--threads", type=_positive, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train_orient)

    export = sub.add_parser("export", help="export trained models").add_subparsers(dest="export_command", required=True)
    p = export.add_parser("rec", help="recogniser checkpoint → ONNX + safetensors + model.json")
    p.add_argument("--ckpt", required=True, help="run folder (its latest checkpoint) or a checkpoint folder")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "weights"), help="output folder (default: the package weights)")
    p.add_argument("--quantize", choices=("int8", "int8-dynamic", "none"), default="int8",
                   help="int8: static int8 convolutions (calibrated on rendered lines) + dynamic int8 MatMul/Gemm; "
                        "int8-dynamic: MatMul/Gemm only")
    p.add_argument("--weights-dtype", choices=("float16", "bfloat16", "float32"), default="float16")
    p.add_argument("--ink-margin", type=_margin_or_none, default=argparse.SUPPRESS,
                   help="inference cuts each line crop across to its ink plus this × its thickness a side "
                        "(default: polyocr.pipeline.recognize.INK_MARGIN, 0.25; 'none' keeps crops as given)")
    p.set_defaults(func=cmd_export_rec)
    p = export.add_parser("det", help="detector checkpoint → ONNX + safetensors + detector.json")
    p.add_argument("--ckpt", required=True, help="run folder or its checkpoints/model.safetensors")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "weights"), help="output folder (default: the package weights)")
    p.set_defaults(func=cmd_export_det)
    p = export.add_parser("order", help="reading-order run → order.onnx + order.safetensors + order.json")
    p.add_argument("--ckpt", required=True, help="run folder (its best.safetensors) or a .safetensors file")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "weights"), help="output folder (default: the package weights)")
    p.add_argument("--parity-pages", default="", help="cached pages for the torch/onnxruntime parity check (default: random boxes)")
    p.set_defaults(func=cmd_export_order)
    p = export.add_parser("orient", help="orientation run → orientation.onnx + orientation.safetensors + orientation.json")
    p.add_argument("--ckpt", required=True, help="run folder (its best.safetensors) or a .safetensors file")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "weights"), help="output folder (default: the package weights)")
    p.set_defaults(func=cmd_export_orient)

    p = sub.add_parser("eval", help="accuracy and speed of polyocr, Tesseract and RapidOCR on the same pages")
    p.add_argument("dir", nargs="?", help="realdev build (index.tsv) or folder of <name>.<image|pdf> (one page each) + <name>.txt")
    p.add_argument("--generated", action="store_true", help="held-out generated pages instead of DIR")
    p.add_argument("--langs", type=_langs, default=None, help="comma-separated languages (default: all present)")
    p.add_argument("--lang", default=None, help="language of a plain folder's pages that have no <name>.lang")
    p.add_argument("--engines", type=_engine_names, default=None,
                   help="comma-separated: polyocr,tesseract,tesseract-unified,rapidocr (default: all that are installed)")
    p.add_argument("--limit", type=_positive, default=None, help="at most N pages per language")
    p.add_argument("--per-language", type=_positive, default=10, help="--generated: pages per language")
    p.add_argument("--seed", type=int, default=0, help="--generated: run seed")
    p.add_argument("--degrade", choices=("clean", "scan", "photo", "defocus", "desk", "mixed"), default="mixed", help="--generated: degradations")
    p.add_argument("--cache", default=None, help="--generated: page cache folder (default ~/.cache/polyocr/eval-pages)")
    p.add_argument("--out", default=None, help="predictions folder, OUT/<engine>/<id>.txt (default out/eval/<time>)")
    p.add_argument("--json", default=None, help="write the summary and per-page scores here")
    p.add_argument("--workers", type=_positive, default=os.cpu_count() or 1, help="Tesseract processes side by side")
    p.add_argument("--threads", type=_positive, default=2, help="threads for polyocr and RapidOCR")
    p.add_argument("--accurate", action="store_true", help="polyocr as `polyocr read --accurate` runs it")
    p.add_argument("--hidden-truth", action="store_true",
                   help="also score ground-truth lines that a realdev build painted over (no ink left in the image); "
                        "by default they are left out and counted")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="HTTP API (POST /v1/read) and web page on one process")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0 = any free port, printed at start)")
    p.add_argument("--max-upload-mb", type=_number, default=50, help="largest upload in MiB (413 above)")
    p.add_argument("--max-pixels", type=_number, default=100e6, help="largest decoded page in pixels (413 above)")
    p.add_argument("--max-pages", type=_positive, default=100, help="most pages per upload (413 above)")
    p.add_argument("--concurrency", type=_positive, default=2, help="reads running at once")
    p.add_argument("--queue", type=int, default=16, help="reads waiting for a slot; beyond that 429")
    p.add_argument("--timeout", type=_number, default=120, help="seconds per request, queue wait included (504)")
    p.add_argument("--threads", type=_positive, default=2, help="onnxruntime threads of the shared pipeline")
    p.add_argument("--max-connections", type=_positive, default=200, help="open connections before uvicorn answers 503")
    p.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"), default="info")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("read", help="OCR images and PDFs: text on stdout, or files with -o")
    p.add_argument("sources", nargs="+", help="files, folders (recursive), globs, @list.txt (one path per line) or - (a file piped in)")
    p.add_argument("-o", "--out", default=None, help="output folder (needed for several sources or file formats)")
    p.add_argument("-f", "--format", type=_formats, default=("text",),
                   help="comma-separated: text,json,hocr,alto,pagexml,pdf,overlay (default text)")
    p.add_argument("--dpi", type=_positive, default=200, help="PDF rendering resolution")
    p.add_argument("--pdf-text", action="store_true", help="use a PDF's own text layer instead of OCR where it has one")
    p.add_argument("--pages", type=_pages, default=None, metavar="LIST",
                   help="pages of PDFs, multi-page TIFFs, GIFs and HEICs to read, counting from 1, e.g. 1-3,7,10- (default all)")
    p.add_argument("--password", default=os.environ.get("POLYOCR_PDF_PASSWORD"),
                   help="password of encrypted PDFs (default $POLYOCR_PDF_PASSWORD)")
    p.add_argument("--order", choices=("learned", "xycut"), default="learned", help="reading-order method")
    p.add_argument("--lang", type=_langs, default=None, help="comma-separated language hints")
    p.add_argument("--no-orientation", action="store_true", help="do not detect page rotation")
    p.add_argument("--raw-confidence", action="store_true",
                   help="confidences as the recogniser's raw scores (geometric mean of the characters' "
                        "probabilities) instead of the calibrated chance that a word or line is right")
    p.add_argument("--accurate", action="store_true",
                   help="read doubtful Korean, Arabic and traditional Chinese lines at a second width too and keep "
                        "the likelier reading (fewer errors; those pages take about twice as long)")
    p.add_argument("--workers", type=_positive, default=1, help="processes, each with its own pipeline")
    p.add_argument("--resume", action="store_true", help="skip sources the output folder's journal records as done")
    p.add_argument("--ray", action="store_true", help="run the batch on Ray Data (needs the 'ray' extra)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_read)
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
