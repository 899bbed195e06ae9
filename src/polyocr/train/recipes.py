"""Typed training configuration and the named recipes.

A recipe is a :class:`TrainConfig` value; the command line picks one by name and changes single
fields with typed overrides (``--set lr=5e-4 --set model.d_model=256``), never by executing code.
The config is written into every checkpoint and into the exported ``model.json``.

Budget note: one training line costs ~0.04 CPU-seconds in bf16 (24.8 lines per CPU-second measured
with 1 thread on generator lines, mean padded width 318 px), so both idle cores give ~45 lines/s and
a step of 32 lines ~0.7 s: the default 100K steps are 3.2 M lines, about 19-20 h. Set ``steps`` to the
budget you have: the cosine schedule is laid out over ``steps``. The unified recipe spends its samples
where the charset is: the CJK languages get more weight than the alphabetic ones.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, replace
from typing import Any

from polyocr.configs import config_kwargs
from polyocr.languages import LANGUAGES
from polyocr.models.recognizer import RecognizerConfig

__all__ = ["TrainConfig", "RECIPES", "get_recipe", "apply_overrides"]


@dataclass
class TrainConfig:
    recipe: str = "unified"
    model: RecognizerConfig = field(default_factory=RecognizerConfig)
    # -- data -------------------------------------------------------------------------------------
    languages: tuple[str, ...] = tuple(LANGUAGES)
    language_weights: tuple[float, ...] = ()    # per-language sampling weights (empty = uniform)
    synth_ratio: float = 1.0                    # share of lines rendered on the fly by the generator
    shards: tuple[str, ...] = ()                # `polyocr synth lines` datasets (folders of .tar) or .tar files
    shards_ratio: float = 1.0                   # share of lines read from shards (when shards are given)
    real: tuple[str, ...] = ()                  # folders of real annotated lines (images+txt, PAGE-XML, ALTO)
    real_ratio: float = 0.0                     # share of real lines (when folders are given)
    synth_seed: int = 0
    degrade: str = "mixed"
    shared: str | None = None                   # shared data folder for the generator (None = autodetect)
    batch_size: int = 32
    max_batch_frames: int = 0                   # split a batch into parts of at most this many lines × frames
                                                # for the backward pass, gradients summed (0 = whole batches):
                                                # big batches of wide lines fit in a CPU's memory
    pool_batches: int = 20                      # batches sorted by width together (padding control)
    max_width: int = 1600
    augment: bool = True                        # width jitter ±15 %
    augment_strength: float = 0.0               # stroke weight, slant, blur, noise (polyocr.train.augment); 0 = off
    remargin: float = 0.0                       # share of lines re-cropped across the line around their ink
    remargin_range: tuple[float, float] = (-0.05, 0.4)  # ... with this margin per side, × the ink height
    workers: int = 0                            # 0: data in the training process; 1: one child process;
                                                # n > 1: n processes in turn, each its own seed and shards
    init: str = ""                              # start from these weights (model.safetensors), e.g. unified → ja
    init_layers: tuple[int, ...] = ()           # with init: keep only these transformer layers (a smaller student)
    init_ffn_mult: int = 0                      # with init: prune each MLP to this × d_model hidden units (0 = keep)
    # -- distillation (polyocr.train.distill) ------------------------------------------------------
    teacher: str = ""                           # add a per-frame KL term towards these weights' distributions
    distill_weight: float = 1.0                 # loss = CTC + distill_weight × KL (with a teacher)
    distill_temperature: float = 1.0
    distill_skip: tuple[str, ...] = ()          # languages whose lines get no KL term: a fine-tune moves them
                                                # while the teacher holds the others where they were
    # -- data curation (polyocr.train.curate) ----------------------------------------------------------
    scores: str = ""                            # line scores of the shards (`polyocr train score`)
    curation: str = "none"                      # none | filter (drop the worst-read lines) | loss (reweight)
    curation_drop: float = 0.05                 # filter: share dropped per language
    curation_power: float = 0.5                 # loss: weight ∝ (loss / median) ** power ...
    curation_clip: float = 4.0                  # ... clipped to [1/clip, clip]
    # -- optimisation ----------------------------------------------------------------------------
    steps: int = 100_000
    lr: float = 1e-3
    min_lr_ratio: float = 0.02                  # cosine decays to lr × this
    warmup: int = 1000
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 2.0
    bf16: bool = True                           # bf16 autocast for the network; CTC in fp32
    threads: int = 2
    device: str = "cpu"                         # cpu | cuda | auto (cuda when torch sees one)
    seed: int = 0
    # -- bookkeeping ----------------------------------------------------------------------------------
    log_every: int = 50
    eval_every: int = 2000
    eval_per_language: int = 150
    eval_seed: int = 777
    eval_cache: str = ""                        # held-out cache folder ("" = <out>/heldout)
    ckpt_minutes: float = 15.0
    ckpt_every: int = 0                         # also every N steps (0 = by time only)
    keep_ckpts: int = 2

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        d = dict(d)
        model = RecognizerConfig.from_dict(d.pop("model", {}))
        return cls(model=model, **config_kwargs(cls, d))

    def weights_by_language(self) -> dict[str, float]:
        w = self.language_weights or (1.0,) * len(self.languages)
        if len(w) != len(self.languages):
            raise ValueError(f"{len(self.languages)} languages but {len(w)} language weights")
        return dict(zip(self.languages, w))


def _specialised(lang: str, steps: int = 60_000) -> TrainConfig:
    """One language plus 15 % English (Latin words occur inside every language's text)."""
    return TrainConfig(recipe=lang, languages=(lang, "en"), language_weights=(0.85, 0.15), steps=steps)


RECIPES: dict[str, TrainConfig] = {
    # All eight languages; weights roughly follow each language's share of the charset and how hard
    # its script is (Han × 2 scripts + kana + Hangul syllables vs. small alphabets).
    "unified": TrainConfig(recipe="unified",
                           language_weights=tuple({"en": 0.7, "zh-Hans": 1.6, "zh-Hant": 1.6, "ja": 1.5, "ko": 1.1,
                                                   "ru": 0.7, "ar": 1.0, "he": 0.7}[c] for c in LANGUAGES)),
    "ja": _specialised("ja"),
    "ko": _specialised("ko"),
    "ru": _specialised("ru", steps=30_000),
    "ar": _specialised("ar", steps=40_000),
}


def get_recipe(name: str) -> TrainConfig:
    try:
        return replace(RECIPES[name])
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


def _convert(value: str, typ: Any) -> Any:
    origin = typing.get_origin(typ)
    if typ is bool:
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if origin is tuple:
        args = typing.get_args(typ)
        parts = [v for v in value.split(",") if v.strip()] if value else []
        item = args[0] if args else str
        return tuple(_convert(v.strip(), item) for v in parts)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if value.lower() in ("none", "null"):
            return None
        return _convert(value, args[0])
    if typ in (int, float, str):
        return typ(value)
    raise ValueError(f"cannot set a field of type {typ}")


def apply_overrides(cfg: TrainConfig, overrides: list[str]) -> TrainConfig:
    """``["lr=5e-4", "model.d_model=256", "languages=ja,en"]`` → a new config (types checked)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not key=value")
        target: Any = cfg
        path = key.strip().split(".")
        if len(path) == 2 and path[0] == "model":
            target, name = cfg.model, path[1]
        elif len(path) == 1:
            name = path[0]
        else:
            raise ValueError(f"unknown setting {key!r}")
        hints = typing.get_type_hints(type(target))
        if name not in hints or name == "model":
            raise ValueError(f"unknown setting {key!r}; see polyocr.train.recipes.TrainConfig")
        new = replace(target, **{name: _convert(value.strip(), hints[name])})
        cfg = replace(cfg, model=new) if target is cfg.model else new
    return cfg
