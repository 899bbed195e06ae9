"""Page sets for evaluation: real pages with ground truth, and held-out generated pages.

A page set is a list of :class:`EvalPage` (id, image path, ground-truth text, language). Every
engine is run on the same list and scored against the same text, so a loader's only job is to
produce that list. Three sources:

* a realdev build (``index.tsv`` + ``<id>.png`` + ``<id>.txt``; see ``shared/realdev/README.md``);
* any folder of ``<name>.<image or pdf>`` (any type ``polyocr read`` takes, one page each) +
  ``<name>.txt`` (+ ``<name>.lang``, or one language for the whole folder);
* held-out generated pages (held-out fonts and held-out corpus lines), rendered once into a cache
  folder; the ground truth is the page model's text in reading order (``Page.text``).

A realdev build paints white the ink its text layer does not transcribe (``masked_regions``), and
on some pages a region holds transcribed lines too (a boxed note, a table): their ground truth then
has no pixels at all, and every engine is charged for not reading it. :func:`hidden_lines` finds
those lines (mostly inside a masked region *and* without ink in their box); ``load_realdev`` leaves
them out of the truth unless told to keep them, and ``EvalPage.hidden`` counts them.

``EvalPage.vertical`` says whether the page's text is mostly vertical columns. It is known from the
ground truth (generated page models, realdev line boxes) and only decides which Tesseract pack is
used (``jpn_vert`` instead of ``jpn``): the baseline gets that hint, our pipeline does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image

from polyocr.fileio import atomic_write
from polyocr.languages import LANGUAGES
from polyocr.pipeline.inputs import SUFFIXES, SUPPORTED

if TYPE_CHECKING:
    from polyocr.synth.page import PageSample

__all__ = [
    "EvalPage",
    "load_realdev",
    "hidden_lines",
    "load_folder",
    "load_pages",
    "generate_heldout_pages",
    "limit_per_language",
]


@dataclass(frozen=True)
class EvalPage:
    """One page to read and the text it should give."""

    id: str
    image: Path
    text: str
    language: str
    vertical: bool = False
    hidden: int = 0        # ground-truth lines left out: painted over in the image (realdev masks)


def _check_language(code: str, where: str) -> str:
    code = code.strip()
    if code not in LANGUAGES:
        raise ValueError(f"{where}: unknown language {code!r}; known: {', '.join(LANGUAGES)}")
    return code


def _line_boxes(lines_json: Path) -> dict:
    """A realdev ``<id>.lines.json``, read once per page for every use; {} when missing or unreadable."""
    try:
        return json.loads(lines_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _vertical_boxes(data: dict) -> bool:
    """Most lines taller than wide → a vertical page (realdev line boxes)."""
    lines = data.get("lines", [])
    tall = sum(1 for ln in lines if (ln["bbox"][3] - ln["bbox"][1]) > 1.5 * (ln["bbox"][2] - ln["bbox"][0]))
    return bool(lines) and tall > len(lines) / 2


MASKED_SHARE = 0.5     # a line box at least this much inside masked regions ...
HIDDEN_INK = 0.001     # ... with less than this share of dark pixels shows nothing to read


def hidden_lines(data: dict, image: Path) -> set[int]:
    """Indices of the ground-truth lines (of a parsed realdev ``<id>.lines.json``) that the build
    painted over: their box lies mostly in its ``masked_regions`` and holds (almost) no dark pixel.
    A mask that only grazes a line, or that left its ink (a region drawn around text rather than
    over it), hides nothing."""
    regions = data.get("masked_regions") or []
    if not regions:
        return set()
    hidden: set[int] = set()
    gray = None
    for i, ln in enumerate(data.get("lines", [])):
        x0, y0, x1, y1 = (int(round(v)) for v in ln["bbox"])
        area = (x1 - x0) * (y1 - y0)
        if area <= 0:
            continue
        inside = sum(max(0, min(x1, r[2]) - max(x0, r[0])) * max(0, min(y1, r[3]) - max(y0, r[1])) for r in regions)
        if inside < MASKED_SHARE * area:
            continue
        if gray is None:
            with Image.open(image) as im:
                gray = np.asarray(im.convert("L"))
        box = gray[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
        if box.size and float((box < 128).mean()) < HIDDEN_INK:
            hidden.add(i)
    return hidden


def _visible_truth(truth: str, data: dict, image: Path) -> tuple[str, int]:
    """``truth`` without its hidden lines (the text is the line texts joined by newlines)."""
    hidden = hidden_lines(data, image)
    if not hidden:
        return truth, 0
    lines = data["lines"]
    if "\n".join(ln["text"] for ln in lines) != truth.rstrip("\n"):
        return truth, 0     # not the text its line boxes describe: keep it whole rather than guess
    return "\n".join(ln["text"] for i, ln in enumerate(lines) if i not in hidden), len(hidden)


def load_realdev(folder: str | Path, hidden_truth: bool = False) -> list[EvalPage]:
    """Pages of a realdev build, in ``index.tsv`` order; ``hidden_truth`` keeps the lines that the
    build painted over in the truth (see :func:`hidden_lines`)."""
    folder = Path(folder)
    index = folder / "index.tsv"
    if not index.is_file():
        raise FileNotFoundError(f"{folder}: no index.tsv (not a realdev build)")
    rows = index.read_text(encoding="utf-8").splitlines()
    head = rows[0].split("\t") if rows else []
    if "id" not in head or "lang" not in head:
        raise ValueError(f"{index}: header must name 'id' and 'lang' columns")
    pages = []
    for n, row in enumerate(rows[1:], 2):
        if not row.strip():
            continue
        rec = dict(zip(head, row.split("\t")))
        pid = rec["id"]
        image, truth = folder / f"{pid}.png", folder / f"{pid}.txt"
        if not image.is_file() or not truth.is_file():
            raise FileNotFoundError(f"{index}:{n}: {pid}.png or {pid}.txt is missing")
        boxes = _line_boxes(folder / f"{pid}.lines.json")
        text, hidden = truth.read_text(encoding="utf-8"), 0
        if not hidden_truth:
            text, hidden = _visible_truth(text, boxes, image)
        pages.append(EvalPage(pid, image, text, _check_language(rec["lang"], f"{index}:{n}"),
                              _vertical_boxes(boxes), hidden))
    return pages


def load_folder(folder: str | Path, language: str | None = None) -> list[EvalPage]:
    """Every ``<name>.<image>`` with a ``<name>.txt`` beside it, sorted by name.

    The language comes from ``<name>.lang`` when present, else from ``language``; a page with
    neither is an error (guessing it would silently pick the wrong Tesseract pack).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    if language is not None:
        language = _check_language(language, "--lang")
    pages = []
    for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES):
        truth = image.with_suffix(".txt")
        if not truth.is_file():
            continue
        lang_file = image.with_suffix(".lang")
        if lang_file.is_file():
            lang = _check_language(lang_file.read_text(encoding="utf-8"), str(lang_file))
        elif language is not None:
            lang = language
        else:
            raise ValueError(f"{image}: no {lang_file.name} and no language given (--lang)")
        pages.append(EvalPage(image.stem, image, truth.read_text(encoding="utf-8"), lang))
    if not pages:
        raise FileNotFoundError(f"{folder}: no page file ({SUPPORTED}) with a <name>.txt beside it")
    return pages


