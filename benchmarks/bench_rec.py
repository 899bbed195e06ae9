"""Line recogniser on held-out synthetic lines (held-out fonts and corpus lines), per language,
beside Tesseract 5 on the same crops (`--psm 7`, each language's own pack), plus speed and size.

    .venv/bin/python benchmarks/bench_rec.py [--weights src/polyocr/weights] [--per-language 150]
                                              [--tesseract] [--threads 2] [--json out.json]

Prints one table: NED and CER per language (whitespace kept; CJK also without whitespace), the
share of lines read exactly, the same with the language's character n-gram model choosing among
doubtful characters (``+LM``: the line's language given, as the page pipeline knows it; the target
flag judges this column), and Tesseract's NED on the same lines when asked. Speed is lines/s
through onnxruntime over all held-out lines (the recogniser's own width-grouped batches), after one warm-up pass.
Targets (issue 3): NED <= 0.03 for en, ru, ko, ar, he; <= 0.05 for zh-Hans, zh-Hant, ja;
>= 200 lines/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET = {"en": 0.03, "ru": 0.03, "ko": 0.03, "ar": 0.03, "he": 0.03, "zh-Hans": 0.05, "zh-Hant": 0.05, "ja": 0.05}
CJK = {"zh-Hans", "zh-Hant", "ja"}


def _tesseract(image: np.ndarray, lang: str, vertical: bool) -> str:
    from PIL import Image

    from polyocr.languages import get_language

    pack = get_language(lang).tesseract + ("_vert" if vertical and lang in CJK else "")
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        Image.fromarray(image).save(f.name)  # grayscale crop, as the recogniser sees it
        r = subprocess.run(["tesseract", f.name, "-", "--psm", "5" if vertical else "7", "-l", pack],
                           capture_output=True, text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}, timeout=60)
    return r.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="folder with model.onnx + model.json (default: packaged)")
    ap.add_argument("--per-language", type=int, default=150)
    ap.add_argument("--seed", type=int, default=777, help="held-out set seed (777 = the training run's eval set)")
    ap.add_argument("--cache", default=".cache/heldout", help="where the rendered held-out lines are kept")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tesseract", action="store_true", help="also run Tesseract 5 on the same crops")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--lm-weight", type=float, default=None,
                    help="also read with each language's character model at this weight, every language "
                         "(default: the shipped weight per language, rescore.LM_WEIGHTS; 0 = greedy only)")
    args = ap.parse_args()

    from polyocr.eval.metrics import cer, ned
    from polyocr.languages import LANGUAGES
    from polyocr.pipeline.recognize import Recognizer
    from polyocr.pipeline.rescore import RescoreConfig, language_models, rescore_page
    from polyocr.train.data import heldout_set

    if args.tesseract and not shutil.which("tesseract"):
        print("tesseract is not installed (make setup installs it)", file=sys.stderr)
        return 2
    sets = heldout_set(args.cache, list(LANGUAGES), args.per_language, args.seed)
    rec = Recognizer(args.weights, threads=args.threads)
    lms = language_models(args.weights) if args.lm_weight != 0 else None
    lm_cfg = RescoreConfig(weight=args.lm_weight)
    results = {}
    all_images = []
    for lang, samples in sets.items():
        images = [s.image for s in samples]
        vertical = [s.vertical for s in samples]
        all_images += list(zip(images, vertical))
        readings = rec.read(images, vertical=vertical, directions=[LANGUAGES[lang].direction] * len(images))
        truth = [s.text for s in samples]
        preds = [o.line.text for o in readings]
        ws = "remove" if lang in CJK else "keep"
        r = {"n": len(samples),
             "ned": float(np.mean([ned(p, t, ws) for p, t in zip(preds, truth)])),
             "cer": float(np.mean([cer(p, t, ws) for p, t in zip(preds, truth)])),
             "exact": float(np.mean([p == t for p, t in zip(preds, truth)]))}
        if lms is not None:  # the line's language given, as the page pipeline knows it
            lm_preds = [o.line.text for o in rescore_page(readings, [lang] * len(readings), lms, rec.charset, lm_cfg)]
            r["lm_ned"] = float(np.mean([ned(p, t, ws) for p, t in zip(lm_preds, truth)]))
            r["lm_cer"] = float(np.mean([cer(p, t, ws) for p, t in zip(lm_preds, truth)]))
            r["lm_exact"] = float(np.mean([p == t for p, t in zip(lm_preds, truth)]))
        if args.tesseract:
            tess = [_tesseract(im, lang, v) for im, v in zip(images, vertical)]
            r["tesseract_ned"] = float(np.mean([ned(p, t, ws) for p, t in zip(tess, truth)]))
        results[lang] = r
    # Speed: every held-out line once more, after the pass above warmed the session.
    imgs, vert = [a for a, _ in all_images], [b for _, b in all_images]
    t0 = time.perf_counter()
    rec.recognize(imgs, vertical=vert)
    dt = time.perf_counter() - t0
    lm_dt = 0.0
    if lms is not None:  # the same lines again, each language's lines rescored with its model
        t0 = time.perf_counter()
        k = 0
        for lang, samples in sets.items():
            n = len(samples)
            rescore_page(rec.read(imgs[k:k + n], vertical=vert[k:k + n]), [lang] * n, lms, rec.charset, lm_cfg)
            k += n
        lm_dt = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in Path(rec.folder).glob("model.*"))
    lm_size = (Path(rec.folder) / "charlm.safetensors").stat().st_size if lms is not None else 0
    has_lm = lms is not None
    print(f"{'lang':<8} {'lines':>5} {'NED':>7} {'CER':>7} {'exact':>6}"
          + (f" {'NED+LM':>7} {'CER+LM':>7} {'exact':>6}" if has_lm else "")
          + f" {'target':>6}" + (f" {'tess NED':>9}" if args.tesseract else ""))
    for lang, r in results.items():
        best = r.get("lm_ned", r["ned"])
        flag = "" if best <= TARGET[lang] else "  above target"
        lm = f" {r['lm_ned']:>7.3f} {r['lm_cer']:>7.3f} {r['lm_exact']:>6.2f}" if has_lm else ""
        tess = f" {r['tesseract_ned']:>9.3f}" if args.tesseract else ""
        print(f"{lang:<8} {r['n']:>5} {r['ned']:>7.3f} {r['cer']:>7.3f} {r['exact']:>6.2f}{lm} {TARGET[lang]:>6.2f}{tess}{flag}")
    mean = float(np.mean([r["ned"] for r in results.values()]))
    lm_mean = float(np.mean([r["lm_ned"] for r in results.values()])) if has_lm else None
    print(f"{'mean':<8} {sum(r['n'] for r in results.values()):>5} {mean:>7.3f}"
          + (f" {'':>7} {'':>6} {lm_mean:>7.3f}" if has_lm else ""))
    print(f"\nspeed: {len(imgs) / dt:.1f} lines/s ({len(imgs)} lines, {args.threads} onnxruntime threads); "
          f"model files: {size / 1e6:.1f} MB in {rec.folder}")
    if has_lm:
        print(f"with the language model (weight {args.lm_weight if args.lm_weight is not None else 'per language'}): {len(imgs) / lm_dt:.1f} lines/s; "
              f"charlm.safetensors {lm_size / 1e6:.1f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({"languages": results, "lines_per_s": len(imgs) / dt,
                                               "lm_lines_per_s": len(imgs) / lm_dt if lm_dt else None,
                                               "bytes": size, "lm_bytes": lm_size, "lm_mean": lm_mean}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
