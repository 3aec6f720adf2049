"""Decoding, resampling and bad-input handling of countllm.video, on tiny synthetic clips."""

from __future__ import annotations

import math
from pathlib import Path

import av
import decord
import numpy as np
import pytest

from countllm.errors import InputError
from countllm.video import (
    DecodeConfig,
    VideoInfo,
    iter_chunks,
    output_size,
    probe,
    read_frames,
    sampled_indices,
    write_video,
)

FPS, T, H, W = 30, 60, 48, 64


def render_square(n: int = T) -> np.ndarray:
    """A white square sliding left to right on black: every frame differs from its neighbours."""
    frames = np.zeros((n, H, W, 3), np.uint8)  # (T, H, W, 3)
    for t in range(n):
        x = 4 + (t * (W - 20)) // n
        frames[t, 16:32, x:x + 16] = 255
    return frames


@pytest.fixture(scope="module")
def rendered() -> np.ndarray:
    return render_square()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, rendered: np.ndarray) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "square.mp4", rendered, FPS)


def test_probe(clip: Path) -> None:
    info = probe(clip)
    assert info == VideoInfo(str(clip), FPS, T, pytest.approx(T / FPS), W, H)


def test_native_rate_full_size(clip: Path, rendered: np.ndarray) -> None:
    frames = read_frames(clip, DecodeConfig(max_side=None))
    assert frames.images.shape == (T, H, W, 3) and frames.images.dtype == np.uint8
    assert frames.fps == FPS and frames.source == str(clip)
    np.testing.assert_allclose(frames.timestamps, np.arange(T) / FPS, atol=1e-4)
    assert np.abs(frames.images.astype(int) - rendered).mean() < 3  # lossy, but the same video


def test_target_fps_picks_every_third_frame(clip: Path) -> None:
    native = read_frames(clip, DecodeConfig(max_side=None))
    frames = read_frames(clip, DecodeConfig(target_fps=10, max_side=None))
    assert len(frames) == 20 and frames.fps == 10.0
    assert np.all(np.diff(frames.timestamps) > 0)
    np.testing.assert_allclose(frames.timestamps, np.arange(20) / 10, atol=1e-4)
    np.testing.assert_array_equal(frames.images, native.images[::3])


def test_never_upsamples(clip: Path) -> None:
    frames = read_frames(clip, DecodeConfig(target_fps=60))
    assert len(frames) == T and frames.fps == FPS


@pytest.mark.parametrize(
    "max_side, shape", [(32, (24, 32)), (40, (30, 40)), (256, (H, W)), (None, (H, W))]
)
def test_max_side_resize(clip: Path, max_side: int | None, shape: tuple[int, int]) -> None:
    frames = read_frames(clip, DecodeConfig(max_side=max_side, target_fps=10))
    assert frames.images.shape == (20, *shape, 3)


def test_chunks_equal_whole_read(clip: Path) -> None:
    cfg = DecodeConfig(target_fps=10, chunk_frames=7)
    chunks = list(iter_chunks(clip, cfg))
    assert [len(c) for c in chunks] == [7, 7, 6]
    whole = read_frames(clip, cfg)
    np.testing.assert_array_equal(np.concatenate([c.images for c in chunks]), whole.images)
    np.testing.assert_array_equal(np.concatenate([c.timestamps for c in chunks]), whole.timestamps)


