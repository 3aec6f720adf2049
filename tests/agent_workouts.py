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
    joints, counts, mids, rests, offset = [], {}, [], [], 0.0
    for cfg in SPECS[name]:
        seq = make_sequence(cfg)
        joints.append(to_mediapipe33(seq.pose.joints))
        counts[cfg.exercise] = counts.get(cfg.exercise, 0) + seq.count
        mids += [offset + 0.5 * (c.start + c.end) for c in seq.cycles]
        rests += [(offset + s.start, offset + s.end) for s in seq.spans if s.kind == "rest"]
        offset += len(seq.pose.joints) / cfg.fps
    path = folder / f"{name}.npy"
    np.save(path, np.concatenate(joints).astype(np.float32))
    return Workout(path=path, counts=counts, midpoints=mids, rests=rests, duration_s=offset)
