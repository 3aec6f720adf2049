"""Two witnesses for every count, and one calibrated confidence from what they say.

The reported number is the one the `auto` policy gives (counters/auto.py): reconciliation sits on
top of that policy, it does not replace it. A second counter that reads the input differently
(frame self-similarity) is asked too; the answer says whether the two agree within ±1 and names
both numbers when they do not. How much that moves the confidence is for data to say.

Why a fitted model and not "agree → confidence up": witnesses that read the same signals agree
for the same wrong reason. On a pose file the similarity counter compares the same joint
coordinates the pose counter reads, so their agreement is weaker evidence than it looks. The
primary's own confidence is already the counters' calibrated P(count within ±1)
(`countllm/counters/calibration.py`); the witness may adjust it through a logistic model of (the
logit of that confidence, whether the two agree, how far apart they are relative to the count),
fitted on the development train split where the truth is known (`python -m
countllm.agents.ask.calibrate`, coefficients in `calibration.json`). Where that fit does not beat
the primary's own confidence in cross-validation the file holds the identity, and today it does:
on the development poses the witness added nothing the calibrated primary confidence did not
already say. Without a witness there is nothing to add and the primary's confidence is the
answer's, as it is: a fit is made on items that all had one, so "no witness" must not be read as
"disagreed". Either way the number keeps the project's one meaning: the probability that the
count is within ±1 of the truth.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .tools import CountReport, VideoTools

# The second witness: self-similarity of the same skeleton's joint coordinates. Cheap once the
# pose is known (frame embeddings would triple a video's first-question latency), and exactly
# the pair the shipped calibration was fitted on, so its confidence applies as fitted.
WITNESS_METHOD = "similarity_pose"
CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True)
class Calibration:
    """p(|count − truth| ≤ 1) = σ(w · features + b); see `features`."""

    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""
    auroc: float | None = None

    def probability(self, primary_confidence: float, primary: int, witness: int | None) -> float:
        """P(within ±1) given the witness; the primary's own (calibrated) confidence without one."""
        if witness is None:
            return float(primary_confidence)
        z = self.bias + sum(w * x for w, x in zip(self.weights, features(primary_confidence, primary, witness),
                                                      strict=True))
        return 1.0 / (1.0 + math.exp(-z))


def features(primary_confidence: float, primary: int, witness: int | None) -> tuple[float, float, float]:
    """(logit of the primary's confidence, agree ±1, |gap| / max(count, 1)); no witness → agree 0, gap 0."""
    p = min(max(primary_confidence, 1e-3), 1 - 1e-3)
    if witness is None:
        return (math.log(p / (1 - p)), 0.0, 0.0)
    gap = abs(primary - witness)
    return (math.log(p / (1 - p)), 1.0 if gap <= 1 else 0.0, min(gap / max(primary, witness, 1), 1.0))


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    """The shipped fit; the identity default (the primary's calibrated confidence) if the file is absent."""
    path = resources.files("countllm.agents.ask") / CALIBRATION_FILE
    if not path.is_file():
        return Calibration(weights=(1.0, 0.0, 0.0), bias=0.0, fitted_on="none: primary confidence as is")
    data = json.loads(path.read_text())
    return Calibration(weights=tuple(data["weights"]), bias=float(data["bias"]), fitted_on=data.get("fitted_on", ""),
                       auroc=data.get("auroc_cv"))


@dataclass
class Reconciled:
    """The count to report and the evidence behind its confidence."""

    primary: CountReport
    witness: CountReport | None
    confidence: float
    agreed: bool | None
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.primary.count


def reconcile_count(tools: VideoTools, exercise: str | None, start_s: float | None,
                    end_s: float | None, calibration: Calibration | None = None) -> Reconciled:
    """Ask the auto policy and a second witness; calibrate the confidence of the auto count."""
    calibration = calibration or load_calibration()
    primary = tools.count("auto", exercise, start_s, end_s)
    primary_call = tools.last_call
    witness: CountReport | None = None
    notes: list[str] = []
    if primary.method == "pose":
        witness = tools.count(WITNESS_METHOD, exercise, start_s, end_s)
        witness_call = tools.last_call
    agreed = None if witness is None else abs(primary.count - witness.count) <= 1
    confidence = calibration.probability(primary.confidence, primary.count, None if witness is None else witness.count)
    if witness is not None:
        primary_call.agreed = witness_call.agreed = agreed
        if agreed:
            notes.append(f"the {primary.method} counter ({primary.count}) and the {witness.method} counter "
                         f"({witness.count}) agree within ±1")
        else:
            notes.append(f"the {primary.method} counter says {primary.count}, the {witness.method} counter "
                         f"{witness.count}; reported {primary.count} (the auto policy's choice)")
        notes.append("both counters read the same skeleton, so their agreement is weaker evidence than it "
                     "looks; the confidence is calibrated for that")
    else:
        notes.append(f"auto used the {primary.method} counter; no independent second counter applies")
    return Reconciled(primary=primary, witness=witness, confidence=round(confidence, 3), agreed=agreed, notes=notes)
