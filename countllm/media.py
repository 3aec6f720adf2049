"""One input, resolved once: `MediaInputs` turns a path into the pose and features counters read.

Why an object and not a function: several counters (and, later, an agent's follow-up
questions) ask about the same video. Decoding and pose estimation dominate the cost, so each
representation is computed on first use and kept: `inputs.pose()` runs MediaPipe once however
many counters read it. A pose file never imports decord, MediaPipe or torch.

Representations:
- `pose()`: the skeleton sequence (MediaPipe on a video; the array of a pose file).
- `frame_features()`: what a class-agnostic counter compares over time — MobileNetV2 frame
  embeddings for a video, body-relative joint coordinates for a pose file (no frames there).
- `pose_features()`: body-relative joint coordinates of `pose()` as generic feature vectors.

`notes` collects what the user should be told about the input itself (an assumed frame rate,
a broken container clock that was worked around); the dispatcher copies them into every
result counted from these inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from countllm.errors import InputError, NoPersonError
from countllm.pose.io import is_pose_file, load_pose_file
from countllm.signals.pose_signals import relative_trajectories
from countllm.types import Features, Frames, Pose

if TYPE_CHECKING:
    from countllm.video.decode import DecodeConfig, VideoInfo

DEFAULT_POSE_FILE_FPS = 30.0


@dataclass(frozen=True)
class DecodeOptions:
    """How a video is read. `fps` overrides a container rate that is wrong (`--fps`); for a pose
    file it is the rate of its rows. `sample_fps` is the analysis rate: 10 fps resolves periods
    down to 0.4 s while keeping pose estimation fast on 2 cores."""

    fps: float | None = None
    pose_format: str | None = None
    sample_fps: float = 10.0
    max_side: int = 256

    def __post_init__(self) -> None:
        for name in ("fps", "sample_fps"):
            value = getattr(self, name)
            if value is not None and not (0 < value < float("inf")):
                raise ValueError(f"{name} must be a positive number, got {value}")

    def decode_config(self) -> DecodeConfig:
        """The decoder's settings for these options (the one place they are translated)."""
        from countllm.video.decode import DecodeConfig  # noqa: PLC0415 — decord on demand

        return DecodeConfig(target_fps=self.sample_fps, max_side=self.max_side, override_fps=self.fps)


def pose_features(pose: Pose) -> Features:
    """Body-relative joint coordinates as generic features, for the similarity-type counters."""
    trajectories = relative_trajectories(pose.joints.astype(np.float64))
    vectors = np.stack(list(trajectories.values()), axis=1).astype(np.float32)
    return Features(vectors=vectors, fps=pose.fps, kind="pose", source=pose.source)


