"""Joint layouts and the MediaPipe-33 → Human3.6M-17 conversion (docs/design.md §2).

The counters work on the 17 H36M joints because that is what skeleton models (LiFT,
MotionBERT) and most stored datasets use; MediaPipe's 33 landmarks are mapped onto them.
"""

from __future__ import annotations

import numpy as np

H36M_JOINTS: tuple[str, ...] = (
    "root", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
    "thorax", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
    "r_elbow", "r_wrist",
)
H36M = {name: i for i, name in enumerate(H36M_JOINTS)}

# MediaPipe BlazePose landmark indices (the person's own left/right).
MP_NOSE, MP_L_EAR, MP_R_EAR = 0, 7, 8
MP_L_SHOULDER, MP_R_SHOULDER, MP_L_ELBOW, MP_R_ELBOW = 11, 12, 13, 14
MP_L_WRIST, MP_R_WRIST, MP_L_HIP, MP_R_HIP = 15, 16, 23, 24
MP_L_KNEE, MP_R_KNEE, MP_L_ANKLE, MP_R_ANKLE = 25, 26, 27, 28

# H36M joints that are a single MediaPipe landmark.
_DIRECT = {
    "r_hip": MP_R_HIP, "r_knee": MP_R_KNEE, "r_ankle": MP_R_ANKLE,
    "l_hip": MP_L_HIP, "l_knee": MP_L_KNEE, "l_ankle": MP_L_ANKLE,
    "l_shoulder": MP_L_SHOULDER, "l_elbow": MP_L_ELBOW, "l_wrist": MP_L_WRIST,
    "r_shoulder": MP_R_SHOULDER, "r_elbow": MP_R_ELBOW, "r_wrist": MP_R_WRIST,
    "neck": MP_NOSE,
}

LAYOUT_JOINTS = {"h36m17": 17, "mediapipe33": 33}

# LiFT's five kinematic chains (docs/design.md §2): the rows of a motion image.
H36M_CHAINS: tuple[tuple[str, ...], ...] = (
    ("root", "spine", "thorax", "neck", "head"),
    ("root", "l_hip", "l_knee", "l_ankle"),
    ("root", "r_hip", "r_knee", "r_ankle"),
    ("thorax", "l_shoulder", "l_elbow", "l_wrist"),
    ("thorax", "r_shoulder", "r_elbow", "r_wrist"),
)


def mediapipe33_to_h36m17(landmarks: np.ndarray) -> np.ndarray:
    """Map (T, 33, C) MediaPipe landmarks to (T, 17, C) H36M joints.

    root = mid-hip, thorax = mid-shoulder, spine = midpoint of root and thorax (docs/design.md §2).
    MediaPipe has no neck or head-top landmark: neck takes the nose, which is where H36M's
    joint 9 ("neck/nose") sits, and head takes the midpoint of the ears. Works for any number
    of trailing channels (x, y, z or x, y, z, visibility).
    """
    if landmarks.ndim != 3 or landmarks.shape[1] != 33:
        raise ValueError(f"expected (T, 33, C) MediaPipe landmarks, got {landmarks.shape}")
    out = np.zeros((landmarks.shape[0], 17, landmarks.shape[2]), dtype=np.float32)
    for name, mp_index in _DIRECT.items():
        out[:, H36M[name]] = landmarks[:, mp_index]
    root = 0.5 * (landmarks[:, MP_L_HIP] + landmarks[:, MP_R_HIP])
    thorax = 0.5 * (landmarks[:, MP_L_SHOULDER] + landmarks[:, MP_R_SHOULDER])
    out[:, H36M["root"]] = root
    out[:, H36M["thorax"]] = thorax
    out[:, H36M["spine"]] = 0.5 * (root + thorax)
    out[:, H36M["head"]] = 0.5 * (landmarks[:, MP_L_EAR] + landmarks[:, MP_R_EAR])
    return out
