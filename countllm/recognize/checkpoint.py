"""Save and load a recognizer checkpoint folder.

    config.json         {"format_version", "kind": "lift", "model": LiftConfig, "calibration": {...},
                         "questions": the lift_questions template's name, version and digest}
    model.safetensors   the weights, fp16 (about 2 MB)
    kinematic_head.json the posture-and-motion head (kinematics.py; optional, older checkpoints have none)
    kinematic_examples.npz  the window features that head was fitted on (optional; for adding an exercise)
    training.json       what it was trained on, how, and its validation metrics (optional)

The shipped default is `countllm/recognize/default/`; `python -m countllm.finetune.lift_train
--config finetune/recipes/lift/default.yaml` makes one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from countllm.errors import ModelUnavailable
from countllm.recognize.model import LiftConfig, LiftModel
from countllm.recognize.questions import question_template

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
DEFAULT_FOLDER = Path(__file__).with_name("default")
MAKE_ONE = "make one with `python -m countllm.finetune.lift_train --config finetune/recipes/lift/default.yaml`"


class CheckpointError(ModelUnavailable):
    """A recognizer folder that is missing, incomplete or corrupt; the message names the path and the fix."""


@dataclass(frozen=True)
class Calibration:
    """How scores become probabilities: exercise softmax temperature, and the floor below which
    the answer is "unknown" (both chosen on held-out training clips, see training.json)."""

    temperature: float = 1.0
    confidence_floor: float = 0.3
    kinematic_weight: float = 0.0  # of the posture-and-motion head's log-probabilities (kinematics.py); 0: none


def save_checkpoint(model: LiftModel, folder: str | Path, calibration: Calibration,
                    training: dict[str, Any] | None = None) -> Path:
    from safetensors.torch import save_file  # noqa: PLC0415

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = question_template()
    config = {"format_version": FORMAT_VERSION, "kind": "lift", "model": model.cfg.to_dict(),
              "calibration": asdict(calibration),
              "questions": {"name": template.name, "version": template.version, "sha256_16": template.digest}}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    tensors = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS))
    if training is not None:
        (folder / "training.json").write_text(json.dumps(training, indent=1))
    return folder


def read_config(folder: Path) -> tuple[LiftConfig, Calibration]:
    if not folder.is_dir():
        raise CheckpointError(str(folder), f"no such folder; pass a recognizer checkpoint folder, or {MAKE_ONE}")
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(str(folder), f"no recognizer checkpoint here (config.json missing); {MAKE_ONE}")
    try:
        data = json.loads(path.read_text())
        if data.get("format_version") != FORMAT_VERSION or data.get("kind") != "lift":
            raise CheckpointError(str(path), f"not a recognizer checkpoint of format {FORMAT_VERSION} "
                                  f"(kind {data.get('kind')!r}, format {data.get('format_version')!r}); {MAKE_ONE}")
        return LiftConfig.from_dict(data["model"]), Calibration(**data.get("calibration", {}))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(str(path), f"not a readable recognizer config ({exc}); {MAKE_ONE}") from None


def load_checkpoint(folder: str | Path) -> tuple[LiftModel, Calibration]:
    """The model (fp32, eval mode) and calibration of a checkpoint folder; CheckpointError if unusable."""
    from safetensors import SafetensorError  # noqa: PLC0415
    from safetensors.torch import load_file  # noqa: PLC0415

    folder = Path(folder)
    cfg, calibration = read_config(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(str(folder), f"{WEIGHTS} missing; {MAKE_ONE}")
    try:
        model = LiftModel(cfg)
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        model.load_state_dict(state)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(str(weights), f"weights do not load ({' '.join(str(exc).split())[:200]}); "
                              f"{MAKE_ONE}") from None
    model.eval()
    return model, calibration
