"""Teach the recognizer a new exercise from a few clips (LiFT's few-shot case, docs/design.md §2).

    countllm finetune --config finetune/recipes/lift/add_exercise.yaml examples=DIR name="turkish get-up"
    countllm recognize CLIP --model outputs/lift/add_exercise

DIR holds videos or pose files of the exercise (any number from 1; 5–10 is better, see the
few-shot curves in docs/design.md §2). What happens, and why this way:

* the name goes through the one label vocabulary (`countllm.labels`): a name it already knows
  ("press-ups") adds examples to that exercise; a new one gets an id (turkish_get_up) that is
  written to the user labels file, so `count --question "how many turkish get-ups?"`, the
  agent and `eval` spell it the same way from then on;
* the posture-and-motion head (countllm/recognize/kinematics.py) is refitted on the window
  features it was fitted on (shipped with the checkpoint, `kinematic_examples.npz`) plus those
  of the new clips, the new exercise weighing as much as any other — seconds on a CPU, with no
  training data and no GPU;
* the transformer is kept as it is: it scores the new exercise through the words of its name
  it already answers ("single leg squat" shares "squat"), or not at all when it shares none.
  Its calibration (temperature, head weight, floor) is kept too: a handful of clips is too few
  to refit it, and it was fitted on clips neither model was trained on.

A clip that cannot be read is reported and skipped; when none can, nothing is written. The new
folder is a complete checkpoint (`--model DIR` everywhere the recognizer is used).
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from countllm import labels
from countllm.errors import CountLLMError, InputError
from countllm.recognize.checkpoint import DEFAULT_FOLDER
from countllm.recognize.kinematics import examples_of, fit_head, load_examples
from countllm.recognize.recognizer import Recognizer, load_recognizer

from .config import apply_override
from .lift_head import write_folder


@dataclass(frozen=True)
class AddExerciseConfig:
    kind: str = "lift_add_exercise"
    examples: str | None = None  # folder of videos or pose files of the exercise
    name: str | None = None  # how people write it ("turkish get-up")
    aliases: tuple[str, ...] = ()
    base: str | None = None  # the recognizer folder to extend (None: the shipped one)
    output_dir: str = "outputs/lift/add_exercise"
    labels_file: str | None = None  # None: $COUNTLLM_LABELS, else ~/.config/countllm/labels.yaml
    fps: float = 30.0  # frame rate of pose files (videos carry their own)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
                check_inputs: bool = True) -> AddExerciseConfig:
    """The recipe with its overrides; `check_inputs` False reads the template alone (no examples/name)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no recipe at {path}; see finetune/recipes/lift/add_exercise.yaml")
    data = yaml.safe_load(path.read_text()) or {}
    for assignment in overrides:
        apply_override(data, assignment)
    names = {f.name for f in fields(AddExerciseConfig)}
    if set(data) - names:
        raise ValueError(f"{path}: unknown keys {sorted(set(data) - names)}; accepted: {sorted(names)}")
    if "aliases" in data:
        data["aliases"] = tuple(data["aliases"] or ())
    cfg = AddExerciseConfig(**data)
    if cfg.kind != "lift_add_exercise":
        raise ValueError(f"{path}: kind {cfg.kind!r} is not an add-exercise recipe (kind: lift_add_exercise)")
    if not check_inputs:
        return cfg
    if not cfg.examples or not cfg.name:
        raise ValueError("say which clips and which exercise: examples=DIR name=\"exercise name\"")
    if not Path(cfg.examples).is_dir():
        raise ValueError(f"examples={cfg.examples} is not a folder of videos or pose files")
    return cfg


def new_id(name: str) -> str:
    """A label id for a name the vocabulary does not know ("Turkish Get-Up" → turkish_get_up)."""
    label_id = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not label_id or not label_id[0].isalpha():
        raise ValueError(f"name {name!r} needs a letter first to make an exercise id")
    return label_id


def labels_file(cfg: AddExerciseConfig) -> Path:
    if cfg.labels_file:
        return Path(cfg.labels_file).expanduser()
    return labels.user_labels_path() or labels.USER_LABELS_PATH.expanduser()


