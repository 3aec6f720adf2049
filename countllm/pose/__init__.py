"""Stage 2a: human pose. MediaPipe BlazePose on frames, or a user's pose file, becomes an
H36M-17 `Pose` with its no-person frames interpolated and counted."""

from countllm.pose.io import load_pose_file, pose_from_array
from countllm.pose.layouts import H36M, H36M_JOINTS, mediapipe33_to_h36m17

__all__ = ["H36M", "H36M_JOINTS", "load_pose_file", "mediapipe33_to_h36m17", "pose_from_array"]