@dataclass
class MediaInputs:
    """A video or pose file and every representation of it computed so far (see module doc)."""

    path: Path
    kind: str  # "video" or "pose" (a pose file, or a pose sequence handed over in memory)
    options: DecodeOptions = field(default_factory=DecodeOptions)
    notes: list[str] = field(default_factory=list)
    _pose: Pose | None = field(default=None, repr=False)
    _pose_error: NoPersonError | None = field(default=None, repr=False)
    _frame_features: Features | None = field(default=None, repr=False)
    _pose_features: Features | None = field(default=None, repr=False)
    _motion_features: Features | None = field(default=None, repr=False)
    motion_repeats: int = 0  # repeated frames bridged in the motion profiles (frame-rate conversion)
    _sparse_pose: tuple[float, str] | None = field(default=None, repr=False)  # (fps, why): see estimate_pose_at
    _video_info: VideoInfo | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | Path, options: DecodeOptions | None = None) -> MediaInputs:
        """Check that `path` exists; nothing is decoded until a representation is asked for."""
        path = Path(path)
        if not path.exists():
            raise InputError(str(path), "file not found")
        if path.is_dir():
            raise InputError(str(path), "is a directory; pass a video or pose file "
                             "(`countllm batch` counts a whole folder)")
        kind = "pose" if is_pose_file(path) else "video"
        return cls(path=path, kind=kind, options=options or DecodeOptions())

    @classmethod
    def from_pose(cls, pose: Pose) -> MediaInputs:
        """Inputs around a pose sequence already in memory (tests, training data, live buffers)."""
        return cls(path=Path(pose.source or "<pose>"), kind="pose", _pose=pose)

    @property
    def is_pose_file(self) -> bool:
        return self.kind == "pose"

    @property
    def source(self) -> str:
        return str(self.path)

    def pose(self) -> Pose:
        """The skeleton sequence; NoPersonError (remembered, not retried) when nobody is seen."""
        if self._pose_error is not None:
            raise self._pose_error
        if self._pose is None:
            try:
                self._pose = self._load_pose_file() if self.is_pose_file else self._estimate_pose()
            except NoPersonError as exc:
                self._pose_error = exc
                raise
        return self._pose

    def estimate_pose_at(self, fps: float, why: str) -> None:
        """Estimate a video's pose at `fps` (below the analysis rate) and interpolate it onto the
        analysis clock (`pose/resample.py`); `why` goes into the note that says so. Only before
        the pose is first asked for, and only for a video (a pose file's rows are what they are)."""
        if not fps > 0:
            raise ValueError(f"a pose rate must be a positive number, got {fps}")
        if self.is_pose_file or self._pose is not None or self._pose_error is not None:
            return
        from countllm.video.decode import effective_fps  # noqa: PLC0415 — decord on demand

        if fps < effective_fps(self._info(), self.options.sample_fps):
            self._sparse_pose = (fps, why)

    def frame_features(self) -> Features:
        """Frame embeddings of a video, or the pose features of a pose file."""
        if self._frame_features is None:
            self._frame_features = self.pose_features() if self.is_pose_file else self._embed_video()
        return self._frame_features

    def pose_features(self) -> Features:
        if self._pose_features is None:
            self._pose_features = pose_features(self.pose())
        return self._pose_features

    def duration_s(self) -> float:
        """How long the input lasts (a video is probed, a pose file loaded)."""
        if self.is_pose_file:
            pose = self.pose()
            return len(pose) / pose.fps
        return self._info().duration_s

    def motion_features(self) -> Features:
        """Native-rate motion profiles of the whole video (`video/motion_profiles.py`): what a
        repetition too fast for the 10 fps analysis is counted on."""
        if self._motion_features is None:
            self._motion_features = self._motion_profiles(None)
        return self._motion_features

    def motion_features_between(self, start_s: float, end_s: float) -> Features:
        """The motion profiles of one span only (time 0 at `start_s`): the tempo first look reads
        a window of a long video, and decoding the rest would cost as much again."""
        if self._motion_features is not None:
            return crop_features(self._motion_features, start_s, end_s)
        return self._motion_profiles((start_s, end_s))

    # ------------------------------------------------------------------ computing them
    def _load_pose_file(self) -> Pose:
        fps = self.options.fps
        if fps is None:
            fps = DEFAULT_POSE_FILE_FPS
            self._note(f"pose file has no frame rate; assumed {DEFAULT_POSE_FILE_FPS:g} fps (pass --fps: "
                       "cycle times, and the 0.4–12 s period search range, depend on it)")
        return load_pose_file(self.path, fps, self.options.pose_format)

    def _estimate_pose(self) -> Pose:
        """MediaPipe over the sampled frames, in the pose worker processes when that pays
        (`countllm.pose.parallel`); its notes (decoder repairs, a pool fallback) are kept."""
        from countllm.pose.parallel import estimate_video_pose  # noqa: PLC0415 — MediaPipe on demand

        decode = self.options.decode_config()
        sparse = self._sparse_pose
        if sparse is not None:
            decode = replace(decode, target_fps=sparse[0])
        pose, notes = estimate_video_pose(self.path, decode)
        for note in notes:
            self._note(note)
        if sparse is not None:
            pose = self._onto_analysis_clock(pose, *sparse)
        return pose

    def _onto_analysis_clock(self, pose: Pose, fps: float, why: str) -> Pose:
        """Pose estimated at `fps`, on the analysis rate's frames (each native frame's own time)."""
        from countllm.pose.resample import onto_clock  # noqa: PLC0415 — scipy's spline on demand
        from countllm.video.decode import sampled_indices  # noqa: PLC0415 — decord on demand

        info = self._info()
        times_in = sampled_indices(info, fps)[: len(pose)] / info.native_fps
        times_out = sampled_indices(info, self.options.sample_fps) / info.native_fps
        times_out = times_out[times_out < times_in[-1] + 1.0 / fps - 1e-9]
        if len(times_out) < 2:
            return pose
        self._note(f"pose estimated at {pose.fps:g} fps and interpolated to {self.options.sample_fps:g} fps "
                   f"({why})")
        return onto_clock(pose, times_in, times_out)

    def _embed_video(self) -> Features:
        from countllm.embeddings.frame_encoder import FrameEncoder  # noqa: PLC0415 — torch on demand

        encoder = FrameEncoder()
        parts, fps = [], 0.0
        for frames in self._chunks():
            parts.append(encoder.encode_images(frames.images))
            fps = frames.fps
        return Features(vectors=np.concatenate(parts), fps=fps, kind="mobilenet_v2", source=self.source)

    def _info(self) -> VideoInfo:
        """The video's probe, once: the tempo look needs its length and rate before decoding."""
        if self._video_info is None:
            from countllm.video.decode import probe  # noqa: PLC0415 — decord on demand

            self._video_info = probe(self.path, self.options.fps)
        return self._video_info

    def _motion_profiles(self, span: tuple[float, float] | None) -> Features:
        if self.is_pose_file:
            raise InputError(self.source, "a pose file has no frames to take motion from; count it with "
                             "--method pose or --method similarity")
        from countllm.video.decode import DecodeConfig, effective_fps  # noqa: PLC0415 — decord on demand
        from countllm.video.motion_profiles import MotionProfileConfig, MotionProfiler  # noqa: PLC0415

        config = MotionProfileConfig()
        decode = DecodeConfig(target_fps=config.max_fps, max_side=config.max_side, override_fps=self.options.fps)
        if span is not None:
            rate = effective_fps(self._info(), config.max_fps)
            decode.sample_range = (int(span[0] * rate), int(np.ceil(span[1] * rate)) + 1)
        features, repeats = MotionProfiler(config).features(self._chunks(decode), self.source)
        if span is None:
            self.motion_repeats = repeats
        if len(features) < 2:
            raise InputError(self.source, "too few frames to take motion from; pass a longer video")
        return features

    def _chunks(self, decode: DecodeConfig | None = None) -> Iterator[Frames]:
        """The video's sampled frames in chunks (at `decode`, default the analysis settings);
        notes the decoder attaches are kept once."""
        from countllm.video.decode import iter_chunks  # noqa: PLC0415 — decord on demand

        for frames in iter_chunks(self.path, decode or self.options.decode_config()):
            for note in getattr(frames, "notes", None) or []:
                self._note(note)
            yield frames

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)


