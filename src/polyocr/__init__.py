"""polyocr: multilingual OCR trained on synthetic documents."""

from polyocr.document import Block, Document, Line, Page, Word

__version__ = "0.1.0"
__all__ = ["Document", "Page", "Block", "Line", "Word", "__version__"]
