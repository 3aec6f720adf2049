"""Render synthetic sequences as cartoon-person videos, plus a non-human repetitive clip.

Why: the full video → pose → count path needs videos whose counts are known exactly. MediaPipe
BlazePose (complexity 1) finds this flat-shaded cartoon person reliably: a round head with a face
(eyes, mouth) for its face-anchored detector, a broad torso, limbs thick enough to read, clothing
colours that stand out from a plain wall and floor. Measured at 480×360 with each exercise's
default view: a person found in 100 % of frames for squat, push-up, jumping jack, bicep curl,
lunge, front raise and pull-up, 95 % for sit-up; none on empty frames; the MediaPipe hip y
follows the true hip (r = 0.99 squat, 0.997 push-up) and the wrist y the true wrist (r = 0.996
bicep curl, 0.999 jumping jack). The pendulum clip serves embedding-based counters, which must
work without any person.

Projection is orthographic: the sequence's joints are already in camera coordinates (the yaw was
applied when it was generated), so x, y go to pixels and z only decides what is drawn on top.
Frames are drawn and encoded one at a time (H.264, yuv420p), so memory does not grow with length.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from countllm.synthetic import skeleton as sk
from countllm.types import Segment
from countllm.video.writer import write_video

RGB = tuple[int, int, int]
_SHIFT = 4  # OpenCV fractional bits: sub-pixel drawing, so slow motion does not step
_ONE = 1 << _SHIFT


@dataclass
class RenderConfig:
    """Look and encoding of a rendered sequence. Sizes of body parts are in metres."""

    width: int = 480
    height: int = 360
    margin: float = 0.06  # fraction of the frame left clear around everything that moves
    background: RGB = (224, 229, 235)
    floor: RGB = (176, 160, 138)
    skin: RGB = (232, 182, 146)
    hair: RGB = (62, 40, 26)
    shirt: RGB = (206, 58, 48)
    pants: RGB = (38, 58, 128)
    shoes: RGB = (32, 32, 36)
    prop: RGB = (105, 105, 112)
    far_shade: float = 0.78  # colour factor for the limbs on the side away from the camera
    head_radius: float = 0.11
    crf: int = 20
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2 or min(self.width, self.height) < 32:
            raise ValueError("RenderConfig: width and height must be even and >= 32 (yuv420p)")


# --------------------------------------------------------------------------- view
@dataclass(frozen=True)
class View:
    """Orthographic metres → pixels: px = x · ppm + ox, py = y · ppm + oy (y down in both)."""

    ppm: float
    ox: float
    oy: float

    def px(self, p: np.ndarray) -> tuple[int, int]:
        """Fixed-point pixel coordinates (with _SHIFT fractional bits) of one 3-D point."""
        return int(round((p[0] * self.ppm + self.ox) * _ONE)), int(round((p[1] * self.ppm + self.oy) * _ONE))

    def size(self, metres: float) -> int:
        return max(1, int(round(metres * self.ppm)))


def fit_view(points: np.ndarray, width: int, height: int, margin: float, pad_m: float = 0.15) -> View:
    """One fixed view that keeps every point (and the floor, y = 0) inside the frame."""
    lo = points[:, :2].min(axis=0) - pad_m
    hi = points[:, :2].max(axis=0) + pad_m
    hi[1] = max(hi[1], 0.12)  # a strip of floor always shows
    span = np.maximum(hi - lo, 1e-3)
    ppm = min(width * (1 - 2 * margin) / span[0], height * (1 - 2 * margin) / span[1])
    centre = (lo + hi) / 2.0
    return View(float(ppm), float(width / 2 - centre[0] * ppm), float(height / 2 - centre[1] * ppm))


def _shade(colour: RGB, k: float) -> RGB:
    return tuple(int(c * k) for c in colour)  # type: ignore[return-value]


# --------------------------------------------------------------------------- the cartoon figure
@dataclass(frozen=True)
class Part:
    """One drawable piece: a thick line through `pts`, a filled polygon, or a disc at pts[0]."""

    depth: float  # camera z; larger is nearer, drawn later
    kind: str  # "line" | "poly" | "disc"
    pts: np.ndarray  # (n, 3)
    size: float  # line width or disc radius, metres (unused for polygons)
    colour: RGB


def _limb_parts(j: np.ndarray, mp: np.ndarray, cfg: RenderConfig) -> list[Part]:
    """Arms and legs; the side turned away from the camera is drawn darker, as in flat shading."""
    parts: list[Part] = []
    sides = ((sk.L_SHOULDER, sk.L_ELBOW, sk.L_WRIST, sk.L_HIP, sk.L_KNEE, sk.L_ANKLE, 19, 31),
             (sk.R_SHOULDER, sk.R_ELBOW, sk.R_WRIST, sk.R_HIP, sk.R_KNEE, sk.R_ANKLE, 20, 32))  # fmt: skip
    far_arm = sk.L_SHOULDER if j[sk.L_SHOULDER, 2] < j[sk.R_SHOULDER, 2] - 0.02 else -1
    far_arm = sk.R_SHOULDER if j[sk.R_SHOULDER, 2] < j[sk.L_SHOULDER, 2] - 0.02 else far_arm
    far_leg = sk.L_HIP if j[sk.L_HIP, 2] < j[sk.R_HIP, 2] - 0.02 else -1
    far_leg = sk.R_HIP if j[sk.R_HIP, 2] < j[sk.L_HIP, 2] - 0.02 else far_leg
    for sh, el, wr, hip, kn, an, finger, toe in sides:
        ka = cfg.far_shade if sh == far_arm else 1.0
        kl = cfg.far_shade if hip == far_leg else 1.0
        hand = (j[wr] + mp[finger]) / 2.0
        for pts, size, colour, k in (
            ((j[hip], j[kn]), 0.15, cfg.pants, kl),
            ((j[kn], j[an]), 0.115, cfg.pants, kl),
            ((j[an], mp[toe]), 0.08, cfg.shoes, kl),
            ((j[sh], j[el]), 0.10, cfg.shirt, ka),
            ((j[el], j[wr]), 0.075, cfg.skin, ka),
        ):
            arr = np.array(pts)
            parts.append(Part(float(arr[:, 2].mean()), "line", arr, size, _shade(colour, k)))
        parts.append(Part(float(hand[2]), "disc", hand[None], 0.05, _shade(cfg.skin, ka)))
    return parts


def _trunk_parts(j: np.ndarray, cfg: RenderConfig) -> list[Part]:
    """Torso as a shoulder-to-hip polygon plus a thick spine line (so it stays broad side-on)."""
    z = float(j[[sk.ROOT, sk.SPINE, sk.THORAX], 2].mean())
    quad = j[[sk.L_SHOULDER, sk.R_SHOULDER, sk.R_HIP, sk.L_HIP]]
    return [
        Part(z, "line", j[[sk.L_HIP, sk.R_HIP]], 0.2, cfg.pants),
        Part(z + 1e-3, "poly", quad, 0.0, cfg.shirt),
        Part(z + 2e-3, "line", j[[sk.ROOT, sk.SPINE, sk.THORAX]], 0.28, cfg.shirt),
        Part(z + 3e-3, "line", j[[sk.THORAX, sk.NECK]], 0.09, cfg.skin),
    ]


def _head_parts(j: np.ndarray, mp: np.ndarray, cfg: RenderConfig) -> list[Part]:
    """Round head: hair behind, face disc, and the eyes and mouth on the side facing the camera."""
    _left, up, fwd, k = sk.body_axes(j[None])
    head, r = j[sk.HEAD], cfg.head_radius * float(k[0, 0])
    z = float(head[2]) + 0.1  # over the torso and the neck
    parts = [
        Part(z, "disc", (head - 0.02 * fwd[0] + 0.02 * up[0])[None], r * 1.04, cfg.hair),
        Part(z + 1e-3, "disc", (head + 0.012 * fwd[0] - 0.01 * up[0])[None], r * 0.96, cfg.skin),
    ]
    for eye in (2, 5):
        if mp[eye, 2] > head[2] + 0.02 * r / cfg.head_radius:
            parts.append(Part(z + 2e-3, "disc", mp[eye][None], 0.024, (250, 250, 250)))
            parts.append(Part(z + 3e-3, "disc", (mp[eye] + 0.006 * fwd[0])[None], 0.014, (25, 25, 30)))
    if (mp[9, 2] + mp[10, 2]) / 2 > head[2] + 0.02:
        parts.append(Part(z + 2e-3, "line", mp[[9, 10]], 0.012, (150, 40, 50)))
    return parts


def figure_parts(j: np.ndarray, cfg: RenderConfig) -> list[Part]:
    """All parts of the cartoon person for one frame of (17, 3) joints, far to near."""
    mp = sk.to_mediapipe33(j)
    parts = _limb_parts(j, mp, cfg) + _trunk_parts(j, cfg) + _head_parts(j, mp, cfg)
    return sorted(parts, key=lambda p: p.depth)


def draw_part(img: np.ndarray, part: Part, view: View) -> None:
    pts = [view.px(p) for p in part.pts]
    if part.kind == "disc":
        cv2.circle(img, pts[0], view.size(part.size) * _ONE, part.colour, -1, cv2.LINE_AA, _SHIFT)
    elif part.kind == "poly":
        cv2.fillPoly(img, [np.array(pts, dtype=np.int32)], part.colour, cv2.LINE_AA, _SHIFT)
    else:
        for a, b in itertools.pairwise(pts):
            cv2.line(img, a, b, part.colour, view.size(part.size), cv2.LINE_AA, _SHIFT)


def scene_background(view: View, props: list[tuple[np.ndarray, np.ndarray]], cfg: RenderConfig) -> np.ndarray:
    """The static scene: plain wall, floor below y = 0 with an edge line, props (a pull-up bar)."""
    img = np.empty((cfg.height, cfg.width, 3), dtype=np.uint8)
    img[:] = cfg.background
    floor_row = int(round(view.oy))
    img[max(floor_row, 0) :] = cfg.floor
    cv2.line(img, (0, floor_row), (cfg.width - 1, floor_row), _shade(cfg.floor, 0.7), 2, cv2.LINE_AA)
    for a, b in props:
        cv2.line(img, view.px(a), view.px(b), cfg.prop, view.size(0.045), cv2.LINE_AA, _SHIFT)
    return img


def render_sequence(seq: sk.SyntheticSequence, path: str | Path, cfg: RenderConfig | None = None) -> Path:
    """Write `seq` as an mp4 of the cartoon person; frames where nobody is seen show the empty scene.

    Draws `seq.clean_joints` (joint noise belongs to estimators, not to the video) with one fixed
    view fitted to the whole sequence, at the sequence's fps.
    """
    cfg = cfg or RenderConfig()
    joints, valid = seq.clean_joints, seq.pose.valid
    extent = [joints[valid].reshape(-1, 3)] + [np.stack(line) for line in seq.props]
    view = fit_view(np.concatenate(extent), cfg.width, cfg.height, cfg.margin)
    background = scene_background(view, seq.props, cfg)

    def frames() -> Iterator[np.ndarray]:
        for t in range(len(joints)):
            img = background.copy()
            if valid[t]:
                for part in figure_parts(joints[t].astype(float), cfg):
                    draw_part(img, part, view)
            yield img

    return write_video(path, frames(), seq.pose.fps, crf=cfg.crf, preset=cfg.preset)


# --------------------------------------------------------------------------- non-human clip
@dataclass
class ObjectVideo:
    """A rendered non-human repetitive clip and its ground truth."""

    path: Path
    cycles: list[Segment]  # seconds, [start, end), one per full swing
    count: int
    cycle_frames: list[tuple[int, int]]  # half-open frame ranges
    n_frames: int
    fps: float


def _object_background(size: tuple[int, int], seed: int) -> np.ndarray:
    """A static, lightly textured scene (gradient + a few blocks) so frame embeddings see a room."""
    w, h = size
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    img = ((1 - ramp) * np.array([200, 214, 228]) + ramp * np.array([150, 160, 170])) * np.ones((1, w, 1))
    img = img.astype(np.uint8)
    for _ in range(6):
        x, y = int(rng.integers(0, w)), int(rng.integers(h // 2, h))
        colour = tuple(int(c) for c in rng.integers(90, 200, size=3))
        cv2.rectangle(img, (x, y), (x + w // 8, y + h // 10), colour, -1)
    return img


def _pendulum_frame(background: np.ndarray, angle_rad: float) -> np.ndarray:
    """A bar swinging from a pivot near the top, with a big two-tone bob."""
    img = background.copy()
    h, w = img.shape[:2]
    pivot = np.array([w / 2.0, 0.12 * h])
    tip = pivot + 0.55 * h * np.array([np.sin(angle_rad), np.cos(angle_rad)])
    p0, p1 = tuple(int(v) for v in pivot * _ONE), tuple(int(v) for v in tip * _ONE)
    cv2.line(img, p0, p1, (30, 50, 140), max(2, int(0.045 * h)), cv2.LINE_AA, _SHIFT)
    cv2.circle(img, p1, int(0.11 * h * _ONE), (240, 140, 20), -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, p1, int(0.05 * h * _ONE), (250, 230, 90), -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(img, p0, int(0.03 * h * _ONE), (60, 60, 60), -1, cv2.LINE_AA, _SHIFT)
    return img


def render_object_video(
    path: str | Path,
    n_reps: int = 6,
    period_s: float = 1.0,
    fps: float = 30.0,
    rest_s: float = 2.0,
    lead_in_s: float = 0.5,
    lead_out_s: float = 0.5,
    tempo_drift: float = 0.0,
    amplitude_deg: float = 40.0,
    size: tuple[int, int] = (224, 224),
    seed: int = 0,
) -> ObjectVideo:
    """Write a pendulum clip: n_reps full swings, a rest (held at the start) after half of them.

    Why a pendulum: class-agnostic counters (self-similarity of frame embeddings, RepNet-style)
    must count things that are not people. The angle is A·cos(2π·phase), so each cycle starts
    and ends at the same extreme and the two directions of travel look different in position;
    a sin-shaped swing would repeat its look every half cycle and invite double counting.
    """
    if n_reps < 1 or period_s <= 0 or fps <= 0 or size[0] % 2 or size[1] % 2:
        raise ValueError("render_object_video: need n_reps >= 1, period_s > 0, fps > 0, even size")
    rests = {(n_reps - 1) // 2: rest_s} if n_reps > 1 and rest_s > 0 else {}
    spans = sk.build_timeline(sk.rep_periods(n_reps, period_s, tempo_drift), rests, lead_in_s, lead_out_s)
    _, _, phase = sk.sample_timeline(spans, fps)
    background = _object_background(size, seed)
    write_video(path, (_pendulum_frame(background, np.radians(amplitude_deg) * np.cos(2 * np.pi * ph))
                       for ph in phase), fps, preset="veryfast")
    cycles = [Segment(s.start, s.end) for s in spans if s.kind == "rep"]
    return ObjectVideo(Path(path), cycles, len(cycles), [sk.frame_range(c.start, c.end, fps) for c in cycles],
                       len(phase), float(fps))  # fmt: skip
