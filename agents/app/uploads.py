"""Uploads that decord cannot index, re-encoded with PyAV into an H.264 .mp4 the counters read.

Why: a browser's webcam recording (MediaRecorder WebM, VP8/VP9) carries no duration and no frame
count, so decord refuses it ("broken metadata") although FFmpeg decodes every frame. Rather than
turn away every webcam recording, such a file is decoded with PyAV (FFmpeg, already a core
dependency) and written at a constant frame rate: each output slot k/fps takes the newest frame
shown by then, so the video clock stays the recording's own. Frames are streamed (a minute of
4K webcam is never held in memory) and the longer side is capped at 720 px, which is more than
the counters read (256 px). A file PyAV cannot decode either keeps decord's error.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

MAX_SIDE = 720
DEFAULT_FPS = 30.0


def output_fps(stream: av.video.stream.VideoStream) -> float:
    """The stream's own rate when it states a plausible one (5-60 fps), else 30."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate and 5 <= float(rate) <= 60:
            return float(rate)
    return DEFAULT_FPS


def output_fps_of(path: Path) -> float:
    """The frame rate `reencode` wrote into `path`."""
    with av.open(str(path)) as container:
        return round(float(container.streams.video[0].average_rate), 3)


def _even_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(2, 2 * int(width * scale / 2)), max(2, 2 * int(height * scale / 2))


def reencode(source: Path, target: Path) -> Path:
    """Write `source` as constant-rate H.264 to `target`; ValueError/av errors when it has no frames."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.mp4")
    written = 0
    with av.open(str(source)) as inp, av.open(str(partial), mode="w") as out:
        if not inp.streams.video:
            raise ValueError(f"{source.name}: no video stream")
        stream_in = inp.streams.video[0]
        fps = output_fps(stream_in)
        stream_out, size, start = None, None, None
        pending: np.ndarray | None = None  # the newest frame decoded, shown until the next one
        for frame in inp.decode(stream_in):
            if frame.pts is None or frame.time_base is None:
                continue
            t = float(frame.pts * frame.time_base)
            start = t if start is None else start
            if stream_out is None:
                size = _even_size(frame.width, frame.height)
                stream_out = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
                stream_out.width, stream_out.height = size
                stream_out.pix_fmt = "yuv420p"
                stream_out.options = {"preset": "veryfast", "crf": "20"}
            while pending is not None and written / fps < t - start:  # the slots before this frame
                written = _emit(out, stream_out, pending, written)
            pending = frame.to_ndarray(width=size[0], height=size[1], format="rgb24")
        if pending is None or stream_out is None:
            raise ValueError(f"{source.name}: no decodable video frame")
        written = _emit(out, stream_out, pending, written)  # the last frame, shown at least once
        out.mux(stream_out.encode(None))
    partial.replace(target)
    return target


def _emit(out: av.container.OutputContainer, stream: av.video.stream.VideoStream, rgb: np.ndarray, n: int) -> int:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    frame.pts = n
    out.mux(stream.encode(frame))
    return n + 1
