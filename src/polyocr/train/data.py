"""Training data for the line recogniser: sources, mixing, width-bucketed batches, exact positions.

Sources (each yields :class:`LineSample`, each can report and restore its position):

* :class:`SynthSource`: lines rendered on the fly by :func:`polyocr.synth.page.generate_line`
  (sample ``i`` depends only on (seed, i); rejected indices are skipped);
* :class:`ShardSource`: WebDataset-style tars written by ``polyocr synth lines``
  (``<key>.jpg|png`` + ``<key>.txt`` + ``<key>.json``), shard order reshuffled every epoch;
* :class:`RealSource`: annotated real lines from a folder: ``<name>.png|jpg|…`` with ``<name>.txt``
  or ``<name>.gt.txt``, and PAGE-XML / ALTO files whose line regions are cropped from their page
  images (:func:`read_page_xml`, :func:`read_alto`).

:class:`Mixture` draws the source of sample ``n`` from ``rng(seed, n)`` at set ratios. Per-language
weights apply to the generator (its own language draw) and to shards (a sample of language ``l`` is
kept with probability ``w_l / max w``, decided by a hash of its position, so no RNG state). Shards
also take per-line weights (data curation, :mod:`polyocr.train.curate`): line ``k`` is kept with
probability ``w_k / max w``, by a second hash of its position.

:class:`Batcher` turns the stream into batches: it takes a *pool* of ``pool_batches × batch_size``
samples, sorts it by width (little padding), cuts it into batches and shuffles their order. What
"the same data order" means on resume: batch ``k`` of pool ``p`` is a pure function of
(config, seed, the sources' state at the start of pool ``p``); a checkpoint stores that state plus
``(p, k)``, so a resumed run sees exactly the batches the killed run would have seen next.

Targets: the label (logical order, NFC) is turned into display order with
:func:`polyocr.bidi.to_visual` (right-to-left lines, mirroring included) because the model reads
left to right; vertical lines keep their order (top to bottom becomes left to right after the
image is turned counter-clockwise, see :func:`polyocr.pipeline.recognize.prepare_line`).
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing as mp
import queue
import tarfile
import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from polyocr.bidi import rtl_share, to_visual
from polyocr.charset import Charset
from polyocr.pipeline.recognize import is_vertical, pad_batch, prepare_line, to_gray
from polyocr.train.augment import augment_line, remargin

__all__ = ["LineSample", "LineItem", "SynthSource", "ShardSource", "RealSource", "Mixture", "Batch", "Batcher",
           "PrefetchBatches", "ParallelBatches", "read_page_xml", "read_alto", "read_line_folder", "scan_real", "heldout_set",
           "ctc_frames_needed", "shard_files", "tar_samples", "read_shard_sample", "sample_key"]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
SHARD_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")  # webp: `polyocr train compact` datasets


@dataclass
class LineSample:
    image: np.ndarray          # H×W uint8 grayscale, as cropped (vertical lines still tall)
    text: str                  # logical order, NFC
    language: str = "und"
    direction: str = "ltr"     # paragraph direction: "ltr" | "rtl"
    vertical: bool = False


def _hash_unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from ``parts`` (no RNG state to save)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2.0**64


def _rng(*parts: int | str) -> np.random.Generator:
    from polyocr.synth.rng import stable_hash

    return np.random.default_rng([p if isinstance(p, int) else stable_hash(p) for p in parts])


def _direction_of(text: str) -> str:
    return "rtl" if rtl_share(text) > 0.5 else "ltr"


# -- sources ---------------------------------------------------------------------------------------------

class SynthSource:
    """Lines from the generator, rendered in this process (fonts are loaded on first use)."""

    def __init__(self, synth_cfg: Any, start: int = 0) -> None:
        self.cfg = synth_cfg
        self.index = start
        self._res = None
        self.rejected = 0

    def state(self) -> dict[str, Any]:
        return {"index": self.index}

    def restore(self, state: dict[str, Any]) -> None:
        self.index = int(state["index"])

    def next(self) -> LineSample:
        from polyocr.synth.page import Rejected, Resources, generate_line

        if self._res is None:
            self._res = Resources(self.cfg)
        while True:
            i = self.index
            self.index += 1
            try:
                s = generate_line(self.cfg, self._res, i)
            except Rejected:
                self.rejected += 1
                continue
            return LineSample(image=to_gray(s.image), text=s.line.text, language=s.line.language,
                              direction=s.line.direction, vertical=s.line.writing_mode == "vertical-rl")


def tar_samples(path: Path) -> list[dict[str, tarfile.TarInfo]]:
    """Members of a WebDataset tar grouped by key, in file order."""
    groups: OrderedDict[str, dict[str, tarfile.TarInfo]] = OrderedDict()
    with tarfile.open(path, "r:") as tf:
        for m in tf.getmembers():
            if not m.isfile():
                continue
            name = m.name.rsplit("/", 1)[-1]
            key, _, ext = name.partition(".")
            groups.setdefault(key, {})[ext] = m
    return [g for g in groups.values() if "txt" in g and any(e in g for e in SHARD_IMAGE_EXTS)]


def shard_files(paths: Sequence[str | Path]) -> list[Path]:
    """The .tar shards of folders (sorted) and of .tar paths given directly, in the order given."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.glob("*.tar"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no shards at {p}")
    if not files:
        raise FileNotFoundError(f"no .tar shards in {', '.join(map(str, paths))}")
    return files


