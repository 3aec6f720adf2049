"""The `auto` policy's evidence-based choice: where the pose counter is unsure, the more confident
of the pose and self-similarity counters answers, and the note says which and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from countllm.counters.auto import AutoCounter, AutoPolicyConfig
from countllm.counters.base import CountRequest
from countllm.media import MediaInputs
from countllm.pipeline import CountOptions, count_file
from countllm.types import CountResult


def _fake_dispatch(answers: dict[str, tuple[int, float]], asked: list[str]):
    def run(method: str, request: CountRequest) -> CountResult:
        asked.append(method)
        count, confidence = answers[method]
        return CountResult(count=count, cycles=[], confidence=confidence, method=method)
    return run


def _request(squat_h36m_file: Path) -> CountRequest:
    options = CountOptions(method="auto", fps=30)
    return options.request(MediaInputs.open(squat_h36m_file, options.decode_options()))


def test_a_confident_pose_count_is_used_without_asking_the_other_counter(squat_h36m_file: Path) -> None:
    asked: list[str] = []
    auto = AutoCounter(_fake_dispatch({"pose": (8, 0.9), "similarity": (3, 0.95)}, asked))
    result = auto.count(_request(squat_h36m_file))
    assert (result.method, result.count, asked) == ("pose", 8, ["pose"])
    assert result.notes[0] == "auto: input is a pose sequence, used the pose counter"


def test_a_weak_pose_count_gives_way_to_a_more_confident_similarity_count(squat_h36m_file: Path) -> None:
    asked: list[str] = []
    auto = AutoCounter(_fake_dispatch({"pose": (3, 0.4), "similarity": (9, 0.62)}, asked))
    result = auto.count(_request(squat_h36m_file))
    assert (result.method, result.count, asked) == ("similarity", 9, ["pose", "similarity"])
    assert "confidence 0.40 is below 0.7" in result.notes[0] and "more confident (0.62), used it" in result.notes[0]
    assert "the pose counter counted 3" in result.notes[0]
    assert result.diagnostics["auto_candidates"] == {"pose": {"count": 3, "confidence": 0.4},
                                                     "similarity": {"count": 9, "confidence": 0.62}}


def test_a_weak_pose_count_is_kept_when_the_other_is_weaker_still(squat_h36m_file: Path) -> None:
    asked: list[str] = []
    auto = AutoCounter(_fake_dispatch({"pose": (5, 0.5), "similarity": (2, 0.3)}, asked),
                       AutoPolicyConfig(consult_below=0.6))
    result = auto.count(_request(squat_h36m_file))
    assert (result.method, result.count, asked) == ("pose", 5, ["pose", "similarity"])
    assert "below 0.6" in result.notes[0] and "kept the pose counter" in result.notes[0]


@pytest.mark.parametrize("confidence", [0.7, 0.71])
def test_the_threshold_is_strict(squat_h36m_file: Path, confidence: float) -> None:
    asked: list[str] = []
    auto = AutoCounter(_fake_dispatch({"pose": (5, confidence), "similarity": (2, 0.99)}, asked))
    auto.count(_request(squat_h36m_file))
    assert asked == ["pose"]


def test_real_counters_through_count_file_report_the_choice(squat_h36m_file: Path) -> None:
    """End to end on a rendered squat: the pose counter is confident, so it alone answers."""
    result = count_file(squat_h36m_file, CountOptions(method="auto", fps=30))
    assert result.method == "pose" and result.confidence >= AutoPolicyConfig().consult_below
    assert "auto_candidates" not in result.diagnostics
