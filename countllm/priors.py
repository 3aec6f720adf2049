"""Semantic priors of actions (docs/design.md §5): what moves, how long a cycle takes, what it contains.

Why: the pose counter otherwise picks whichever body signal repeats most cleanly, and for some
actions the cleanest signal is the wrong one (a jumping jack's wrists pass their widest point
twice per repetition) or the period search settles on a harmonic. Knowing that a squat moves
the knees and hips and takes 1–4 s rules those out. Priors are mined once from an LLM
(`countllm mine priors`, in `countllm.agents`) and shipped as JSON; this module only reads,
validates and matches them, so the core library never needs an LLM.

A record may be partial: a field the LLM could not answer in a valid form is left empty
(`moving_joints == []`, `cycle_s is None`) rather than guessed, and the counter then simply does
not use that part. Body-part words ("knees", "arms", "hips", even muscles such as "quads") are
normalised onto the 17 Human3.6M joints by the explicit table `BODY_PARTS`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from countllm import labels
from countllm.errors import InputError
from countllm.labels import singular
from countllm.pose.layouts import H36M_JOINTS

MIN_CYCLE_S, MAX_CYCLE_S = 0.2, 30.0  # a cycle range outside this is not a human repetition

_BOTH = {side: (f"l_{side}", f"r_{side}") for side in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")}
_ARMS = _BOTH["shoulder"] + _BOTH["elbow"] + _BOTH["wrist"]
_LEGS = _BOTH["hip"] + _BOTH["knee"] + _BOTH["ankle"]
# Body-part word (singular, lower case) → H36M joints. Muscles map onto the joints they move.
BODY_PARTS: dict[str, tuple[str, ...]] = {
    "knee": _BOTH["knee"], "hip": ("root",) + _BOTH["hip"], "pelvis": ("root",) + _BOTH["hip"],
    "ankle": _BOTH["ankle"], "foot": _BOTH["ankle"], "feet": _BOTH["ankle"], "toe": _BOTH["ankle"],
    "leg": _LEGS, "thigh": _BOTH["hip"] + _BOTH["knee"], "quad": _BOTH["hip"] + _BOTH["knee"],
    "quadricep": _BOTH["hip"] + _BOTH["knee"], "hamstring": _BOTH["hip"] + _BOTH["knee"],
    "glute": ("root",) + _BOTH["hip"], "calf": _BOTH["knee"] + _BOTH["ankle"],
    "calve": _BOTH["knee"] + _BOTH["ankle"], "shin": _BOTH["knee"] + _BOTH["ankle"],
    "shoulder": _BOTH["shoulder"], "deltoid": _BOTH["shoulder"], "delt": _BOTH["shoulder"],
    "lat": _BOTH["shoulder"], "trap": ("neck",) + _BOTH["shoulder"],
    "chest": ("thorax",) + _BOTH["shoulder"], "pec": ("thorax",) + _BOTH["shoulder"],
    "elbow": _BOTH["elbow"], "bicep": _BOTH["elbow"] + _BOTH["wrist"],
    "tricep": _BOTH["elbow"] + _BOTH["wrist"], "forearm": _BOTH["elbow"] + _BOTH["wrist"],
    "wrist": _BOTH["wrist"], "hand": _BOTH["wrist"], "arm": _ARMS, "upper arm": _BOTH["shoulder"] + _BOTH["elbow"],
    "torso": ("spine", "thorax"), "trunk": ("spine", "thorax"), "back": ("spine", "thorax"),
    "spine": ("spine", "thorax"), "core": ("spine", "thorax"), "ab": ("spine", "thorax"),
    "abdominal": ("spine", "thorax"), "waist": ("root", "spine"),
    "head": ("head", "neck"), "neck": ("neck", "head"), "whole body": ("root",), "body": ("root",),
}  # fmt: skip
_SIDES = {"left": "l", "right": "r"}


@dataclass(frozen=True)
class ActionPrior:
    """What is known about one action before looking at a video.

    `moving_joints` are H36M joint names; `cycle_s` the typical (min, max) seconds of one
    repetition, None when unknown; `source` says where the record came from (model, prompt
    digest, or "hand-written reference"), so a reader can judge how far to trust it.
    """

    action: str
    aliases: list[str] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    moving_joints: list[str] = field(default_factory=list)
    cycle_s: tuple[float, float] | None = None
    complete_when: str = ""
    confusions: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "aliases": list(self.aliases), "phases": list(self.phases),
                "moving_joints": list(self.moving_joints),
                "cycle_s": None if self.cycle_s is None else [self.cycle_s[0], self.cycle_s[1]],
                "complete_when": self.complete_when, "confusions": list(self.confusions),
                "source": dict(self.source)}

    def describe(self) -> str:
        """One line for a result's notes."""
        joints = ", ".join(self.moving_joints) or "unknown joints"
        cycle = "unknown cycle" if self.cycle_s is None else f"cycle {self.cycle_s[0]:g}–{self.cycle_s[1]:g} s"
        origin = self.source.get("model") or self.source.get("kind") or "unknown source"
        return f"prior {self.action!r} ({origin}): {joints}; {cycle}"