def sample_key(path: Path, group: dict[str, tarfile.TarInfo]) -> str:
    """``<shard stem>/<sample key>``: names one line across a dataset (scores, curation weights)."""
    return f"{Path(path).stem}/{group['txt'].name.rsplit('/', 1)[-1].partition('.')[0]}"


def _member(fh: Any, info: tarfile.TarInfo) -> bytes:
    fh.seek(info.offset_data)
    return fh.read(info.size)


def shard_language(fh: Any, group: dict[str, tarfile.TarInfo]) -> tuple[str, dict[str, Any]]:
    meta = json.loads(_member(fh, group["json"])) if "json" in group else {}
    return meta.get("language", "und"), meta


def read_shard_sample(fh: Any, group: dict[str, tarfile.TarInfo], meta: dict[str, Any] | None = None) -> LineSample:
    """One line of an open shard file (``meta``: its already-parsed json, when the caller has it)."""
    if meta is None:
        _, meta = shard_language(fh, group)
    text = _member(fh, group["txt"]).decode("utf-8")
    img_info = next(group[e] for e in SHARD_IMAGE_EXTS if e in group)
    data = _member(fh, img_info)
    if img_info.name.endswith(".webp"):  # compacted datasets: cv2 decodes these 3× faster than PIL
        import cv2

        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    else:
        image = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
    vertical = meta["writing_mode"] == "vertical-rl" if "writing_mode" in meta else is_vertical(image.shape)
    return LineSample(image=image, text=text, language=meta.get("language", "und"),
                      direction=meta.get("direction") or _direction_of(text), vertical=vertical)


