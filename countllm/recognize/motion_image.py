"""LiFT motion images: a skeleton sequence drawn as a (M·5) × T × 3 picture (docs/design.md §2).

Why a picture: a ViLT-style transformer cuts it into patches like any image, so one patch is
half a kinematic chain over a couple of seconds; the model needs no skeleton-specific layers.

The steps, in LiFT's order:

1. H36M-17 joints (a MediaPipe-33 pose is mapped by `countllm.pose.layouts` first);
2. a centred moving average over 3 frames (edges repeat the end frame, as the counters do);
3. optional per-frame normalisation (`normalise="bbox"`): each axis min–max scaled over the 17
   joints to [0, 1], then centred (−0.5) so that zero padding reads as "the middle of the box".
   The Countix-Fitness pose files are already min–max normalised per frame (over MediaPipe's 33
   landmarks); normalising every input the same way again, over the 17 joints, makes those
   files, poses estimated from video and synthetic skeletons (metres) look alike;
4. resampling to 12.5 fps by linear interpolation in time;
5. each of the five chains (`H36M_CHAINS`) linearly interpolated, per axis, to M = 64 points
   along the joint index (joint k of an n-joint chain sits at k·(M−1)/(n−1));
6. the chains stacked into rows: image[c, row, t] with c = x, y, z;
7. zero padding (with a mask) to 640 frames, 51.2 s at 12.5 fps; longer clips are cut into
   windows by the caller (`window_starts`).

Steps 5–6 are one fixed linear map from 17 joints to 5·M rows (`chain_matrix`), so an image
costs one small matrix product per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from countllm.pose.layouts import H36M, H36M_CHAINS, mediapipe33_to_h36m17
from countllm.types import Pose

NORMALISATIONS = ("bbox", "none")


@dataclass(frozen=True)
class MotionImageConfig:
    fps: float = 12.5  # LiFT halves 25 fps video
    points_per_chain: int = 64  # M
    max_frames: int = 640  # ViLT's longest image side: 51.2 s at 12.5 fps
    smooth_window: int = 3
    normalise: str = "bbox"  # "bbox" (per-frame min-max, as the Countix files) or "none"

    def __post_init__(self) -> None:
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {', '.join(NORMALISATIONS)}, got {self.normalise!r}")
        if self.points_per_chain < 2 or self.max_frames < 1 or self.fps <= 0 or self.smooth_window < 1:
            raise ValueError(f"bad motion image config {self}")

    @property
    def rows(self) -> int:
        return self.points_per_chain * len(H36M_CHAINS)

    @property
    def max_seconds(self) -> float:
        return self.max_frames / self.fps


def smooth_joints(joints: np.ndarray, window: int) -> np.ndarray:
    """(T, J, C) centred moving average over `window` frames; the ends repeat the edge frame."""
    if window <= 1 or len(joints) == 0:
        return joints.astype(np.float32)
    pad = window // 2
    padded = np.concatenate([np.repeat(joints[:1], pad, 0), joints, np.repeat(joints[-1:], window - 1 - pad, 0)])
    csum = np.cumsum(np.concatenate([np.zeros_like(padded[:1]), padded]).astype(np.float64), axis=0)
    return ((csum[window:] - csum[:-window]) / window).astype(np.float32)


def bbox_normalise(joints: np.ndarray) -> np.ndarray:
    """(T, J, C): every axis of every frame min–max scaled over the joints to [0, 1], minus 0.5.

    An axis with no extent in a frame (a 2-D source's z) becomes 0 — the centre."""
    lo, hi = joints.min(axis=1, keepdims=True), joints.max(axis=1, keepdims=True)
    span = hi - lo
    scaled = np.where(span > 1e-9, (joints - lo) / np.maximum(span, 1e-9), 0.5)
    return (scaled - 0.5).astype(np.float32)


def resample_time(joints: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """(T, J, C) rows at `fps_in` linearly interpolated onto k / fps_out, k = 0 … while inside the clip."""
    if len(joints) < 2 or fps_in == fps_out:
        return joints.astype(np.float32)
    duration = (len(joints) - 1) / fps_in
    n_out = int(np.floor(duration * fps_out + 1e-9)) + 1
    pos = np.arange(n_out) * (fps_in / fps_out)  # fractional source row of each output row
    i0 = np.minimum(np.floor(pos).astype(int), len(joints) - 2)
    frac = (pos - i0)[:, None, None]
    return ((1 - frac) * joints[i0] + frac * joints[i0 + 1]).astype(np.float32)


@lru_cache(maxsize=8)
def chain_matrix(points_per_chain: int) -> np.ndarray:
    """(5·M, 17): row r of a motion image as a weighted sum of the H36M joints (steps 5–6)."""
    rows = []
    for chain in H36M_CHAINS:
        idx = [H36M[name] for name in chain]
        u = np.linspace(0.0, len(idx) - 1, points_per_chain)
        k = np.minimum(np.floor(u).astype(int), len(idx) - 2)
        frac = u - k
        block = np.zeros((points_per_chain, len(H36M)))
        for m in range(points_per_chain):
            block[m, idx[k[m]]] += 1 - frac[m]
            block[m, idx[k[m] + 1]] += frac[m]
        rows.append(block)
    matrix = np.concatenate(rows).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def prepare_joints(pose: Pose, cfg: MotionImageConfig = MotionImageConfig()) -> np.ndarray:
    """Steps 1–4: (T', 17, 3) joints at cfg.fps, smoothed and (optionally) normalised."""
    joints = pose.joints
    if pose.layout == "mediapipe33" or joints.shape[1] == 33:
        joints = mediapipe33_to_h36m17(joints[..., :3])
    if joints.ndim != 3 or joints.shape[1:] != (17, 3):
        raise ValueError(f"expected (T, 17, 3) H36M joints, got {joints.shape}")
    joints = smooth_joints(np.asarray(joints, dtype=np.float32), cfg.smooth_window)
    if cfg.normalise == "bbox":
        joints = bbox_normalise(joints)
    return resample_time(joints, pose.fps, cfg.fps)


def image_from_joints(joints: np.ndarray, points_per_chain: int = 64) -> np.ndarray:
    """Steps 5–6: (T, 17, 3) prepared joints → (3, 5·M, T) motion image."""
    return np.einsum("rj,tjc->crt", chain_matrix(points_per_chain), joints).astype(np.float32)


def pad_image(image: np.ndarray, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Step 7: (3, R, T ≤ max) → ((3, R, max) zero-padded image, (R, max) int64 mask of real pixels)."""
    channels, rows, t = image.shape
    if t > max_frames:
        raise ValueError(f"motion image has {t} frames; at most {max_frames} fit (cut it into windows)")
    padded = np.zeros((channels, rows, max_frames), dtype=np.float32)
    padded[:, :, :t] = image
    mask = np.zeros((rows, max_frames), dtype=np.int64)
    mask[:, :t] = 1
    return padded, mask


def motion_image(pose: Pose, cfg: MotionImageConfig = MotionImageConfig()) -> tuple[np.ndarray, np.ndarray]:
    """The padded motion image and mask of a pose no longer than cfg.max_seconds (steps 1–7)."""
    return pad_image(image_from_joints(prepare_joints(pose, cfg), cfg.points_per_chain), cfg.max_frames)


def window_starts(n_frames: int, window: int, hop: int) -> list[int]:
    """First rows of windows of `window` rows every `hop` rows that cover all `n_frames` rows;
    the last window ends at the last row (one window when the clip is shorter than `window`)."""
    if n_frames <= window:
        return [0]
    starts = list(range(0, n_frames - window + 1, max(hop, 1)))
    if starts[-1] + window < n_frames:
        starts.append(n_frames - window)
    return starts
