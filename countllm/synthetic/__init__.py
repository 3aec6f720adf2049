"""Synthetic data with exact ground truth: exercise skeletons, cartoon-person and pendulum videos.

Why: counters, localizers and the pose path are tested (and stage-2 periodicity data is made)
on sequences whose every cycle boundary is known, instead of on disputed real labels.
`skeleton` makes H36M-17 sequences (and MediaPipe-33 layouts of them); `render` turns them into
mp4 files a pose estimator can read.
"""

from countllm.synthetic.render import ObjectVideo, RenderConfig, render_object_video, render_sequence
from countllm.synthetic.skeleton import (
    EXERCISES,
    H36M17_NAMES,
    SyntheticConfig,
    SyntheticSequence,
    make_sequence,
    to_mediapipe33,
)

__all__ = [
    "EXERCISES",
    "H36M17_NAMES",
    "ObjectVideo",
    "RenderConfig",
    "SyntheticConfig",
    "SyntheticSequence",
    "make_sequence",
    "render_object_video",
    "render_sequence",
    "to_mediapipe33",
]
