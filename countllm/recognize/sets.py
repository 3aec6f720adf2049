"""Split a workout into sets of different exercises and count each: `split_sets(inputs)`.

How:
1. **Rests** are where the body barely moves: the local spread (standard deviation over a 2 s
   window) of the normalised joints, averaged over joints and axes, stays below a quarter of
   its 90th percentile for at least 2 s.
2. **Exercise over time**: the recognizer scores windows of 6 s every 1 s; every moving frame
   takes the exercise of the nearest window centre.
3. **Merge**: runs shorter than 4 s are absorbed by the longer neighbour (a window straddling two
   exercises, or a stumble, is not a set); consecutive frames of one exercise form a set, and a
   rest always ends one (two sets of squats stay two sets).
4. **Count** each set through the one `auto` policy (`run_counter("auto", ...)`) on that set's
   time range, with the semantic prior of its exercise; the set's confidence is the count's.
A set whose exercise probability is below the recognizer's confidence floor is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from countllm import labels
from countllm.media import MediaInputs, crop_pose
from countllm.types import JSON_SCHEMA_VERSION, Segment

if TYPE_CHECKING:
    from countllm.priors import ActionPrior
    from countllm.recognize.recognizer import Recognizer


@dataclass(frozen=True)
class SetsConfig:
    window_s: float = 6.0
    hop_s: float = 1.0
    min_set_s: float = 4.0
    activity_window_s: float = 2.0
    rest_ratio: float = 0.25  # of the 90th percentile of activity
    min_rest_s: float = 2.0


@dataclass
class ExerciseSet:
    exercise: str
    start_s: float
    end_s: float
    count: int
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "count": int(self.count), "confidence": round(float(self.confidence), 3)}


@dataclass
class SetsResult:
    sets: list[ExerciseSet]
    rests: list[Segment]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sets": [s.to_json() for s in self.sets],
                "rests": [[round(r.start, 3), round(r.end, 3)] for r in self.rests],
                "schema_version": JSON_SCHEMA_VERSION}


def activity(joints: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """(T,) local motion: std over a centred `window_s` window, mean over joints and axes."""
    w = max(2, int(round(window_s * fps)))
    x = joints.reshape(len(joints), -1).astype(np.float64)
    pad = np.pad(x, ((w // 2, w - 1 - w // 2), (0, 0)), mode="edge")
    c1 = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), pad]), axis=0)
    c2 = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), pad ** 2]), axis=0)
    mean = (c1[w:] - c1[:-w]) / w
    var = np.maximum((c2[w:] - c2[:-w]) / w - mean ** 2, 0.0)
    return np.sqrt(var).mean(axis=1)


def runs(values: np.ndarray) -> list[tuple[int, int, Any]]:
    """[(start, stop, value)] of the maximal runs of equal values."""
    out, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out.append((start, i, values[start]))
            start = i
    return out


def rest_mask(joints: np.ndarray, fps: float, cfg: SetsConfig) -> np.ndarray:
    act = activity(joints, fps, cfg.activity_window_s)
    still = act < cfg.rest_ratio * max(np.percentile(act, 90), 1e-9)
    keep = np.zeros(len(still), dtype=bool)
    for a, b, value in runs(still):
        if value and (b - a) / fps >= cfg.min_rest_s:
            keep[a:b] = True
    return keep


def frame_labels(centres: np.ndarray, window_labels: np.ndarray, rest: np.ndarray, fps: float) -> np.ndarray:
    """(T,) the label index of the nearest window centre per moving frame; -1 at rests."""
    times = np.arange(len(rest)) / fps
    nearest = np.abs(times[:, None] - centres[None, :]).argmin(axis=1)
    return np.where(rest, -1, window_labels[nearest])


def absorb_short_runs(lab: np.ndarray, min_frames: int) -> np.ndarray:
    """Runs of one exercise shorter than `min_frames` take the label of their longer moving
    neighbour; isolated short runs (rests on both sides) become rest. Shortest runs go first."""
    lab = lab.copy()
    while True:
        short = [r for r in runs(lab) if r[2] >= 0 and r[1] - r[0] < min_frames]
        if not short:
            return lab
        a, b, _ = min(short, key=lambda r: r[1] - r[0])
        left = lab[a - 1] if a > 0 else -1
        right = lab[b] if b < len(lab) else -1
        if left < 0 and right < 0:
            lab[a:b] = -1
            continue
        neighbours = {r[2]: r[1] - r[0] for r in runs(lab) if r[2] >= 0 and (r[1] == a or r[0] == b)}
        lab[a:b] = max(neighbours, key=neighbours.get)


@lru_cache(maxsize=1)
def _priors() -> dict[str, ActionPrior]:
    from countllm.priors import default_priors_path, load_priors  # noqa: PLC0415

    return load_priors(default_priors_path())


def count_set(inputs: MediaInputs, exercise: str, start_s: float, end_s: float) -> tuple[int, float, list[str]]:
    """The auto policy's count of one set, with the prior of its exercise when there is one."""
    from countllm.counters.base import CountRequest  # noqa: PLC0415
    from countllm.counters.registry import run_counter  # noqa: PLC0415
    from countllm.priors import match_action  # noqa: PLC0415

    prior = match_action(labels.display_name(exercise), _priors()) if exercise in labels.known_ids() else None
    result = run_counter("auto", CountRequest(inputs, start_s=start_s, end_s=end_s, prior=prior))
    return result.count, result.confidence, result.notes


