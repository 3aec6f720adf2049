"""Shared fixtures: synthetic pose files and rendered videos with exact ground truth."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence, to_mediapipe33

os.environ.setdefault("GLOG_minloglevel", "2")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test: users who clone the repo do not have it."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"development data not present: {path}")
    return path


@pytest.fixture(scope="session")
def squat_sequence():
    return make_sequence(SyntheticConfig(exercise="squat", n_reps=5, seed=11, rests=[(1, 3.0)]))


@pytest.fixture(scope="session")
def squat_h36m_file(tmp_path_factory, squat_sequence) -> Path:
    path = tmp_path_factory.mktemp("poses") / "squat_h36m.npy"
    np.save(path, squat_sequence.pose.joints)
    return path


@pytest.fixture(scope="session")
def squat_mediapipe_file(tmp_path_factory, squat_sequence) -> Path:
    path = tmp_path_factory.mktemp("poses") / "squat_mp33.npz"
    np.savez(path, pose=to_mediapipe33(squat_sequence.pose.joints))
    return path


@pytest.fixture(scope="session")
def squat_video(tmp_path_factory) -> tuple[Path, int]:
    """A short rendered squat video (MediaPipe detects the figure) and its true count."""
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=4, seed=2, lead_in_s=0.5, lead_out_s=0.5))
    path = render_sequence(seq, tmp_path_factory.mktemp("videos") / "squats.mp4", RenderConfig())
    return path, seq.count