class ShardSource:
    """WebDataset-style line shards; epoch ``e`` visits the shards in ``rng(seed, e)`` order."""

    def __init__(self, paths: Sequence[str | Path], seed: int = 0,
                 language_weights: dict[str, float] | None = None,
                 sample_weights: dict[str, float] | None = None, part: tuple[int, int] = (0, 1)) -> None:
        files = shard_files(paths)
        k, n = part
        # one data process of n reads its own shards (every n-th), where there are enough to go round
        self.files = files[k::n] if n > 1 and len(files) >= n else files
        self.seed = seed
        self.weights = language_weights or {}
        self._wmax = max(self.weights.values()) if self.weights else 1.0
        self.sample_weights = sample_weights or {}  # sample_key → weight; lines not listed weigh 1
        self._swmax = max([1.0, *self.sample_weights.values()])
        self.epoch, self.shard, self.item = 0, 0, 0
        self._open: tuple[int, int, list[dict[str, tarfile.TarInfo]]] | None = None
        self._fh: Any = None
        self._path = self.files[0]
        self.skipped_language = 0
        self.skipped_curation = 0

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "shard": self.shard, "item": self.item}

    def restore(self, state: dict[str, Any]) -> None:
        self.epoch, self.shard, self.item = int(state["epoch"]), int(state["shard"]), int(state["item"])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh, self._open = None, None

    def _order(self, epoch: int) -> list[int]:
        return [int(i) for i in _rng(self.seed, epoch, "shards").permutation(len(self.files))]

    def _members(self) -> list[dict[str, tarfile.TarInfo]]:
        if self._open is None or self._open[:2] != (self.epoch, self.shard):
            path = self.files[self._order(self.epoch)[self.shard]]
            if self._fh is not None:
                self._fh.close()
            self._fh = open(path, "rb")
            self._path = path
            self._open = (self.epoch, self.shard, tar_samples(path))
        return self._open[2]

    def next(self) -> LineSample:
        while True:
            members = self._members()
            if self.item >= len(members):
                self.item = 0
                self.shard += 1
                if self.shard >= len(self.files):
                    self.shard = 0
                    self.epoch += 1
                continue
            pos = (self.epoch, self.shard, self.item)
            group = members[self.item]
            self.item += 1
            lang, meta = shard_language(self._fh, group)
            if self.weights and _hash_unit(self.seed, *pos) >= self.weights.get(lang, 0.0) / self._wmax:
                self.skipped_language += 1
                continue
            if self.sample_weights:
                key = sample_key(self._path, group)
                if _hash_unit(self.seed, *pos, "curate") >= self.sample_weights.get(key, 1.0) / self._swmax:
                    self.skipped_curation += 1
                    continue
            return read_shard_sample(self._fh, group, meta)


@dataclass(frozen=True)
class LineItem:
    """One annotated real line: an image file, an optional crop box in it, and its text."""
    image: str
    text: str
    box: tuple[int, int, int, int] | None = None   # x0, y0, x1, y1 (exclusive) in image pixels
    direction: str | None = None                  # None = infer from the text
    vertical: bool | None = None                  # None = infer from the crop's shape
    language: str = "und"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _find_image(xml_path: Path, name: str | None) -> Path:
    if name:
        for cand in (xml_path.parent / name, xml_path.parent / Path(name).name):
            if cand.is_file():
                return cand
    for ext in IMAGE_EXTS:  # fall back to an image with the XML's stem
        cand = xml_path.with_suffix(ext)
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"{xml_path}: page image {name!r} not found beside it")


def read_page_xml(path: str | Path) -> list[LineItem]:
    """Line regions of a PAGE-XML file (any PAGE schema version): TextLine Coords + TextEquiv/Unicode.

    The crop is the bounding box of the line polygon. ``readingDirection`` on the line (or its region)
    sets the direction (right-to-left → rtl) and vertical writing (top-to-bottom).
    """
    path = Path(path)
    root = ET.parse(path).getroot()
    page = next((e for e in root.iter() if _local(e.tag) == "Page"), None)
    if page is None:
        raise ValueError(f"{path}: no Page element")
    image = _find_image(path, page.get("imageFilename"))
    items: list[LineItem] = []
    for region in (e for e in root.iter() if _local(e.tag) == "TextRegion"):
        rdir = region.get("readingDirection")
        for line in _children(region, "TextLine"):
            coords = _children(line, "Coords")
            equiv = _children(line, "TextEquiv")
            if not coords or not equiv:
                continue
            uni = _children(equiv[0], "Unicode")
            text = (uni[0].text or "") if uni else ""
            pts = coords[0].get("points")
            if pts:
                xy = [tuple(int(round(float(v))) for v in p.split(",")) for p in pts.split()]
            else:  # PAGE 2009: <Point x= y=/> children
                xy = [(int(p.get("x")), int(p.get("y"))) for p in _children(coords[0], "Point")]
            if not text.strip() or len(xy) < 2:
                continue
            xs, ys = [p[0] for p in xy], [p[1] for p in xy]
            rd = line.get("readingDirection") or rdir
            items.append(LineItem(image=str(image), text=text, box=(min(xs), min(ys), max(xs) + 1, max(ys) + 1),
                                  direction="rtl" if rd == "right-to-left" else ("ltr" if rd == "left-to-right" else None),
                                  vertical=True if rd == "top-to-bottom" else None))
    return items


