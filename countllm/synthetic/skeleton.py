"""Synthetic exercise skeletons (H36M-17) whose every repetition boundary is known exactly.

Why: real count labels are noisy and argued over; a generator with exact cycle boundaries lets
tests check counters and localizers to the frame, and gives stage 2 of the progressive training
(periodicity alignment, docs/design.md §1) unlimited labelled data.

How: each exercise is a pose function of one blend value `s` in [0, 1] (0 = start pose, 1 = the
far end of the movement), built by forward kinematics from a few joint angles, with two-bone IK
where a hand or foot must stay planted (feet in a squat, hands in a push-up, hands on the bar in a
pull-up). A timeline of spans (lead-in, reps, rests, lead-out, a cut-off partial rep) maps each
frame's time to a cycle phase `phi`, and `s = (1 - cos 2*pi*phi) / 2`, so every rep is
start → end → start with zero velocity at both turning points.

Coordinates (docs/design.md §2): H36M-17 joints, x right, y down, z toward the camera, metres for a
1.7 m adult at `body_scale = 1`. The floor is y = 0, so a standing body has negative y. Before the
camera yaw the subject faces the camera and their left side is +x (image right).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import partial

import numpy as np

from countllm.types import Pose, Segment

H36M17_NAMES = (
    "root", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)  # fmt: skip
(ROOT, R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE, SPINE, THORAX, NECK, HEAD,
 L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST) = range(17)  # fmt: skip

# Bone lengths in metres at body_scale = 1 (head joint = centre of the skull, top ≈ 1.70 m).
ANKLE_H, SHANK, THIGH, PELVIS_HALF = 0.07, 0.42, 0.42, 0.11
SPINE_LEN, CHEST, NECK_LEN, HEAD_LEN = 0.22, 0.24, 0.10, 0.13
SHOULDER_HALF, UPPER_ARM, FOREARM = 0.18, 0.29, 0.26
STAND_ROOT_H = 0.99 * (ANKLE_H + SHANK + THIGH)  # knees a touch soft, so the leg IK never locks

LEFT = np.array([1.0, 0.0, 0.0])
HOLD_KINDS = ("lead_in", "rest", "lead_out")


# --------------------------------------------------------------------------- geometry helpers
def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def _limb_dir(pitch: float, roll: float) -> np.ndarray:
    """Direction of a limb hanging down (0, 0), swung forward (+z) by pitch, out (+x) by roll."""
    c = math.cos(roll)
    return np.array([math.sin(roll), c * math.cos(pitch), c * math.sin(pitch)])


def _two_link(
    a: np.ndarray, c: np.ndarray, l1: float, l2: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(middle joint, reached end) of a two-bone chain a→c bending toward `pole` (knee, elbow).

    Bone lengths stay exact: a target out of reach is approached along the line instead.
    """
    d_vec = c - a
    d_raw = float(np.linalg.norm(d_vec))
    d = min(max(d_raw, abs(l1 - l2) + 1e-3), l1 + l2 - 1e-4)
    u = d_vec / max(d_raw, 1e-9)
    x = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    h = math.sqrt(max(l1 * l1 - x * x, 0.0))
    side = _unit(pole - float(pole @ u) * u)
    return a + u * x + side * h, a + u * d


def _trunk(j: np.ndarray, up: np.ndarray) -> None:
    """Fill hips, spine, thorax, neck, head and shoulders from j[ROOT] and the trunk's up axis."""
    j[L_HIP], j[R_HIP] = j[ROOT] + LEFT * PELVIS_HALF, j[ROOT] - LEFT * PELVIS_HALF
    j[SPINE] = j[ROOT] + up * SPINE_LEN
    j[THORAX] = j[SPINE] + up * CHEST
    j[NECK] = j[THORAX] + up * NECK_LEN
    j[HEAD] = j[NECK] + up * HEAD_LEN
    j[L_SHOULDER] = j[THORAX] + LEFT * SHOULDER_HALF - up * 0.02
    j[R_SHOULDER] = j[THORAX] - LEFT * SHOULDER_HALF - up * 0.02


