"""Training-free repetition counter on a skeleton sequence.

Builds every plausible body signal (body-relative joint trajectories, joint angles) and lets
the periodicity analysis pick the one that repeats most cleanly (see `counters/periodic.py`).
Works on any `Pose` — from the video pose estimator or from a user's pose file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from countllm.counters.periodic import PeriodicCountConfig, count_signals
from countllm.signals.pose_signals import pose_signals
from countllm.types import CountResult, Pose


@dataclass
class PoseCounterConfig:
    smooth_window: int = 3  # frames of moving average before analysis (LiFT uses 3)
    # A swing under 0.08 torso lengths (or 0.08 rad ≈ 5° for angles) is tremor or estimator
    # jitter, not exercise: it must not be counted however periodic it looks.
    periodic: PeriodicCountConfig = field(default_factory=lambda: PeriodicCountConfig(min_amplitude=0.08))


class PoseCounter:
    """Counts repetitions from joints; `count(pose)` returns a `CountResult`."""

    name = "pose"

    def __init__(self, config: PoseCounterConfig | None = None) -> None:
        self.config = config or PoseCounterConfig()

    def count(self, pose: Pose) -> CountResult:
        signals = pose_signals(pose, self.config.smooth_window)
        result = count_signals(signals, self.name, self.config.periodic)
        unseen = int((~pose.valid).sum())
        if unseen:
            result.notes.append(
                f"no person in {unseen} of {len(pose)} frames; "
                "those frames were interpolated")
        return result