def read_alto(path: str | Path) -> list[LineItem]:
    """Lines of an ALTO file: TextLine HPOS/VPOS/WIDTH/HEIGHT, text = String CONTENT joined by SP/HYP.

    Coordinates in ``mm10`` or ``inch1200`` units are converted with the page image's size against
    the Page WIDTH/HEIGHT (the ratio is exact whatever the scan resolution).
    """
    path = Path(path)
    root = ET.parse(path).getroot()
    fname = next((e.text for e in root.iter() if _local(e.tag) == "fileName" and e.text), None)
    image = _find_image(path, fname.strip() if fname else None)
    unit = next((e.text for e in root.iter() if _local(e.tag) == "MeasurementUnit" and e.text), "pixel").strip()
    page = next((e for e in root.iter() if _local(e.tag) == "Page"), None)
    sx = sy = 1.0
    if unit != "pixel" and page is not None and page.get("WIDTH") and page.get("HEIGHT"):
        with Image.open(image) as im:
            w, h = im.size
        sx, sy = w / float(page.get("WIDTH")), h / float(page.get("HEIGHT"))
    items: list[LineItem] = []
    for line in (e for e in root.iter() if _local(e.tag) == "TextLine"):
        parts: list[str] = []
        for child in line:
            tag = _local(child.tag)
            if tag == "String":
                parts.append(child.get("CONTENT", ""))
            elif tag == "SP":
                parts.append(" ")
            elif tag == "HYP":
                parts.append(child.get("CONTENT", "-"))
        text = "".join(parts)
        if not text.strip() or line.get("HPOS") is None:
            continue
        x, y = float(line.get("HPOS")) * sx, float(line.get("VPOS")) * sy
        w, h = float(line.get("WIDTH")) * sx, float(line.get("HEIGHT")) * sy
        items.append(LineItem(image=str(image), text=text,
                              box=(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h)))))
    return items


def read_line_folder(root: str | Path) -> list[LineItem]:
    """``<name>.<image ext>`` with ``<name>.gt.txt`` or ``<name>.txt`` beside it (first line = label)."""
    root = Path(root)
    items: list[LineItem] = []
    for img in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS):
        for label in (img.with_name(img.stem + ".gt.txt"), img.with_suffix(".txt")):
            if label.is_file():
                text = label.read_text(encoding="utf-8").strip("\n").split("\n")[0]
                if text.strip():
                    items.append(LineItem(image=str(img), text=text))
                break
    return items