def _legs_ik(j: np.ndarray, pole: np.ndarray) -> None:
    """Place knees (and clamp ankles) so the feet stay where j[*_ANKLE] asks."""
    for hip, knee, ankle, side in ((L_HIP, L_KNEE, L_ANKLE, 1.0), (R_HIP, R_KNEE, R_ANKLE, -1.0)):
        j[knee], j[ankle] = _two_link(j[hip], j[ankle], THIGH, SHANK, pole * [side, 1, 1])


def _arms_ik(j: np.ndarray, pole: np.ndarray) -> None:
    """Place elbows (and clamp wrists) so the hands stay where j[*_WRIST] asks."""
    for sh, el, wr, side in ((L_SHOULDER, L_ELBOW, L_WRIST, 1.0), (R_SHOULDER, R_ELBOW, R_WRIST, -1.0)):
        j[el], j[wr] = _two_link(j[sh], j[wr], UPPER_ARM, FOREARM, pole * [side, 1, 1])


# --------------------------------------------------------------------------- upright exercises
@dataclass(frozen=True)
class Stance:
    """The few angles and offsets of an upright body; an upright exercise is a start and an end.

    Angles are radians, offsets metres. Both arms move together (mirrored), which is how the
    generated exercises are done; legs follow by IK from where the feet are put.
    """

    root_drop: float = 0.0  # pelvis sinks below standing height
    root_fwd: float = 0.0  # pelvis moves toward +z (negative: sits back)
    lean: float = 0.0  # trunk pitches forward
    feet_half: float = 0.11  # midline → each ankle
    l_foot_fwd: float = 0.0
    r_foot_fwd: float = 0.0
    l_foot_lift: float = 0.0
    r_foot_lift: float = 0.0
    hop: float = 0.0  # whole body off the floor
    arm_pitch: float = 0.06  # upper arms swing forward
    arm_roll: float = 0.12  # upper arms swing outward
    elbow_flex: float = 0.12  # forearm pitch relative to the upper arm


def _blend_stance(a: Stance, b: Stance, s: float, bump: dict[str, float], k: float) -> Stance:
    """a + (b - a)·s, plus `bump`·k (a transient such as the hop of a jumping jack)."""
    vals = {}
    for f in fields(Stance):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        vals[f.name] = va + (vb - va) * s + bump.get(f.name, 0.0) * k
    return Stance(**vals)


def stance_joints(st: Stance) -> np.ndarray:
    """(17, 3) joints of an upright body in the pre-yaw frame, feet on the floor unless hopping."""
    j = np.zeros((17, 3))
    lift = np.array([0.0, -st.hop, 0.0])
    j[ROOT] = np.array([0.0, -STAND_ROOT_H + st.root_drop, st.root_fwd]) + lift
    _trunk(j, np.array([0.0, -math.cos(st.lean), math.sin(st.lean)]))
    j[L_ANKLE] = np.array([st.feet_half, -ANKLE_H - st.l_foot_lift, st.l_foot_fwd]) + lift
    j[R_ANKLE] = np.array([-st.feet_half, -ANKLE_H - st.r_foot_lift, st.r_foot_fwd]) + lift
    _legs_ik(j, np.array([0.15, 0.0, 1.0]))
    for sh, el, wr, side in ((L_SHOULDER, L_ELBOW, L_WRIST, 1.0), (R_SHOULDER, R_ELBOW, R_WRIST, -1.0)):
        upper = _limb_dir(st.arm_pitch, st.arm_roll) * [side, 1, 1]
        fore = _limb_dir(st.arm_pitch + st.elbow_flex, st.arm_roll) * [side, 1, 1]
        j[el] = j[sh] + upper * UPPER_ARM
        j[wr] = j[el] + fore * FOREARM
    return j


def _stance_pose(start: Stance, end: Stance, bump: dict[str, float], s: float) -> np.ndarray:
    """Pose function of an upright exercise; the bump peaks halfway through each transition."""
    return stance_joints(_blend_stance(start, end, s, bump, math.sin(math.pi * s)))


