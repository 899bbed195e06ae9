"""Per-sample random streams: sample *i* depends only on (run seed, i), never on workers or order.

Every component receives an explicit ``numpy.random.Generator``; nothing touches global state.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["sample_rng", "child_rng", "stable_hash"]


def stable_hash(text: str) -> int:
    """A 64-bit hash that, unlike ``hash()``, is the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def sample_rng(seed: int, index: int, stream: str = "") -> np.random.Generator:
    """The generator for one sample (and one named stream of it, e.g. "text" or "effects")."""
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, index, stable_hash(stream)]))


def child_rng(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator drawn from ``rng`` (advances ``rng`` by one draw)."""
    return np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
