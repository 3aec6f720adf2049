"""Tempo-adaptive counting: motion profiles, the first look, and `auto` on a fast and a slow clip."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from countllm.counters.base import CountRequest
from countllm.counters.tempo import TempoConfig, TempoLook, first_look, look_window
from countllm.media import MediaInputs
from countllm.pipeline import CountOptions, count_file
from countllm.synthetic.render import render_object_video
from countllm.types import Features, Frames
from countllm.video.motion_profiles import (
    MotionProfiler,
    direction,
    magnitude,
    profiles_of_differences,
    repair_repeated_frames,
)

REPO = Path(__file__).resolve().parents[1]
COUNTLLM = REPO / ".venv" / "bin" / "countllm"


def test_profiles_are_row_and_column_means_of_frame_differences_with_and_without_sign() -> None:
    gray = np.zeros((3, 4, 5), np.float32)
    gray[1, 2, :] = 10.0  # one bright row appears in frame 1 and is gone again in frame 2
    profiles = profiles_of_differences(gray)
    assert profiles.shape == (2, 2 * (4 + 5))
    np.testing.assert_allclose(profiles[0, :4], [0, 0, 10, 0])  # magnitude, rows: only row 2 changed
    np.testing.assert_allclose(profiles[0, 4:9], [2.5] * 5)  # magnitude, columns: a quarter of each, by 10
    np.testing.assert_allclose(profiles[:, 9:13], [[0, 0, 10, 0], [0, 0, -10, 0]])  # direction: on, then off
    features = Features(vectors=profiles, fps=30.0, kind="motion_profiles")
    np.testing.assert_allclose(magnitude(features).vectors[1, :4], [0, 0, 10, 0])  # off looks like on
    np.testing.assert_allclose(direction(features).vectors[1, :4], [0, 0, -10, 0])  # but not with its sign


def test_a_repeated_frame_is_bridged_but_a_still_stretch_is_left_alone() -> None:
    energy = np.array([4, 4, 0.01, 8, 4, 4, 0, 0, 0, 0, 4, 4], dtype=np.float64)  # a repeat at 2; rest 6-9
    profiles, repaired = repair_repeated_frames(energy[:, None] * np.ones((1, 4)))
    assert repaired == 1
    np.testing.assert_allclose(profiles[2:4, 0], [4.005, 4.005])  # the two-interval motion split evenly
    np.testing.assert_allclose(profiles[6:10], 0)  # rest stays rest


def test_chunked_profiles_equal_the_whole_clip() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (10, 6, 8, 3), dtype=np.uint8)
    whole = Frames(images=images, timestamps=np.arange(10) / 30, fps=30.0, source="x")
    chunks = [Frames(images=images[a:b], timestamps=np.arange(a, b) / 30, fps=30.0, source="x")
              for a, b in ((0, 3), (3, 4), (4, 10))]
    one, _ = MotionProfiler().features([whole], "x")
    parts, _ = MotionProfiler().features(chunks, "x")
    np.testing.assert_allclose(parts.vectors, one.vectors, rtol=1e-6)
    assert len(one) == 9 and one.fps == 30.0


@pytest.mark.parametrize(("duration", "window"), [(10.0, (0.0, 10.0)), (18.0, (0.0, 18.0)), (60.0, (24.0, 36.0))])
def test_the_look_reads_the_middle_of_a_long_clip_and_a_short_clip_whole(duration: float, window: tuple) -> None:
    assert look_window(duration, TempoConfig(look_window_s=12.0)) == window


def test_fast_needs_a_short_period_a_clear_score_and_no_slower_full_cycle() -> None:
    def look(period: float | None, score: float, full: float | None = None) -> TempoLook:
        return TempoLook(period_s=period, score=score, fps=30.0, window_s=(0, 10), full_cycle_s=full)

    assert look(0.2, 0.8).is_fast and look(0.2, 0.8, full=0.2).is_fast
    assert not look(0.6, 0.9).is_fast  # the 10 fps analysis resolves it
    assert not look(0.2, 0.3).is_fast  # too unclear to switch paths on
    assert not look(None, 0.0).is_fast
    assert look(0.13, 0.7, full=0.27).is_fast  # alternating-feet jump rope: the full cycle is fast too
    halves = look(0.3, 0.8, full=0.6)  # a squat every 0.6 s: down and up look alike in magnitude
    assert halves.halves_of_a_slower_motion and not halves.is_fast
    assert "the halves of a motion every 0.60 s" in halves.describe()
    assert look(0.3, 0.8, full=0.45).is_fast  # not twice the period: a different rhythm, the fast one stays


def test_a_fast_squat_is_not_mistaken_for_a_fast_tempo(tmp_path: Path) -> None:
    """The magnitude of motion sees a squat every 0.6 s as a rhythm every 0.3 s; the direction
    shows the full cycle, which the 10 fps analysis counts."""
    from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence

    video = render_sequence(make_sequence(SyntheticConfig(exercise="squat", n_reps=10, period_s=0.6, seed=3)),
                            tmp_path / "fast_squat.mp4", RenderConfig())
    inputs = MediaInputs.open(video)
    look = first_look(CountRequest(inputs=inputs), inputs.duration_s())
    assert look.period_s == pytest.approx(0.3, rel=0.1) and look.full_cycle_s == pytest.approx(0.6, rel=0.1)
    assert not look.is_fast


@pytest.fixture(scope="module")
def fast_clip(tmp_path_factory) -> Path:
    """A pendulum swinging 5 times a second (6 frames a swing at 30 fps): above 10 fps's Nyquist rate."""
    return render_object_video(tmp_path_factory.mktemp("fast") / "fast.mp4", n_reps=40, period_s=0.2, fps=30,
                               rest_s=1.0).path


