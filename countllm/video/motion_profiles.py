"""Motion profiles: how much moves in each row and each column of the frame, at the native rate.

Why this representation: a fast repetition (speed jump rope, 4–8 jumps a second) needs every
frame, since at the 10 fps the pose and embedding paths use it is above the Nyquist rate.
MobileNet or MediaPipe on every frame would cost 3× their 10 fps price; a small grayscale frame
difference reduced to its row means and its column means costs little beyond decoding, which
has to touch every frame anyway (decoding a 30 fps H.264 file at 10 fps is no cheaper). The
row profile follows vertical motion (a body that bounces once per jump), the column profile
horizontal motion. Differences, not intensities, so a static background and slow lighting drift
drop out.

Frame-rate conversion (25 → 30 fps, 24 → 30 fps) repeats a frame every few frames. The
difference there is ~0, a perfectly periodic artefact at 0.2 s that a counter would count
(measured: 171 "repetitions" in a 38 s pull-up video with 30). `repair_repeated_frames` finds
such isolated still frames (difference far below both neighbours') and splits the motion of the
next difference, which spans two frame intervals, evenly over both.

Each row of the features holds two halves (`magnitude`, `direction`): the mean *absolute*
difference per row and column, and the mean *signed* difference. The magnitude ignores the
direction of motion, so a body going down and coming up look alike and a symmetric motion shows
twice per cycle; the signed half keeps the direction and shows the full cycle once. Speed jump
rope needs the first (each jump is half of the alternating-feet cycle); the tempo look uses the
second to tell such a half from a slower motion seen twice (`counters/tempo.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from countllm.types import Features, Frames

KIND = "motion_profiles"


@dataclass(frozen=True)
class MotionProfileConfig:
    """`max_side`: the longer side frames are decoded at (96 px: a jumping body spans tens of
    rows; smaller loses the bounce, larger adds only noise and cost). `max_fps`: the rate cap
    (a 240 fps slow-motion clip needs no more than 60 for any human repetition)."""

    max_side: int = 96
    max_fps: float = 60.0
    repeat_ratio: float = 0.25  # a difference below this share of both neighbours' is a repeated frame


def grayscale(images: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB → (T, H, W) float32 luma (BT.601 weights)."""
    return images.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def profiles_of_differences(gray: np.ndarray) -> np.ndarray:
    """(T, H, W) frames → (T-1, 2 (H + W)): the mean absolute difference per row, then per column
    (the magnitude half), then the mean signed difference per row and per column (direction)."""
    diff = np.diff(gray, axis=0)
    size = np.abs(diff)
    return np.concatenate([size.mean(axis=2), size.mean(axis=1), diff.mean(axis=2), diff.mean(axis=1)], axis=1)


def magnitude(features: Features) -> Features:
    """The absolute-difference half of motion-profile features (module docstring)."""
    half = features.vectors.shape[1] // 2
    return Features(vectors=features.vectors[:, :half], fps=features.fps, kind=KIND, source=features.source)


def direction(features: Features) -> Features:
    """The signed-difference half of motion-profile features (module docstring)."""
    half = features.vectors.shape[1] // 2
    return Features(vectors=features.vectors[:, half:], fps=features.fps, kind=KIND, source=features.source)


def repair_repeated_frames(profiles: np.ndarray, ratio: float = 0.25) -> tuple[np.ndarray, int]:
    """Profiles with each repeated frame's zero difference filled in (module docstring); also
    how many were repaired. A still stretch (neighbours also still) is left alone: that is rest.
    A repeat is found on the magnitude half alone (the signed half of a real motion can be ~0)."""
    energy = np.abs(profiles[:, : profiles.shape[1] // 2]).sum(axis=1)
    out = profiles.copy()
    repaired = 0
    for t in range(1, len(energy) - 1):
        if energy[t] < ratio * min(energy[t - 1], energy[t + 1]):
            out[t] = out[t + 1] = 0.5 * (profiles[t] + profiles[t + 1])
            repaired += 1
    return out, repaired


class MotionProfiler:
    """Streams `Frames` chunks into motion profiles, carrying the last frame across chunk edges."""

    def __init__(self, config: MotionProfileConfig | None = None) -> None:
        self.config = config or MotionProfileConfig()

    def features(self, chunks: Iterable[Frames], source: str) -> tuple[Features, int]:
        """The profiles as `Features` (one row per frame after the first) and the number of
        repeated frames repaired."""
        parts: list[np.ndarray] = []
        last: np.ndarray | None = None
        fps = 0.0
        for frames in chunks:
            gray = grayscale(frames.images)
            if last is not None:
                gray = np.concatenate([last[None], gray])
            if len(gray) >= 2:
                parts.append(profiles_of_differences(gray))
            last, fps = gray[-1], frames.fps
        if not parts:
            return Features(vectors=np.zeros((0, 0), np.float32), fps=fps or 1.0, kind=KIND, source=source), 0
        profiles, repaired = repair_repeated_frames(np.concatenate(parts), self.config.repeat_ratio)
        return Features(vectors=profiles.astype(np.float32), fps=fps, kind=KIND, source=source), repaired
