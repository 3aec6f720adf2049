"""Pose files as users store them, the MediaPipe → H36M mapping, and bad arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from countllm.errors import InputError, NoPersonError
from countllm.pipeline import CountOptions, count_file
from countllm.pose.gaps import interpolate_gaps, longest_gap, missing_frames
from countllm.pose.io import load_pose_file
from countllm.pose.layouts import H36M, mediapipe33_to_h36m17
from countllm.synthetic import to_mediapipe33


def test_mediapipe_to_h36m_recovers_the_shared_joints(squat_sequence) -> None:
    joints = squat_sequence.pose.joints
    back = mediapipe33_to_h36m17(to_mediapipe33(joints))
    for name in ("r_hip", "l_knee", "r_ankle", "l_shoulder", "r_elbow", "l_wrist"):
        np.testing.assert_allclose(back[:, H36M[name]], joints[:, H36M[name]], atol=1e-5)
    root = 0.5 * (joints[:, H36M["l_hip"]] + joints[:, H36M["r_hip"]])
    np.testing.assert_allclose(back[:, H36M["root"]], root, atol=1e-5)
    thorax = back[:, H36M["thorax"]]
    np.testing.assert_allclose(back[:, H36M["spine"]], 0.5 * (back[:, H36M["root"]] + thorax), atol=1e-6)


def test_h36m_and_mediapipe_files_give_the_same_count(squat_h36m_file, squat_mediapipe_file, squat_sequence) -> None:
    a = count_file(squat_h36m_file, CountOptions(fps=30))
    b = count_file(squat_mediapipe_file, CountOptions(fps=30))
    assert a.count == b.count == squat_sequence.count


def test_per_frame_normalised_landmarks_still_count(tmp_path: Path, squat_sequence) -> None:
    """Countix-style: each frame min–max normalised to its own bounding box."""
    lm = to_mediapipe33(squat_sequence.pose.joints)
    lo, hi = lm.min(axis=1, keepdims=True), lm.max(axis=1, keepdims=True)
    path = tmp_path / "normalised.npy"
    np.save(path, (lm - lo) / (hi - lo + 1e-9))
    assert abs(count_file(path).count - squat_sequence.count) <= 1


def test_gaps_are_interpolated_and_counted() -> None:
    joints = np.random.default_rng(0).normal(size=(20, 17, 3)).astype(np.float32)
    joints[5:9] = 0
    joints[12, 3, 1] = np.nan
    valid = ~missing_frames(joints)
    assert valid.sum() == 15 and longest_gap(valid) == 4
    filled = interpolate_gaps(np.nan_to_num(joints), valid)
    np.testing.assert_allclose(filled[6], joints[4] + (joints[9] - joints[4]) * 2 / 5, rtol=1e-5)


BAD_ARRAYS = [
    ("wrong_rank", np.zeros((10, 33)), "shape"),
    ("wrong_joint_count", np.ones((10, 25, 3)), "25 joints"),
    ("too_short", np.ones((1, 17, 3)), "at least 2"),
    ("all_nan", np.full((10, 17, 3), np.nan), "NaN"),
]


@pytest.mark.parametrize("case,array,words", BAD_ARRAYS, ids=[c[0] for c in BAD_ARRAYS])
def test_bad_arrays_raise_input_error_naming_the_file(tmp_path: Path, case: str, array, words: str) -> None:
    path = tmp_path / f"{case}.npy"
    np.save(path, array)
    with pytest.raises(InputError) as info:
        load_pose_file(path, fps=30)
    assert str(path) in str(info.value) and words in str(info.value)


def test_no_person_in_pose_file(tmp_path: Path) -> None:
    array = np.zeros((100, 33, 3), np.float32)
    array[:5] = 0.5
    path = tmp_path / "empty.npy"
    np.save(path, array)
    with pytest.raises(NoPersonError, match="person"):
        load_pose_file(path, fps=30)


def test_wrong_pose_format_flag_and_bad_fps(tmp_path: Path) -> None:
    path = tmp_path / "p.npy"
    np.save(path, np.ones((10, 17, 3)))
    with pytest.raises(InputError, match="mediapipe33"):
        load_pose_file(path, fps=30, pose_format="mediapipe33")
    with pytest.raises(InputError, match="--fps"):
        load_pose_file(path, fps=0)


def test_not_a_numpy_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.npy"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a readable"):
        load_pose_file(path, fps=30)