def scan_real(root: str | Path) -> list[LineItem]:
    """Every annotated line under ``root``: line images with label files, PAGE-XML and ALTO files."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"real data folder {root} not found")
    items = read_line_folder(root)
    for xml in sorted(root.rglob("*.xml")):
        head = xml.read_bytes()[:4096].decode("utf-8", "replace")
        if "PcGts" in head or "primaresearch.org/PAGE" in head:
            items += read_page_xml(xml)
        elif "<alto" in head or "alto" in head.split(">", 2)[-1][:400].lower():
            items += read_alto(xml)
    return items


def load_item(item: LineItem, cache: "OrderedDict[str, np.ndarray] | None" = None) -> LineSample:
    """Read (and crop) one real line; page images are kept in a small LRU ``cache``."""
    img = cache.get(item.image) if cache is not None else None
    if img is None:
        img = np.asarray(Image.open(item.image).convert("L"))
        if cache is not None:
            cache[item.image] = img
            while len(cache) > 4:
                cache.popitem(last=False)
    elif cache is not None:
        cache.move_to_end(item.image)
    if item.box is not None:
        x0, y0, x1, y1 = item.box
        img = img[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
    vertical = item.vertical if item.vertical is not None else is_vertical(img.shape)
    return LineSample(image=np.ascontiguousarray(img), text=item.text, language=item.language,
                      direction=item.direction or _direction_of(item.text), vertical=vertical)


class RealSource:
    """Annotated real lines, in ``rng(seed, epoch)`` order every epoch."""

    def __init__(self, roots: Sequence[str | Path], seed: int = 0) -> None:
        self.items = [it for r in roots for it in scan_real(r)]
        if not self.items:
            raise FileNotFoundError(f"no annotated lines found in {', '.join(map(str, roots))}")
        self.seed = seed
        self.epoch, self.pos = 0, 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._perm: tuple[int, np.ndarray] | None = None

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def restore(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])

    def _order(self) -> np.ndarray:
        if self._perm is None or self._perm[0] != self.epoch:
            self._perm = (self.epoch, _rng(self.seed, self.epoch, "real").permutation(len(self.items)))
        return self._perm[1]

    def next(self) -> LineSample:
        if self.pos >= len(self.items):
            self.epoch, self.pos = self.epoch + 1, 0
        item = self.items[int(self._order()[self.pos])]
        self.pos += 1
        s = load_item(item, self._cache)
        if s.image.size == 0:
            return self.next()
        return s


class Mixture:
    """Sample ``n`` comes from source ``rng(seed, n).choice(p=ratios)``."""

    def __init__(self, sources: Sequence[Any], ratios: Sequence[float], seed: int = 0) -> None:
        if len(sources) != len(ratios) or not sources:
            raise ValueError("need one ratio per source and at least one source")
        p = np.asarray(ratios, np.float64)
        if (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"bad source ratios {list(ratios)}")
        self.sources = list(sources)
        self.p = p / p.sum()
        self.seed = seed
        self.n = 0

    def state(self) -> dict[str, Any]:
        return {"n": self.n, "sources": [s.state() for s in self.sources]}

    def restore(self, state: dict[str, Any]) -> None:
        self.n = int(state["n"])
        for s, st in zip(self.sources, state["sources"]):
            s.restore(st)

    def next(self) -> LineSample:
        k = 0 if len(self.sources) == 1 else int(_rng(self.seed, self.n, "mix").choice(len(self.sources), p=self.p))
        self.n += 1
        return self.sources[k].next()


# -- batches -----------------------------------------------------------------------------------------------

def ctc_frames_needed(ids: Sequence[int]) -> int:
    """Frames CTC needs for a target: one per symbol plus a blank between equal neighbours."""
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


@dataclass
class Batch:
    images: np.ndarray           # (B, 1, H, W) float32, zero-padded
    widths: np.ndarray           # (B,) int64 valid pixels
    targets: np.ndarray          # (sum of lengths,) int64 class ids, display order
    target_lengths: np.ndarray   # (B,) int64
    texts: list[str]             # logical-order labels (for evaluation and logs)
    languages: list[str]
    directions: list[str]
    pool: int = 0                # position: batch ``index`` of pool ``pool``
    index: int = 0
    state: dict[str, Any] = field(default_factory=dict)  # source state at the start of ``pool``


@dataclass
class _Prepared:
    x: np.ndarray
    ids: list[int]
    text: str
    language: str
    direction: str


def _remargin_line(gray: np.ndarray, rng: np.random.Generator, margins: tuple[float, float],
                   vertical: bool) -> np.ndarray:
    """:func:`remargin` across the line: across rows for a horizontal line, across columns for a
    vertical one (turned as the recogniser turns it, and back)."""
    if not vertical:
        return remargin(gray, rng, *margins)
    return np.ascontiguousarray(np.rot90(remargin(np.ascontiguousarray(np.rot90(gray, 1)), rng, *margins), -1))


class Batcher:
    """Width-bucketed batches from a :class:`Mixture`, with exact resumable positions."""

    def __init__(self, mixture: Mixture, charset: Charset, batch_size: int = 32, pool_batches: int = 20,
                 height: int = 32, max_width: int = 1600, seed: int = 0, augment: bool = True,
                 width_stride: int = 4, augment_strength: float = 0.0, remargin: float = 0.0,
                 remargin_range: tuple[float, float] = (-0.05, 0.4)) -> None:
        self.mixture = mixture
        self.charset = charset
        self.batch_size = batch_size
        self.pool_batches = pool_batches
        self.height = height
        self.max_width = max_width
        self.seed = seed
        self.augment = augment
        self.augment_strength = augment_strength
        self.remargin = remargin
        self.remargin_range = remargin_range
        self.stride = width_stride
        self.stats: Counter = Counter()

    def prepare(self, s: LineSample, n: int) -> _Prepared | None:
        """One sample → normalised pixels + display-order target ids; None when unusable."""
        text = " ".join(s.text.split())
        target = text if s.vertical else to_visual(text, s.direction)
        ids, _missing = self.charset.encode(target)
        if not ids:
            self.stats["empty_target"] += 1
            return None
        # The generator already degrades; on top, the aspect ratio varies ±15 % and, when asked, stroke
        # weight, slant, blur and noise (polyocr.train.augment), drawn per sample position.
        rng = _rng(self.seed, n, "aug")
        aspect = float(rng.uniform(0.85, 1.15)) if self.augment else 1.0
        image = augment_line(to_gray(s.image), rng, self.augment_strength, s.vertical) if self.augment_strength else s.image
        if self.remargin:
            margin_rng = _rng(self.seed, n, "margin")
            if margin_rng.random() < self.remargin:
                image = _remargin_line(to_gray(image), margin_rng, self.remargin_range, s.vertical)
        x = prepare_line(image, self.height, vertical=s.vertical, max_width=self.max_width, aspect=aspect)
        if -(-x.shape[1] // self.stride) < ctc_frames_needed(ids):
            self.stats["too_long"] += 1
            return None
        return _Prepared(x, ids, text, s.language, s.direction)

    def pool(self, p: int) -> list[Batch]:
        """Build pool ``p`` from the mixture's current state (which must be the state at its start)."""
        state = self.mixture.state()
        items: list[_Prepared] = []
        want = self.pool_batches * self.batch_size
        while len(items) < want:
            n = self.mixture.n
            prep = self.prepare(self.mixture.next(), n)
            if prep is not None:
                items.append(prep)
        items.sort(key=lambda it: it.x.shape[1])
        chunks = [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        order = _rng(self.seed, p, "batches").permutation(len(chunks))
        out = []
        for k, ci in enumerate(order):
            chunk = chunks[int(ci)]
            images, widths = pad_batch([it.x for it in chunk])
            out.append(Batch(images=images, widths=widths,
                             targets=np.asarray([i for it in chunk for i in it.ids], np.int64),
                             target_lengths=np.asarray([len(it.ids) for it in chunk], np.int64),
                             texts=[it.text for it in chunk], languages=[it.language for it in chunk],
                             directions=[it.direction for it in chunk], pool=p, index=k, state=state))
        return out

    def batches(self, position: dict[str, Any] | None = None) -> Iterator[Batch]:
        """Endless batches from ``position`` ({"pool", "index", "state"}) or from the start."""
        p, skip = 0, 0
        if position:
            self.mixture.restore(position["state"])
            p, skip = int(position["pool"]), int(position["index"])
        while True:
            for b in self.pool(p)[skip:]:
                yield b
            p, skip = p + 1, 0


def _producer(factory: Any, position: dict[str, Any] | None, queue: Any) -> None:
    try:
        for b in factory().batches(position):
            queue.put(b)
    except Exception as exc:  # report, do not hang the trainer
        queue.put(exc)


class PrefetchBatches:
    """Runs a :class:`Batcher` in one child process (``spawn``): rendering lines beside training.

    ``factory`` must be picklable and build the Batcher in the child (fonts load there).
    """

    def __init__(self, factory: Any, position: dict[str, Any] | None = None, depth: int = 8) -> None:
        ctx = mp.get_context("spawn")
        self.queue = ctx.Queue(maxsize=depth)
        self.proc = ctx.Process(target=_producer, args=(factory, position, self.queue), daemon=True)
        self.proc.start()

    def __iter__(self) -> Iterator[Batch]:
        while True:
            item = self.queue.get()
            if isinstance(item, Exception):
                raise RuntimeError(f"data worker failed: {item!r}") from item
            yield item

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)