def test_blocks_release_the_reader_and_give_the_same_frames(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block holds 2 chunks of 7 frames here; the reader is reopened for each block (an open
    reader decodes ahead while the consumer works) and the frames do not change across blocks."""
    import countllm.video.decode as decode  # noqa: PLC0415

    opened: list[int] = []
    real_open = decode._open_reader
    monkeypatch.setattr(decode, "_open_reader", lambda *a, **k: opened.append(1) or real_open(*a, **k))
    frame_bytes = 64 * 48 * 3
    small = DecodeConfig(target_fps=10, chunk_frames=7, block_bytes=2 * 7 * frame_bytes)
    assert decode.block_frames(64, 48, small) == 14
    chunks = list(iter_chunks(clip, small))
    assert [len(c) for c in chunks] == [7, 7, 6]
    assert len(opened) == 1 + 2  # the probe's, then one per block (14 + 6 frames)
    whole = read_frames(clip, DecodeConfig(target_fps=10))
    np.testing.assert_array_equal(np.concatenate([c.images for c in chunks]), whole.images)
    np.testing.assert_array_equal(np.concatenate([c.timestamps for c in chunks]), whole.timestamps)


def test_threads_give_same_frames(clip: Path) -> None:
    one = read_frames(clip, DecodeConfig(num_threads=1))
    two = read_frames(clip, DecodeConfig(num_threads=2))
    np.testing.assert_array_equal(one.images, two.images)


def test_override_fps_sets_clock(clip: Path) -> None:
    frames = read_frames(clip, DecodeConfig(override_fps=15, target_fps=5))
    assert frames.fps == 5.0 and len(frames) == 20
    np.testing.assert_allclose(frames.timestamps, np.arange(20) * 3 / 15)
    assert probe(clip, override_fps=15).duration_s == pytest.approx(T / 15)


SAMPLING_CASES = [  # (native_fps, n_frames, target_fps, expected head, expected length)
    (30.0, 60, 10, [0, 3, 6, 9], 20),
    (30.0, 60, None, [0, 1, 2, 3], 60),
    (30.0, 60, 30, [0, 1, 2, 3], 60),
    (30.0, 60, 45, [0, 1, 2, 3], 60),
    (29.97, 300, 10, [0, 3, 6, 9], 100),
    (25.0, 50, 10, [0, 2, 5, 8], 20),
    (30.0, 1, 10, [0], 1),
]


@pytest.mark.parametrize("native, n, target, head, length", SAMPLING_CASES)
def test_sampled_indices(native: float, n: int, target: float | None, head: list[int],
                         length: int) -> None:
    info = VideoInfo("x.mp4", native, n, n / native, W, H)
    idx = sampled_indices(info, target)
    assert idx[: len(head)].tolist() == head and len(idx) == length
    assert idx[-1] < n and np.all(np.diff(idx) > 0)


@pytest.mark.parametrize(
    "size, max_side, expected",
    [((360, 450), 256, (204, 256)), ((1280, 720), 256, (256, 144)), ((640, 480), 255, (254, 190)),
     ((64, 48), 256, (64, 48)), ((64, 48), None, (64, 48)),
     ((64, 48), 48, (50, 36)), ((72, 72), None, (74, 72)), ((2, 10), None, (10, 10))],
)
def test_output_size(size: tuple[int, int], max_side: int | None,
                     expected: tuple[int, int]) -> None:
    assert output_size(*size, max_side) == expected


def test_width_decord_cannot_produce_is_widened(tmp_path: Path) -> None:
    """decord 0.6.0 fails get_batch at a 72-pixel width (dmlc/decord#336); we decode at 74."""
    path = write_video(tmp_path / "square72.mp4", np.zeros((5, 72, 72, 3), np.uint8), FPS)
    assert (probe(path).width, probe(path).height) == (72, 72)
    assert read_frames(path, DecodeConfig(max_side=None)).images.shape == (5, 72, 74, 3)


@pytest.mark.parametrize(
    "kwargs",
    [{"target_fps": 0}, {"target_fps": math.nan}, {"max_side": 1}, {"chunk_frames": 0},
     {"num_threads": -1}, {"override_fps": -30}, {"block_bytes": 0}],
)
def test_bad_config_is_value_error(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DecodeConfig(**kwargs)


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        for k in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 16000, k * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _make_bad(kind: str, tmp_path: Path, clip: Path) -> Path:
    """Each way a user can hand us something that is not a usable video."""
    path = tmp_path / f"{kind}.mp4"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("these are my workout notes, not a video\n")
    elif kind == "truncated":
        path.write_bytes(clip.read_bytes()[:200])
    elif kind == "audio_only":
        _audio_only(path)
    return path  # "missing": never created


BAD_INPUTS = [  # (kind, words the message must contain)
    ("missing", "no such file"),
    ("directory", "directory"),
    ("empty", "empty"),
    ("text", "cannot be decoded"),
    ("truncated", "truncated"),
    ("audio_only", "no video stream"),
]


@pytest.mark.parametrize("kind, words", BAD_INPUTS)
def test_bad_input_raises_input_error(kind: str, words: str, tmp_path: Path, clip: Path,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    path = _make_bad(kind, tmp_path, clip)
    for call in (probe, read_frames, iter_chunks):  # iter_chunks checks before the first next()
        with pytest.raises(InputError) as caught:
            call(path)
        assert caught.value.source == str(path) and str(path) in str(caught.value)
        assert words in caught.value.message
    assert capfd.readouterr().err == ""  # decord's C++ log is kept off the terminal


def test_corrupt_frames_raise_input_error(tmp_path: Path, clip: Path) -> None:
    data = bytearray(clip.read_bytes())
    data[48:len(data) // 2] = bytes(len(data) // 2 - 48)  # zero most of the frame data
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        read_frames(path)
    assert str(path) in str(caught.value)


def test_unusable_header_rate_falls_back_to_the_frame_clock(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = read_frames(clip)
    monkeypatch.setattr(decord.VideoReader, "get_avg_fps", lambda self: math.nan)
    frames = read_frames(clip)
    assert frames.fps == pytest.approx(real.fps, rel=0.02)
    assert any("no frame rate" in n and "--fps" in n for n in frames.notes)


def test_no_rate_and_no_clock_asks_for_fps(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decord.VideoReader, "get_avg_fps", lambda self: math.nan)
    monkeypatch.setattr(decord.VideoReader, "get_frame_timestamp",
                        lambda self, idx: np.zeros((len(np.atleast_1d(idx)), 2)))
    with pytest.raises(InputError, match="pass --fps RATE") as caught:
        read_frames(clip)
    assert str(clip) in str(caught.value) and "override_fps" not in str(caught.value)
    assert read_frames(clip, DecodeConfig(override_fps=30)).fps == 30.0


def test_zero_frames(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decord.VideoReader, "__len__", lambda self: 0)
    with pytest.raises(InputError, match="no video frames"):
        probe(clip)


def test_writer_rejects_odd_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((3, 47, 64, 3), np.uint8), FPS)
