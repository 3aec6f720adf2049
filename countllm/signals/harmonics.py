"""Is the most periodic joint signal moving once per repetition, or twice?

Some joints pass the same value twice per repetition: a jumping jack's wrists are widest on
the way up and again on the way down, and the knees bend at both landings, so those signals
have half the repetition's period and often the best periodicity score. The body as a whole,
though, is *not* back in the same pose after that half period (arms up instead of down).

The test: with P the best signal's period, compare the pose distance after P with the
distance after 2P. After a true period the body is back where it was (ratio below 1 on the
development data); after half of one it is far away. Alternating exercises (left lunge,
right lunge; one arm, then the other) also land in a different pose after P — but in the
left–right *mirror* of it — and there each side is one repetition, so a match with the
mirrored (x negated, sides swapped) or side-swapped pose keeps P.

The threshold is deliberately conservative (3.5×): on the Countix-Fitness development poses it
triggers on one clip (a push-up counted double); on synthetic jumping jacks and lunges the
ratio is 4–7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from countllm.pose.layouts import H36M, H36M_JOINTS

_SWAP = [H36M[n.replace("l_", "#").replace("r_", "l_").replace("#", "r_")] for n in H36M_JOINTS]


@dataclass(frozen=True)
class HarmonicConfig:
    min_ratio: float = 3.5  # pose distance after P / after 2P (plain and mirrored) to call P a half


def body_coordinates(joints: np.ndarray, torso: float) -> np.ndarray:
    """(T, J, 2) x, y relative to the root, in torso lengths."""
    xy = joints[:, :, :2].astype(np.float64)
    return (xy - xy[:, H36M["root"], None, :]) / torso


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm((a - b).reshape(len(a), -1), axis=1)))


def half_period_ratios(coords: np.ndarray, period: float, mask: np.ndarray | None = None
                       ) -> tuple[float, float] | None:
    """(plain, mirrored) pose distance after `period` relative to after 2 × `period`, over the
    frames where `mask` (the repetitive span) holds at both ends — rests would dilute it."""
    half, full = int(round(period)), int(round(2 * period))
    if half < 1 or full >= len(coords) - 1:
        return None
    keep = np.ones(len(coords) - full, bool) if mask is None else mask[:-full] & mask[full:]
    if keep.sum() < half:
        return None
    now, later, two_later = (coords[:-full][keep], coords[half:len(coords) - full + half][keep],
                             coords[full:][keep])
    reference = _mean_distance(now, two_later)
    if reference <= 1e-9:
        return None
    swapped = later[:, _SWAP]
    mirrored = swapped * np.array([-1.0, 1.0])
    alternate = min(_mean_distance(now, mirrored), _mean_distance(now, swapped))
    return _mean_distance(now, later) / reference, alternate / reference


def is_half_period(coords: np.ndarray, period: float, mask: np.ndarray | None = None,
                   cfg: HarmonicConfig = HarmonicConfig()) -> bool:
    """True when `period` is half a repetition: the pose after it is neither the same nor mirrored."""
    ratios = half_period_ratios(coords, period, mask)
    return ratios is not None and min(ratios) >= cfg.min_ratio
