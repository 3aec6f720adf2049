"""From candidate signals to a `CountResult`: the shared back end of the training-free counters.

The pose counter and the self-similarity counter differ only in where their candidate
signals come from (joints and angles vs. principal directions of frame embeddings). Both
hand a `SignalSet` here: the cleanest periodic signal is selected, the repetitive span is
localized on it, and complete cycles inside that span are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from countllm.localize.foreground import ForegroundConfig, foreground_mask, rest_segments, runs
from countllm.signals.periodicity import CycleConfig, Cycles, PeriodConfig, segment_cycles
from countllm.signals.pose_signals import SignalSet
from countllm.signals.selection import CompositeConfig, ScoredSignal, composite, rank_signals
from countllm.types import CountResult, Segment


@dataclass(frozen=True)
class PeriodicCountConfig:
    period: PeriodConfig = field(default_factory=PeriodConfig)
    cycles: CycleConfig = field(default_factory=CycleConfig)
    foreground: ForegroundConfig = field(default_factory=ForegroundConfig)
    composite: CompositeConfig = field(default_factory=CompositeConfig)
    min_score: float = 0.2  # below this periodicity score, "no repetition found"
    min_amplitude: float = 0.0  # swing of the chosen signal (its own units) below this: no repetition
    period_agreement: float = 1.3  # with a period hint, candidates must be within this factor of it
    min_set_periods: float = 2.5  # background spans this long (in main periods) are searched for another set
    min_set_score: float = 0.7  # overlap-corrected periodicity score needed to count another set
    max_tempo_ratio: float = 2.5  # another set's period within this factor of the main one
    min_set_swing: float = 0.1  # another set's signal swings at least this × its swing in the main set


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
    """The candidates whose period is within `factor` of the hint (all of them without one;
    the caller falls back to all when none agrees)."""
    if period_hint is None:
        return ranked
    return [s for s in ranked if abs(np.log(s.period_frames / period_hint)) <= np.log(factor)]


def swing(values: np.ndarray) -> float:
    lo, hi = np.percentile(values, [5, 95])
    return float(hi - lo)


@dataclass
class Analysis:
    """The outcome of one periodicity pass over (a span of) the signals."""

    best: ScoredSignal
    mask: np.ndarray  # (T,) foreground
    cycles: Cycles
    ranked: list[ScoredSignal]


def analyse(signals: SignalSet, cfg: PeriodicCountConfig, period_hint: float | None = None,
            min_score: float | None = None) -> Analysis | str:
    """Select the best signal, localize the foreground, cut cycles; or say why nothing repeats."""
    min_score = cfg.min_score if min_score is None else min_score
    every = rank_signals(signals, cfg.period)
    moving = [s for s in every if swing(s.values) >= cfg.min_amplitude]
    if every and not moving:
        return (f"no signal moves by {cfg.min_amplitude} or more (the most periodic, {every[0].name}, "
                f"by {swing(every[0].values):.3f}): tremor or estimator jitter, not repetition")
    ranked = agreeing(moving, period_hint, cfg.period_agreement) or moving
    if not ranked or ranked[0].score < min_score:
        best_score = f"{ranked[0].score:.2f}" if ranked else "none"
        return (f"best periodicity score {best_score} < {min_score} "
                "(nothing returns to the same state regularly)")
    best = composite(ranked, cfg.composite)
    mask = foreground_mask(best.values, best.period_frames, cfg.foreground)
    cycles = segment_cycles(best.values, best.period_frames, cfg.cycles, mask=mask)
    return Analysis(best=best, mask=mask, cycles=cycles, ranked=ranked)


def other_sets(signals: SignalSet, main: Analysis, cfg: PeriodicCountConfig) -> list[tuple[int, Analysis]]:
    """Count long background spans on their own (multi-speed search).

    A second set is often done at another tempo — or with another limb — than the first, so
    the signal and period that fit the main set call it "not repetitive". Each background
    span of at least `cfg.min_set_periods` main periods is analysed afresh, with a stricter
    periodicity score (short spans make autocorrelation optimistic) and a period no further
    than `cfg.max_tempo_ratio` from the main one (sets of one exercise share a rough tempo),
    and motion of a set's size (`moves_like_a_set`).
    """
    found = []
    for start, end in runs(~main.mask):
        if end - start < max(cfg.min_set_periods * main.best.period_frames, 2 * signals.fps):
            continue
        span = SignalSet(signals.names, signals.values[:, start:end], signals.fps)
        sub = analyse(span, cfg, min_score=0.0)
        if (isinstance(sub, Analysis) and len(sub.cycles.spans) >= 2
                and overlap_corrected_score(sub.best, end - start) >= cfg.min_set_score
                and abs(np.log(sub.best.period_frames / main.best.period_frames)) <= np.log(cfg.max_tempo_ratio)
                and moves_like_a_set(signals, sub.best.name, (start, end), main.mask, cfg.min_set_swing)):
            found.append((start, sub))
    return found


def moves_like_a_set(signals: SignalSet, name: str, span: tuple[int, int], main_mask: np.ndarray,
                     min_ratio: float) -> bool:
    """Whether a signal that carries a candidate set moves there by at least `min_ratio` of
    what the same signal moves during the main set.

    Periodicity scores are scale-free, so a held frame can pass them: a video encoder's
    quality rhythm (its frame types repeat every few frames) makes a still scene's embeddings
    tremble with a clean period, and a 4 s rest of a sliding block was counted as 5 and
    8 "repetitions" (its signals moved 0.001–0.01 of their swing in the main set). A real
    second set moves — with the main set's limb or object (the smallest ratio seen on the
    Countix-Fitness poses: 0.20) or with another one (above 1: that one was quiet before).
    """
    start, end = span
    for member in name.split("+"):
        if member not in signals.names or not main_mask.any():
            return True  # nothing to compare with: keep the set, as before this check
        x = signals.values[signals.names.index(member)]
        if swing(x[start:end]) >= min_ratio * swing(x[main_mask]):
            return True
    return False


def overlap_corrected_score(scored: ScoredSignal, n_frames: int) -> float:
    """The periodicity score without the biased estimator's taper.

    At lag P only T − P frames overlap, so a perfect repetition scores (T − P)/T: 0.5 for a
    span of two periods. Dividing that out makes short spans comparable with long ones.
    """
    overlap = max(1.0 - scored.period_frames / n_frames, 1e-3)
    return scored.score / overlap


def count_signals(signals: SignalSet, method: str, cfg: PeriodicCountConfig = PeriodicCountConfig(),
                  period_hint: float | None = None, unhinted: Analysis | str | None = None) -> CountResult:
    """Count the repetitions carried by the best of `signals`.

    `period_hint` (frames) is the period of the input as a whole when the caller knows it
    (the self-similarity counter reads it off the similarity matrix); only candidates whose
    own period agrees with it are considered, which rules out harmonics. `unhinted` is
    `analyse(signals, cfg)` when the caller already made it (to decide on a hint), so it is
    not computed again.
    """
    n_frames, fps = signals.values.shape[1], signals.fps
    if period_hint is None and unhinted is not None:
        main = unhinted
    else:
        main = analyse(signals, cfg, period_hint)
    if isinstance(main, str) and period_hint is not None:  # the hint's period holds nothing countable
        main = unhinted if unhinted is not None else analyse(signals, cfg)
    if isinstance(main, str):
        return no_repetition(method, fps, n_frames, main)
    spans, mask, notes = list(main.cycles.spans), main.mask.copy(), []
    for offset, sub in other_sets(signals, main, cfg):
        spans += [(a + offset, b + offset) for a, b in sub.cycles.spans]
        mask[offset: offset + len(sub.mask)] |= sub.mask
        notes.append(f"another set at {offset / fps:.1f}-{(offset + len(sub.mask)) / fps:.1f} s: "
                     f"{len(sub.cycles.spans)} cycles on {sub.best.name} "
                     f"(period {sub.best.period_frames / fps:.1f} s)")
    spans.sort()
    if main.cycles.rejected_peaks:
        notes.append(f"{len(main.cycles.rejected_peaks)} incomplete or too-small cycle(s) not counted")
    best = main.best
    result = CountResult(
        count=len(spans), cycles=[Segment(a / fps, b / fps) for a, b in spans],
        confidence=confidence_of(best, spans), method=method, signal=best.name,
        period_s=best.period_frames / fps, fps=fps, duration_s=n_frames / fps,
        rests=rest_segments(mask, fps, cfg.foreground), notes=notes,
    )
    result.diagnostics = {
        "signal_values": main.cycles.filtered, "foreground": mask, "peaks": main.cycles.peaks,
        "rejected_peaks": main.cycles.rejected_peaks,
        "candidates": [(s.name, round(s.score, 3), round(s.period_frames / fps, 3)) for s in main.ranked[:5]],
    }
    return result
