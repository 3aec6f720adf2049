"""Write RGB frames to an H.264 .mp4 — for tests and synthetic renderers, not for the pipeline.

Synthetic clips with known counts are the backbone of the offline tests, so this writer must
produce files that every reader we use (decord, PyAV, OpenCV) opens: H.264 in yuv420p, which
is also why both sides must be even (4:2:0 chroma is subsampled by 2 in each direction).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _check_frame(frame: np.ndarray, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """Reject what libx264/yuv420p cannot take, instead of letting the encoder crash later."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    if frame.shape[0] % 2 or frame.shape[1] % 2:
        raise ValueError(f"yuv420p needs even height and width, got {frame.shape[:2]}")
    if shape is not None and frame.shape != shape:
        raise ValueError(f"all frames must share one size: {frame.shape} after {shape}")
    return frame.shape


def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    crf: int = 18,
    preset: str | None = None,
) -> Path:
    """Encode `frames` ((T, H, W, 3) uint8 RGB array, or an iterable of (H, W, 3)) at `fps`.

    Frames are streamed to the encoder, so a renderer may yield them one at a time. `fps` may
    be fractional (29.97); it is stored as an exact-enough rational so timestamps stay i/fps.
    `preset` is x264's speed/size trade-off ("veryfast" for renderers); None keeps x264's default.
    Returns the path written.
    """
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number, got {fps}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(100_000)
    n_written, shape = 0, None
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        # One encoder thread: x264's output depends on its thread count, and a synthetic clip
        # must be the same bytes whatever else the process has configured (test fixtures).
        stream.options = {"crf": str(crf), "threads": "1", **({"preset": preset} if preset else {})}
        for frame in frames:
            frame = np.asarray(frame)
            shape = _check_frame(frame, shape)
            if n_written == 0:
                stream.height, stream.width = shape[0], shape[1]
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = n_written
            container.mux(stream.encode(video_frame))
            n_written += 1
        if n_written == 0:
            raise ValueError(f"no frames given to write to {path}")
        container.mux(stream.encode(None))  # flush the encoder's delayed frames
    return path