def load_pages(folder: str | Path, language: str | None = None, hidden_truth: bool = False) -> list[EvalPage]:
    """A realdev build when the folder has ``index.tsv``, else a plain folder of image + text."""
    folder = Path(folder)
    if (folder / "index.tsv").is_file():
        return load_realdev(folder, hidden_truth)
    return load_folder(folder, language)


def limit_per_language(pages: Sequence[EvalPage], limit: int | None,
                       languages: Sequence[str] = ()) -> list[EvalPage]:
    """Keep the pages of ``languages`` (all when empty), at most ``limit`` of each, in order."""
    kept, seen = [], dict.fromkeys(languages, 0) if languages else {}
    for p in pages:
        if languages and p.language not in seen:
            continue
        n = seen.get(p.language, 0)
        if limit is None or n < limit:
            kept.append(p)
        seen[p.language] = n + 1
    return kept


# -- held-out generated pages -------------------------------------------------------------------

@dataclass(frozen=True)
class _HeldoutKey:
    seed: int
    degrade: str
    layouts: tuple[str, ...]

    def folder_name(self) -> str:
        lay = "-".join(self.layouts) if self.layouts else "all"
        return f"heldout-s{self.seed}-{self.degrade}-{lay}"


def generate_heldout_pages(out: str | Path, languages: Sequence[str], per_language: int, seed: int = 0,
                           degrade: str = "mixed", layouts: Sequence[str] = (), dpi: int = 200,
                           shared: str | None = None) -> list[EvalPage]:
    """``per_language`` held-out pages per language, generated once under ``out`` and reused.

    Pages use the generator's held-out fonts and corpus split, so no page shares a font or a text
    line with training data. Sample indices are tried in order (rejected samples are skipped), so
    asking for more pages later extends the cache with the same first pages. Images are JPEG with
    their dpi recorded (Tesseract and our pipeline both read it); ``<id>.json`` keeps the page model.
    """
    from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_page

    key = _HeldoutKey(seed, degrade, tuple(layouts))
    folder = Path(out) / key.folder_name()
    folder.mkdir(parents=True, exist_ok=True)
    scale = dpi / 200
    pages: list[EvalPage] = []
    for lang in languages:
        _check_language(lang, "languages")
        manifest = folder / f"{lang}.json"
        state = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {"tried": 0, "ids": []}
        if len(state["ids"]) < per_language:
            cfg = SynthConfig(seed=seed, languages=(lang,), layouts=tuple(layouts), split="heldout", degrade=degrade,
                              shared=shared, dpi=dpi, width=int(round(1654 * scale)), height=int(round(2339 * scale)),
                              image_format="jpg")
            res = Resources(cfg)
            i = state["tried"]
            while len(state["ids"]) < per_language:
                if i > 5 * per_language + 20:
                    raise RuntimeError(f"held-out {lang}: too many rejected samples ({i} tried)")
                try:
                    sample = generate_page(cfg, res, i)
                except Rejected:
                    i += 1
                    continue
                pid = f"{lang}-s{seed}-{i:05d}"
                _write_page(folder, pid, sample, dpi)
                state["ids"].append(pid)
                i += 1
                state["tried"] = i
                atomic_write(manifest, json.dumps(state).encode("utf-8"))
        for pid in state["ids"][:per_language]:
            meta = json.loads((folder / f"{pid}.json").read_text(encoding="utf-8")).get("meta", {})
            pages.append(EvalPage(pid, folder / f"{pid}.jpg", (folder / f"{pid}.txt").read_text(encoding="utf-8"),
                                  lang, bool(meta.get("vertical", False))))
    return pages


def _write_page(folder: Path, pid: str, sample: "PageSample", dpi: int) -> None:
    """JPEG (q95, as the generator's own pages; PNG of noisy backgrounds is 8 MB) with its dpi recorded
    (so engines know the resolution), ground-truth text, page model with the vertical flag."""
    import io

    from PIL import Image

    from polyocr.document import Document
    from polyocr.pipeline.order import vertical_page

    buf = io.BytesIO()
    Image.fromarray(sample.image).save(buf, format="JPEG", dpi=(dpi, dpi), quality=95)
    page = sample.page
    page.image = f"{pid}.jpg"
    vertical = vertical_page(page.lines)
    doc = Document(pages=[page], source=page.image, meta={"vertical": vertical})
    atomic_write(folder / f"{pid}.jpg", buf.getvalue())
    atomic_write(folder / f"{pid}.txt", page.text.encode("utf-8"))
    atomic_write(folder / f"{pid}.json", doc.to_json().encode("utf-8"))
