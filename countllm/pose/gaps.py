"""Fill the frames where no person was seen.

Signals must be continuous for autocorrelation and peak finding; a dropped frame would look
like a jump to the origin and be counted as a repetition. Gaps are filled by linear
interpolation between the nearest detected frames (edges hold the nearest value) and the
number of filled frames is reported, never hidden.
"""

from __future__ import annotations

import numpy as np


def missing_frames(joints: np.ndarray) -> np.ndarray:
    """(T,) bool: frames that are all zero or contain NaN/inf (the "no person" conventions)."""
    flat = joints.reshape(joints.shape[0], -1)
    all_zero = ~np.any(flat != 0, axis=1)
    not_finite = ~np.all(np.isfinite(flat), axis=1)
    return all_zero | not_finite


def interpolate_gaps(joints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Linearly interpolate every coordinate over frames where `valid` is False."""
    out = np.array(joints, copy=True)
    if valid.all() or not valid.any():
        return out
    t = np.arange(out.shape[0])
    flat = out.reshape(out.shape[0], -1)
    for c in range(flat.shape[1]):
        flat[~valid, c] = np.interp(t[~valid], t[valid], flat[valid, c])
    return flat.reshape(out.shape)


def longest_gap(valid: np.ndarray) -> int:
    """Length in frames of the longest run of invalid frames."""
    longest = run = 0
    for v in valid:
        run = 0 if v else run + 1
        longest = max(longest, run)
    return longest
