"""Video file → `Frames`: probe, resample in time, resize, and stream in chunks.

Decoding goes through decord because it resizes inside FFmpeg's scaler (no full-size RGB copy
per frame) and exposes each frame's presentation time, so timestamps are the container's own,
not `i / fps` guesses. Frames are handed out in chunks so a long video never sits in memory
whole. Anything wrong with the file itself becomes an `InputError` that says what to do.

decord quirks this module works around (decord 0.6.0):
- `len(reader)` counts demuxed packets and `get_frame_timestamp` returns float32
  `(start, stop)` pairs sorted by pts and rebased so the first frame is at 0 s.
- A failed open raises a bare `RuntimeError("Error reading PATH...")`; the reason is only
  printed to stderr by decord's C++ logger, which `decord.logging.set_level` does not silence
  (it only silences FFmpeg's own log). We capture fd 2 during the open to keep the terminal
  quiet and to put the reason in the error.
- A zero-frame stream trips an `assert` in the constructor instead of raising an error.
- At a few small output widths (`_BROKEN_WIDTHS`) decord hands back rows padded to 4 bytes
  per pixel: `reader[i]` has shape (H, W, 4) and `get_batch` fails with
  "DECORDArrayCopyFromTo: The size must exactly match" (dmlc/decord#336). `output_size`
  steps around those widths.
- An open reader keeps working while nobody reads from it: between two `get_batch` calls its
  background decoding burns about 0.7 of a core (measured: 1.44 CPU-s over a 2 s pause with a
  reader open, 0 once it is deleted). A consumer that runs pose or embeddings on each chunk
  would share its cores with that, and two pose workers lost ~25 % of their speed to it. So
  frames are decoded in blocks (`DecodeConfig.block_bytes`), the reader is released before the
  block's chunks are handed out, and the next block reopens it (0.04–0.17 s a reopen).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import decord
import numpy as np
from decord._ffi.base import DECORDError

from countllm.errors import InputError
from countllm.native_stderr import capture_native_stderr
from countllm.types import Frames

# What decord raises for input it cannot use: DECORDError from its C++ checks, RuntimeError
# from the Python wrapper when the file cannot be opened. Nothing broader is caught.
_DECORD_ERRORS = (DECORDError, RuntimeError)

_REENCODE_HINT = (
    "check that it plays in a video player, or re-encode it with "
    "`ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4`"
)
# Output widths at which decord 0.6.0's get_batch fails (see module docstring). Found by
# decoding widths 1..1300 at several heights and two sources: only width matters, and above
# 72 the row padding is always under one pixel, so no larger width can be affected.
_BROKEN_WIDTHS = frozenset({1, 2, 3, 4, 6, 8, 12, 16, 24, 48, 72})
# fd 2 is process-wide: two threads swapping it at once could leave stderr pointing at a
# temp file for good, so the swap is serialised (an open takes ~10 ms).
_NO_FRAMES = "contains no video frames; pass a video that has at least one frame"


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as decoding will see it (rotation applied to width/height)."""

    path: str
    native_fps: float  # the container's average rate, or DecodeConfig.override_fps
    n_frames: int
    duration_s: float  # start of the last frame plus one frame period
    width: int
    height: int


