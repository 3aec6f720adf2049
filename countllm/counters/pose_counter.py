"""Training-free repetition counter on a skeleton sequence.

Builds every plausible body signal (body-relative joint trajectories, joint angles) and lets
the periodicity analysis pick the one that repeats most cleanly (see `counters/periodic.py`).
Works on any `Pose` — from the video pose estimator or from a user's pose file.

With a semantic prior (`countllm.priors.ActionPrior`, docs/design.md §5) the choice is narrowed
before it is made: only the signals of the joints the action moves are candidates, and the
period is searched only near the action's typical cycle duration. Both are plain restrictions
of the unguided search, so a prior can rule a wrong signal or a harmonic out but never invent
a count; each restriction is announced in the result's notes.

A mined prior can also be wrong (a 135M model answered "knees, shoulders" and "0.5-1 s" for
nearly every exercise). So each restriction must fit the video: it is kept only if the best
signal it leaves repeats at least `prior_min_fit` times as cleanly (periodicity score) as the
best signal without it. A wrong restriction leaves only joints that do not move periodically,
or only periods the movement does not have, and its score drops. A restriction set aside is
said in the notes.

Why `prior_min_fit = 1.0` (a restriction may choose among equally periodic explanations, never
override a more periodic one): on the Countix-pose development set (148 clips; MAE / OBO without
priors 0.171 / 0.777) the SmolLM2 priors gave 0.768 / 0.250 with no check, 0.209 / 0.730 at 0.8,
0.175 / 0.764 at 0.9 and 0.163 / 0.784 at 1.0; even plausible hand-written priors for its eight
classes gave 0.235 / 0.709 with no check and 0.162 / 0.770 at 1.0. Harmonics, the case a prior
was meant for, are caught by the half-period check (`signals/harmonics.py`) without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from countllm.counters.periodic import Analysis, PeriodicCountConfig, analyse, count_signals
from countllm.pose.gaps import interpolate_gaps
from countllm.priors import ActionPrior
from countllm.signals.harmonics import body_coordinates, is_half_period
from countllm.signals.periodicity import PeriodConfig
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
    # A restriction by the prior is kept only if the best signal it leaves scores at least this
    # fraction of the unrestricted best's periodicity score (None: always keep it). See the
    # module docstring for how 1.0 was chosen on development data.
    prior_min_fit: float | None = 1.0


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
            signals, periodic, notes, first = self._apply_prior(signals, prior)
        else:
            if prior is not None:
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
                     ) -> tuple[SignalSet, PeriodicCountConfig, list[str], Analysis | str]:
        """Signals, config and their analysis narrowed by `prior`: first to its joints, then to
        its period range, each kept only if the video fits it (`_fits`); a note for each step."""
        notes = [f"used semantic {prior.describe()}"]
        periodic = self.config.periodic
        current = analyse(signals, periodic)
        restricted = restrict_to_joints(signals, prior.moving_joints) if prior.moving_joints else None
        if restricted is not None:
            narrowed = analyse(restricted, periodic)
            if self._fits(narrowed, current):
                notes.append(f"prior: {len(restricted.names)} of {len(signals.names)} candidate signals "
                             "(those of the moving joints)")
                signals, current = restricted, narrowed
            else:
                notes.append(f"prior: its joints set aside, they do not fit this video ({_why(narrowed, current)}); "
                             "all signals were used")
        elif prior.moving_joints:
            notes.append("prior: no candidate signal belongs to its joints; all signals were used")
        else:
            notes.append("prior: names no moving joints; all signals were used")
        period = prior_period_range(prior, periodic.period, self.config.prior_widen)
        if period is None:
            notes.append("prior: no cycle duration; default period range used")
            return signals, periodic, notes, current
        bounded = replace(periodic, period=period)
        narrowed = analyse(signals, bounded)
        if not self._fits(narrowed, current):
            notes.append(f"prior: its period range {period.min_period_s:.2f}–{period.max_period_s:.2f} s set aside, "
                         f"it does not fit this video ({_why(narrowed, current)}); default period range used")
            return signals, periodic, notes, current
        notes.append(f"prior: period searched in {period.min_period_s:.2f}–{period.max_period_s:.2f} s")
        return signals, bounded, notes, narrowed

    def _fits(self, narrowed: Analysis | str, unrestricted: Analysis | str) -> bool:
        """Whether a restriction leaves a signal nearly as periodic as the best without it."""
        if self.config.prior_min_fit is None or isinstance(unrestricted, str):
            return True
        if isinstance(narrowed, str):
            return False
        return narrowed.best.score >= self.config.prior_min_fit * unrestricted.best.score


def _why(narrowed: Analysis | str, unrestricted: Analysis | str) -> str:
    """The evidence for setting a restriction aside, for the notes."""
    if isinstance(narrowed, str) or isinstance(unrestricted, str):
        return "nothing periodic is left with it"
    return (f"periodicity {narrowed.best.score:.3f} on {narrowed.best.name} against {unrestricted.best.score:.3f} "
            f"on {unrestricted.best.name} without it")
