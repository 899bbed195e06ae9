"""Human-facing reports on the generator: the label-quality table and the contact sheets."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2

from polyocr.synth.checks import check_ink, check_tofu
from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line, generate_page

__all__ = ["label_quality", "preview_sheets", "CHECK_COLUMNS"]

CHECK_COLUMNS = ("schema", "no ink", "ink outside", "tofu", "rtl order", "vertical", "after warp", "tofu lines")


def _classify(problem: str) -> str:
    if "covers no ink" in problem:
        return "no ink"
    if "outside every word" in problem:
        return "ink outside"
    if problem.startswith("tofu"):
        return "tofu"
    if "label displays as" in problem:
        return "rtl order"
    if "vertical" in problem:
        return "vertical"
    return "schema"


def label_quality(cfg: SynthConfig, pages_per_language: int, progress: bool = True,
                  lines_per_language: int = 0) -> tuple[str, int]:
    """Generate pages with checks on but rejection off, and count every label problem per language.

    Besides the checks on the clean layer, the clean ink is warped with the page's own homography
    and compared with the final polygons ("after warp"), which tests that boxes follow pixels.
    Returns (markdown table, number of pages with any problem).
    """
    from polyocr.synth import effects as fx

    cfg = replace(cfg, check=True, reject_bad=False, pixel_tofu=True)
    rows = []
    failing = 0
    examples: list[str] = []
    for lang in cfg.languages:
        lcfg = replace(cfg, languages=(lang,))
        res = Resources(lcfg)
        counts: Counter[str] = Counter()
        pages = words = rejected = bad_pages = 0
        layouts: Counter[str] = Counter()
        for i in range(pages_per_language):
            try:
                s = generate_page(lcfg, res, i)
            except Rejected as exc:
                rejected += 1
                counts["rejected: " + str(exc).split(":")[0]] += 1
                continue
            pages += 1
            words += len(s.page.words)
            layouts[s.page.meta["layout"]] += 1
            problems = list(s.problems)
            if s.degradations is not None and s.text_alpha is not None:
                h, w = s.text_alpha.shape
                H = fx.warp_matrix(s.degradations, w, h)
                warped = cv2.warpPerspective(s.text_alpha, H, (w, h), flags=cv2.INTER_LINEAR)
                problems += ["after warp: " + p for p in check_ink(s.page, warped) if "outside" in p]
            for p in problems:
                counts["after warp" if p.startswith("after warp") else _classify(p)] += 1
            if problems:
                bad_pages += 1
                if len(examples) < 10:
                    examples.append(f"{lang} page {i}: {problems[0]}")
            if progress:
                print(f"\r{lang}: {i + 1}/{pages_per_language}", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        tofu_lines = 0
        for i in range(lines_per_language):
            try:
                ls = generate_line(lcfg, res, i)
            except Rejected:
                continue
            if check_tofu(ls.drawn):
                tofu_lines += 1
                if len(examples) < 10:
                    examples.append(f"{lang} line {i}: {check_tofu(ls.drawn)[0]}")
        failing += bad_pages + tofu_lines
        counts["tofu lines"] = tofu_lines
        rows.append((lang, pages, words, rejected, bad_pages, counts, layouts, lines_per_language))
    head = ("| lang | pages | words | rejected | pages with problems | " + " | ".join(CHECK_COLUMNS)
            + " | line crops | layouts |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for lang, pages, words, rejected, bad, counts, layouts, nlines in rows:
        lay = ", ".join(f"{k} {v}" for k, v in sorted(layouts.items()))
        lines.append(f"| {lang} | {pages} | {words} | {rejected} | {bad} | "
                     + " | ".join(str(counts.get(c, 0)) for c in CHECK_COLUMNS) + f" | {nlines} | {lay} |")
    if examples:
        lines += ["", "First problems:"] + [f"- {e}" for e in examples]
    return "\n".join(lines), failing


def preview_sheets(cfg: SynthConfig, out: Path, per_sheet: int = 8, by: str = "language") -> list[Path]:
    """Contact sheets: one per language (pages in different layouts) or one per layout."""
    from polyocr.synth.layouts import layouts_for
    from polyocr.synth.preview import contact_sheet, save_png
    from polyocr.languages import get_language

    out.mkdir(parents=True, exist_ok=True)
    res = Resources(cfg)
    groups: list[tuple[str, list[SynthConfig]]] = []
    if by == "language":
        for lang in cfg.languages:
            names = sorted(layouts_for(get_language(lang)))
            if cfg.layouts:
                names = [n for n in names if n in cfg.layouts]
            groups.append((lang, [replace(cfg, languages=(lang,), layouts=(names[k % len(names)],)) for k in range(per_sheet)]))
    else:
        from polyocr.synth.layouts import LAYOUTS
        for layout in (cfg.layouts or tuple(LAYOUTS)):
            langs = [c for c in cfg.languages if layout in layouts_for(get_language(c))]
            groups.append((layout, [replace(cfg, languages=(langs[k % len(langs)],), layouts=(layout,)) for k in range(per_sheet)]))
    paths = []
    for name, cfgs in groups:
        items = []
        for k, c in enumerate(cfgs):
            for attempt in range(5):
                try:
                    s = generate_page(c, res, k * 7 + attempt)
                    break
                except Rejected:
                    continue
            else:
                continue
            items.append((s.image, s.page, f"{s.page.language} · {s.page.meta['layout']} · #{k * 7 + attempt}"))
        if not items:
            continue
        sheet = contact_sheet(items, columns=4, thumb_width=480)
        path = out / f"synth-{name}.jpg"
        save_png(sheet, path)
        paths.append(path)
    return paths