class ParallelBatches:
    """Batches from several data processes taken strictly in turn, for an accelerator that trains
    faster than one process prepares lines.

    Each process runs its own :class:`Batcher` (its own seed and, with enough shards, its own shards),
    so the sequence is a pure function of the configuration: the resumable position is every
    process's own position plus whose turn is next, ``{"workers": [...], "next": k}``.
    """

    def __init__(self, factories: Sequence[Any], position: dict[str, Any] | None = None, depth: int = 4) -> None:
        n = len(factories)
        position = position or {"workers": [None] * n, "next": 0}
        if "workers" not in position or len(position["workers"]) != n:
            have = len(position.get("workers", [])) if "workers" in position else 1
            raise ValueError(f"the checkpoint was written with {have} data process(es); resume with workers={have}")
        self.positions: list[dict[str, Any] | None] = list(position["workers"])
        self.next = int(position["next"])
        ctx = mp.get_context("spawn")
        self.queues = [ctx.Queue(maxsize=depth) for _ in range(n)]
        self.procs = [ctx.Process(target=_producer, args=(f, p, q), daemon=True)
                      for f, p, q in zip(factories, self.positions, self.queues)]
        for proc in self.procs:
            proc.start()

    def __iter__(self) -> Iterator[Batch]:
        while True:
            k = self.next
            while True:
                try:
                    item = self.queues[k].get(timeout=10)
                    break
                except queue.Empty:
                    if not self.procs[k].is_alive():  # killed (out of memory, say): fail, do not hang
                        raise RuntimeError(f"data worker {k} died (exit code {self.procs[k].exitcode})") from None
            if isinstance(item, Exception):
                raise RuntimeError(f"data worker {k} failed: {item!r}") from item
            self.positions[k] = {"pool": item.pool, "index": item.index + 1, "state": item.state}
            self.next = (k + 1) % len(self.queues)
            yield item

    def position(self) -> dict[str, Any]:
        """Where to resume after the last batch handed out."""
        return {"workers": list(self.positions), "next": self.next}

    def close(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join(timeout=5)


# -- held-out evaluation sets -----------------------------------------------------------------------------------

def heldout_set(cache_dir: str | Path, languages: Sequence[str], per_language: int, seed: int,
                degrade: str = "mixed", shared: str | None = None) -> dict[str, list[LineSample]]:
    """Fixed held-out lines per language (held-out fonts and corpus lines), rendered once and cached.

    The cache is one tar per language named after (language, seed, count, degrade); a later run with
    the same settings reads it instead of rendering.
    """
    from polyocr.synth.page import Rejected, Resources, SynthConfig, generate_line

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[LineSample]] = {}
    for lang in languages:
        path = cache_dir / f"heldout-{lang}-s{seed}-n{per_language}-{degrade}.tar"
        if not path.is_file():
            # typeset_marks=0: the fixed set every shipped model was measured on (marks came later)
            cfg = SynthConfig(seed=seed, languages=(lang,), split="heldout", degrade=degrade, shared=shared,
                              image_format="png", typeset_marks=0.0)
            res = Resources(cfg)
            tmp = path.with_suffix(".tar.tmp")
            with tarfile.open(tmp, "w") as tf:
                i = made = 0
                while made < per_language and i < per_language * 5:
                    try:
                        s = generate_line(cfg, res, i)
                    except Rejected:
                        i += 1
                        continue
                    for ext, data in s.encode(cfg, f"{i:07d}").items():
                        info = tarfile.TarInfo(f"{i:07d}.{ext}")
                        info.size = len(data)
                        tf.addfile(info, io.BytesIO(data))
                    made += 1
                    i += 1
            tmp.replace(path)
        src = ShardSource([path])
        out[lang] = [src.next() for _ in range(len(tar_samples(path)))]
        src.close()
    return out