@dataclass
class DecodeConfig:
    """How to turn a file into frames: sampling rate, size, chunking and decoder threads."""

    target_fps: float | None = None  # None → every frame; never above the native rate
    max_side: int | None = 256  # longer side after resizing; None → native size; no upscaling
    chunk_frames: int = 64  # frames per yielded chunk
    # decoded frames held at once, in bytes: the reader is closed between blocks (module doc);
    # at 256 px a block is ~450 frames, about 45 s at 10 fps
    block_bytes: int = 64 * 2**20
    num_threads: int = 1  # FFmpeg decoder threads; 0 lets FFmpeg pick (all cores)
    override_fps: float | None = None  # trust this rate (and i/fps clock) over the container's
    # [start, stop) positions in the sampled-frame sequence; None → all. Lets several processes
    # each decode one span of a video and get exactly the frames a whole-video decode gives there.
    sample_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name in ("target_fps", "override_fps"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be None or a positive finite number, got {value}")
        if self.max_side is not None and self.max_side < 2:
            raise ValueError(f"max_side must be None or an integer >= 2, got {self.max_side}")
        if self.chunk_frames < 1:
            raise ValueError(f"chunk_frames must be an integer >= 1, got {self.chunk_frames}")
        if self.block_bytes < 1:
            raise ValueError(f"block_bytes must be an integer >= 1, got {self.block_bytes}")
        if self.num_threads < 0:
            raise ValueError(f"num_threads must be >= 0 (0 = automatic), got {self.num_threads}")
        if self.sample_range is not None and not 0 <= self.sample_range[0] < self.sample_range[1]:
            raise ValueError(f"sample_range must be (start, stop) with 0 <= start < stop, got {self.sample_range}")


def _check_path(path: str | Path) -> Path:
    """Catch the file-system mistakes before FFmpeg turns them into a vague 'Error reading'."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"no such file; check the path (relative to {Path.cwd()})")
    if path.is_dir():
        raise InputError(path, "is a directory, not a video file; pass one of the videos in it")
    if not os.access(path, os.R_OK):
        raise InputError(path, "cannot be read (permission denied); fix its permissions")
    if path.stat().st_size == 0:
        raise InputError(path, "is empty (0 bytes), probably an interrupted copy or download; "
                               "fetch or copy it again")
    return path


def _reason(err: BaseException, logged: str = "") -> str:
    """The human part of a decord failure: FFmpeg's message without the C++ file:line noise."""
    opening = [line for line in logged.splitlines() if "ERROR opening" in line]
    if opening:
        return opening[-1].rsplit(", ", 1)[-1].strip()
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return re.sub(r"\[[\d:]+\] \S+?:\d+: ", "", text)[:200]


def _unreadable(path: Path, err: BaseException, logged: str = "", where: str = "") -> InputError:
    reason = _reason(err, logged) + where
    if "cannot find video stream" in reason:
        return InputError(path, "has no video stream (audio only, or not a video); "
                                "pass a file with a video track")
    return InputError(path, f"cannot be decoded as a video ({reason}); it may be truncated, "
                            "corrupt, not a video, or use an unsupported codec — "
                            + _REENCODE_HINT)


def _open_reader(
    path: Path, width: int = -1, height: int = -1, num_threads: int = 1
) -> decord.VideoReader:
    """Open with decord, turning every way a bad file fails into an InputError."""
    decord.logging.set_level(decord.logging.QUIET)  # mutes FFmpeg's log; see module docstring
    try:
        with capture_native_stderr() as logged:
            reader = decord.VideoReader(
                str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=num_threads
            )
    except _DECORD_ERRORS as err:
        raise _unreadable(path, err, "".join(logged)) from err
    except AssertionError as err:  # decord's constructor asserts frame count > 0
        raise InputError(path, _NO_FRAMES) from err
    if len(reader) == 0:
        raise InputError(path, _NO_FRAMES)
    return reader


def _as_numpy(batch: object) -> np.ndarray:
    """decord returns its own NDArray, or a framework tensor if someone set a global bridge."""
    return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)


def _increasing(times: np.ndarray) -> bool:
    return bool(np.isfinite(times).all() and (np.diff(times) > 0).all())


def _container_clock(reader: decord.VideoReader) -> np.ndarray:
    """Every native frame's start time as the container wrote it (may be broken)."""
    return reader.get_frame_timestamp(np.arange(len(reader)))[:, 0].astype(np.float64)  # (n,)


def _native_fps(reader: decord.VideoReader, path: Path, override: float | None) -> tuple[float, list[str]]:
    """The native rate, and a note when it had to come from the frame clock instead of the header.

    Why a fallback: phone and web videos sometimes carry no usable rate in the header, while their
    frames still have a clock (frames / duration gives the rate)."""
    if override is not None:
        return float(override), []
    fps = float(reader.get_avg_fps())
    if math.isfinite(fps) and fps > 0:
        return fps, []
    times = _container_clock(reader)
    if len(times) > 1 and _increasing(times) and times[-1] > times[0]:
        rate = (len(times) - 1) / (times[-1] - times[0])
        return rate, [f"the video header gives no frame rate; used {rate:.3g} fps from its frame clock "
                      "(pass --fps if that is wrong)"]
    raise InputError(path, f"the container reports a frame rate of {fps} and its frame timestamps are "
                           "missing or not increasing, so nothing can time the frames; pass --fps RATE")


def _frame_times(reader: decord.VideoReader, path: Path, fps: float,
                 override: float | None) -> tuple[np.ndarray, list[str]]:
    """Start time of every native frame in seconds (float64): the container's clock, or i/fps.

    A clock that is missing or not increasing (phone and web videos have such files) is replaced
    by a uniform clock at the nominal rate, and the note says so."""
    n = len(reader)
    uniform = np.arange(n, dtype=np.float64) / fps
    if override is not None:
        return uniform, []
    times = _container_clock(reader)
    if _increasing(times):
        return times, []
    return uniform, [f"the video's frame timestamps are missing or not increasing; timed the frames at the "
                     f"container's nominal {fps:.3g} fps (pass --fps if that is wrong)"]


def _probe(path: str | Path, override_fps: float | None) -> tuple[VideoInfo, np.ndarray, list[str]]:
    """VideoInfo plus every frame's start time, and notes on any repaired clock; one native-size open."""
    path = _check_path(path)
    reader = _open_reader(path)
    fps, rate_notes = _native_fps(reader, path, override_fps)
    times, clock_notes = _frame_times(reader, path, fps, override_fps)
    try:
        # reader[0], not get_batch: its shape is right even at a broken width (as H, W, 4)
        height, width = _as_numpy(reader[0]).shape[:2]  # rotation already applied
    except _DECORD_ERRORS as err:
        raise _unreadable(path, err) from err
    info = VideoInfo(str(path), fps, len(times), float(times[-1] + 1.0 / fps), width, height)
    return info, times, rate_notes + clock_notes