def split_sets(inputs: MediaInputs, recognizer: Recognizer | None = None, start_s: float = 0.0,
               end_s: float | None = None, config: SetsConfig | None = None) -> SetsResult:
    """The sets (exercise, span, count, confidence) and rests of `inputs` in [start_s, end_s)."""
    from countllm.recognize.recognizer import UNKNOWN, load_recognizer  # noqa: PLC0415

    cfg = config or SetsConfig()
    recognizer = recognizer or load_recognizer()
    pose = inputs.pose()
    if start_s > 0 or end_s is not None:
        pose = crop_pose(pose, start_s, end_s)
    joints = recognizer.prepare(pose)
    fps = recognizer.cfg.image.fps
    centres, probs = recognizer.window_exercise_probs(joints, cfg.window_s, cfg.hop_s)
    ids = recognizer.exercises
    rest = rest_mask(joints, fps, cfg)
    lab = absorb_short_runs(frame_labels(centres, probs.argmax(axis=1), rest, fps), int(cfg.min_set_s * fps))
    sets, notes = [], [f"exercise per {cfg.window_s:g} s window every {cfg.hop_s:g} s; rests where the body "
                       "is still for 2 s or more; each set counted by the auto policy with its exercise's prior"]
    for a, b, value in runs(lab):
        if value < 0:
            continue
        t0, t1 = a / fps, min(b / fps, (len(joints) - 1) / fps)
        inside = (centres >= t0) & (centres < t1)
        p = probs[inside].mean(axis=0) if inside.any() else probs[np.abs(centres - (t0 + t1) / 2).argmin()]
        exercise = ids[value] if p[value] >= recognizer.calibration.confidence_floor else UNKNOWN
        count, confidence, count_notes = count_set(inputs, exercise, start_s + t0, start_s + t1)
        sets.append(ExerciseSet(exercise, start_s + t0, start_s + t1, count, confidence))
        notes += [f"set {len(sets)} ({exercise}): {n}" for n in count_notes[:1]]
    duration = (len(joints) - 1) / fps
    rests = _gaps([(s.start_s - start_s, s.end_s - start_s) for s in sets], duration, start_s)
    return SetsResult(sets, rests, notes + [n for n in inputs.notes if n not in notes])


def _gaps(spans: list[tuple[float, float]], duration: float, offset: float, min_s: float = 1.0) -> list[Segment]:
    """The parts of [0, duration] no set covers, at least `min_s` long, on the video clock."""
    edges = [0.0] + [x for span in spans for x in span] + [duration]
    return [Segment(offset + a, offset + b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_s]
