"""From candidate signals to a `CountResult`: the shared back end of the training-free counters.

The pose counter and the self-similarity counter differ only in where their candidate
signals come from (joints and angles vs. principal directions of frame embeddings). Both
hand a `SignalSet` here: the cleanest periodic signal is selected, the repetitive span is
localized on it, and complete cycles inside that span are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from countllm.localize.foreground import ForegroundConfig, foreground_mask, rest_segments
from countllm.signals.periodicity import CycleConfig, PeriodConfig, segment_cycles
from countllm.signals.pose_signals import SignalSet
from countllm.signals.selection import ScoredSignal, rank_signals
from countllm.types import CountResult, Segment


@dataclass
class PeriodicCountConfig:
    period: PeriodConfig = field(default_factory=PeriodConfig)
    cycles: CycleConfig = field(default_factory=CycleConfig)
    foreground: ForegroundConfig = field(default_factory=ForegroundConfig)
    min_score: float = 0.2  # below this periodicity score, "no repetition found"
    min_amplitude: float = 0.0  # swing of the chosen signal (its own units) below this: no repetition
    period_agreement: float = 1.3  # with a period hint, candidates must be within this factor of it


def no_repetition(method: str, fps: float, n_frames: int, reason: str) -> CountResult:
    """The honest answer when nothing repeats: count 0, said plainly, not an error."""
    return CountResult(count=0, cycles=[], confidence=0.0, method=method, fps=fps,
                       duration_s=n_frames / fps, notes=[f"no repetition found: {reason}"])


def confidence_of(best: ScoredSignal, spans: list[tuple[int, int]]) -> float:
    """Periodicity score tempered by how regular the counted cycles are.

    A clean repetition has a high detrended autocorrelation *and* cycles of similar length;
    either failing lowers the confidence. Kept in [0, 1].
    """
    if not spans:
        return 0.0
    lengths = np.array([b - a for a, b in spans], dtype=np.float64)
    regularity = 1.0 / (1.0 + float(np.std(lengths) / max(np.mean(lengths), 1e-9)))
    return float(np.clip(best.score, 0.0, 1.0) * regularity)


def agreeing(ranked: list[ScoredSignal], period_hint: float | None, factor: float) -> list[ScoredSignal]:
    """The candidates whose period is within `factor` of the hint (all of them without one)."""
    if period_hint is None:
        return ranked
    return [s for s in ranked if abs(np.log(s.period_frames / period_hint)) <= np.log(factor)]


def swing(values: np.ndarray) -> float:
    lo, hi = np.percentile(values, [5, 95])
    return float(hi - lo)


def count_signals(signals: SignalSet, method: str, cfg: PeriodicCountConfig = PeriodicCountConfig(),
                  period_hint: float | None = None) -> CountResult:
    """Count the repetitions carried by the best of `signals`.

    `period_hint` (frames) is the period of the input as a whole when the caller knows it
    (the self-similarity counter reads it off the similarity matrix); only candidates whose
    own period agrees with it are considered, which rules out harmonics.
    """
    n_frames, fps = signals.values.shape[1], signals.fps
    ranked = agreeing(rank_signals(signals, cfg.period), period_hint, cfg.period_agreement)
    if ranked and swing(ranked[0].values) < cfg.min_amplitude:
        return no_repetition(method, fps, n_frames, f"the most periodic signal ({ranked[0].name}) "
                             f"moves by only {swing(ranked[0].values):.3f}, below {cfg.min_amplitude}")
    if not ranked or ranked[0].score < cfg.min_score:
        best_score = f"{ranked[0].score:.2f}" if ranked else "none"
        return no_repetition(method, fps, n_frames, f"best periodicity score {best_score} "
                             f"< {cfg.min_score} (nothing returns to the same state regularly)")
    best = ranked[0]
    mask = foreground_mask(best.values, best.period_frames, cfg.foreground)
    cycles = segment_cycles(best.values, best.period_frames, cfg.cycles, mask=mask)
    result = CountResult(
        count=len(cycles.spans),
        cycles=[Segment(a / fps, b / fps) for a, b in cycles.spans],
        confidence=confidence_of(best, cycles.spans), method=method, signal=best.name,
        period_s=best.period_frames / fps, fps=fps, duration_s=n_frames / fps,
        rests=rest_segments(mask, fps, cfg.foreground),
    )
    if cycles.rejected_peaks:
        result.notes.append(f"{len(cycles.rejected_peaks)} incomplete or too-small cycle(s) not counted")
    result.diagnostics = {
        "signal_values": cycles.filtered, "foreground": mask, "peaks": cycles.peaks,
        "rejected_peaks": cycles.rejected_peaks,
        "candidates": [(s.name, round(s.score, 3), round(s.period_frames / fps, 3)) for s in ranked[:5]],
    }
    return result
