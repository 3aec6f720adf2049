"""Pose at half the analysis rate where the first look found nothing fast (tempo.py step 3):
the rule, the resampling onto the analysis clock, and `auto` end to end on a rendered video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from countllm.counters.tempo import TempoConfig, TempoLook
from countllm.media import MediaInputs
from countllm.pipeline import CountOptions, count_file
from countllm.pose.resample import onto_clock
from countllm.types import Pose


def _pose(joints: np.ndarray, valid: np.ndarray | None = None) -> Pose:
    valid = np.ones(len(joints), bool) if valid is None else valid
    return Pose(joints=joints.astype(np.float32), valid=valid, fps=5.0, layout="h36m17", source="p",
                visibility=np.ones(joints.shape[:2], np.float32))


def test_a_cubic_path_is_reproduced_between_the_estimated_frames_and_the_ends_are_held() -> None:
    t_in = np.arange(6) / 5.0  # 0 .. 1.0 s at 5 fps
    path = lambda t: 0.3 * t**3 - t**2 + 0.5 * t  # noqa: E731 — a limb's smooth path
    joints = np.zeros((6, 17, 3))
    joints[:, 3, 1] = path(t_in)
    t_out = np.arange(12) / 10.0  # 0 .. 1.1 s at 10 fps: the last one lies past the last estimate
    out = onto_clock(_pose(joints), t_in, t_out)
    assert len(out) == 12 and out.fps == pytest.approx(10.0)
    np.testing.assert_allclose(out.joints[:11, 3, 1], path(t_out[:11]), atol=2e-3)  # not-a-knot spline, cubic exact
    assert out.joints[11, 3, 1] == pytest.approx(path(1.0), abs=1e-6)  # held, not extrapolated
    np.testing.assert_allclose(out.joints[:, 0], 0.0)  # an unmoving joint stays put


def test_a_frame_is_seen_only_nearer_a_seen_estimate_than_a_gap() -> None:
    valid = np.array([True, True, False, True, True])
    out = onto_clock(_pose(np.zeros((5, 17, 3)), valid), np.arange(5) / 5.0, np.arange(9) / 10.0)
    np.testing.assert_array_equal(out.valid, [1, 1, 1, 0, 0, 0, 1, 1, 1])  # halfway to the gap: filled, not seen
    assert out.interpolated_frames == 3
    with pytest.raises(ValueError, match="times for"):
        onto_clock(_pose(np.zeros((5, 17, 3))), np.arange(4) / 5.0, np.arange(9) / 10.0)


@pytest.mark.parametrize(("period", "full", "score", "expected"), [
    (2.4, 2.4, 0.8, 5.0),     # a slow curl: half the rate
    (1.2, 2.4, 0.6, 5.0),     # a squat: the magnitude shows its halves, the full cycle is 2.4 s
    (2.0, None, 0.6, 5.0),    # at the bound: a limb's harmonic keeps 5 estimated frames a cycle
    (0.8, 1.66, 0.6, None),   # a lunge set: its knee's harmonic would get 4
    (1.2, 1.2, 0.8, None),    # a jumping jack: its wrist's harmonic would get 3
    (0.6, 1.2, 0.9, None),    # a pull-up every 1.2 s
    (2.4, 2.4, 0.3, None),    # nothing clear seen: no reason to spare frames
    (None, None, 0.0, None),  # nothing repeating
])
def test_sparse_pose_needs_a_clear_full_cycle_of_at_least_2_s(period, full, score, expected) -> None:
    look = TempoLook(period_s=period, score=score, fps=30.0, window_s=(0.0, 12.0), full_cycle_s=full)
    assert look.sparse_pose_fps(10.0) == expected
    assert TempoLook(period_s=2.4, score=0.8, fps=30.0, window_s=(0, 12),
                     config=TempoConfig(sparse_pose_factor=4)).sparse_pose_fps(10.0) == 2.5


@pytest.fixture(scope="module")
def slow_squats(tmp_path_factory) -> tuple[Path, int]:
    from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence

    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=6, period_s=2.2, rests=[(2, 3.0)], seed=11))
    return render_sequence(seq, tmp_path_factory.mktemp("sparse") / "slow.mp4", RenderConfig()), seq.count


def test_sparse_pose_lands_on_the_analysis_clock_and_follows_the_dense_one(slow_squats) -> None:
    video, _ = slow_squats
    dense = MediaInputs.open(video).pose()
    inputs = MediaInputs.open(video)
    inputs.estimate_pose_at(5.0, "test")
    sparse = inputs.pose()
    assert sparse.fps == pytest.approx(dense.fps) and abs(len(sparse) - len(dense)) <= 1
    n = min(len(sparse), len(dense))
    hip_dense, hip_sparse = dense.joints[:n, 0, 1], sparse.joints[:n, 0, 1]  # the root's height: the squat
    swing = np.ptp(hip_dense)
    assert np.median(np.abs(hip_sparse - hip_dense)) < 0.1 * swing
    assert np.corrcoef(hip_dense, hip_sparse)[0, 1] > 0.9
    assert any("pose estimated at 5 fps and interpolated to 10 fps (test)" in n for n in inputs.notes)


def test_a_rate_at_or_above_the_analysis_rate_or_a_pose_file_is_left_alone(slow_squats, tmp_path: Path) -> None:
    video, _ = slow_squats
    inputs = MediaInputs.open(video)
    inputs.estimate_pose_at(10.0, "same rate")
    assert inputs._sparse_pose is None
    with pytest.raises(ValueError, match="positive"):
        inputs.estimate_pose_at(0.0, "zero")
    np.save(tmp_path / "p.npy", np.random.default_rng(0).random((40, 17, 3)).astype(np.float32))
    pose_file = MediaInputs.open(tmp_path / "p.npy")
    pose_file.estimate_pose_at(5.0, "pose file")
    assert pose_file._sparse_pose is None


def test_auto_estimates_a_slow_video_sparsely_and_says_so(slow_squats) -> None:
    video, truth = slow_squats
    result = count_file(video)
    assert result.method == "pose" and result.count == truth, (result.count, result.notes)
    assert any(n.startswith("pose estimated at 5 fps and interpolated to 10 fps (the first look found full "
                            "cycles of 2.2 s)") for n in result.notes), result.notes
    assert result.fps == pytest.approx(10.0)
    dense = count_file(video, CountOptions(method="pose"))  # no look: every analysis frame estimated
    assert dense.count == truth and not any("interpolated to" in n for n in dense.notes)
