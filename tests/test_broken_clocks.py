"""Videos whose frame clock is broken (duplicate timestamps, as some phone and web files have)
are timed at the container's nominal rate, and the answer says so; the console script counts them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from countllm.synthetic import SyntheticConfig, make_sequence, render_sequence
from countllm.video.decode import DecodeConfig, iter_chunks, probe

COUNTLLM = str(Path(sys.executable).with_name("countllm"))


def remux_with_duplicate_pts(source: Path, target: Path) -> Path:
    """Re-encode `source` into Matroska with every timestamp written twice (t0, t0, t1, t1, ...)."""
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        rate = int(round(float(stream.average_rate)))
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(stream)]
    out = av.open(str(target), "w")
    video = out.add_stream("libx264", rate=rate)
    video.height, video.width = frames[0].shape[:2]
    video.pix_fmt = "yuv420p"
    video.codec_context.options = {"bf": "0"}  # no reordering: pts and dts can be set together
    video.codec_context.thread_count = 1
    written = 0

    def mux(packets) -> None:
        nonlocal written
        for packet in packets:
            packet.pts = packet.dts = (written // 2) * packet.time_base.denominator // rate
            written += 1
            out.mux(packet)

    for k, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = k
        mux(video.encode(frame))
    mux(video.encode())
    out.close()
    return target


@pytest.fixture(scope="module")
def broken_clock_video(tmp_path_factory) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("clock")
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=4, seed=3))
    good = render_sequence(seq, folder / "squat.mp4")
    return remux_with_duplicate_pts(good, folder / "squat_broken_clock.mkv"), seq.count


def test_duplicate_timestamps_fall_back_to_the_nominal_rate(broken_clock_video) -> None:
    path, _ = broken_clock_video
    info = probe(path)
    chunks = list(iter_chunks(path, DecodeConfig(target_fps=10)))
    times = np.concatenate([c.timestamps for c in chunks])
    assert np.all(np.diff(times) > 0)
    np.testing.assert_allclose(np.diff(times), 1 / 10, atol=0.02)
    assert info.native_fps > 0
    assert any("timestamps are missing or not increasing" in n for n in chunks[0].notes)


def test_a_broken_clock_video_counts_and_says_so(broken_clock_video) -> None:
    path, count = broken_clock_video
    out = subprocess.run([COUNTLLM, "count", str(path), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert abs(answer["count"] - count) <= 1
    assert any("timestamps are missing or not increasing" in n and "--fps" in n for n in answer["notes"])


def test_an_override_needs_no_note(broken_clock_video) -> None:
    path, _ = broken_clock_video
    chunks = list(iter_chunks(path, DecodeConfig(target_fps=10, override_fps=30)))
    assert chunks[0].notes == []
