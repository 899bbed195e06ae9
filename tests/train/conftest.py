"""Shared setup for the training tests: render helpers live in tests/render_util.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
