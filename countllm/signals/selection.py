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


@dataclass(frozen=True)
class CompositeConfig:
    """Which runners-up join the best signal in the composite (see `composite`)."""

    top_k: int = 8
    min_relative_score: float = 0.85  # a member scores at least this × the best score
    period_tolerance: float = 1.15  # and has the best signal's period within this factor


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def align_to(reference: np.ndarray, x: np.ndarray, max_lag: int) -> np.ndarray:
    """`x` shifted by the lag (|lag| ≤ max_lag) and sign that best correlate it with `reference`."""
    n = len(x)
    best_lag, best_corr = 0, 0.0
    for lag in range(-max_lag, max_lag + 1):
        a, b = (reference[lag:], x[: n - lag]) if lag >= 0 else (reference[: n + lag], x[-lag:])
        corr = float(np.dot(a, b)) / max(len(a), 1)
        if abs(corr) > abs(best_corr):
            best_lag, best_corr = lag, corr
    shifted = np.roll(x, best_lag)
    if best_lag > 0:
        shifted[:best_lag] = x[0]
    elif best_lag < 0:
        shifted[best_lag:] = x[-1]
    return shifted if best_corr >= 0 else -shifted


def composite(ranked: list[ScoredSignal], cfg: CompositeConfig = CompositeConfig()) -> ScoredSignal:
    """Average the best signal with the runners-up that agree with it.

    Several joints usually carry the same repetition (both knees and the hips in a squat),
    each with its own estimator noise. Standardised, sign-aligned to the best signal and
    averaged, the noise partly cancels and the repetition does not. Only signals nearly as
    periodic as the best and with the same period join, so an unrelated motion never does.
    Members are shifted (by at most an eighth of a period) and signed to line up with the best
    signal first: joints reach their extremes at different phases of a cycle, and averaging
    out-of-phase copies would blur the very peaks that are counted.
    The result is in standard units. Measured on the Countix-Fitness poses: MAE 0.181 → 0.180,
    OBO 0.757 → 0.770, exact 0.446 → 0.480. (Sign alignment alone scored MAE 0.173 there but
    mangled out-of-phase embedding components: 4 of 6 pendulum swings counted; larger shifts,
    up to half a period, cost MAE 0.203.)
    """
    best = ranked[0]
    members = [s for s in ranked[: cfg.top_k]
               if s.score >= cfg.min_relative_score * best.score
               and abs(np.log(s.period_frames / best.period_frames)) <= np.log(cfg.period_tolerance)]
    if len(members) < 2:
        return best
    reference = _standardise(best.values)
    total = np.zeros_like(reference)
    for member in members:
        total += align_to(reference, _standardise(member.values), int(best.period_frames // 8))
    name = "+".join(m.name for m in members)
    return ScoredSignal(name, total / len(members), best.period_frames, best.score)
