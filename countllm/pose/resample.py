"""A pose sequence estimated at a sparse rate, brought onto the analysis rate's clock.

Why: pose estimation is what a count on 2 cores spends its time on (BlazePose ~21 ms a frame,
whatever the frame size), and a slow repetition does not need every analysis frame estimated.
Where the tempo first look says nothing in the video repeats faster than about a second, pose is
estimated on every other analysis frame and a cubic spline through time fills the frames in
between, so the counters see the same rate (and the same cycle-time resolution of their search)
as always. Measured on the 148 Countix-Fitness development poses (30 fps rows, subsampled):
10 fps rows MAE 0.166 / OBO 0.791; 5 fps rows counted as they are 0.191 / 0.736 (the counters'
peak and swing rules see fewer, coarser samples); 5 fps rows interpolated back to 10 fps,
linearly 0.166 / 0.777, by cubic spline 0.161 / 0.797. The spline carries the curvature a slow
limb's path has between samples; a straight line flattens each extreme.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from countllm.types import Pose


def onto_clock(pose: Pose, times_in: np.ndarray, times_out: np.ndarray) -> Pose:
    """`pose`, whose rows were taken at `times_in` (seconds, increasing), resampled at `times_out`.

    Joints follow a cubic spline through the rows (gaps were already filled by the estimator);
    times past either end hold the nearest row (a spline's extrapolation would overshoot). A
    frame counts as seen when it lies nearer a row that saw the person than one that did not (a
    frame halfway to a gap is not: filled, not seen); visibility is linear.
    `fps` becomes the output clock's rate, taken from its spacing.
    """
    if len(times_in) != len(pose):
        raise ValueError(f"{len(times_in)} times for {len(pose)} pose rows")
    if len(times_out) < 2:
        raise ValueError("the output clock needs at least 2 times")
    held = np.clip(times_out, times_in[0], times_in[-1])
    if len(pose) >= 2:
        flat = pose.joints.reshape(len(pose), -1).astype(np.float64)
        joints = CubicSpline(times_in, flat, axis=0)(held)
    else:
        joints = np.repeat(pose.joints.reshape(1, -1), len(held), axis=0)
    visibility = None
    if pose.visibility is not None:
        visibility = np.stack([np.interp(held, times_in, pose.visibility[:, j])
                               for j in range(pose.visibility.shape[1])], axis=1).astype(np.float32)
    valid = np.interp(held, times_in, pose.valid.astype(np.float64)) > 0.5 + 1e-6  # a tie is not seen
    fps = float((len(times_out) - 1) / (times_out[-1] - times_out[0]))
    return Pose(joints=joints.reshape(len(held), *pose.joints.shape[1:]).astype(np.float32), valid=valid,
                fps=fps, layout=pose.layout, source=pose.source, visibility=visibility,
                interpolated_frames=int((~valid).sum()))
