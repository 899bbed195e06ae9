"""How well the recogniser knows the characters of the large scripts, by how common they are.

    .venv/bin/python benchmarks/bench_charset.py [--weights DIR] [--per-band 240] [--seed 0] [--json out.json]

Natural text spends a recogniser's training samples on a few hundred characters, so a common but
not top-ranked character (盘, 块, 键 in a computer manual) can stay unlearnt while line NED looks
fine. For zh-Hans, zh-Hant, ja and ko this ranks the script's letters (Han, or Hangul syllables) by
their frequency in wordfreq's list (words weighted 1/rank), cuts the ranking into bands, and for
``--per-band`` characters of each band renders lines of four words, each the best-ranked listed word
holding one target character, in the language's HELD-OUT fonts (clean, 28-40 px; never trained on).
It prints, per band, the share of target characters found in the reading (recall, counted with
multiplicity) and the lines' NED, and with ``--tesseract`` the same for Tesseract 5 on the same
images (``--psm 7``, the language's own pack). Characters of the charset that no listed word uses
form the last band, rendered alone.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys

import numpy as np
from PIL import Image, ImageDraw

BANDS = ((1, 500), (501, 1000), (1001, 2000), (2001, 3500), (3501, 6000))
LANGS = ("zh-Hans", "zh-Hant", "ja", "ko")


def ranked_characters(lang: str, allowed: frozenset[str]) -> tuple[list[str], dict[str, str], list[str]]:
    """Letters by descending word-list frequency, each one's best-ranked word, and the unlisted letters."""
    from polyocr.synth.text import _wordfreq_vocab, letter_frequencies, unlisted_letters

    freq, holders = letter_frequencies(lang, allowed)
    words = _wordfreq_vocab(lang, allowed).words
    ranked = sorted(freq, key=lambda c: -freq[c])
    return ranked, {c: words[holders[c][0]] for c in ranked}, unlisted_letters(lang, allowed, freq)


def render(text: str, face, size: int) -> np.ndarray:
    from polyocr.synth.fonts import load_font

    font = load_font(face, size)
    w = int(font.getlength(text)) + size
    img = Image.new("L", (w, int(size * 1.6)), 255)
    ImageDraw.Draw(img).text((size // 2, int(size * 0.3)), text, font=font, fill=0)
    return np.asarray(img)


def _recall(targets: list[list[str]], reads: list[str]) -> float:
    found = total = 0
    for group, out in zip(targets, reads):
        have = collections.Counter(out)
        for c in group:
            total += 1
            if have[c] > 0:
                found += 1
                have[c] -= 1
    return found / max(1, total)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--per-band", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--json", default="")
    ap.add_argument("--tesseract", action="store_true", help="also read every line with Tesseract 5")
    args = ap.parse_args()
    if args.tesseract:
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
        from bench_rec import _tesseract

    from polyocr.eval.metrics import ned
    from polyocr.pipeline.recognize import Recognizer
    from polyocr.synth.fonts import FontLibrary
    from polyocr.synth.text import TextSource

    rec = Recognizer(args.weights)
    lib = FontLibrary.scan()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for lang in args.langs.split(","):
        if lang not in LANGS:
            print(f"--langs: {lang} is not one of {', '.join(LANGS)}", file=sys.stderr)
            return 2
        allowed = TextSource(lang).allowed  # what the generator writes with
        ranked, word, unlisted = ranked_characters(lang, allowed)
        rng = np.random.default_rng(args.seed)
        bands = [(f"{a}-{min(b, len(ranked))}", ranked[a - 1:b]) for a, b in BANDS if a <= len(ranked)]
        bands.append((f"unlisted ({len(unlisted)})", unlisted))
        results[lang] = {}
        sep = " " if lang == "ko" else ""
        for name, chars in bands:
            if not chars:
                continue
            pick = [chars[i] for i in sorted(rng.choice(len(chars), min(args.per_band, len(chars)), replace=False))]
            lines, targets = [], []
            for k in range(0, len(pick), 4):
                group = pick[k:k + 4]
                text = sep.join(word.get(c, c) for c in group)
                face = lib.pick(rng, lang, "heldout", text=text)
                if face is None:
                    continue
                lines.append((render(text, face, int(rng.integers(28, 41))), text))
                targets.append(group)
            reads = [r.line.text for r in rec.read([im for im, _ in lines], directions=["ltr"] * len(lines))]
            r = {"chars": sum(map(len, targets)), "recall": _recall(targets, reads),
                 "ned": float(np.mean([ned(o, t, "remove") for o, (_, t) in zip(reads, lines)]))}
            if args.tesseract:
                tess = [_tesseract(im, lang, False) for im, _ in lines]
                r["tesseract_recall"] = _recall(targets, tess)
                r["tesseract_ned"] = float(np.mean([ned(o, t, "remove") for o, (_, t) in zip(tess, lines)]))
            results[lang][name] = r
    tess_cols = " Tesseract recall | Tesseract NED |" if args.tesseract else ""
    print(f"| language | frequency band | characters | recall | line NED |{tess_cols}")
    print("|---|---|---|---|---|" + ("---|---|" if args.tesseract else ""))
    for lang, bands_ in results.items():
        for name, r in bands_.items():
            extra = f" {r['tesseract_recall']:.3f} | {r['tesseract_ned']:.3f} |" if args.tesseract else ""
            print(f"| {lang} | {name} | {r['chars']} | {r['recall']:.3f} | {r['ned']:.3f} |{extra}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
