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


def count_signals(signals: SignalSet, method: str, cfg: PeriodicCountConfig = PeriodicCountConfig()
                  ) -> CountResult:
    """Count the repetitions carried by the best of `signals`."""
    n_frames, fps = signals.values.shape[1], signals.fps
    ranked = rank_signals(signals, cfg.period)
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