# --------------------------------------------------------------------------- floor and bar work
def _push_up(s: float) -> np.ndarray:
    """Plank on toes and hands; the straight body pivots at the toes while the elbows bend."""
    toe_h, top_h, bottom_h = 0.10, 0.55, 0.20
    body_len = SHANK + THIGH + SPINE_LEN + CHEST
    h = top_h + (bottom_h - top_h) * s  # shoulder-line height above the floor
    elev = math.asin((h - toe_h) / body_len)
    up = np.array([0.0, -math.sin(elev), math.cos(elev)])  # from the feet toward the head
    j = np.zeros((17, 3))
    j[ROOT] = np.array([0.0, -toe_h, 0.0]) + up * (SHANK + THIGH)
    _trunk(j, up)
    for hip, knee, ankle in ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE)):
        j[ankle] = np.array([j[hip][0] * 0.8, -toe_h, 0.0])
        j[knee] = j[ankle] + (j[hip] - j[ankle]) * (SHANK / (SHANK + THIGH))
    hands_z = body_len * math.cos(math.asin((top_h - toe_h) / body_len))
    j[L_WRIST] = np.array([SHOULDER_HALF + 0.06, -0.03, hands_z])
    j[R_WRIST] = np.array([-SHOULDER_HALF - 0.06, -0.03, hands_z])
    _arms_ik(j, np.array([0.6, -0.5, -0.5]))
    return j


def _sit_up(s: float) -> np.ndarray:
    """Lying on the back, knees bent, feet planted; the trunk curls up, arms reach for the knees."""
    elev = 0.08 + (1.2 - 0.08) * s
    j = np.zeros((17, 3))
    j[ROOT] = np.array([0.0, -0.10, 0.0])
    _trunk(j, np.array([0.0, -math.sin(elev), -math.cos(elev)]))
    j[L_ANKLE] = np.array([PELVIS_HALF + 0.01, -ANKLE_H, 0.62])
    j[R_ANKLE] = np.array([-PELVIS_HALF - 0.01, -ANKLE_H, 0.62])
    _legs_ik(j, np.array([0.1, -1.0, 0.0]))
    knees = (j[L_KNEE] + j[R_KNEE]) / 2.0
    for sh, el, wr in ((L_SHOULDER, L_ELBOW, L_WRIST), (R_SHOULDER, R_ELBOW, R_WRIST)):
        reach = _unit(knees - j[sh] + np.array([0.0, 0.15, 0.0]))
        j[el] = j[sh] + reach * UPPER_ARM
        j[wr] = j[el] + reach * FOREARM
    return j


PULL_UP_BAR_H = 2.25


def _pull_up(s: float) -> np.ndarray:
    """Hanging from a fixed bar; the body rises until the chin clears it, legs hang softly bent."""
    thorax_h = PULL_UP_BAR_H - 0.52 + (0.52 - 0.12) * s
    up = np.array([0.0, -math.cos(0.08), -math.sin(0.08)])  # slight lean back
    j = np.zeros((17, 3))
    j[ROOT] = np.array([0.0, -thorax_h, 0.0]) - up * (SPINE_LEN + CHEST)
    _trunk(j, up)
    for hip, knee, ankle in ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE)):
        j[knee] = j[hip] + _limb_dir(0.25, 0.0) * THIGH
        j[ankle] = j[knee] + _limb_dir(-0.35, 0.0) * SHANK
    j[L_WRIST] = np.array([SHOULDER_HALF + 0.14, -PULL_UP_BAR_H, 0.0])
    j[R_WRIST] = np.array([-SHOULDER_HALF - 0.14, -PULL_UP_BAR_H, 0.0])
    _arms_ik(j, np.array([1.0, 0.4, -0.3]))
    return j


# --------------------------------------------------------------------------- exercise registry
Line3 = tuple[tuple[float, float, float], tuple[float, float, float]]


@dataclass(frozen=True)
class ExerciseSpec:
    """How one exercise moves and how it is best seen."""

    pose: Callable[[float], np.ndarray]  # s in [0, 1] → (17, 3), pre-yaw frame
    period_s: float  # a typical repetition length
    yaw_deg: float  # a camera angle from which the movement is plain to see
    props: tuple[Line3, ...] = ()  # static scene lines (a bar), pre-yaw frame