def test_auto_counts_a_fast_clip_at_the_native_rate(fast_clip: Path) -> None:
    result = count_file(fast_clip)
    assert result.method == "motion" and abs(result.count - 40) <= 2, (result.count, result.notes)
    assert result.period_s == pytest.approx(0.2, rel=0.1)
    assert result.notes[0].startswith("auto: a first look at 30 fps") and "motion counter" in result.notes[0]
    assert result.diagnostics["first_look"]["fast"] is True


def test_without_the_look_the_fast_clip_aliases(fast_clip: Path) -> None:
    """The failure the look fixes: at 10 fps a 0.2 s swing is above the Nyquist rate."""
    result = count_file(fast_clip, CountOptions(method="similarity"))
    assert result.count < 20


def test_a_slow_clip_is_counted_as_before_and_says_what_the_look_saw(tmp_path: Path) -> None:
    clip = render_object_video(tmp_path / "slow.mp4", n_reps=6, period_s=1.0, fps=30, rest_s=1.0).path
    inputs = MediaInputs.open(clip)
    result = count_file(clip)
    assert result.method == "similarity" and result.count == 6
    look = result.diagnostics["first_look"]
    assert look["fast"] is False and look["period_s"] == pytest.approx(1.0, rel=0.1)
    assert inputs.duration_s() == pytest.approx(6 * 1.0 + 1.0 + 0.5 + 0.5, abs=0.05)  # reps, rest, lead-in, lead-out


def test_a_clip_under_a_second_gets_no_look_and_is_counted_as_before(tmp_path: Path) -> None:
    clip = render_object_video(tmp_path / "short.mp4", n_reps=1, period_s=0.5, fps=30, rest_s=0, lead_in_s=0.1,
                               lead_out_s=0.1).path
    result = count_file(clip)
    assert result.method != "motion" and result.diagnostics["first_look"]["period_s"] is None


def test_the_motion_counter_on_a_pose_file_is_one_line(tmp_path: Path) -> None:
    pose = tmp_path / "p.npy"
    np.save(pose, np.zeros((40, 17, 3), np.float32) + np.linspace(0, 1, 40)[:, None, None])
    run = subprocess.run([str(COUNTLLM), "count", str(pose), "--method", "motion"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "a pose file has no frames" in run.stderr, run.stderr


def test_the_console_script_counts_a_fast_clip(fast_clip: Path) -> None:
    run = subprocess.run([str(COUNTLLM), "count", str(fast_clip)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert "motion counter" in first and "about 0.20 s each" in first, run.stdout