# --------------------------------------------------------------------------- body parts → joints
def body_part_joints(word: str) -> list[str]:
    """H36M joints named by one body-part word ("left knee", "Arms", "r_elbow", "quads").

    Raises ValueError for a word the table does not know, so a caller validating LLM output
    records it instead of silently dropping it.
    """
    text = re.sub(r"[\s_\-]+", " ", word.strip().lower())
    if text.replace(" ", "_") in H36M_JOINTS:
        return [text.replace(" ", "_")]
    words = text.split()
    side = _SIDES.get(words[0]) if words else None
    if side:
        words = words[1:]
    part = " ".join(singular(w) for w in words)
    if part not in BODY_PARTS:
        raise ValueError(f"unknown body part {word!r}; known: {', '.join(sorted(BODY_PARTS))} "
                         f"or an H36M joint ({', '.join(H36M_JOINTS)})")
    joints = BODY_PARTS[part]
    if side:
        joints = tuple(j for j in joints if j[:2] not in ("l_", "r_") or j.startswith(side + "_")) or joints
    return list(joints)


def normalise_joints(words: list[str]) -> list[str]:
    """Joints of all `words`, deduplicated, in H36M order; ValueError on an unknown word."""
    found = {j for w in words for j in body_part_joints(w)}
    return [j for j in H36M_JOINTS if j in found]


# --------------------------------------------------------------------------- matching
def match_action(text: str, priors: dict[str, ActionPrior]) -> ActionPrior | None:
    """The prior `text` (a question or a dataset type name) is about, or None.

    Spellings come from the one vocabulary, `countllm.labels`: a prior answers to its own action
    name and aliases plus every spelling of the exercise id they normalise to, so "press-ups",
    "pushups" and RepCountA's "push_up" all find the "push-up" prior. The longest match wins
    ("romanian deadlift" over "deadlift").
    """
    names = {}
    for key, prior in priors.items():
        found = (labels.normalize(n) for n in (prior.action, *prior.aliases))
        label = next((i for i in found if i is not None), None)
        names[key] = (prior.action, *prior.aliases, *(labels.aliases(label) if label else ()))
    best = labels.longest_match(text, names)
    return None if best is None else priors[best]


# --------------------------------------------------------------------------- loading
def default_priors_path() -> Path:
    """The priors shipped with the package: `countllm/knowledge/exercise_priors.json`."""
    return Path(str(resources.files("countllm.knowledge"))) / "exercise_priors.json"


def _string_list(record: dict, key: str) -> list[str]:
    value = record.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of strings, got {value!r}")
    return list(value)


def _cycle(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"'cycle_s' must be [min, max] seconds or null, got {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if not MIN_CYCLE_S <= lo <= hi <= MAX_CYCLE_S:
        raise ValueError(f"'cycle_s' {value!r} must satisfy {MIN_CYCLE_S} ≤ min ≤ max ≤ {MAX_CYCLE_S}")
    return lo, hi


def prior_from_json(record: Any) -> ActionPrior:
    """Validate one record; ValueError says which field is wrong."""
    if not isinstance(record, dict) or not isinstance(record.get("action"), str) or not record["action"].strip():
        raise ValueError("a record must be an object with a non-empty 'action' string")
    joints = _string_list(record, "moving_joints")
    unknown = [j for j in joints if j not in H36M_JOINTS]
    if unknown:
        raise ValueError(f"'moving_joints' has {unknown}, not H36M joints ({', '.join(H36M_JOINTS)})")
    source = record.get("source", {})
    if not isinstance(source, dict):
        raise ValueError(f"'source' must be an object, got {source!r}")
    complete_when = record.get("complete_when", "")
    if not isinstance(complete_when, str):
        raise ValueError(f"'complete_when' must be a string, got {complete_when!r}")
    return ActionPrior(action=record["action"], aliases=_string_list(record, "aliases"),
                       phases=_string_list(record, "phases"), moving_joints=joints,
                       cycle_s=_cycle(record.get("cycle_s")), complete_when=complete_when,
                       confusions=_string_list(record, "confusions"), source=source)


def load_priors(path: str | Path) -> dict[str, ActionPrior]:
    """Read a priors file ({"priors": {action: record}, ...}) keyed by action.

    Raises:
        InputError: the file is missing, not JSON, or a record does not validate (the message
            names the record and the field).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(str(path), f"cannot read the priors file ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"not valid JSON ({exc})") from None
    records = data.get("priors") if isinstance(data, dict) else None
    if not isinstance(records, dict):
        raise InputError(str(path), 'expected {"priors": {action: record, ...}}')
    priors = {}
    for key, record in records.items():
        try:
            priors[key] = prior_from_json(record)
        except ValueError as exc:
            raise InputError(str(path), f"prior {key!r}: {exc}") from None
    return priors
