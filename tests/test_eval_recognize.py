"""`eval --recognize` metrics, `eval --plot`, and `--method lift`, through the console script where users meet them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from countllm.counters.lift_counter import within_one
from countllm.eval.recognition import recognition_metrics, wilson
from countllm.synthetic import SyntheticConfig, make_sequence

COUNTLLM = str(Path(sys.executable).with_name("countllm"))


def test_recognition_metrics_by_hand():
    items = [{"pred_exercise": "squat", "words": [["squat", 0.9]]},
             {"pred_exercise": "push_up", "words": [["pushup", 0.4], ["squat", 0.3]]},
             {"pred_exercise": "squat", "words": [["squat", 0.8]]},
             {"pred_exercise": "lunge", "words": []},
             {"error": "not found"}]
    types = ["squant", "push-ups", "push_up", "others", "squat"]  # RepCountA spellings; "others" names no exercise
    m = recognition_metrics(items, types)
    assert m["n_recognized"] == 3 and m["n_without_exercise_type"] == 1
    assert m["recognition_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["per_class"] == {"push_up": {"n": 2, "correct": 1, "accuracy": 0.5},
                              "squat": {"n": 1, "correct": 1, "accuracy": 1.0}}
    assert {(c["truth"], c["predicted"], c["n"]) for c in m["confusion"]} == {
        ("squat", "squat", 1), ("push_up", "push_up", 1), ("push_up", "squat", 1)}
    assert m["partial_credit"] == pytest.approx((1 + 1 + 0) / 3, abs=1e-3)  # push_up's one word found once


def test_wilson_interval_is_the_textbook_one():
    lo, hi = wilson(17, 44)
    assert lo == pytest.approx(0.2572, abs=1e-3) and hi == pytest.approx(0.5338, abs=1e-3)


def test_lift_confidence_is_the_heads_mass_on_the_answer_plus_minus_one():
    head = np.zeros(30)
    head[[4, 5, 6]] = [0.2, 0.5, 0.2]  # answers 5, 6, 7
    assert within_one(head[None], [6]) == pytest.approx(0.9)
    assert within_one(np.stack([head, head]), [6, 6]) == pytest.approx(0.81)
    assert within_one(head[None], [0]) == 0.0


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bench")
    rows = ["type,name,count"]
    for i, (kind, exercise) in enumerate([("squat", "squat"), ("push_ups", "push_up"), ("others", "squat")]):
        seq = make_sequence(SyntheticConfig(exercise=exercise, n_reps=5, seed=40 + i))
        np.save(folder / f"item{i}.npy", seq.pose.joints)
        rows.append(f"{kind},item{i}.mp4,{seq.count}")
    (folder / "ann.csv").write_text("\n".join(rows) + "\n")
    return folder / "ann.csv", folder


def test_eval_recognize_through_the_console_script(benchmark, tmp_path):
    csv_path, media = benchmark
    report_path, plots = tmp_path / "r.json", tmp_path / "plots"
    out = subprocess.run([COUNTLLM, "eval", "--annotations", str(csv_path), "--media-dir", str(media), "--fps", "30",
                          "--recognize", "--plot", str(plots), "--json", str(report_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "confusion (rows: truth, columns: predicted):" in out.stdout
    report = json.loads(report_path.read_text())
    assert all("pred_exercise" in item for item in report["items"])
    rec = report["metrics"]["recognition"]
    assert rec["n_recognized"] == 2 and rec["n_without_exercise_type"] == 1
    assert (plots / "counts.png").read_bytes()[:4] == b"\x89PNG" and (plots / "confusion.png").is_file()
    assert (plots / "reliability.png").is_file()  # every figure that applies, the confidence one included
    assert f"plots: {plots / 'counts.png'}, {plots / 'reliability.png'}, {plots / 'confusion.png'}" in out.stdout


def test_method_lift_counts_without_cycles_and_says_so(benchmark):
    _, media = benchmark
    out = subprocess.run([COUNTLLM, "count", str(media / "item0.npy"), "--fps", "30", "--method", "lift", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["method"] == "lift" and answer["cycles"] == [] and isinstance(answer["count"], int)
    assert 0.0 <= answer["confidence"] <= 1.0
    assert any("no cycle boundaries" in n for n in answer["notes"])