def probe(path: str | Path, override_fps: float | None = None) -> VideoInfo:
    """Read a video's rate, length and size (decodes one frame). Bad files raise InputError."""
    return _probe(path, override_fps)[0]


def _floor_even(x: float) -> int:
    return max(2, 2 * int(x // 2))


def output_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) frames will be decoded at: longer side at most `max_side`, never upscaled.

    Resized sides are floored to even numbers: decord's scaler runs ~30% slower at odd widths
    (measured 1.3 s vs 1.0 s for a 38 s clip at 205 vs 204 px), and the aspect moves by under
    two pixels. A width decord cannot produce at all is widened by two pixels at a time.
    """
    longer = max(width, height)
    if max_side is not None and longer > max_side:
        scale = max_side / longer
        width, height = _floor_even(width * scale), _floor_even(height * scale)
    while width in _BROKEN_WIDTHS:
        width += 2
    return width, height


def effective_fps(info: VideoInfo, target_fps: float | None) -> float:
    """The rate frames come out at: the target, capped at the native rate."""
    return info.native_fps if target_fps is None else float(min(target_fps, info.native_fps))


def sampled_indices(info: VideoInfo, target_fps: float | None) -> np.ndarray:
    """Native frame indices nearest to a uniform grid at `target_fps`, starting at frame 0.

    Never upsamples: at or above the native rate every frame is used once, because repeating
    frames would only fake temporal resolution.
    """
    if target_fps is not None and not (math.isfinite(target_fps) and target_fps > 0):
        raise ValueError(f"target_fps must be None or a positive finite number, got {target_fps}")
    if target_fps is None or target_fps >= info.native_fps:
        return np.arange(info.n_frames, dtype=np.int64)
    step = info.native_fps / target_fps  # > 1, so rounded grid points never collide
    n_out = int(math.floor((info.n_frames - 1) / step + 1e-9)) + 1
    return np.round(np.arange(n_out) * step).astype(np.int64)


def block_frames(width: int, height: int, cfg: DecodeConfig) -> int:
    """Frames decoded per reader opening: `cfg.block_bytes` worth, whole chunks, at least one chunk."""
    per_chunk = width * height * 3 * cfg.chunk_frames
    return cfg.chunk_frames * max(1, cfg.block_bytes // per_chunk)


def _decode_chunks(
    reader: decord.VideoReader | None, path: Path, indices: np.ndarray, times: np.ndarray,
    fps: float, cfg: DecodeConfig, size: tuple[int, int], notes: list[str],
) -> Iterator[Frames]:
    """Decode `indices` block by block, releasing the reader before each block's chunks go out
    (see the module docstring for why); `reader` is the already-opened one for the first block."""
    block = block_frames(*size, cfg)
    for block_start in range(0, len(indices), block):
        if reader is None:
            reader = _open_reader(path, *size, cfg.num_threads)
        batches = []
        for start in range(block_start, min(block_start + block, len(indices)), cfg.chunk_frames):
            chunk = indices[start:start + cfg.chunk_frames]  # a block is whole chunks: never crosses it
            try:
                batches.append((chunk, _as_numpy(reader.get_batch(chunk))))  # (T, H, W, 3) uint8
            except _DECORD_ERRORS as err:
                raise _unreadable(path, err, where=f" at frames {chunk[0]}-{chunk[-1]}") from err
        reader = None  # the last reference: decord stops decoding ahead (module docstring)
        for chunk, images in batches:
            yield Frames(images=images, timestamps=times[chunk], fps=fps, source=str(path), notes=list(notes))


def iter_chunks(path: str | Path, cfg: DecodeConfig | None = None) -> Iterator[Frames]:
    """Stream the video as `Frames` chunks of up to `cfg.chunk_frames` frames.

    The file is opened and checked now, so a bad path raises here rather than at the first
    `next()`; decoding itself is lazy and holds one block (`cfg.block_bytes`) at a time.
    Timestamps are the native frames' own start times, so with a target rate they sit within half
    a native frame of the uniform grid. With `cfg.sample_range` only that span of the sampled frames is decoded.
    """
    cfg = cfg or DecodeConfig()
    info, times, notes = _probe(path, cfg.override_fps)
    width, height = output_size(info.width, info.height, cfg.max_side)
    reader = _open_reader(Path(info.path), width, height, cfg.num_threads)
    indices = sampled_indices(info, cfg.target_fps)
    if cfg.sample_range is not None:
        indices = indices[cfg.sample_range[0]:cfg.sample_range[1]]  # past the end: fewer or none
    fps = effective_fps(info, cfg.target_fps)
    return _decode_chunks(reader, Path(info.path), indices, times, fps, cfg, (width, height), notes)


def read_frames(path: str | Path, cfg: DecodeConfig | None = None) -> Frames:
    """Decode a whole (short) clip into one `Frames`; use `iter_chunks` for long videos."""
    chunks = list(iter_chunks(path, cfg))
    return Frames(
        images=np.concatenate([c.images for c in chunks]),
        timestamps=np.concatenate([c.timestamps for c in chunks]),
        fps=chunks[0].fps,
        source=chunks[0].source,
        notes=chunks[0].notes,
    )
