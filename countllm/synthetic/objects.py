"""Rendered class-agnostic repetition: objects that rotate, bounce, swing, pulse or slide.

Why: QUVA-style real videos (a hand, a tool, an object repeating while a person may or may not be
in view) are where the counters are weakest, and real labelled clips are few and have no cycle
boundaries. A rendered scene has exact ground truth for every cycle and lets each nuisance that
real footage mixes together — camera shake, zoom, an occluder, a light change, tempo drift, rests,
a cut-off last cycle — be switched on alone, so a failure can be traced to its cause.

Each motion maps a cycle phase in [0, 1) to a pose of the object such that phase 0 and 1 look the
same and no shorter lag does (a symmetric object turning half a turn, or a sine swing seen only by
position, would repeat its look twice a cycle and make "the truth" ambiguous). Holds (lead-in,
rests, lead-out) keep the phase-0 pose. The camera (shake, zoom) and the light act on the whole
frame after the scene is drawn, as a real camera would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from countllm.synthetic import skeleton as sk
from countllm.synthetic.bystander import BystanderConfig, BystanderPainter, bystander_joints
from countllm.types import Segment
from countllm.video.writer import write_video

MOTIONS = ("rotation", "bounce", "swing", "pulse", "slide")
_SHIFT = 4  # OpenCV fractional bits: sub-pixel drawing, so slow motion does not step in whole pixels
_ONE = 1 << _SHIFT


@dataclass
class ObjectSceneConfig:
    """One rendered clip. Times in seconds; sizes as fractions of the frame's shorter side."""

    motion: str = "swing"
    n_reps: int = 6
    period_s: float = 1.0
    fps: float = 30.0
    size: tuple[int, int] = (224, 224)  # width, height (even: H.264 4:2:0)
    tempo_drift: float = 0.0  # the last cycle takes (1 + drift) times as long as the first
    rests: list[tuple[int, float]] = field(default_factory=list)  # (after rep i, seconds held)
    lead_in_s: float = 0.5
    lead_out_s: float = 0.5
    partial_cycle_at_end: float = 0.0  # fraction of one more cycle, cut off: not counted
    amplitude: float = 1.0  # scales each motion's travel (0.5: half the swing, bounce height, ...)
    object_size: float = 0.18  # radius of the moving object
    camera_shake_px: float = 0.0  # standard deviation of the frame's jitter, in pixels
    zoom: float = 0.0  # the camera's scale grows from 1 to 1 + zoom over the clip
    occlusion: float = 0.0  # width of an opaque post across the object's path (fraction of frame)
    lighting: float = 0.0  # peak relative change of brightness, slow and aperiodic
    bystander: bool = False  # a person stands on the left, gesturing without repeating (bystander.py)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS:
            raise ValueError(f"ObjectSceneConfig: motion must be one of {', '.join(MOTIONS)}, got {self.motion!r}")
        if self.n_reps < 1 or self.period_s <= 0 or self.fps <= 0:
            raise ValueError("ObjectSceneConfig: need n_reps >= 1, period_s > 0 and fps > 0")
        if self.size[0] % 2 or self.size[1] % 2:
            raise ValueError(f"ObjectSceneConfig: size must be even for H.264 4:2:0, got {self.size}")


@dataclass
class ObjectClip:
    """A rendered object clip and its ground truth."""

    path: Path
    config: ObjectSceneConfig
    cycles: list[Segment]  # seconds, [start, end), one per full cycle
    cycle_frames: list[tuple[int, int]]  # half-open frame ranges
    n_frames: int

    @property
    def count(self) -> int:
        return len(self.cycles)


# --------------------------------------------------------------------------- the scene
@dataclass
class Scene:
    """What stays fixed through a clip: the room, the object's look and where it moves."""

    background: np.ndarray  # (H, W, 3) uint8, RGB
    colours: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]
    centre: np.ndarray  # (2,) pixels: the object's rest position (or pivot, for the swing)
    radius: float  # pixels
    travel: float  # pixels (or radians for the swing) at amplitude 1
    post: tuple[int, int] | None  # x range of the occluding post, pixels