def _upright(start: Stance, end: Stance, **bump: float) -> Callable[[float], np.ndarray]:
    return partial(_stance_pose, start, end, bump)


_BAR_Y = -PULL_UP_BAR_H
EXERCISES: dict[str, ExerciseSpec] = {
    "squat": ExerciseSpec(
        _upright(Stance(), Stance(root_drop=0.42, root_fwd=-0.2, lean=0.6, arm_pitch=1.45, elbow_flex=0.05)),
        period_s=2.4, yaw_deg=30.0),
    "push_up": ExerciseSpec(_push_up, period_s=2.0, yaw_deg=80.0),
    "jumping_jack": ExerciseSpec(
        _upright(Stance(feet_half=0.1, arm_roll=0.15), Stance(feet_half=0.38, arm_roll=2.85, root_drop=0.05),
                 hop=0.06),
        period_s=1.2, yaw_deg=0.0),
    "bicep_curl": ExerciseSpec(
        _upright(Stance(arm_pitch=0.08, arm_roll=0.1, elbow_flex=0.15),
                 Stance(arm_pitch=0.15, arm_roll=0.1, elbow_flex=2.45)),
        period_s=2.0, yaw_deg=35.0),
    "lunge": ExerciseSpec(
        _upright(Stance(), Stance(l_foot_fwd=0.7, root_fwd=0.3, root_drop=0.36, r_foot_lift=0.05),
                 l_foot_lift=0.08),
        period_s=2.6, yaw_deg=65.0),
    "front_raise": ExerciseSpec(
        _upright(Stance(arm_pitch=0.08, arm_roll=0.08, elbow_flex=0.08),
                 Stance(arm_pitch=1.55, arm_roll=0.08, elbow_flex=0.08)),
        period_s=2.4, yaw_deg=45.0),
    "sit_up": ExerciseSpec(_sit_up, period_s=2.5, yaw_deg=-80.0),
    "pull_up": ExerciseSpec(
        _pull_up, period_s=3.0, yaw_deg=20.0,
        props=(((-0.75, _BAR_Y, 0.0), (0.75, _BAR_Y, 0.0)), ((-0.75, _BAR_Y, 0.0), (-0.75, 0.0, 0.0)),
               ((0.75, _BAR_Y, 0.0), (0.75, 0.0, 0.0)))),
}  # fmt: skip


def exercise_spec(name: str) -> ExerciseSpec:
    """The registry entry for `name`; a ValueError lists the accepted names."""
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; accepted: {', '.join(sorted(EXERCISES))}")
    return EXERCISES[name]


# --------------------------------------------------------------------------- timeline
@dataclass(frozen=True)
class Span:
    """One stretch of the timeline. `period > 0` means time maps to a cycle phase (a rep or the
    cut-off partial rep); holds (lead-in, rest, lead-out) have period 0 and phase 0."""

    kind: str  # "lead_in" | "rep" | "rest" | "lead_out" | "partial"
    start: float  # seconds
    duration: float
    period: float = 0.0
    rep: int = -1  # index of the repetition (reps and the partial one)

    @property
    def end(self) -> float:
        return self.start + self.duration


def rep_periods(n_reps: int, period_s: float, tempo_drift: float) -> np.ndarray:
    """Period of each rep: multiplied from 1 to 1 + drift along a cosine ramp (no kink)."""
    x = np.linspace(0.0, 1.0, n_reps) if n_reps > 1 else np.zeros(1)
    return period_s * (1.0 + tempo_drift * 0.5 * (1.0 - np.cos(np.pi * x)))


