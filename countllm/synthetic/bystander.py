"""A person beside the repetition who does not repeat: the trap of class-agnostic counting.

Why: in real footage of a hand, a tool or an object repeating, a person is usually in view. The
pose estimator finds them, and a policy that trusts "a person is visible" counts their body,
which sways, gestures and fidgets but does not repeat with the object. A rendered bystander puts
that trap into the object benchmark with exact ground truth: the object's cycles are the count,
the person's motion is aperiodic by construction (every joint angle wanders as noise correlated
over about a second, never a sum of sines), so anything counted on the body is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

from countllm.synthetic import skeleton as sk
from countllm.synthetic.render import RenderConfig, draw_part, figure_parts, fit_view


@dataclass(frozen=True)
class BystanderConfig:
    """How much the idle person moves. Angles in radians, lengths in metres."""

    arm_wander: float = 0.45  # standard deviation of the upper arms' pitch and roll
    elbow_wander: float = 0.6  # of the elbows' bend
    lean_wander: float = 0.08  # of the trunk's forward lean
    sway_m: float = 0.04  # of the whole body's sideways sway
    correlation_s: float = 0.8  # how long a gesture lasts: noise is smoothed over this
    yaw_deg: float = 25.0
    width_fraction: float = 0.38  # the person stands in this share of the frame, on the left


def _wander(n: int, sigma_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Aperiodic noise with unit standard deviation, correlated over `sigma_frames`."""
    x = gaussian_filter1d(rng.normal(size=n), max(sigma_frames, 0.5), mode="reflect")
    return (x - x.mean()) / (x.std() + 1e-12)


def bystander_joints(n: int, fps: float, rng: np.random.Generator,
                     cfg: BystanderConfig = BystanderConfig()) -> np.ndarray:
    """(n, 17, 3) joints of a standing person who gestures and sways without repeating."""
    sigma = cfg.correlation_s * fps
    base = sk.Stance()
    noise = {name: _wander(n, sigma, rng) for name in ("arm_pitch", "arm_roll", "elbow_flex", "lean", "sway")}
    out = np.empty((n, 17, 3))
    for t in range(n):
        stance = replace(
            base,
            arm_pitch=base.arm_pitch + abs(cfg.arm_wander * noise["arm_pitch"][t]),
            arm_roll=base.arm_roll + abs(cfg.arm_wander * noise["arm_roll"][t]),
            elbow_flex=base.elbow_flex + abs(cfg.elbow_wander * noise["elbow_flex"][t]),
            lean=cfg.lean_wander * noise["lean"][t],
        )
        out[t] = sk.stance_joints(stance)
    height = np.clip(-out[..., 1] / 1.6, 0.0, 1.2)  # feet stay, heads sway most
    out[..., 0] += cfg.sway_m * noise["sway"][:, None] * height
    return sk.to_camera(out, 1.0, cfg.yaw_deg)


class BystanderPainter:
    """Draws one bystander's frames into the left part of a scene, at one fixed view."""

    def __init__(self, joints: np.ndarray, size: tuple[int, int], cfg: BystanderConfig = BystanderConfig()) -> None:
        width, height = size
        self.joints = joints
        self.render = RenderConfig()
        region = max(32, int(cfg.width_fraction * width))
        self.view = fit_view(joints.reshape(-1, 3), region, height, margin=0.04)

    def draw(self, img: np.ndarray, t: int) -> None:
        for part in figure_parts(self.joints[t].astype(float), self.render):
            draw_part(img, part, self.view)
