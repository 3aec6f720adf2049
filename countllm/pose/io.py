"""Read skeleton sequences that users already have on disk.

Accepted: `.npy`, or `.npz` holding exactly one array (or one named `pose`/`poses`/
`keypoints`), shaped (T, 33, 3|4) MediaPipe landmarks or (T, 17, 3) H36M joints — world or
image coordinates, with or without per-frame normalisation; all-zero rows mean "no person".
Everything comes back as an H36M-17 `Pose`, gaps interpolated and counted.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from countllm.errors import InputError, NoPersonError
from countllm.pose.gaps import interpolate_gaps, missing_frames
from countllm.pose.layouts import LAYOUT_JOINTS, mediapipe33_to_h36m17
from countllm.types import Pose

POSE_SUFFIXES = (".npy", ".npz")
_NPZ_KEYS = ("pose", "poses", "keypoints", "joints", "landmarks")


def is_pose_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in POSE_SUFFIXES


def _read_array(path: Path) -> np.ndarray:
    if not path.exists():
        raise InputError(str(path), "file not found")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            named = [k for k in _NPZ_KEYS if k in keys]
            if len(keys) == 1 or named:
                return archive[named[0] if named else keys[0]]
            raise InputError(
                str(path),
                f".npz holds {len(keys)} arrays ({', '.join(keys[:5])}...); save one sequence "
                f"per file or name it one of {', '.join(_NPZ_KEYS)}",
            )
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # BadZipFile: a corrupt .npz
        if isinstance(exc, InputError):
            raise
        raise InputError(str(path), f"not a readable NumPy pose file ({exc})") from None


def _check_layout(path: Path, array: np.ndarray, pose_format: str | None) -> str:
    if array.ndim != 3 or array.shape[2] not in (2, 3, 4):
        raise InputError(
            str(path), f"pose array has shape {array.shape}; expected (T, 33, 3) MediaPipe "
            "landmarks or (T, 17, 3) H36M joints",
        )
    by_shape = {v: k for k, v in LAYOUT_JOINTS.items()}.get(array.shape[1])
    if by_shape is None:
        raise InputError(str(path), f"pose array has {array.shape[1]} joints; expected 33 or 17")
    if pose_format is not None and pose_format != by_shape:
        raise InputError(
            str(path), f"--pose-format {pose_format} expects {LAYOUT_JOINTS[pose_format]} "
            f"joints, but the array has {array.shape[1]}",
        )
    return by_shape


def pose_from_array(
    array: np.ndarray, fps: float, source: str = "", pose_format: str | None = None,
    min_detected: float = 0.2,
) -> Pose:
    """Validate, convert to H36M-17 and fill gaps. Raises InputError on unusable input."""
    path = Path(source or "<array>")
    layout = _check_layout(path, array, pose_format)
    if array.shape[0] < 2:
        raise InputError(str(path), f"pose sequence has {array.shape[0]} frames; need at least 2")
    if np.isnan(array).all():
        raise InputError(str(path), "pose array is all NaN")
    data = np.asarray(array, dtype=np.float32)
    visibility = data[..., 3] if data.shape[2] == 4 else None
    xyz = data[..., :3] if data.shape[2] >= 3 else np.concatenate(
        [data, np.zeros(data.shape[:2] + (1,), np.float32)], axis=2)
    missing = missing_frames(xyz)
    xyz = np.nan_to_num(xyz)
    if layout == "mediapipe33":
        xyz = mediapipe33_to_h36m17(xyz)
        visibility = None if visibility is None else mediapipe33_to_h36m17(visibility[..., None])[..., 0]
    valid = ~missing
    if valid.mean() < min_detected:
        raise NoPersonError(
            str(path), f"a person is present in only {valid.sum()} of {len(valid)} frames; "
            "nothing to count (check the file, or that the person is in view)",
        )
    joints = interpolate_gaps(xyz, valid)
    return Pose(joints=joints, valid=valid, fps=float(fps), layout="h36m17", source=str(path),
                visibility=visibility, interpolated_frames=int((~valid).sum()))


def load_pose_file(path: str | Path, fps: float, pose_format: str | None = None) -> Pose:
    """Load a `.npy`/`.npz` pose file as an H36M-17 Pose sampled at `fps`."""
    path = Path(path)
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(str(path), f"frame rate {fps} is not usable; pass --fps with a positive value")
    return pose_from_array(_read_array(path), fps, str(path), pose_format)
