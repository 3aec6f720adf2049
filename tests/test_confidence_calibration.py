"""Calibrated confidence: the counters' map, where it is applied, how `count` says a doubtful
count, how `eval` reports and draws confidence, and the agent's use."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from countllm.answer import LOW_CONFIDENCE, human_summary, uncertainty_reason
from countllm.counters.calibration import (
    ConfidenceMap,
    calibrate_result,
    cycle_coverage,
    fit_standardized,
    load_maps,
    logit_confidence,
)
from countllm.pipeline import count_pose
from countllm.types import CountResult, Segment

ROOT = Path(__file__).resolve().parents[1]


def _result(confidence: float = 0.6, cycles: list[tuple[float, float]] | None = None, duration: float = 10.0,
            notes: list[str] | None = None) -> CountResult:
    spans = [Segment(a, b) for a, b in (cycles if cycles is not None else [(0, 2), (2, 4), (4, 6), (6, 8)])]
    return CountResult(count=len(spans), cycles=spans, confidence=confidence, method="pose", signal="knee",
                       period_s=2.0, fps=30.0, duration_s=duration, notes=list(notes or []))


# --------------------------------------------------------------------------- the map
def test_shipped_map_is_monotone_in_the_raw_confidence():
    maps = load_maps()
    assert "pose" in maps
    pose = maps["pose"]
    assert pose.features[0] == "logit_confidence" and pose.weights[0] > 0
    probabilities = [pose.probability(_result(c)) for c in (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)]
    assert probabilities == sorted(probabilities) and all(0 < p < 1 for p in probabilities)


def test_shipped_file_records_its_fit_and_ships_as_package_data():
    data = json.loads((ROOT / "countllm/counters/calibration.json").read_text())
    assert data["meaning"] == "P(|count - truth| <= 1)" and "train" in data["fitted_on"]
    assert data["maps"]["pose"]["n_train"] > 0 and "val_calibrated" in data["maps"]["pose"]
    listed = re.search(r'^"countllm\.counters" = \[(.*)\]$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert listed and "calibration.json" in listed.group(1)  # (tomllib is 3.11+; the project supports 3.10)


def test_calibrate_result_applies_once_and_keeps_the_raw_score():
    maps = {"pose": ConfidenceMap("pose", ("logit_confidence",), (2.0,), 1.0)}
    result = calibrate_result(_result(0.5), "pose", maps)
    assert result.diagnostics["raw_confidence"] == 0.5
    assert result.confidence == pytest.approx(1 / (1 + math.exp(-1.0)))  # logit(0.5) = 0
    again = calibrate_result(result, "pose", maps)  # auto hands back its counter's calibrated result
    assert again.confidence == pytest.approx(1 / (1 + math.exp(-1.0)))


def test_a_counter_without_a_map_keeps_its_own_confidence():
    result = calibrate_result(_result(0.37), "videollm", {"pose": ConfidenceMap("pose", ("logit_confidence",),
                                                                                (1.0,), 0.0)})
    assert result.confidence == 0.37 and "raw_confidence" not in result.diagnostics


def test_features_by_hand():
    assert logit_confidence(_result(0.5)) == pytest.approx(0.0)
    assert logit_confidence(_result(1.0)) == pytest.approx(math.log(0.999 / 0.001))  # clipped, finite
    assert cycle_coverage(_result(cycles=[(0, 2), (2, 4)], duration=10.0)) == pytest.approx(0.4)


def test_bad_map_is_refused():
    with pytest.raises(ValueError, match="bad confidence map"):
        ConfidenceMap("pose", ("no_such_feature",), (1.0,), 0.0)


def test_fit_standardized_recovers_a_logistic_law():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(4000, 1))
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.8 * x[:, 0] - 1.0)))).astype(float)
    w, b = fit_standardized(x, y, l2=1e-3)
    assert w[0] == pytest.approx(0.8, abs=0.1) and b == pytest.approx(-1.0, abs=0.15)


def test_the_registry_calibrates_the_pose_counter_and_auto_only_once(squat_sequence):
    pose = count_pose(squat_sequence.pose, "pose")
    auto = count_pose(squat_sequence.pose, "auto")
    raw = pose.diagnostics["raw_confidence"]
    assert pose.confidence == pytest.approx(load_maps()["pose"].probability(_result(raw)))
    assert auto.diagnostics["raw_confidence"] == raw and auto.confidence == pytest.approx(pose.confidence)


# --------------------------------------------------------------------------- what `count` says
def test_a_confident_count_reads_as_before():
    text = human_summary(_result(0.9), "squats.mp4")
    assert text.startswith("squats.mp4: 4 repetitions, about 2.0 s each (confidence 0.90, pose counter")
    assert "low confidence" not in text


def test_a_doubtful_count_says_about_and_why():
    text = human_summary(_result(LOW_CONFIDENCE - 0.2, cycles=[(0, 1), (1, 4), (4, 5), (5, 9)]), "squats.mp4")
    first = text.splitlines()[0]
    assert first.startswith("squats.mp4: about 4 repetitions — low confidence (0.30): the repetition is irregular")
    assert "cycle lengths vary by" in first


@pytest.mark.parametrize(("cycles", "notes", "reason"), [
    ([(0, 1), (1, 2)], [], "cover only 20% of the clip"),  # coverage first: the undercount that hurts most
    ([(0, 1), (1, 5), (5, 6), (6, 9)], [], "cycle lengths vary by"),
    ([(0, 5), (5, 10)], [], "only 2 cycles found"),
    ([(0, 2), (2, 4), (4, 6), (6, 8)], ["prior: x", "auto: person tracked in only 55% of the repetitive span"],
     "auto: person tracked in only 55%"),
    ([(0, 2), (2, 4), (4, 6), (6, 8)], ["prior: x"], "the repetition is irregular"),
])
def test_uncertainty_reason(cycles, notes, reason):
    assert reason in uncertainty_reason(_result(0.2, cycles=cycles, notes=notes))


# --------------------------------------------------------------------------- eval
def _report(tmp_path: Path) -> dict:
    from countllm.eval.run import ItemResult, summarize

    items = [ItemResult(name=f"c{i}.npy", gt_count=10, pred_count=p, method="pose", confidence=c)
             for i, (p, c) in enumerate([(10, 0.9), (11, 0.8), (14, 0.3), (10, 0.6), (4, 0.2)])]
    return {"metrics": summarize(items, []), "items": [i.to_json() for i in items]}


def test_eval_reports_confidence_metrics(tmp_path):
    from countllm.eval.report import format_metrics

    report = _report(tmp_path)
    metrics = report["metrics"]
    assert metrics["confidence_auroc"] == 1.0  # the three hits are the three most confident
    assert metrics["obo@0.8"] == pytest.approx(3 / 4) and metrics["obo@0.9"] == pytest.approx(3 / 5)
    assert metrics["obo"] == pytest.approx(3 / 5) and [b["n"] for b in metrics["reliability"]] == [1, 1, 1, 1, 1]
    json.dumps(report)  # JSON-able as written by --json
    line = next(t for t in format_metrics(metrics) if t.startswith("confidence:"))
    assert "AUROC 1.000 (within ±1)" in line and "OBO@80% 0.750" in line and "OBO@90% 0.600" in line


def test_eval_figures_include_the_reliability_diagram(tmp_path):
    from countllm.eval.figures import eval_figures

    written = eval_figures(_report(tmp_path), tmp_path / "plots", "pose")
    assert [p.name for p in written] == ["counts.png", "reliability.png"]
    assert all(p.stat().st_size > 1000 for p in written)


# --------------------------------------------------------------------------- the agent
def test_agent_keeps_the_primary_confidence_without_a_witness():
    from countllm.agents.ask.reconcile import Calibration

    fit = Calibration(weights=(0.9, 0.7, -0.4), bias=-0.6)
    assert fit.probability(0.83, 12, None) == 0.83
    assert fit.probability(0.83, 12, 12) > fit.probability(0.83, 12, 20)  # agreement still counts
