"""The one counter interface: registry dispatch, resolved inputs reused, time ranges, the auto policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import countllm.media as media
from countllm.counters import registry
from countllm.counters.base import CountRequest
from countllm.counters.registry import CounterSpec, FunctionCounter, get_spec, method_names, run_counter
from countllm.errors import InputError
from countllm.media import MediaInputs
from countllm.pipeline import CountOptions, count_file, count_inputs
from countllm.priors import ActionPrior
from countllm.types import CountResult, Segment


def test_every_method_has_a_spec_with_help() -> None:
    assert method_names()[0] == "auto"
    for name in method_names():
        spec = get_spec(name)
        assert spec.help and spec.needs in ("pose", "frame_features", "pose_features", "motion_features")
    with pytest.raises(ValueError, match="choose one of auto"):
        get_spec("magic")
    with pytest.raises(ValueError, match="unknown method"):
        CountOptions(method="magic")


def test_a_registered_counter_is_reachable_from_count_file(squat_h36m_file: Path, monkeypatch) -> None:
    """Adding a counter = one registry entry: count_file dispatches to it by name."""
    seen: list[int] = []

    def frames_counter(request: CountRequest) -> CountResult:
        seen.append(len(request.pose()))
        return CountResult(count=7, cycles=[Segment(0.0, 1.0)] * 7, confidence=0.5, method="frames")

    monkeypatch.setitem(registry.REGISTRY, "frames", CounterSpec(
        "frames", "counts rows", needs="pose", factory=lambda model: FunctionCounter(frames_counter)))
    result = count_file(squat_h36m_file, CountOptions(method="frames", fps=30))
    assert result.count == 7 and seen and seen[0] > 0


def test_inputs_are_resolved_once_for_several_counters(squat_h36m_file: Path, monkeypatch) -> None:
    loads = []
    real = media.load_pose_file
    monkeypatch.setattr(media, "load_pose_file", lambda *a, **k: loads.append(1) or real(*a, **k))
    inputs = MediaInputs.open(squat_h36m_file)
    counts = {m: count_inputs(inputs, CountOptions(method=m)).count for m in ("pose", "similarity", "baseline")}
    assert len(loads) == 1 and counts["pose"] > 0
    assert inputs.pose() is inputs.pose()


def test_a_prior_the_counter_cannot_read_is_announced(squat_h36m_file: Path) -> None:
    result = count_file(squat_h36m_file, CountOptions(method="similarity", fps=30, prior=ActionPrior("squat")))
    assert result.notes[0] == "semantic prior 'squat' not used: the similarity counter does not read priors"


def test_the_input_notes_reach_the_result(squat_h36m_file: Path) -> None:
    result = count_file(squat_h36m_file, CountOptions(method="pose"))
    assert any("assumed 30 fps" in note for note in result.notes)


def test_auto_on_a_pose_file_says_why(squat_h36m_file: Path) -> None:
    result = count_file(squat_h36m_file, CountOptions(method="auto", fps=30))
    assert result.method == "pose" and result.notes[0] == "auto: input is a pose sequence, used the pose counter"


def test_a_time_range_counts_only_inside_it_on_the_video_clock(squat_sequence, squat_h36m_file: Path) -> None:
    whole = count_file(squat_h36m_file, CountOptions(method="pose", fps=30))
    cut = whole.cycles[1].end  # count from the end of the second cycle on
    late = count_file(squat_h36m_file, CountOptions(method="pose", fps=30, start_s=cut))
    assert abs(late.count - (whole.count - 2)) <= 1
    assert all(c.start >= cut - 0.05 for c in late.cycles)
    assert any(c.end > whole.cycles[-1].start for c in late.cycles)  # times are the video's, not the crop's
    assert late.notes[-1].startswith("counted only from") or any("counted only from" in n for n in late.notes)
    np.testing.assert_allclose(late.cycles[-1].end, whole.cycles[-1].end, atol=0.2)


def test_a_time_range_outside_the_input_is_an_input_error(squat_h36m_file: Path) -> None:
    with pytest.raises(InputError, match="--start/--end"):
        count_file(squat_h36m_file, CountOptions(method="pose", fps=30, start_s=1000))
    with pytest.raises(ValueError, match="bad time range"):
        CountOptions(method="pose", start_s=5, end_s=2)


def test_a_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        count_file(tmp_path)


def test_run_counter_copies_no_note_twice(squat_h36m_file: Path) -> None:
    inputs = MediaInputs.open(squat_h36m_file)
    result = run_counter("auto", CountOptions(method="auto").request(inputs))
    assert len(result.notes) == len(set(result.notes))