def crop_pose(pose: Pose, start_s: float, end_s: float | None) -> Pose:
    """Rows of `pose` whose time lies in [start_s, end_s); the result's time 0 is `start_s`."""
    a, b = _row_range(len(pose), pose.fps, start_s, end_s, pose.source)
    vis = None if pose.visibility is None else pose.visibility[a:b]
    return Pose(joints=pose.joints[a:b], valid=pose.valid[a:b], fps=pose.fps, layout=pose.layout,
                source=pose.source, visibility=vis, interpolated_frames=pose.interpolated_frames)


def crop_features(features: Features, start_s: float, end_s: float | None) -> Features:
    a, b = _row_range(len(features), features.fps, start_s, end_s, features.source)
    return Features(vectors=features.vectors[a:b], fps=features.fps, kind=features.kind, source=features.source)


def _row_range(n: int, fps: float, start_s: float, end_s: float | None, source: str) -> tuple[int, int]:
    a = max(0, int(np.ceil(start_s * fps - 1e-9)))
    b = n if end_s is None else min(n, int(np.ceil(end_s * fps - 1e-9)))
    if b - a < 2:
        span = f"{start_s:g}–{'end' if end_s is None else f'{end_s:g}'} s"
        raise InputError(source, f"the time range {span} holds no frames (the input lasts "
                         f"{n / fps:.1f} s); pass --start/--end inside it")
    return a, b
