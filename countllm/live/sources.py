"""Where live frames come from: a webcam, a network stream, or a file (played at its own speed).

Why a reader thread: a camera delivers frames whether or not the counter is ready. Reading in
the counting loop would let frames pile up in the driver's buffer, and every count would then
describe the past. The reader keeps at most `queue_frames` frames waiting and drops the oldest
when the counter falls behind (the drops are counted and reported), so the counter always
works on the present. A file played without `--realtime` is read on demand instead: nothing is
dropped, and it runs as fast as pose estimation allows.

Each frame carries `arrived`, the `time.perf_counter()` moment it was read from the source, or
for a file played with `realtime`, the moment it was due. A repetition's latency is measured
from it.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from countllm.errors import InputError
from countllm.native_stderr import capture_native_stderr

STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


@dataclass(frozen=True)
class SourceConfig:
    sample_fps: float = 10.0  # the rate frames are handed on at (the counter's analysis rate)
    max_side: int = 256  # longer side after resizing, as `countllm count` decodes
    realtime: bool = False  # a file: play it at its own speed (a camera always is)
    queue_frames: int = 2  # frames waiting for the counter before the oldest is dropped


@dataclass(frozen=True)
class LiveFrame:
    t_video_s: float  # the frame's time on the source's clock (a camera: since it opened)
    image: np.ndarray  # (H, W, 3) uint8 RGB
    arrived: float  # perf_counter() when read (or due, for a file played in real time)


class SourceLost(Exception):
    """The camera or stream stopped delivering before it was asked to stop."""

    def __init__(self, t_video_s: float, error: str) -> None:
        super().__init__(error)
        self.t_video_s, self.error = t_video_s, error


def source_kind(spec: str) -> str:
    """'camera' for an index such as 0, 'stream' for a URL, else 'file'."""
    if spec.isdigit():
        return "camera"
    if spec.lower().startswith(STREAM_PREFIXES):
        return "stream"
    return "file"


# --------------------------------------------------------------------------- frame producers
def _file_frames(path: Path, cfg: SourceConfig) -> Iterator[tuple[float, np.ndarray]]:
    """(t, image) of a file's sampled frames, decoded a few at a time (the same frames
    `countllm count` samples, so the two counts read the same motion)."""
    from countllm.video.decode import DecodeConfig, iter_chunks  # noqa: PLC0415 — decord

    for chunk in iter_chunks(path, DecodeConfig(target_fps=cfg.sample_fps, max_side=cfg.max_side, chunk_frames=4)):
        for t, image in zip(chunk.timestamps, chunk.images):
            yield float(t), image


def _resize(image: np.ndarray, max_side: int) -> np.ndarray:
    import cv2  # noqa: PLC0415

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)


class CaptureReader:
    """Frames from OpenCV's VideoCapture (camera index or stream URL), sampled to `sample_fps`."""

    def __init__(self, spec: str, cfg: SourceConfig) -> None:
        import cv2  # noqa: PLC0415

        self.spec, self.cfg, self.kind = spec, cfg, source_kind(spec)
        self._cv2 = cv2
        # OpenCV and FFmpeg explain a failed open at length on fd 2; the one-line error says it
        with capture_native_stderr():
            self.capture = cv2.VideoCapture(int(spec) if self.kind == "camera" else spec)
            if not self.capture.isOpened():
                self.capture.release()
                what = (f"camera index {spec}: no such camera, or it is in use; list cameras with "
                        "`v4l2-ctl --list-devices` (Linux)") if self.kind == "camera" else \
                    "cannot open the stream; check the URL and that the server is sending video"
                raise InputError(spec, what)
        self.opened = time.perf_counter()

    def frames(self) -> Iterator[LiveFrame]:
        """Sampled frames until the source stops; SourceLost when it drops."""
        step, next_t, last_t = 1.0 / self.cfg.sample_fps, 0.0, -math.inf
        try:
            while True:
                ok, bgr = self.capture.read()
                arrived = time.perf_counter()
                if not ok or bgr is None:
                    raise SourceLost(max(last_t, 0.0), f"{self.kind} {self.spec}: no frame after "
                                     f"{max(last_t, 0.0):.1f} s (disconnected or the stream ended)")
                t = self._clock(arrived)
                if t + 1e-6 < next_t:
                    continue
                next_t, last_t = max(next_t + step, t), t
                rgb = self._cv2.cvtColor(_resize(bgr, self.cfg.max_side), self._cv2.COLOR_BGR2RGB)
                yield LiveFrame(t, rgb, arrived)
        finally:
            self.capture.release()

    def _clock(self, arrived: float) -> float:
        """A stream's own position when it reports one, else the time since opening."""
        if self.kind == "stream":
            position = self.capture.get(self._cv2.CAP_PROP_POS_MSEC)
            if position and position > 0:
                return float(position) / 1000.0
        return arrived - self.opened


def file_frames(path: Path, cfg: SourceConfig) -> Iterator[LiveFrame]:
    """A file's sampled frames; with `realtime`, each released when it is due."""
    start = time.perf_counter()
    for t, image in _file_frames(path, cfg):
        if cfg.realtime:
            due = start + t
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            yield LiveFrame(t, image, due)
        else:
            yield LiveFrame(t, image, time.perf_counter())


# --------------------------------------------------------------------------- the reader thread
_END = object()


class LiveSource:
    """Iterate over the frames of SOURCE as the counter should see them (see module doc)."""

    def __init__(self, spec: str, cfg: SourceConfig | None = None) -> None:
        self.spec, self.cfg = spec, cfg or SourceConfig()
        self.kind = source_kind(spec)
        self.dropped = 0
        if self.kind == "file":
            self.fps = self._file_fps(Path(spec))  # also checks the file now, not mid-session
            self._frames = file_frames(Path(spec), self.cfg)
        else:
            self._frames = CaptureReader(spec, self.cfg).frames()
            self.fps = self.cfg.sample_fps
        self.threaded = self.kind != "file" or self.cfg.realtime
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, self.cfg.queue_frames))
        self._stop = threading.Event()

    def _file_fps(self, path: Path) -> float:
        from countllm.video.decode import effective_fps, probe  # noqa: PLC0415

        return effective_fps(probe(path), self.cfg.sample_fps)

    def __iter__(self) -> Iterator[LiveFrame]:
        if not self.threaded:
            yield from self._frames
            return
        reader = threading.Thread(target=self._read, name="countllm-live-reader", daemon=True)
        reader.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()

    def _read(self) -> None:
        """Producer: push frames, dropping the oldest waiting one when the counter is behind."""
        try:
            for frame in self._frames:
                if self._stop.is_set():
                    return
                while True:
                    try:
                        self._queue.put_nowait(frame)
                        break
                    except queue.Full:
                        try:
                            self._queue.get_nowait()
                            self.dropped += 1
                        except queue.Empty:
                            pass
            self._queue.put(_END)
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer, which raises it
            self._queue.put(exc)
