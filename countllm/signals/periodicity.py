"""Period estimation and cycle segmentation on a 1-D signal — the training-free core.

A repetition shows up as a signal that returns to the same value once per cycle. The period
comes from the autocorrelation (robust to noise and to the signal's shape); the cycles come
from peak picking with a minimum spacing tied to that period, so the count follows tempo
changes that a single global period would miss. Each cycle is kept only if it is *complete*:
the signal left the start state and came back, both by a good part of the typical amplitude
(the partial-cycle rule). Slow drifts and rests are not cycles because they lack that swing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks


@dataclass(frozen=True)
class PeriodConfig:
    """Search range for the period, in seconds. 0.4–12 s covers jumping jacks to slow lifts."""

    min_period_s: float = 0.4
    max_period_s: float = 12.0
    harmonic_ratio: float = 0.7  # prefer a shorter lag whose ACF peak is this close to the best


@dataclass(frozen=True)
class CycleConfig:
    """Thresholds for turning a periodic signal into counted cycles.

    `min_swing` is the fraction of the typical cycle amplitude that both halves of a cycle
    must reach to count (the partial-cycle rule: a half-done repetition at the start or end
    is not counted). `min_spacing` is the shortest cycle, as a fraction of the period.
    """

    smooth_fraction: float = 0.18  # Gaussian sigma as a fraction of the period
    min_prominence: float = 0.2  # peak prominence as a fraction of the signal's robust range
    min_spacing: float = 0.5
    min_swing: float = 0.45


@dataclass
class PeriodEstimate:
    period_frames: float
    strength: float  # autocorrelation at the period, in [-1, 1]: how clean the repetition is


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised (biased) autocorrelation for lags 0..T-1; acf[0] = 1.

    The biased estimator tapers long lags, which favours the fundamental period over its
    multiples — what a counter wants.
    """
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    return acf / acf[0] if acf[0] > 0 else np.zeros(n)


def estimate_period(x: np.ndarray, fps: float, cfg: PeriodConfig = PeriodConfig()) -> PeriodEstimate | None:
    """The dominant period of `x` in frames, or None when nothing repeats in range."""
    return estimate_period_from_acf(autocorrelation(x), fps, cfg)


def estimate_period_from_acf(acf: np.ndarray, fps: float, cfg: PeriodConfig = PeriodConfig()
                             ) -> PeriodEstimate | None:
    """The period from an autocorrelation: its first peak in range that is nearly as high as
    the highest (so a multiple of the period is never chosen over the period itself)."""
    lo = max(2, int(cfg.min_period_s * fps))
    hi = min(len(acf) // 2, int(cfg.max_period_s * fps))
    if hi <= lo + 1:
        return None
    peaks, _ = find_peaks(acf[: hi + 1])
    peaks = peaks[(peaks >= lo) & (acf[peaks] > 0)]
    if len(peaks) == 0:
        return None
    best = float(acf[peaks].max())
    chosen = int(peaks[np.argmax(acf[peaks] >= cfg.harmonic_ratio * best)])
    return PeriodEstimate(period_frames=_refine_peak(acf, chosen), strength=float(acf[chosen]))


def remove_trend(x: np.ndarray, period_frames: float) -> np.ndarray:
    """Subtract the moving average over one period.

    Averaging over exactly one period cancels the repetition and keeps only what is slower
    (posture drift, turning, walking). Removing it leaves the repetition intact, while a
    signal that only drifts is reduced to noise — so a periodicity measured *after* this
    step cannot be fooled by slow trends, which fill an autocorrelation with false strength.
    """
    window = max(3, int(round(period_frames)))
    kernel = np.ones(window) / window
    padded = np.pad(np.asarray(x, np.float64), (window // 2, window - 1 - window // 2), mode="reflect")
    return np.asarray(x, np.float64) - np.convolve(padded, kernel, mode="valid")


def _refine_peak(acf: np.ndarray, k: int) -> float:
    """Sub-frame peak position by a parabola through the three samples around it."""
    if 0 < k < len(acf) - 1:
        a, b, c = acf[k - 1], acf[k], acf[k + 1]
        denom = a - 2 * b + c
        if abs(denom) > 1e-12:
            return float(k + 0.5 * (a - c) / denom)
    return float(k)


@dataclass
class Cycles:
    """Counted cycles as frame spans plus what the decision rested on."""

    spans: list[tuple[int, int]]  # [start, end] frames of each complete cycle
    peaks: list[int]  # the extreme frame inside each counted cycle
    rejected_peaks: list[int]  # extremes found but not counted (partial or too small)
    polarity: int  # +1: cycles peak upward in the signal; -1: downward
    filtered: np.ndarray  # the smoothed, polarity-corrected signal the decision used


def choose_polarity(y: np.ndarray) -> int:
    """+1 if the signal rests low and makes brief upward excursions, else -1.

    A repetition leaves a resting state and comes back: the resting extreme is broad, the
    turning extreme is brief. Counting the brief extremes keeps rests from adding peaks.
    """
    lo, hi = np.percentile(y, [5, 95])
    time_high = float(np.mean(y > 0.5 * (lo + hi)))
    return 1 if time_high <= 0.5 else -1


def segment_cycles(x: np.ndarray, period_frames: float, cfg: CycleConfig = CycleConfig(),
                   mask: np.ndarray | None = None) -> Cycles:
    """Find the complete cycles of `x` given its period; `mask` marks frames that may hold them."""
    y = gaussian_filter1d(np.asarray(x, np.float64), max(1.0, cfg.smooth_fraction * period_frames))
    polarity = choose_polarity(y if mask is None or not mask.any() else y[mask])
    y = polarity * y
    lo, hi = np.percentile(y if mask is None or not mask.any() else y[mask], [5, 95])
    span = max(hi - lo, 1e-9)
    peaks, _ = find_peaks(y, distance=max(1, int(cfg.min_spacing * period_frames)),
                          prominence=cfg.min_prominence * span)
    if mask is not None:
        peaks = peaks[mask[peaks]]
    spans, kept, rejected = _complete_cycles(y, peaks, period_frames, cfg.min_swing * span)
    return Cycles(spans=spans, peaks=kept, rejected_peaks=rejected, polarity=polarity, filtered=y)


def _complete_cycles(y: np.ndarray, peaks: np.ndarray, period: float, min_swing: float
                     ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Bound each peak by the lowest points on either side (within one period, and never
    past the neighbouring peak); keep it when both the rise and the fall reach `min_swing`."""
    spans, kept, rejected = [], [], []
    reach = int(round(period))
    for i, p in enumerate(peaks):
        left_limit = max(0, p - reach if i == 0 else max(p - reach, peaks[i - 1]))
        right_limit = min(len(y) - 1, p + reach if i == len(peaks) - 1 else min(p + reach, peaks[i + 1]))
        start = left_limit + int(np.argmin(y[left_limit: p + 1]))
        end = p + int(np.argmin(y[p: right_limit + 1]))
        if y[p] - y[start] >= min_swing and y[p] - y[end] >= min_swing:
            spans.append((start, end))
            kept.append(int(p))
        else:
            rejected.append(int(p))
    return spans, kept, rejected