def textured_room(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A static room: a wall/floor gradient, furniture-like blocks and fixed fine grain, so an
    embedding sees a scene (a flat backdrop makes the object the whole signal, which is too easy)."""
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    top, bottom = rng.integers(150, 235, size=3), rng.integers(90, 170, size=3)
    img = ((1 - ramp) * top + ramp * bottom) * np.ones((1, width, 1))
    for _ in range(int(rng.integers(5, 10))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(width // 12, width // 4)), int(rng.integers(height // 12, height // 4))
        cv2.rectangle(img, (x, y), (x + w, y + h), tuple(float(c) for c in rng.integers(40, 220, size=3)), -1)
    grain = gaussian_filter1d(gaussian_filter1d(rng.normal(0, 14, (height, width)), 1.5, axis=0), 1.5, axis=1)
    return np.clip(img + grain[..., None], 0, 255).astype(np.uint8)


def make_scene(cfg: ObjectSceneConfig, rng: np.random.Generator) -> Scene:
    """The room and where the object moves; with a bystander the object keeps to the part of the
    frame right of the person (`left` pixels), laid out there as it would be in a frame of its own."""
    full_w, h = cfg.size
    left = int(BystanderConfig().width_fraction * full_w) if cfg.bystander else 0
    w = full_w - left
    side = min(w, h)
    radius = cfg.object_size * side
    colours = tuple(tuple(int(c) for c in rng.integers(0, 256, size=3)) for _ in range(3))
    jitter = rng.uniform(-0.06, 0.06, size=2) * side
    if cfg.motion == "swing":
        centre, travel = np.array([w / 2, 0.12 * h]), np.radians(40.0)
    elif cfg.motion == "bounce":
        centre, travel = np.array([w / 2, h - 0.08 * h - radius]), 0.5 * h
    elif cfg.motion == "slide":
        centre, travel = np.array([0.22 * w, h / 2]), 0.56 * w
    else:  # rotation and pulse stay in place
        centre, travel = np.array([w / 2, h / 2]), 0.0
    centre = centre + np.array([left, 0.0])
    post = None
    if cfg.occlusion > 0:
        width = max(2, int(cfg.occlusion * w))
        x0 = left + int(np.clip(w / 2 + rng.uniform(-0.15, 0.15) * w - width / 2, 0, w - width))
        post = (x0, x0 + width)
    return Scene(textured_room(full_w, h, rng), colours, centre + jitter, radius, travel, post)  # type: ignore[arg-type]


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


def _disc(img: np.ndarray, centre: np.ndarray, radius: float, colour: tuple[int, int, int]) -> None:
    cv2.circle(img, _pt(centre), max(1, int(radius * _ONE)), colour, -1, cv2.LINE_AA, _SHIFT)


def _marked_wheel(img: np.ndarray, centre: np.ndarray, radius: float, angle: float, scene: Scene) -> None:
    """A disc with one spoke and one off-centre dot: it looks like itself only after a full turn."""
    a, b, c = scene.colours
    _disc(img, centre, radius, a)
    direction = np.array([np.cos(angle), np.sin(angle)])
    cv2.line(img, _pt(centre), _pt(centre + 0.95 * radius * direction), b, max(2, int(0.22 * radius)),
             cv2.LINE_AA, _SHIFT)
    side = np.array([-direction[1], direction[0]])
    _disc(img, centre + 0.55 * radius * side, 0.22 * radius, c)


def draw_object(img: np.ndarray, scene: Scene, motion: str, phase: float, amplitude: float) -> None:
    """Draw the object at `phase` of its cycle (0 and 1 look the same; holds use 0)."""
    u = phase % 1.0
    back_and_forth = 0.5 * (1.0 - np.cos(2 * np.pi * u))  # 0 → 1 → 0, smooth at the ends
    r = scene.radius
    if motion == "rotation":
        _marked_wheel(img, scene.centre, r, 2 * np.pi * u, scene)
    elif motion == "bounce":
        height = amplitude * scene.travel * 4 * u * (1 - u)  # a ballistic arc, one per cycle
        squash = 1.0 - 0.25 * max(0.0, 1.0 - height / (0.15 * scene.travel + 1e-9))
        centre = scene.centre - np.array([0.0, height]) + np.array([0.0, r * (1 - squash)])
        axes = (max(1, int(r / squash * _ONE)), max(1, int(r * squash * _ONE)))
        cv2.ellipse(img, _pt(centre), axes, 0, 0, 360, scene.colours[0], -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(img, _pt(centre), (axes[0], max(1, axes[1] // 3)), 0, 0, 360, scene.colours[1], -1,
                    cv2.LINE_AA, _SHIFT)
    elif motion == "swing":
        angle = amplitude * scene.travel * np.cos(2 * np.pi * u)  # starts and ends at one extreme
        tip = scene.centre + 2.6 * r * np.array([np.sin(angle), np.cos(angle)])
        cv2.line(img, _pt(scene.centre), _pt(tip), scene.colours[2], max(2, int(0.25 * r)), cv2.LINE_AA, _SHIFT)
        _disc(img, tip, 0.6 * r, scene.colours[0])
        _disc(img, tip, 0.28 * r, scene.colours[1])
    elif motion == "pulse":
        scale = 1.0 + 0.6 * amplitude * back_and_forth
        _marked_wheel(img, scene.centre, 0.7 * r * scale, 0.3, scene)
    elif motion == "slide":
        centre = scene.centre + np.array([amplitude * scene.travel * back_and_forth, 0.0])
        y = int(centre[1] + r)
        cv2.line(img, (0, y), (img.shape[1], y), (60, 60, 60), 2)  # the rail
        half = np.array([r, 0.7 * r])
        cv2.rectangle(img, _pt(centre - half), _pt(centre + half), scene.colours[0], -1, cv2.LINE_AA, _SHIFT)
        _disc(img, centre + np.array([0.45 * r, -0.2 * r]), 0.25 * r, scene.colours[1])


# --------------------------------------------------------------------------- the camera
def smooth_noise(n: int, sigma_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Aperiodic noise with unit standard deviation, correlated over about `sigma_frames`."""
    x = gaussian_filter1d(rng.normal(size=n + 1), max(sigma_frames, 0.5), mode="reflect")[:n]
    return (x - x.mean()) / (x.std() + 1e-12)


@dataclass
class Camera:
    """Per-frame shake (pixels), zoom (scale) and light gain."""

    shift: np.ndarray  # (T, 2)
    scale: np.ndarray  # (T,)
    gain: np.ndarray  # (T,)

    def apply(self, img: np.ndarray, i: int) -> np.ndarray:
        h, w = img.shape[:2]
        s, (dx, dy) = float(self.scale[i]), self.shift[i]
        if s != 1.0 or dx or dy:
            m = np.array([[s, 0.0, (1 - s) * w / 2 + dx], [0.0, s, (1 - s) * h / 2 + dy]])
            img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if self.gain[i] != 1.0:
            img = np.clip(img.astype(np.float32) * self.gain[i], 0, 255).astype(np.uint8)
        return img


def make_camera(cfg: ObjectSceneConfig, n: int, rng: np.random.Generator) -> Camera:
    shift = np.zeros((n, 2))
    if cfg.camera_shake_px > 0:  # hand-held: jitter correlated over ~0.1 s, not periodic
        shift = cfg.camera_shake_px * np.stack([smooth_noise(n, 0.1 * cfg.fps, rng) for _ in range(2)], axis=1)
    scale = 1.0 + cfg.zoom * np.linspace(0.0, 1.0, n)
    gain = np.ones(n)
    if cfg.lighting > 0:  # clouds or a dimmer: slow and aperiodic, up to ±lighting
        wave = smooth_noise(n, 2.0 * cfg.fps, rng)
        gain = 1.0 + cfg.lighting * wave / max(np.abs(wave).max(), 1e-9)
    return Camera(shift, scale, gain)


# --------------------------------------------------------------------------- the clip
def timeline(cfg: ObjectSceneConfig) -> list[sk.Span]:
    periods = sk.rep_periods(cfg.n_reps, cfg.period_s, cfg.tempo_drift)
    return sk.build_timeline(periods, dict(cfg.rests), cfg.lead_in_s, cfg.lead_out_s, cfg.partial_cycle_at_end)


def object_frames(cfg: ObjectSceneConfig) -> tuple[Iterator[np.ndarray], list[sk.Span], int]:
    """The clip's frames (drawn lazily, one at a time), its timeline and its frame count."""
    spans = timeline(cfg)
    _, _, phase = sk.sample_timeline(spans, cfg.fps)
    rng = np.random.default_rng(cfg.seed)
    scene = make_scene(cfg, rng)
    camera = make_camera(cfg, len(phase), rng)
    person = BystanderPainter(bystander_joints(len(phase), cfg.fps, rng), cfg.size) if cfg.bystander else None

    def frames() -> Iterator[np.ndarray]:
        for i, ph in enumerate(phase):
            img = scene.background.copy()
            if person is not None:
                person.draw(img, i)
            draw_object(img, scene, cfg.motion, float(ph), cfg.amplitude)
            if scene.post is not None:
                cv2.rectangle(img, (scene.post[0], 0), (scene.post[1], img.shape[0]), (45, 40, 38), -1)
            yield camera.apply(img, i)

    return frames(), spans, len(phase)


def render_object_clip(cfg: ObjectSceneConfig, path: str | Path) -> ObjectClip:
    """Write the clip as H.264 and return it with its ground truth (complete cycles only)."""
    frames, spans, n = object_frames(cfg)
    write_video(path, frames, cfg.fps, preset="veryfast")
    cycles = [Segment(s.start, s.end) for s in spans if s.kind == "rep"]
    return ObjectClip(Path(path), cfg, cycles, [sk.frame_range(c.start, c.end, cfg.fps) for c in cycles], n)
