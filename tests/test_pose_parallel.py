"""Pose in worker processes (countllm.pose.parallel) gives what one process gives.

The clip is the rendered squat fixture (106 frames at 10 fps, so below the cold-pool threshold):
the pool is warmed first, which is what makes a short clip use it, as a server or the bench
would. Each worker decodes its own span; tracking restarts at the span boundary, so frames
there may differ a little, frames before it not at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from countllm.errors import InputError
from countllm.media import DecodeOptions, MediaInputs
from countllm.pipeline import CountOptions, count_inputs
from countllm.pose import parallel
from countllm.pose.parallel import (
    POSE_WORKERS_ENV,
    ParallelPoseConfig,
    default_workers,
    estimate_video_pose,
    split_spans,
)
from countllm.video.decode import DecodeConfig, iter_chunks, read_frames

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def warm_pool():
    """A warm 2-worker pool for this module, stopped afterwards (no worker outlives the tests)."""
    parallel.warm_pool(2)
    yield
    parallel.shutdown_pool()


def _forbid_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the in-process path fail, so a passing call proves the pool did the work."""
    def fail(*_args: object) -> None:
        raise AssertionError("pose ran in-process, not in the pool")

    monkeypatch.setattr(parallel, "_in_process", fail)


def test_spans_cover_the_frames_in_order() -> None:
    assert split_spans(106, 2) == [(0, 53), (53, 106)]
    assert split_spans(7, 3) == [(0, 2), (2, 5), (5, 7)]
    assert split_spans(1, 2) == [(0, 1)]


def test_a_range_decodes_the_whole_video_frames(squat_video) -> None:
    path, _ = squat_video
    cfg = DecodeConfig(target_fps=10, chunk_frames=16)
    whole = read_frames(path, cfg)
    parts = [read_frames(path, DecodeConfig(target_fps=10, chunk_frames=16, sample_range=span))
             for span in split_spans(len(whole), 3)]
    np.testing.assert_array_equal(np.concatenate([p.timestamps for p in parts]), whole.timestamps)
    np.testing.assert_array_equal(np.concatenate([p.images for p in parts]), whole.images)
    assert list(iter_chunks(path, DecodeConfig(target_fps=10, sample_range=(len(whole), len(whole) + 5)))) == []


def test_workers_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POSE_WORKERS_ENV, "3")
    assert default_workers() == 3 and ParallelPoseConfig().workers == 3
    monkeypatch.setenv(POSE_WORKERS_ENV, "two")
    with pytest.raises(InputError, match=POSE_WORKERS_ENV):
        default_workers()


def test_two_workers_count_and_pose_like_one(squat_video, warm_pool, monkeypatch: pytest.MonkeyPatch) -> None:
    path, truth = squat_video
    monkeypatch.setenv(POSE_WORKERS_ENV, "1")
    inputs_one = MediaInputs.open(path)
    one = count_inputs(inputs_one, CountOptions(method="pose"))

    monkeypatch.setenv(POSE_WORKERS_ENV, "2")
    _forbid_in_process(monkeypatch)
    inputs_two = MediaInputs.open(path)  # through MediaInputs, as `countllm count` goes
    two = count_inputs(inputs_two, CountOptions(method="pose"))
    pose_one, pose_two = inputs_one.pose(), inputs_two.pose()

    assert one.count == two.count == truth
    assert not any("pose ran in one process" in n for n in two.notes)
    assert len(pose_two) == len(pose_one) and pose_two.fps == pose_one.fps
    boundary = split_spans(len(pose_one), 2)[1][0]
    xy_one, xy_two = pose_one.joints[..., :2], pose_two.joints[..., :2]
    np.testing.assert_allclose(xy_two[:boundary], xy_one[:boundary], atol=1e-5)  # same frames, same state
    np.testing.assert_allclose(xy_two[boundary + 10:], xy_one[boundary + 10:], atol=0.05)  # re-tracked
    assert np.abs(xy_two - xy_one).mean() < 0.01
    np.testing.assert_array_equal(pose_two.valid, pose_one.valid)


def _corrupt_midway(video: Path, folder: Path) -> Path:
    """The clip with its middle third zeroed: it opens and probes, then fails while decoding."""
    data = video.read_bytes()
    third = len(data) // 3
    bad = folder / "corrupt_midway.mp4"
    bad.write_bytes(data[:third] + bytes(third) + data[2 * third:])
    return bad


def _without_frames(message: str) -> str:
    return re.sub(r" at frames \d+-\d+", "", message)


def test_a_worker_error_is_the_one_line_input_error(squat_video, warm_pool, tmp_path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _corrupt_midway(squat_video[0], tmp_path)
    decode = DecodeOptions().decode_config()
    with pytest.raises(InputError) as alone:
        estimate_video_pose(bad, decode, ParallelPoseConfig(workers=1))
    _forbid_in_process(monkeypatch)  # the error must come from a worker, not a fallback
    with pytest.raises(InputError) as pooled:
        estimate_video_pose(bad, decode, ParallelPoseConfig(workers=2))
    line = pooled.value.one_line()
    assert type(pooled.value) is type(alone.value) and pooled.value.source == alone.value.source
    assert "cannot be decoded as a video" in line and "\n" not in str(pooled.value)
    assert _without_frames(line) == _without_frames(alone.value.one_line())  # only the frame span differs
    assert "Traceback" not in line


def test_a_dead_pool_falls_back_and_says_so(squat_video, warm_pool, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = squat_video
    monkeypatch.setattr(parallel, "_span_landmarks", _die)
    decode = DecodeOptions(sample_fps=3).decode_config()  # the fallback re-estimates: keep it short
    pose, notes = estimate_video_pose(path, decode, ParallelPoseConfig(workers=2))
    assert len(pose) == len(read_frames(path, decode))
    assert any(n.startswith("pose ran in one process: the 2 pose worker processes failed") for n in notes)


def _die(*_args: object) -> None:
    """Stands in for a worker's span: the worker process dies (as on a crash or the OOM killer)."""
    import os  # noqa: PLC0415

    os._exit(1)


@pytest.mark.parametrize(("body", "unsafe"), [
    ("print(unguarded_main_script())\n", True),
    ("def main():\n    print(unguarded_main_script())\n\nif __name__ == '__main__':\n    main()\n", False),
])
def test_a_script_without_a_main_guard_is_found(tmp_path: Path, body: str, unsafe: bool) -> None:
    """Spawned workers re-run an unguarded script's top level: such a script must be recognised."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = tmp_path / "user_script.py"
    script.write_text("from countllm.pose.parallel import unguarded_main_script\n" + body)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout.strip()
    assert out == (str(script) if unsafe else "None")
    as_module = subprocess.run([sys.executable, "-c", "from countllm.pose.parallel import unguarded_main_script;"
                                "print(unguarded_main_script())"], capture_output=True, text=True, check=True)
    assert as_module.stdout.strip() == "None"  # nothing to re-run from `python -c`


def test_an_unguarded_script_gets_pose_in_one_process_and_a_note(squat_video, monkeypatch) -> None:
    path, _ = squat_video
    monkeypatch.setattr(parallel, "unguarded_main_script", lambda: "/home/me/count_my_videos.py")
    monkeypatch.setattr(parallel, "_get_pool", lambda workers: pytest.fail("no pool may start"))
    decode = DecodeOptions(sample_fps=3).decode_config()
    pose, notes = estimate_video_pose(path, decode, ParallelPoseConfig(workers=2, min_frames=1))
    assert len(pose) == len(read_frames(path, decode))
    assert any("/home/me/count_my_videos.py has no `if __name__" in n and "use 2 workers" in n for n in notes)