def register(cfg: AddExerciseConfig) -> tuple[str, Path | None]:
    """The exercise id of `cfg.name`; a new one is written to the user labels file (returned)."""
    known = labels.normalize(cfg.name)
    if known is not None:
        return known, None
    label_id = new_id(cfg.name)
    path = labels_file(cfg)
    data: dict[str, Any] = {}
    if path.is_file():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data.setdefault("exercises", {})[label_id] = {"name": cfg.name, **({"aliases": list(cfg.aliases)}
                                                                        if cfg.aliases else {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return label_id, path


def clip_paths(folder: Path) -> list[Path]:
    from countllm.batch.inputs import COUNTABLE_SUFFIXES  # noqa: PLC0415

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in COUNTABLE_SUFFIXES)


def read_clips(paths: list[Path], recognizer: Recognizer, fps: float) -> tuple[list[np.ndarray], list[str]]:
    """(prepared joints of every readable clip, one line per clip that was not)."""
    from countllm.media import DecodeOptions, MediaInputs  # noqa: PLC0415

    clips, failed = [], []
    for path in paths:
        try:
            pose = MediaInputs.open(path, DecodeOptions(fps=fps if path.suffix.lower() in (".npy", ".npz")
                                                        else None)).pose()
            joints = recognizer.prepare(pose)
            if len(joints) < 2:
                raise InputError(str(path), "too short to use (under 2 frames at 12.5 fps)")
            clips.append(joints)
        except CountLLMError as exc:
            failed.append(" ".join(str(exc).split()))
    return clips, failed


def add_exercise(cfg: AddExerciseConfig) -> tuple[Path, dict[str, Any]]:
    """Write the extended checkpoint; returns (its folder, the report saved in its training.json)."""
    base = Path(cfg.base) if cfg.base else DEFAULT_FOLDER
    recognizer = load_recognizer(base)
    stored = load_examples(base)
    if recognizer.head is None or stored is None:
        raise InputError(str(base), "this recognizer has no kinematic head or examples to extend; refit one "
                                    "with `python -m countllm.finetune.lift_refit`")
    paths = clip_paths(Path(cfg.examples))
    if not paths:
        raise InputError(cfg.examples, "no videos or pose files (.mp4, .npy, ...) in this folder")
    clips, failed = read_clips(paths, recognizer, cfg.fps)
    if not clips:
        raise InputError(cfg.examples, f"none of the {len(paths)} clips could be used; first: {failed[0]}")
    label_id, written = register(cfg)
    exercises = list(recognizer.head.exercises) + ([label_id] if label_id not in recognizer.head.exercises else [])
    share = stored.weights.sum() / len(recognizer.head.exercises)
    known = label_id in recognizer.head.exercises
    # a known exercise keeps its old examples: old and new then weigh half of its share each
    new = examples_of([(j, label_id) for j in clips], recognizer.cfg.image.fps, recognizer.head.cfg,
                      share / 2 if known else share)
    examples = (stored.reweighted(label_id, 0.5) if known else stored).plus(new)
    names = {**recognizer.head.names, label_id: labels.display_name(label_id) if written is None else cfg.name}
    head = fit_head(examples, exercises, names, recognizer.head.cfg)
    extended = Recognizer(recognizer.model, recognizer.calibration, None, head)
    hits = [extended.recognize_prepared(j).scores for j in clips]
    report = {"exercise": label_id, "name": names[label_id], "clips": len(clips), "failed": failed,
              "windows": len(new.labels), "labels_file": str(written) if written else None,
              "base": str(base), "config": {k: (list(v) if isinstance(v, tuple) else v)
                                            for k, v in asdict(cfg).items()},
              "fit_on_its_own_clips": float(np.mean([max(s, key=s.get) == label_id for s in hits])),
              "note": "the transformer and the calibration are the base checkpoint's (see the module doc)"}
    training = {"add_exercise": report}
    previous = base / "training.json"
    if previous.is_file():
        import json  # noqa: PLC0415

        training["base_training"] = {k: v for k, v in json.loads(previous.read_text()).items()
                                     if k in ("recipe", "data", "calibration", "kinematic_head")}
    folder = write_folder(extended, examples, Path(cfg.output_dir), training)
    return folder, report


def main(config: Path, overrides: list[str]) -> int:
    """`countllm finetune` for a recipe of kind lift_add_exercise (one-line errors are the CLI's)."""
    try:
        cfg = load_config(config, overrides)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        raise InputError(str(config), " ".join(str(exc).split())) from None
    folder, report = add_exercise(cfg)
    for line in report["failed"]:
        print(f"skipped: {line}", file=sys.stderr)
    where = f"; its name was added to {report['labels_file']}" if report["labels_file"] else ""
    print(f"added {report['exercise']} ({report['name']}) from {report['clips']} clip(s), "
          f"{report['windows']} windows{where}")
    print("note: the transformer and calibration are the base recognizer's; only the kinematic head was refitted")
    print(f"final checkpoint: {folder}  (use it with --model {folder})")
    return 0