def build_timeline(
    periods: Sequence[float],
    rests: dict[int, float],
    lead_in_s: float = 0.0,
    lead_out_s: float = 0.0,
    partial: float = 0.0,
) -> list[Span]:
    """Spans in order: lead-in, reps (a rest after rep i when `rests[i]`), lead-out, partial rep.

    The partial rep comes last on purpose: the recording stops partway into one more rep, the
    case a counter must not count. (Put before the lead-out, it would return to the start pose and
    look complete.) It uses the last rep's period.
    """
    spans: list[Span] = []
    t = 0.0

    def add(kind: str, dur: float, period: float = 0.0, rep: int = -1) -> None:
        nonlocal t
        if dur > 0:
            spans.append(Span(kind, t, float(dur), float(period), rep))
            t += float(dur)

    add("lead_in", lead_in_s)
    for i, p in enumerate(periods):
        add("rep", p, p, i)
        add("rest", rests.get(i, 0.0))
    add("lead_out", lead_out_s)
    if partial > 0 and len(periods):
        add("partial", partial * periods[-1], periods[-1], len(periods))
    return spans


def n_frames(spans: Sequence[Span], fps: float) -> int:
    """Frames sampled at t = k / fps that fall inside the timeline."""
    return int(math.ceil(spans[-1].end * fps - 1e-6)) if spans else 0


def frame_range(seg_start: float, seg_end: float, fps: float) -> tuple[int, int]:
    """Half-open [first, stop) frame indices whose times lie in [seg_start, seg_end)."""
    return int(math.ceil(seg_start * fps - 1e-6)), int(math.ceil(seg_end * fps - 1e-6))


