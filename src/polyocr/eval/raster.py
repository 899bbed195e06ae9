"""The same upright pixels for every engine, whatever the page file is.

Our pipeline reads every input type (``inputs.SUPPORTED``) and turns a page upright by its EXIF
orientation. The baselines decode files their own way: Tesseract through leptonica (no HEIC, AVIF
or PDF, and EXIF orientation ignored), RapidOCR through OpenCV (EXIF applied, no HEIC or PDF, a
TIFF's first page only). Scored on the raw file, a baseline could lose a page to its decoder or read
it sideways, and the table would say the engine reads worse when it was handed something else.

So a page a baseline cannot be trusted to decode as we do is decoded once by
:func:`polyocr.pipeline.inputs.load_pages` (PDF at the pipeline's dpi) and kept as a lossless PNG
with its dpi; the baselines read that, our pipeline reads the file itself. A PNG, JPEG or TIFF of
one page without an EXIF rotation is handed over as it is. An eval page is one page: a file of
several is refused, since RapidOCR would read only the first and the truth covers them all.
"""

from __future__ import annotations

import io
from itertools import islice
from pathlib import Path
from typing import Sequence

from PIL import Image

from polyocr.eval.datasets import EvalPage
from polyocr.fileio import atomic_write

__all__ = ["NATIVE_SUFFIXES", "needs_decoding", "baseline_images"]

NATIVE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")   # what leptonica and OpenCV both decode alike
_ORIENTATION = 0x0112
PDF_DPI = 200   # ReadConfig's default, so a PDF page has the same pixels for every engine


def _check_one(path: Path, n: int) -> None:
    if n > 1:
        raise ValueError(f"{path}: more than one page in one eval page; some baselines read only the first, "
                         "so give each page its own file and .txt (or run --engines polyocr)")


def needs_decoding(path: Path) -> bool:
    """Whether the baselines should get our decoding of ``path`` instead of the file."""
    if path.suffix.lower() not in NATIVE_SUFFIXES:
        return True
    try:
        with Image.open(path) as im:
            _check_one(path, getattr(im, "n_frames", 1))
            return im.getexif().get(_ORIENTATION, 1) != 1
    except (OSError, SyntaxError):   # not what its name says: let our decoder say why, below
        return True


def baseline_images(pages: Sequence[EvalPage], folder: str | Path) -> dict[str, Path]:
    """``{page id: file the baselines read}``: the page's own file, or a PNG decoded into ``folder``.

    Raises ValueError (a one-line message naming the file) for a page that cannot be decoded or
    holds more than one page, before any engine has run.
    """
    from polyocr.pipeline.inputs import load_pages

    folder = Path(folder)
    chosen: dict[str, Path] = {}
    for page in pages:
        path = Path(page.image)
        if not needs_decoding(path):
            chosen[page.id] = path
            continue
        decoded = list(islice(load_pages(path, dpi=PDF_DPI), 2))   # InputError is a ValueError with one line
        _check_one(path, len(decoded))
        item = decoded[0]
        buf = io.BytesIO()
        extra = {"dpi": (item.dpi, item.dpi)} if item.dpi > 0 else {}
        item.image.save(buf, format="PNG", **extra)
        target = folder / f"{page.id}.png"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(target, buf.getvalue())
        chosen[page.id] = target
    return chosen
