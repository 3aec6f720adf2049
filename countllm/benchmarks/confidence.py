"""How far a counter's confidence can be trusted: ranking, selective accuracy and calibration.

The project gives confidence one meaning for every counter: the probability that the count is
within ±1 of the truth ("OBO hit"). These scores judge a set of (confidence, hit) pairs against
that meaning:

- `auroc`: how well confidence ranks hits above misses (0.5: no better than chance, 1: every
  hit above every miss). Rank-based (Mann–Whitney), so a tie counts half, and any monotone
  re-mapping of the confidence leaves it unchanged;
- `obo_at_coverage`: OBO among the `c` fraction of items the counter is most confident about,
  i.e. the accuracy a user gets by trusting only confident answers and re-checking the rest;
- `reliability_bins` / `expected_calibration_error` / `brier`: whether a confidence of 0.8
  is right 80 % of the time. Ranking can be perfect while the numbers are not (all hits at 0.3,
  all misses at 0.2), so both kinds are reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

DEFAULT_COVERAGES = (0.8, 0.9)
DEFAULT_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """Items whose confidence fell in [lo, hi) (the last bin includes 1.0)."""

    lo: float
    hi: float
    n: int
    mean_confidence: float
    hit_rate: float  # share of these items counted within ±1

    def to_json(self) -> dict[str, float]:
        return {"lo": round(self.lo, 3), "hi": round(self.hi, 3), "n": self.n,
                "mean_confidence": round(self.mean_confidence, 4), "hit_rate": round(self.hit_rate, 4)}


def within_one(gt: Sequence[int], pred: Sequence[int]) -> np.ndarray:
    """(N,) bool: |pred − gt| ≤ 1, the event confidence is the probability of."""
    return np.abs(np.asarray(pred, float) - np.asarray(gt, float)) <= 1


def _pairs(confidence: Sequence[float], hits: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    c, y = np.asarray(confidence, float), np.asarray(hits, bool)
    if c.shape != y.shape or c.ndim != 1:
        raise ValueError(f"confidence and hits must be flat lists of equal length, got {c.shape} and {y.shape}")
    if c.size == 0:
        raise ValueError("no items to score")
    if not np.isfinite(c).all():
        raise ValueError("confidence must be finite")
    return c, y


def auroc(confidence: Sequence[float], hits: Sequence[bool]) -> float | None:
    """Area under the ROC curve of confidence as a detector of hits, from ranks:
    (Σ ranks of hits − n₊(n₊+1)/2) / (n₊·n₋), average ranks for ties (a tie counts half).
    None when every item is a hit or every item a miss (the area is undefined)."""
    c, y = _pairs(confidence, hits)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(c)  # average ranks
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def obo_at_coverage(confidence: Sequence[float], hits: Sequence[bool], coverage: float) -> float:
    """OBO among the k = ⌈coverage·N⌉ most confident items.

    Where the k-th place falls inside a group of equal confidences, the group fills the remaining
    places in proportion (the expected OBO when ties are broken at random), so the score does
    not depend on the order the items happen to be listed in.
    """
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    c, y = _pairs(confidence, hits)
    k = min(len(c), math.ceil(coverage * len(c) - 1e-9))
    threshold = np.sort(c)[::-1][k - 1]
    above, tied = c > threshold, c == threshold
    places_left = k - int(above.sum())
    expected_hits = y[above].sum() + places_left * y[tied].mean()
    return float(expected_hits / k)


def reliability_bins(confidence: Sequence[float], hits: Sequence[bool], n_bins: int = DEFAULT_BINS
                     ) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; only the bins that hold items are returned."""
    c, y = _pairs(confidence, hits)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    index = np.clip((np.clip(c, 0.0, 1.0) * n_bins).astype(int), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        inside = index == b
        if inside.any():
            bins.append(ReliabilityBin(lo=b / n_bins, hi=(b + 1) / n_bins, n=int(inside.sum()),
                                       mean_confidence=float(c[inside].mean()), hit_rate=float(y[inside].mean())))
    return bins


def expected_calibration_error(confidence: Sequence[float], hits: Sequence[bool], n_bins: int = DEFAULT_BINS
                               ) -> float:
    """ECE = Σ_b (n_b / N)·|hit rate_b − mean confidence_b| over equal-width bins."""
    bins = reliability_bins(confidence, hits, n_bins)
    total = sum(b.n for b in bins)
    return float(sum(b.n / total * abs(b.hit_rate - b.mean_confidence) for b in bins))


def brier(confidence: Sequence[float], hits: Sequence[bool]) -> float:
    """Mean squared difference between confidence and the 0/1 outcome (0 is perfect)."""
    c, y = _pairs(confidence, hits)
    return float(np.mean((c - y) ** 2))


def confidence_metrics(gt: Sequence[int], pred: Sequence[int], confidence: Sequence[float],
                       coverages: Sequence[float] = DEFAULT_COVERAGES, n_bins: int = DEFAULT_BINS
                       ) -> dict[str, object]:
    """Every score above for one set of counted items, as the keys `countllm eval` reports:
    "confidence_auroc" (None when undefined), "obo@0.8", "obo@0.9" (one per coverage, :g),
    "ece", "brier", "mean_confidence" and "reliability" (the non-empty bins, as JSON)."""
    hits = within_one(gt, pred)
    out: dict[str, object] = {"confidence_auroc": auroc(confidence, hits)}
    for c in coverages:
        out[f"obo@{c:g}"] = obo_at_coverage(confidence, hits, c)
    out["ece"] = expected_calibration_error(confidence, hits, n_bins)
    out["brier"] = brier(confidence, hits)
    out["mean_confidence"] = float(np.mean(confidence))
    out["reliability"] = [b.to_json() for b in reliability_bins(confidence, hits, n_bins)]
    return out