def sample_timeline(spans: Sequence[Span], fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: (span index, position within the span in [0, 1), cycle phase).

    The phase is (t - start) / period for reps and the partial rep, 0 during holds.
    """
    t = np.arange(n_frames(spans, fps)) / fps
    starts = np.array([s.start for s in spans])
    idx = np.clip(np.searchsorted(starts, t + 1e-9, side="right") - 1, 0, len(spans) - 1)
    start = starts[idx]
    dur = np.array([s.duration for s in spans])[idx]
    period = np.array([s.period for s in spans])[idx]
    local = np.clip((t - start) / dur, 0.0, 1.0 - 1e-9)
    phase = np.where(period > 0, (t - start) / np.where(period > 0, period, 1.0), 0.0)
    return idx, local, phase


def blend(phase: np.ndarray | float) -> np.ndarray | float:
    """Cycle phase → pose blend s: start (0) → end (1) → start, at rest at both turning points."""
    return 0.5 * (1.0 - np.cos(2.0 * np.pi * phase))


# --------------------------------------------------------------------------- sequences
@dataclass
class SyntheticConfig:
    """Everything that shapes one generated sequence; the same config and seed give the same one."""

    exercise: str = "squat"  # a key of EXERCISES
    n_reps: int = 5  # complete reps: the ground-truth count
    fps: float = 30.0
    period_s: float | None = None  # first rep's length; None: the exercise's typical period
    tempo_drift: float = 0.0  # last rep's period = (1 + drift) × the first's (0.5: slows by half)
    rests: list[tuple[int, float]] = field(default_factory=list)  # (after rep index, seconds)
    lead_in_s: float = 1.0  # start pose held, fidgeting, before the first rep
    lead_out_s: float = 1.0  # the same after the last
    partial_cycle_at_end: float = 0.0  # fraction of one more rep, cut off; never counted
    amplitude_jitter: float = 0.0  # each rep reaches a random (1 - jitter … 1) of the full range
    sway_m: float = 0.01  # sway amplitude while resting
    fidget_m: float = 0.02  # sway during lead-in/out; the hands move twice this
    noise_std: float = 0.0  # Gaussian joint noise, metres after body_scale
    missing_fraction: float = 0.0  # random frames where nobody is seen
    missing_gap_s: float = 0.0  # plus one contiguous unseen stretch at a random place
    yaw_deg: float | None = None  # camera yaw about the vertical; None: the exercise's best view
    body_scale: float = 1.0
    seed: int = 0


@dataclass
class SyntheticSequence:
    """A generated skeleton sequence and its exact ground truth.

    `pose.joints` is what an estimator would hand over: noisy, with all-zero rows and
    `valid = False` where nobody is seen (not yet interpolated, so `interpolated_frames = 0`).
    `clean_joints` has neither noise nor gaps; the renderer draws it.
    """

    pose: Pose
    cycles: list[Segment]  # one per complete rep, seconds, [start, end)
    count: int
    cycle_frames: list[tuple[int, int]]  # half-open [first, stop) frame indices per cycle
    clean_joints: np.ndarray  # (T, 17, 3) float32
    phase: np.ndarray  # (T,) cycle phase in [0, 1) inside counted reps, NaN elsewhere
    spans: list[Span]
    props: list[tuple[np.ndarray, np.ndarray]]  # static scene lines, same frame as the joints
    config: SyntheticConfig

    @property
    def rests(self) -> list[Segment]:
        """Spans without repetitions: lead-in, rests between reps, lead-out."""
        return [Segment(s.start, s.end) for s in self.spans if s.kind in HOLD_KINDS]

    @property
    def foreground(self) -> np.ndarray:
        """(T,) bool: the frame lies inside a counted rep (localization labels)."""
        return ~np.isnan(self.phase)

    @property
    def duration_s(self) -> float:
        return self.spans[-1].end if self.spans else 0.0


def _validate(cfg: SyntheticConfig) -> None:
    checks = [
        (cfg.n_reps >= 1, "n_reps must be >= 1"),
        (cfg.fps > 0, "fps must be > 0"),
        (cfg.period_s is None or cfg.period_s > 0, "period_s must be > 0"),
        (cfg.tempo_drift > -1.0, "tempo_drift must be > -1"),
        (0.0 <= cfg.partial_cycle_at_end < 1.0, "partial_cycle_at_end must be in [0, 1)"),
        (0.0 <= cfg.missing_fraction < 1.0, "missing_fraction must be in [0, 1)"),
        (0.0 <= cfg.amplitude_jitter < 1.0, "amplitude_jitter must be in [0, 1)"),
        (min(cfg.lead_in_s, cfg.lead_out_s, cfg.missing_gap_s, cfg.noise_std) >= 0, "durations, noise >= 0"),
        (cfg.body_scale > 0, "body_scale must be > 0"),
        (
            all(0 <= i < cfg.n_reps and d >= 0 for i, d in cfg.rests),
            "rests: (0 <= rep < n_reps, seconds >= 0)",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"SyntheticConfig: {message}")


def to_camera(points: np.ndarray, scale: float, yaw_deg: float) -> np.ndarray:
    """Scale about the floor origin, then turn about the vertical axis (camera yaw)."""
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    return (np.asarray(points, dtype=float) * scale) @ rot.T


def _animate(pose_fn: Callable[[float], np.ndarray], s: np.ndarray) -> np.ndarray:
    """(T, 17, 3) poses for per-frame blends; holds share one cached start pose."""
    cache: dict[float, np.ndarray] = {}
    out = np.empty((len(s), 17, 3))
    for t, v in enumerate(s.tolist()):
        if v not in cache:
            cache[v] = pose_fn(v)
        out[t] = cache[v]
    return out


def _smooth_noise(rng: np.random.Generator, n: int, fps: float, channels: int) -> np.ndarray:
    """(n, channels) slow wobbles in [-1, 1]: three incommensurate sines per channel."""
    freqs = rng.uniform(0.15, 0.6, size=(3, channels))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(3, channels))
    t = np.arange(n)[:, None, None] / fps
    return np.sin(2.0 * np.pi * freqs * t + phases).mean(axis=1)


def _idle_motion(
    rng: np.random.Generator, kinds: np.ndarray, local: np.ndarray, body: np.ndarray, cfg: SyntheticConfig
) -> np.ndarray:
    """Offsets that keep holds alive: sway in rests, sway plus hand fidgets in lead-in/out.

    Why: a frozen body lets a counter find rests by exact frame equality, which real video never
    allows. The envelope is zero at each span's edges, so reps start from the exact start pose.
    """
    env = np.sin(np.pi * local)
    lead = np.isin(kinds, ["lead_in", "lead_out"])
    body_amp = np.where(kinds == "rest", cfg.sway_m, np.where(lead, cfg.fidget_m, 0.0)) * env
    hand_amp = np.where(lead, 2.0 * cfg.fidget_m, 0.0) * env
    sig = _smooth_noise(rng, len(kinds), cfg.fps, 8)
    height = np.clip(-body[..., 1] / 1.6, 0.0, 1.2)  # (T, 17): feet stay, heads sway most
    out = np.zeros_like(body)
    out[..., 0] = (sig[:, 0] * body_amp)[:, None] * height
    out[..., 2] = (sig[:, 1] * body_amp)[:, None] * height
    for wrist, elbow, c in ((L_WRIST, L_ELBOW, 2), (R_WRIST, R_ELBOW, 5)):
        hand = sig[:, c : c + 3] * hand_amp[:, None]
        out[:, wrist] += hand
        out[:, elbow] += 0.5 * hand
    return out


def _degrade(
    clean: np.ndarray, rng: np.random.Generator, cfg: SyntheticConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(joints, valid): add estimator-like noise, blank random frames and one gap to zero rows."""
    n = len(clean)
    joints = clean + rng.normal(0.0, cfg.noise_std, size=clean.shape) if cfg.noise_std > 0 else clean.copy()
    missing = np.zeros(n, dtype=bool)
    k = int(round(cfg.missing_fraction * n))
    if k:
        missing[rng.choice(n, size=k, replace=False)] = True
    gap = min(int(round(cfg.missing_gap_s * cfg.fps)), n)
    if gap:
        first = int(rng.integers(0, n - gap + 1))
        missing[first : first + gap] = True
    joints[missing] = 0.0
    return joints, ~missing


def make_sequence(cfg: SyntheticConfig) -> SyntheticSequence:
    """Generate one sequence with exact cycles; see SyntheticConfig for the knobs."""
    spec = exercise_spec(cfg.exercise)
    _validate(cfg)
    rng = np.random.default_rng(cfg.seed)
    periods = rep_periods(cfg.n_reps, cfg.period_s or spec.period_s, cfg.tempo_drift)
    spans = build_timeline(periods, dict(cfg.rests), cfg.lead_in_s, cfg.lead_out_s, cfg.partial_cycle_at_end)
    idx, local, phase = sample_timeline(spans, cfg.fps)
    kinds = np.array([spans[i].kind for i in idx])
    reps = np.array([spans[i].rep for i in idx])
    amp = 1.0 - cfg.amplitude_jitter * rng.random(cfg.n_reps + 1)
    s = blend(phase) * np.where(reps >= 0, amp[reps], 1.0)
    body = _animate(spec.pose, s)
    body = body + _idle_motion(rng, kinds, local, body, cfg)
    yaw = spec.yaw_deg if cfg.yaw_deg is None else cfg.yaw_deg
    clean = to_camera(body, cfg.body_scale, yaw)
    joints, valid = _degrade(clean, rng, cfg)
    cycles = [Segment(sp.start, sp.end) for sp in spans if sp.kind == "rep"]
    pose = Pose(joints.astype(np.float32), valid, float(cfg.fps), "h36m17", f"synthetic:{cfg.exercise}")
    return SyntheticSequence(
        pose=pose,
        cycles=cycles,
        count=len(cycles),
        cycle_frames=[frame_range(c.start, c.end, cfg.fps) for c in cycles],
        clean_joints=clean.astype(np.float32),
        phase=np.where(kinds == "rep", phase, np.nan),
        spans=spans,
        props=[
            (to_camera(np.array(a), cfg.body_scale, yaw), to_camera(np.array(b), cfg.body_scale, yaw))
            for a, b in spec.props
        ],
        config=cfg,
    )


# --------------------------------------------------------------------------- MediaPipe layout
# MediaPipe index → H36M index for the landmarks both layouts share (MediaPipe 11 = LEFT shoulder).
MP33_FROM_H36M = {
    11: L_SHOULDER, 12: R_SHOULDER, 13: L_ELBOW, 14: R_ELBOW, 15: L_WRIST, 16: R_WRIST,
    23: L_HIP, 24: R_HIP, 25: L_KNEE, 26: R_KNEE, 27: L_ANKLE, 28: R_ANKLE,
}  # fmt: skip
# Face landmarks from the head centre: (forward, up, left) metres at body_scale 1.
_FACE = {
    0: (0.10, -0.01, 0.0),  # nose
    1: (0.09, 0.025, 0.02), 2: (0.085, 0.025, 0.035), 3: (0.08, 0.025, 0.05),  # left eye in/mid/out
    4: (0.09, 0.025, -0.02), 5: (0.085, 0.025, -0.035), 6: (0.08, 0.025, -0.05),  # right eye
    7: (0.0, 0.01, 0.075), 8: (0.0, 0.01, -0.075),  # left ear, right ear
    9: (0.085, -0.045, 0.025), 10: (0.085, -0.045, -0.025),  # mouth left, right
}  # fmt: skip
# Hand landmarks from the wrist: (along the forearm, toward the body's front); left, right index.
_HAND = {(17, 18): (0.07, -0.02), (19, 20): (0.08, 0.02), (21, 22): (0.04, 0.04)}  # pinky, index, thumb
# Foot landmarks from the ankle: (along the shin, toward the toes); left, right index.
_FOOT = {(29, 30): (0.05, -0.05), (31, 32): (0.06, 0.15)}  # heel, foot index (toes)


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def body_axes(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame (left, up, forward) unit axes of the body and its size k (1 at body_scale 1).

    `up` follows the head (neck → head) so the face turns with it; forward = up × left.
    """
    left = _unit_rows(j[:, L_SHOULDER] - j[:, R_SHOULDER] + j[:, L_HIP] - j[:, R_HIP])
    up = j[:, HEAD] - j[:, NECK]
    up = _unit_rows(up - (up * left).sum(-1, keepdims=True) * left)
    fwd = np.cross(up, left)
    k = np.linalg.norm(j[:, L_SHOULDER] - j[:, R_SHOULDER], axis=-1, keepdims=True) / (2 * SHOULDER_HALF)
    return left, up, fwd, k


def to_mediapipe33(joints17: np.ndarray) -> np.ndarray:
    """Place MediaPipe BlazePose's 33 landmarks plausibly on an H36M-17 skeleton.

    Why: it lets tests drive the MediaPipe → H36M conversion with exact ground truth. Shared
    joints are copied; face, hand and foot points are put at fixed offsets in the body's own
    axes (see body_axes). Accepts (17, 3) or (T, 17, 3); all-zero frames stay all-zero.
    """
    j = np.asarray(joints17, dtype=float)
    single = j.ndim == 2
    j = j[None] if single else j
    if j.shape[1:] != (17, 3):
        raise ValueError(f"expected (T, 17, 3) H36M joints, got {np.shape(joints17)}")
    out = np.zeros((len(j), 33, 3))
    for mp_i, h_i in MP33_FROM_H36M.items():
        out[:, mp_i] = j[:, h_i]
    left, up, fwd, k = body_axes(j)
    for mp_i, (f, u, side) in _FACE.items():
        out[:, mp_i] = j[:, HEAD] + k * (f * fwd + u * up + side * left)
    for limb_end, limb_mid, sides in ((L_WRIST, L_ELBOW, 0), (R_WRIST, R_ELBOW, 1)):
        along = _unit_rows(j[:, limb_end] - j[:, limb_mid])
        for pair, (a, f) in _HAND.items():
            out[:, pair[sides]] = j[:, limb_end] + k * (a * along + f * fwd)
    for ankle, knee, sides in ((L_ANKLE, L_KNEE, 0), (R_ANKLE, R_KNEE, 1)):
        shin = _unit_rows(j[:, ankle] - j[:, knee])
        toes = _unit_rows(fwd - (fwd * shin).sum(-1, keepdims=True) * shin)
        for pair, (a, f) in _FOOT.items():
            out[:, pair[sides]] = j[:, ankle] + k * (a * shin + f * toes)
    out[~np.any(j != 0, axis=(1, 2))] = 0.0
    return out[0] if single else out
