"""One meaning for `CountResult.confidence`: the probability that the count is within ±1 of the truth.

Why: each training-free counter computes a raw score of its own (the periodic back end: the
periodicity score of the chosen signal × the regularity of the counted cycles). Such a score
ranks answers well but is not a probability: on the development poses a raw 0.6 came true
about 85 % of the time. A user reading "confidence 0.6", a threshold that says "low
confidence", and the agent that weighs two counters all need the number to mean one thing.

So every counter named in `calibration.json` gets a fitted map from its raw score to
P(|count − truth| ≤ 1): a logistic model (Platt scaling) of `FEATURES` of the result, with a
positive weight on the raw score's logit, so the map is monotone and the order of answers, and
hence AUROC, is the raw score's. It is applied once, where the registry finalises a result
(`registry.run_counter`); the raw score stays in `diagnostics["raw_confidence"]`.

The maps are fitted on the development TRAIN split only and reported on its VAL split
(`python -m countllm.eval.calibrate_confidence`, numbers in the JSON and in docs/design.md).
A counter with no map (the video-LLM, the LiFT head, whose confidence is its own model's
probability) keeps its confidence as it computes it, and the docs say that it is uncalibrated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from countllm.types import CountResult

CALIBRATION_FILE = "calibration.json"
_EPS = 1e-3


def logit_confidence(result: CountResult) -> float:
    """The raw confidence on the logit scale (clipped to [0.001, 0.999])."""
    p = min(max(float(result.confidence), _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def cycle_coverage(result: CountResult) -> float:
    """Share of the clip inside counted cycles: a count of 5 where 15 were done covers a third."""
    if result.duration_s <= 0:
        return 0.0
    return min(sum(c.duration for c in result.cycles) / result.duration_s, 1.0)


def log_duration(result: CountResult) -> float:
    """log of the clip's length in seconds: long clips (many repetitions, sets, rests) are harder."""
    return math.log(max(result.duration_s, 1.0))


# Features a map may use: each is computed from what every counter's CountResult carries.
FEATURES: dict[str, Callable[[CountResult], float]] = {
    "logit_confidence": logit_confidence,
    "cycle_coverage": cycle_coverage,
    "log_duration": log_duration,
}


@dataclass(frozen=True)
class ConfidenceMap:
    """P(within ±1) = σ(bias + Σ weight·feature(result)), for one counter."""

    method: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or len(self.features) != len(self.weights):
            raise ValueError(f"bad confidence map for {self.method!r}: features {self.features}, "
                             f"weights {self.weights}")

    def probability(self, result: CountResult) -> float:
        z = self.bias + sum(w * FEATURES[f](result) for f, w in zip(self.features, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=1)
def load_maps() -> dict[str, ConfidenceMap]:
    """The shipped maps by counter name ({} if the file is absent: confidences stay raw)."""
    path = resources.files("countllm.counters") / CALIBRATION_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {name: ConfidenceMap(name, tuple(m["features"]), tuple(float(w) for w in m["weights"]), float(m["bias"]))
            for name, m in data["maps"].items()}


def calibrate_result(result: CountResult, counter: str, maps: dict[str, ConfidenceMap] | None = None) -> CountResult:
    """Replace `result.confidence` by P(within ±1) from the counter's map, once; keep the raw
    score in diagnostics. A counter without a map, or a result already calibrated (the `auto`
    policy returns its chosen counter's calibrated result), is left as it is."""
    maps = load_maps() if maps is None else maps
    chosen = maps.get(counter)
    if chosen is None or "raw_confidence" in result.diagnostics:
        return result
    result.diagnostics["raw_confidence"] = float(result.confidence)
    result.confidence = chosen.probability(result)
    result.diagnostics["confidence_map"] = counter
    return result


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """Weights and bias maximising the L2-penalised log-likelihood of y ∈ {0, 1} given x (N, D),
    by Newton's method (a handful of features: no library needed). The bias is not penalised."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.diag([l2] * x.shape[1] + [0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + penalty @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_standardized(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """`fit_logistic` on z-scored features (so the penalty weighs every feature alike), with the
    weights turned back to the features' own scale, as `ConfidenceMap` applies them."""
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    w, b = fit_logistic((x - mu) / sd, y, l2)
    return w / sd, float(b - np.sum(w * mu / sd))
