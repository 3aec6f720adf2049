"""The naive baseline every counter here must beat: dominant component + autocorrelation peaks.

About what a first attempt looks like: project the body-relative joints onto their first
principal component, take the autocorrelation period, count peaks at least 0.75 period apart.
No detrending, no signal selection, no foreground, no partial-cycle rule. It is measured in
the same run as the real counters so their gain is a ratio against something concrete.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from countllm.counters.periodic import no_repetition
from countllm.signals.periodicity import PeriodConfig, estimate_period
from countllm.types import CountResult, Features, Segment


class BaselineCounter:
    name = "baseline"

    def count(self, features: Features) -> CountResult:
        x = features.vectors.astype(np.float64)
        x = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        component = u[:, 0] * s[0]
        estimate = estimate_period(component, features.fps, PeriodConfig())
        if estimate is None:
            return no_repetition(self.name, features.fps, len(x), "no autocorrelation peak in range")
        peaks, _ = find_peaks(component, distance=max(1, int(0.75 * estimate.period_frames)),
                              prominence=0.2 * float(np.std(component)))
        half = estimate.period_frames / 2 / features.fps
        cycles = [Segment(max(0.0, p / features.fps - half), p / features.fps + half) for p in peaks]
        return CountResult(count=len(peaks), cycles=cycles, confidence=max(0.0, estimate.strength),
                           method=self.name, signal="pose_pc1", period_s=estimate.period_frames / features.fps,
                           fps=features.fps, duration_s=len(x) / features.fps,
                           diagnostics={"signal_values": component, "peaks": peaks.tolist()})
