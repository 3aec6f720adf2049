"""Training-free repetition counter on a skeleton sequence.

Builds every plausible body signal (body-relative joint trajectories, joint angles) and lets
the periodicity analysis pick the one that repeats most cleanly (see `counters/periodic.py`).
Works on any `Pose` — from the video pose estimator or from a user's pose file.

With a semantic prior (`countllm.priors.ActionPrior`, DESIGN.md §5) the choice is narrowed
before it is made: only the signals of the joints the action moves are candidates, and the
period is searched only near the action's typical cycle duration. Both are plain restrictions
of the unguided search, so a prior can rule a wrong signal or a harmonic out but never invent
a count; each restriction is announced in the result's notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from countllm.counters.periodic import Analysis, PeriodicCountConfig, analyse, count_signals
from countllm.priors import ActionPrior
from countllm.signals.periodicity import PeriodConfig
from countllm.pose.gaps import interpolate_gaps
from countllm.signals.harmonics import body_coordinates, is_half_period
from countllm.signals.pose_signals import ANGLES, SignalSet, pose_signals, torso_length
from countllm.types import CountResult, Pose


@dataclass
class PoseCounterConfig:
    smooth_window: int = 3  # frames of moving average before analysis (LiFT uses 3)
    # A swing under 0.08 torso lengths (or 0.08 rad ≈ 5° for angles) is tremor or estimator
    # jitter, not exercise: it must not be counted however periodic it looks.
    periodic: PeriodicCountConfig = field(default_factory=lambda: PeriodicCountConfig(min_amplitude=0.08))
    # A prior's cycle range is widened by these factors before it bounds the period search:
    # people move faster and slower than "typical", and an LLM's range is a rough guess.
    prior_widen: tuple[float, float] = (0.6, 1.6)


def signal_joint(name: str) -> str:
    """The joint a candidate signal belongs to: the vertex of an angle ("l_knee_angle" →
    l_knee), the joint of a trajectory ("l_wrist_y" → l_wrist, "root_x" → root)."""
    if name in ANGLES:
        return ANGLES[name][1]
    return name.rsplit("_", 1)[0]


def restrict_to_joints(signals: SignalSet, joints: list[str]) -> SignalSet | None:
    """The candidates that belong to `joints`, or None when none does."""
    wanted = set(joints)
    keep = [i for i, name in enumerate(signals.names) if signal_joint(name) in wanted]
    if not keep:
        return None
    return SignalSet([signals.names[i] for i in keep], signals.values[keep], signals.fps)


def prior_period_range(prior: ActionPrior, default: PeriodConfig, widen: tuple[float, float]
                       ) -> PeriodConfig | None:
    """The period search range a prior implies: its cycle range × `widen`, clamped into the
    default range (which stays the outer limit); None when the prior has no cycle range."""
    if prior.cycle_s is None:
        return None
    lo = float(np.clip(prior.cycle_s[0] * widen[0], default.min_period_s, default.max_period_s))
    hi = float(np.clip(prior.cycle_s[1] * widen[1], default.min_period_s, default.max_period_s))
    return replace(default, min_period_s=lo, max_period_s=max(hi, lo))


def harmonic_hint(pose: Pose, first: Analysis | str) -> float | None:
    """Twice the period of `first` (the unhinted analysis) when that period is only half a
    repetition (see `signals/harmonics.py`), else None."""
    if isinstance(first, str):
        return None
    joints = pose.joints if pose.valid.all() else interpolate_gaps(pose.joints, pose.valid)
    coords = body_coordinates(joints, torso_length(joints))
    if is_half_period(coords, first.best.period_frames, first.mask):
        return 2.0 * first.best.period_frames
    return None


class PoseCounter:
    """Counts repetitions from joints; `count(pose, prior)` returns a `CountResult`."""

    name = "pose"

    def __init__(self, config: PoseCounterConfig | None = None) -> None:
        self.config = config or PoseCounterConfig()

    def count(self, pose: Pose, prior: ActionPrior | None = None) -> CountResult:
        signals = pose_signals(pose, self.config.smooth_window)
        periodic, notes = self.config.periodic, []
        if prior is not None and (prior.moving_joints or prior.cycle_s is not None):
            signals, periodic, notes = self._apply_prior(signals, prior)
        elif prior is not None:
            notes = [f"semantic {prior.describe()}: nothing a counter can use; counted without it"]
        first = analyse(signals, periodic)
        hint = harmonic_hint(pose, first)
        if hint is not None:
            notes.append(f"the most periodic joint signal moves twice per repetition (the body is not "
                         f"back in the same or mirrored pose after it); counted at {hint / pose.fps:.2f} s")
        result = count_signals(signals, self.name, periodic, period_hint=hint, unhinted=first)
        result.notes[:0] = notes
        unseen = int((~pose.valid).sum())
        if unseen:
            result.notes.append(
                f"no person in {unseen} of {len(pose)} frames; "
                "those frames were interpolated")
        return result

    def _apply_prior(self, signals: SignalSet, prior: ActionPrior
                     ) -> tuple[SignalSet, PeriodicCountConfig, list[str]]:
        """Signals and config narrowed by `prior`, with a note for each thing it changed."""
        notes = [f"used semantic {prior.describe()}"]
        restricted = restrict_to_joints(signals, prior.moving_joints) if prior.moving_joints else None
        if restricted is not None:
            notes.append(f"prior: {len(restricted.names)} of {len(signals.names)} candidate signals "
                         "(those of the moving joints)")
            signals = restricted
        elif prior.moving_joints:
            notes.append("prior: no candidate signal belongs to its joints; all signals were used")
        else:
            notes.append("prior: names no moving joints; all signals were used")
        periodic = self.config.periodic
        period = prior_period_range(prior, periodic.period, self.config.prior_widen)
        if period is not None:
            notes.append(f"prior: period searched in {period.min_period_s:.2f}–{period.max_period_s:.2f} s")
            periodic = replace(periodic, period=period)
        else:
            notes.append("prior: no cycle duration; default period range used")
        return signals, periodic, notes
