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


# --------------------------------------------------------------------------- the first look as a witness
def _periodic_dispatch(answers: dict[str, tuple[int, float, float]], asked: list[str]):
    def run(method: str, request: CountRequest) -> CountResult:
        asked.append(method)
        count, confidence, period = answers[method]
        return CountResult(count=count, cycles=[], confidence=confidence, method=method, period_s=period)
    return run


def _look(cycle: float, score: float = 0.8):
    from countllm.counters.tempo import TempoLook

    return TempoLook(period_s=cycle, score=score, fps=30.0, window_s=(0.0, 12.0), full_cycle_s=cycle)


@pytest.mark.parametrize(("pose_period", "look_cycle", "look_score", "similarity_period", "expected", "asked_too"), [
    (6.5, 1.5, 0.87, 1.43, "similarity", True),  # a bystander's slow gestures; the object turns every 1.5 s
    (3.2, 2.0, 0.63, 1.84, "similarity", True),  # 1.6x: still something else
    (2.4, 2.3, 0.90, 1.20, None, False),         # the body is what repeats: not asked
    (2.4, 1.2, 0.40, 1.20, None, False),         # the look saw nothing clear: no witness
    (6.5, 1.5, 0.87, 6.40, None, True),          # the frames' counter follows the body, not the look
])
def test_where_the_frames_repeat_faster_than_the_body_the_counter_that_follows_them_answers(
        squat_h36m_file: Path, pose_period, look_cycle, look_score, similarity_period, expected, asked_too) -> None:
    asked: list[str] = []
    auto = AutoCounter(_periodic_dispatch({"similarity": (13, 0.55, similarity_period)}, asked))
    pose = CountResult(count=4, cycles=[], confidence=0.74, method="pose", period_s=pose_period)
    chosen = auto._follow_the_frames(pose, _request(squat_h36m_file), "auto: person tracked in 100% of the "
                                     "repetitive span;", _look(look_cycle, look_score))
    assert asked == (["similarity"] if asked_too else [])
    if expected is None:
        assert chosen is None
        return
    assert (chosen.method, chosen.count) == ("similarity", 13)
    assert chosen.notes[0].startswith(f"auto: person tracked in 100% of the repetitive span; but the body repeats "
                                      f"every {pose_period:.1f} s while the whole frame repeats every "
                                      f"{look_cycle:.1f} s (the first look)")
    assert "(the pose counter counted 4)" in chosen.notes[0]
    assert chosen.diagnostics["auto_candidates"]["pose"] == {"count": 4, "confidence": 0.74,
                                                             "period_s": pose_period}


def test_an_object_beside_a_gesturing_bystander_is_counted_from_the_frames(tmp_path: Path) -> None:
    """Rendered objects benchmark, --bystander, clip 9 (a block sliding 7 times beside a person
    who gestures without repeating): the pose counter alone counted the gestures, 3."""
    import numpy as np

    from countllm.eval.prepare_objects import sample_config
    from countllm.synthetic.objects import render_object_clip

    rng = np.random.default_rng(0)
    for index in range(10):  # the benchmark draws its clips in order from one generator
        name, cfg = sample_config(index, rng, max_reps=40, bystander=True)
    clip = render_object_clip(cfg, tmp_path / f"{name}.mp4")
    result = count_file(clip.path)
    assert result.method == "similarity" and result.count == len(clip.cycles) == 7, (result.count, result.notes)
    assert "something else in view repeats" in result.notes[0]
