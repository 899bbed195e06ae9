"""Reading typed configs back from JSON (checkpoints, weights' JSON descriptions)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

__all__ = ["config_kwargs"]


def config_kwargs(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """``d`` as keyword arguments for dataclass ``cls``: unknown keys are an error (a config written
    by another version must not be half-read), and JSON lists become the tuples the fields hold."""
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
