"""Turn a skeleton sequence into candidate 1-D signals that may carry the repetition.

Which signal moves depends on the exercise: hip height for a squat, elbow angle for a curl,
wrist height for a front raise. Rather than guessing from a name, every plausible signal is
built and the periodicity analysis picks the one that repeats most cleanly. Signals are
body-relative (root-centred, divided by the torso length) so camera distance and per-frame
normalisation of the source do not matter; joint angles are scale-free by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from countllm.pose.gaps import interpolate_gaps
from countllm.pose.layouts import H36M
from countllm.types import Pose

# (a, b, c): the angle at b between the bones b→a and b→c.
ANGLES: dict[str, tuple[str, str, str]] = {
    "l_knee_angle": ("l_hip", "l_knee", "l_ankle"),
    "r_knee_angle": ("r_hip", "r_knee", "r_ankle"),
    "l_hip_angle": ("thorax", "l_hip", "l_knee"),
    "r_hip_angle": ("thorax", "r_hip", "r_knee"),
    "l_elbow_angle": ("l_shoulder", "l_elbow", "l_wrist"),
    "r_elbow_angle": ("r_shoulder", "r_elbow", "r_wrist"),
    "l_shoulder_angle": ("l_hip", "l_shoulder", "l_elbow"),
    "r_shoulder_angle": ("r_hip", "r_shoulder", "r_elbow"),
}

# Joints whose body-relative trajectories are candidates (the root itself is the origin).
TRACKED_JOINTS: tuple[str, ...] = (
    "head", "thorax", "l_wrist", "r_wrist", "l_elbow", "r_elbow", "l_knee", "r_knee",
    "l_ankle", "r_ankle", "l_shoulder", "r_shoulder",
)


@dataclass
class SignalSet:
    """Named candidate signals on one time axis, each standardised to zero mean."""

    names: list[str]
    values: np.ndarray  # (K, T) float32
    fps: float


def smooth(signal: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along the last axis (edges use the available samples)."""
    if window <= 1:
        return signal
    kernel = np.ones(window, dtype=np.float64) / window
    pad = window // 2
    padded = np.pad(signal, [(0, 0)] * (signal.ndim - 1) + [(pad, window - 1 - pad)], mode="edge")
    return np.apply_along_axis(lambda s: np.convolve(s, kernel, mode="valid"), -1, padded)


def torso_length(joints: np.ndarray) -> float:
    """Median root→thorax distance: the body's own unit of length."""
    d = np.linalg.norm(joints[:, H36M["thorax"], :2] - joints[:, H36M["root"], :2], axis=1)
    length = float(np.median(d))
    return length if length > 1e-6 else 1.0


def joint_angles(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Angles in radians, from x and y only: MediaPipe's z is too noisy to trust."""
    out = {}
    for name, (a, b, c) in ANGLES.items():
        u = joints[:, H36M[a], :2] - joints[:, H36M[b], :2]
        v = joints[:, H36M[c], :2] - joints[:, H36M[b], :2]
        cos = (u * v).sum(1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1) + 1e-8)
        out[name] = np.arccos(np.clip(cos, -1.0, 1.0))
    return out


def relative_trajectories(joints: np.ndarray) -> dict[str, np.ndarray]:
    """x and y of each tracked joint relative to the root, in torso lengths; plus the root
    itself relative to its median (whole-body motion: jumps, pull-ups, where the source
    kept it)."""
    scale = torso_length(joints)
    root = joints[:, H36M["root"], :2]
    out = {}
    for name in TRACKED_JOINTS:
        rel = (joints[:, H36M[name], :2] - root) / scale
        out[f"{name}_x"], out[f"{name}_y"] = rel[:, 0], rel[:, 1]
    centred = (root - np.median(root, axis=0)) / scale
    out["root_x"], out["root_y"] = centred[:, 0], centred[:, 1]
    return out


def pose_signal_names() -> list[str]:
    """The names of the candidate signals `pose_signals` makes, in order (any H36M-17 pose has the
    same ones), so consumers that size a model from them never hand-count."""
    probe = np.random.default_rng(0).normal(size=(2, 17, 3))  # (T, J, 3): values do not matter
    return [*relative_trajectories(probe), *joint_angles(probe)]


def pose_signals(pose: Pose, smooth_window: int = 3) -> SignalSet:
    """All candidate signals of a pose, smoothed (window 3, as LiFT does) and mean-removed."""
    joints = pose.joints.astype(np.float64)
    if not pose.valid.all():  # producers should have filled gaps; never count a jump to zero
        joints = interpolate_gaps(joints, pose.valid)
    named = {**relative_trajectories(joints), **joint_angles(joints)}
    names = list(named)
    values = smooth(np.stack([named[n] for n in names]), smooth_window)
    values = values - values.mean(axis=1, keepdims=True)
    return SignalSet(names=names, values=values.astype(np.float32), fps=pose.fps)
