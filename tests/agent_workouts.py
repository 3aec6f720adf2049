"""Synthetic workouts with known answers, for the agent's question tables.

Each workout is a pose file (MediaPipe-33 rows at 30 fps) built from `countllm.synthetic`, with
its truth written down here: counts per exercise, cycle midpoints, rests. Several exercises in
one file are consecutive sequences, as a cut between sets would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from countllm.synthetic import SyntheticConfig, make_sequence, to_mediapipe33

FPS = 30.0


@dataclass
class Workout:
    path: Path
    counts: dict[str, int]  # exercise id → true count
    midpoints: list[float]  # every counted cycle's midpoint, seconds on the file's clock
    rests: list[tuple[float, float]] = field(default_factory=list)  # the pauses between reps (not lead-in/out)
    duration_s: float = 0.0
    segments: list[tuple[str, float, float]] = field(default_factory=list)  # (exercise, start, end) per set

    def count_between(self, start: float | None, end: float | None) -> int:
        lo, hi = start if start is not None else -1.0, end if end is not None else 1e9
        return sum(lo <= m < hi for m in self.midpoints)


SPECS: dict[str, list[SyntheticConfig]] = {
    "squat_rest": [SyntheticConfig(exercise="squat", n_reps=8, rests=[(3, 6.0)], seed=1, fps=FPS)],
    "pushup_slowing": [SyntheticConfig(exercise="push_up", n_reps=9, tempo_drift=0.8, seed=2, fps=FPS)],
    "jacks_faster": [SyntheticConfig(exercise="jumping_jack", n_reps=14, tempo_drift=-0.3, seed=3, fps=FPS)],
    "curls": [SyntheticConfig(exercise="bicep_curl", n_reps=10, seed=4, fps=FPS)],
    "squat_then_pushup": [SyntheticConfig(exercise="squat", n_reps=6, seed=5, fps=FPS, lead_out_s=3.0),
                          SyntheticConfig(exercise="push_up", n_reps=5, seed=6, fps=FPS, lead_in_s=3.0)],
}


def build_workout(name: str, folder: Path) -> Workout:
    """Write workout `name` as `folder/<name>.npy` and return it with its truth."""
    joints, counts, mids, rests, segments, offset = [], {}, [], [], [], 0.0
    for cfg in SPECS[name]:
        seq = make_sequence(cfg)
        joints.append(to_mediapipe33(seq.pose.joints))
        counts[cfg.exercise] = counts.get(cfg.exercise, 0) + seq.count
        mids += [offset + 0.5 * (c.start + c.end) for c in seq.cycles]
        rests += [(offset + s.start, offset + s.end) for s in seq.spans if s.kind == "rest"]
        segments.append((cfg.exercise, offset, offset + len(seq.pose.joints) / cfg.fps))  # lead-in/out included
        offset += len(seq.pose.joints) / cfg.fps
    path = folder / f"{name}.npy"
    np.save(path, np.concatenate(joints).astype(np.float32))
    return Workout(path=path, counts=counts, midpoints=mids, rests=rests, duration_s=offset, segments=segments)


# --------------------------------------------------------------------------- a recognizer that knows the truth
@dataclass
class OracleRecognition:
    """Answers as a perfect recognizer would on this workout: the exercise of the stretch asked
    about (p 0.95), and the true sets, each counted by the auto policy like the real splitter.

    Why: the question tables test the planner's reasoning (is the asked exercise there? which
    set is the second? several exercises and none asked?) given a recognizer; how often the
    shipped recognizer is right is measured separately (`countllm eval --recognize`).
    """

    workout: Workout
    full_joints: np.ndarray  # the file's pose as MediaInputs decodes it, to place a cropped clip in time
    fps: float = FPS

    def _offset_s(self, joints: np.ndarray) -> float:
        hits = np.flatnonzero(np.all(np.isclose(self.full_joints, joints[0]), axis=(1, 2)))
        return float(hits[0]) / self.fps if len(hits) else 0.0

    def _exercise_between(self, a: float, b: float) -> str:
        overlap = {e: max(0.0, min(b, e1) - max(a, e0)) for e, e0, e1 in self.workout.segments}
        return max(overlap, key=overlap.get)

    def recognize(self, pose):  # noqa: ANN001, ANN201 — the Recognition protocol of agents/ask/tools.py
        from countllm.recognize import Recognition
        from countllm.synthetic.skeleton import EXERCISES

        start = self._offset_s(pose.joints)
        exercise = self._exercise_between(start, start + len(pose) / pose.fps)
        others = [e for e in EXERCISES if e != exercise]
        scores = {e: (0.95 if e == exercise else 0.05 / len(others)) for e in EXERCISES}
        return Recognition(exercise, 0.95, [], [(e, scores[e]) for e in others[:3]], scores, ["oracle"])

    def split_sets(self, inputs):  # noqa: ANN001, ANN201
        from countllm.counters.base import CountRequest
        from countllm.counters.registry import run_counter
        from countllm.priors import default_priors_path, load_priors, match_action
        from countllm.recognize import ExerciseSet, SetsResult
        from countllm.types import Segment

        priors = load_priors(default_priors_path())
        sets = []
        for exercise, a, b in self.workout.segments:
            result = run_counter("auto", CountRequest(inputs=inputs, prior=match_action(exercise, priors),
                                                      start_s=a, end_s=b))
            sets.append(ExerciseSet(exercise, a, b, result.count, result.confidence))
        edges = [0.0] + [t for _, a, b in self.workout.segments for t in (a, b)] + [self.workout.duration_s]
        rests = [Segment(x, y) for x, y in zip(edges[::2], edges[1::2], strict=True) if y - x >= 1.0]
        return SetsResult(sets, rests, ["oracle sets"])
