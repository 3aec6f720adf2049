"""A training stage as a typed config, read from one YAML file per stage (finetune/recipes/).

Command-line overrides use dotted keys (`train.steps=20`, `data.synthetic_clips=10`,
`phases.0.steps=5`) and YAML values, the torchtune way; an unknown key is an error, never
ignored, so a typo cannot silently train the wrong thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from countllm.finetune.data import DataConfig
from countllm.videollm.model import LossWeights

TRAINABLE_PARTS = ("periodicity", "projector", "lora")
PRECISIONS = ("no", "bf16", "fp16")


@dataclass(frozen=True)
class PhaseConfig:
    """A run of steps with one loss mix, one set of trainable parts and one learning rate."""

    name: str
    steps: int
    batch_size: int = 4
    loss: LossWeights = field(default_factory=LossWeights)
    train: tuple[str, ...] = TRAINABLE_PARTS
    lr: float = 3e-4  # periodicity transformer and projector
    lora_lr: float = 2e-4
    warmup_steps: int = 10
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0  # clip the global gradient norm (0: off)

    def __post_init__(self) -> None:
        unknown = set(self.train) - set(TRAINABLE_PARTS)
        if unknown:
            raise ValueError(f"phase {self.name!r}: unknown trainable parts {sorted(unknown)}; "
                             f"accepted: {TRAINABLE_PARTS}")
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"phase {self.name!r}: steps >= 0 and batch_size >= 1 are required")


@dataclass(frozen=True)
class ValidationConfig:
    every: int = 0  # steps between validations (0: only at the end of each phase)
    split: str = "val"  # which real split to validate on ("val": items never trained on)
    max_items: int = 64
    synthetic_clips: int = 24  # used when there is no real data
    batch_size: int = 8


@dataclass(frozen=True)
class StageConfig:
    stage: str
    output_dir: str
    phases: tuple[PhaseConfig, ...]
    tasks: dict[str, float]  # task → sampling weight
    init_from: str | None = None  # the previous stage's final checkpoint
    model: dict[str, Any] = field(default_factory=dict)  # VideoLLMConfig fields, for a fresh model
    prompt: dict[str, Any] = field(default_factory=dict)  # PromptConfig fields overriding the checkpoint's
    data: DataConfig = field(default_factory=DataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    seed: int = 0
    precision: str = "no"
    gradient_accumulation: int = 1
    checkpoint_every: int = 50
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if not self.phases:
            raise ValueError(f"stage {self.stage!r} has no phases")
        if self.init_from is not None and self.model:
            raise ValueError(f"stage {self.stage!r}: give either init_from or model, not both "
                             "(a stage that starts from a checkpoint keeps its architecture)")

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; accepted: {sorted(names)}")
    return cls(**data)


def stage_from_dict(data: dict[str, Any], where: str = "config") -> StageConfig:
    data = dict(data)
    phases = []
    for i, raw in enumerate(data.pop("phases", []) or []):
        raw = dict(raw)
        raw["loss"] = _build(LossWeights, raw.get("loss", {}), f"{where}: phases.{i}.loss")
        raw["train"] = tuple(raw.get("train", TRAINABLE_PARTS))
        phases.append(_build(PhaseConfig, raw, f"{where}: phases.{i}"))
    data["phases"] = tuple(phases)
    data["data"] = _build(DataConfig, data.get("data", {}) or {}, f"{where}: data")
    data["validation"] = _build(ValidationConfig, data.get("validation", {}) or {}, f"{where}: validation")
    return _build(StageConfig, data, where)


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """`a.b.0.c=value` → data["a"]["b"][0]["c"] = yaml(value)."""
    if "=" not in assignment:
        raise ValueError(f"override {assignment!r} must look like key.sub=value")
    key, value = assignment.split("=", 1)
    parts = key.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    parsed = yaml.safe_load(value) if value else None
    if isinstance(node, list):
        node[int(last)] = parsed
    else:
        node[last] = parsed


def load_stage_config(path: str | Path,
                      overrides: list[str] | tuple[str, ...] = ()) -> tuple[StageConfig, dict[str, Any]]:
    """The typed config and the raw dict it came from (saved beside every checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no stage config at {path}; the recipes are in finetune/recipes/")
    data = yaml.safe_load(path.read_text()) or {}
    for assignment in overrides:
        apply_override(data, assignment)
    return stage_from_dict(data, str(path)), data
