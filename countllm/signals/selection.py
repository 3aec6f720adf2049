"""Pick the candidate signal that repeats most cleanly.

Each candidate gets a period from its autocorrelation, is detrended over that period, and
is scored by the autocorrelation of what remains at that lag. The detrending is what makes
the score honest: a slowly drifting joint has a high raw autocorrelation at every lag but
nothing left after one-period detrending, while a true repetition keeps all of its swing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from countllm.signals.periodicity import (
    PeriodConfig,
    autocorrelation,
    estimate_period,
    remove_trend,
)
from countllm.signals.pose_signals import SignalSet


@dataclass
class ScoredSignal:
    name: str
    values: np.ndarray  # (T,) detrended signal
    period_frames: float
    score: float  # autocorrelation of the detrended signal at its period, in [-1, 1]


def score_signal(name: str, x: np.ndarray, fps: float, cfg: PeriodConfig) -> ScoredSignal | None:
    """Period and periodicity score of one signal, or None if it has no period in range."""
    if float(np.std(x)) < 1e-6:
        return None
    estimate = estimate_period(x, fps, cfg)
    if estimate is None:
        return None
    detrended = remove_trend(x, estimate.period_frames)
    acf = autocorrelation(detrended)
    lag = int(round(estimate.period_frames))
    score = float(acf[max(1, lag - 2): lag + 3].max())
    return ScoredSignal(name, detrended, estimate.period_frames, score)


def rank_signals(signals: SignalSet, cfg: PeriodConfig = PeriodConfig()) -> list[ScoredSignal]:
    """All candidates that have a period, best first."""
    scored = [score_signal(n, x, signals.fps, cfg) for n, x in zip(signals.names, signals.values)]
    return sorted((s for s in scored if s is not None), key=lambda s: -s.score)
