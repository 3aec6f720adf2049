"""Training clips for the video-LLM, and the questions asked about them.

Two sources, both turned into motion features once (the encoder is frozen):

* **synthetic skeletons** (countllm.synthetic) with exact counts and cycle boundaries: random
  exercise, tempo, drift, rests, partial cycles, noise, dropped frames and camera yaw; half of
  them are min–max normalised per frame like the PoseRAC/Countix pose files, so the model sees
  that distortion before it meets real data;
* **real pose files** listed in a RepCountA-style CSV (counts, optionally cycles), split
  deterministically by file name into train and validation parts, so validation items are
  never trained on (`split: train | val | all`).

A `Clip` knows its count, cycles, action and tempo; `make_sample` turns a clip and a task into
a question (a random paraphrase from the template) and the standardized answer.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from countllm import labels
from countllm.pose.gaps import interpolate_gaps
from countllm.pose.io import load_pose_file
from countllm.pose.layouts import H36M, H36M_JOINTS
from countllm.synthetic.skeleton import EXERCISES, SyntheticConfig, make_sequence
from countllm.types import Pose, Segment
from countllm.videollm.answer_format import format_answer, format_exercise_answer
from countllm.videollm.inputs import Sample
from countllm.videollm.motion_encoder import MotionEncoderConfig, MotionFeatures, encode
from countllm.videollm.prompting import PromptBuilder

SPLITS = ("train", "val", "all")

@dataclass(frozen=True)
class DataConfig:
    synthetic_clips: int = 300
    synthetic_seed: int = 0
    bbox_normalised_fraction: float = 0.5  # synthetic clips given the Countix per-frame normalisation
    real_annotations: str | None = None  # CSV with name, count (and optional cycle columns)
    real_media_dir: str | None = None
    real_fps: float = 30.0
    real_split: str = "train"
    val_fraction: float = 1 / 3
    # Count-preserving augmentation of real training clips (never of validation clips): each clip
    # is also replayed at these speed factors, and mirrored left↔right when `real_mirror` is set.
    real_speeds: tuple[float, ...] = ()
    real_mirror: bool = False
    # Share of training items drawn from real clips (None: clips drawn uniformly from both pools,
    # so augmentation silently shifts the mix). The real clips are the target domain but few;
    # the synthetic ones are many and exact.
    real_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.real_fraction is not None and not 0.0 <= self.real_fraction <= 1.0:
            raise ValueError(f"real_fraction must be in [0, 1], got {self.real_fraction}")
        if self.real_split not in SPLITS:
            raise ValueError(f"unknown split {self.real_split!r}; choose one of {', '.join(SPLITS)}")


@dataclass
class Clip:
    features: MotionFeatures
    count: int | None
    cycles: list[Segment] | None  # seconds; None when only the count is known
    action: str | None  # the display name (countllm.labels), e.g. "push-up"; None if unknown
    duration_s: float
    source: str
    density: np.ndarray | None = field(default=None, repr=False)  # (T,) on the feature axis


def moving_parts(name: str) -> str:
    """What moves, for the stage-1 captions ("elbows and shoulders"); "body" when unknown."""
    label = labels.normalize(name)
    return (labels.moves(label) if label else None) or "body"


def split_of(name: str, val_fraction: float) -> str:
    """A stable train/val assignment from the file name alone (no list to keep in sync)."""
    h = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def density_target(cycles: list[Segment], times: np.ndarray) -> np.ndarray:
    """Each cycle spreads one unit of density evenly over the frames inside it."""
    density = np.zeros(len(times), dtype=np.float32)
    for c in cycles:
        inside = (times >= c.start) & (times < c.end)
        if inside.any():
            density[inside] += 1.0 / inside.sum()
    return density


def random_synthetic_config(rng: random.Random, seed: int) -> SyntheticConfig:
    exercise = rng.choice(sorted(EXERCISES))
    period = EXERCISES[exercise].period_s * rng.uniform(0.45, 1.6)
    n_reps = rng.randint(2, 24)
    rests = [(rng.randrange(n_reps - 1), rng.uniform(2.0, 6.0))] if n_reps > 3 and rng.random() < 0.3 else []
    return SyntheticConfig(
        exercise=exercise, n_reps=n_reps, period_s=period,
        tempo_drift=rng.uniform(-0.3, 0.4) if rng.random() < 0.5 else 0.0, rests=rests,
        lead_in_s=rng.uniform(0.2, 3.0), lead_out_s=rng.uniform(0.2, 3.0),
        partial_cycle_at_end=rng.uniform(0.2, 0.6) if rng.random() < 0.3 else 0.0,
        amplitude_jitter=rng.uniform(0.0, 0.3), noise_std=rng.uniform(0.0, 0.02),
        missing_fraction=rng.uniform(0.0, 0.05), yaw_deg=EXERCISES[exercise].yaw_deg + rng.uniform(-30, 30),
        body_scale=rng.uniform(0.8, 1.2), seed=seed,
    )


def bbox_normalise(pose: Pose) -> Pose:
    """Min–max normalise x and y of every frame to its own bounding box (the PoseRAC convention)."""
    j = pose.joints.copy()
    lo, hi = j[:, :, :2].min(axis=1, keepdims=True), j[:, :, :2].max(axis=1, keepdims=True)
    j[:, :, :2] = (j[:, :, :2] - lo) / np.maximum(hi - lo, 1e-6)
    return Pose(j, pose.valid, pose.fps, pose.layout, pose.source, pose.visibility, pose.interpolated_frames)


MIRRORED = [H36M[n.replace("l_", "@").replace("r_", "l_").replace("@", "r_")] for n in H36M_JOINTS]


def augmented_poses(pose: Pose, speeds: tuple[float, ...], mirror: bool) -> list[tuple[str, Pose]]:
    """The clip itself plus count-preserving variants: faster/slower replays and the mirror image.

    Replaying at speed s only relabels the frame rate (the encoder resamples by time), so the
    motion is the same with every period divided by s; mirroring swaps left and right joints
    and flips x, which a person facing the other way would produce.
    """
    variants = [("", pose)]
    for s in speeds:
        variants.append((f"@x{s:g}", replace(pose, fps=pose.fps * s)))
    if mirror:
        for tag, p in list(variants):
            j = p.joints[:, MIRRORED].copy()
            j[:, :, 0] = -j[:, :, 0]
            variants.append((tag + "@mirror", replace(p, joints=j)))
    return variants


def synthetic_clips(cfg: DataConfig, encoder: MotionEncoderConfig) -> list[Clip]:
    rng = random.Random(cfg.synthetic_seed)
    clips = []
    for i in tqdm(range(cfg.synthetic_clips), desc="synthetic clips", unit="clip", leave=False):
        seq = make_sequence(random_synthetic_config(rng, cfg.synthetic_seed * 100_003 + i))
        pose = seq.pose
        pose = Pose(interpolate_gaps(pose.joints, pose.valid), pose.valid, pose.fps, pose.layout, pose.source)
        if rng.random() < cfg.bbox_normalised_fraction:
            pose = bbox_normalise(pose)
        feats = encode(encoder, pose=pose)
        clips.append(Clip(feats, seq.count, seq.cycles, labels.display_name(seq.config.exercise), seq.duration_s,
                          f"synthetic:{i}:{seq.config.exercise}", density_target(seq.cycles, feats.times)))
    return clips


def real_clips(cfg: DataConfig, encoder: MotionEncoderConfig, split: str | None = None) -> list[Clip]:
    """Pose files from the annotation CSV that fall in `split` (default: cfg.real_split)."""
    from countllm.benchmarks.annotations import cycles_seconds, load_annotations  # noqa: PLC0415

    if cfg.real_annotations is None:
        return []
    split = split or cfg.real_split
    annotations, errors = load_annotations(cfg.real_annotations)
    if errors:
        raise ValueError(f"{cfg.real_annotations}: {len(errors)} malformed rows, first: {errors[0]}")
    media = Path(cfg.real_media_dir or Path(cfg.real_annotations).parent)
    clips = []
    chosen = [a for a in annotations if split == "all" or split_of(a.name, cfg.val_fraction) == split]
    augment = split == "train" and (cfg.real_speeds or cfg.real_mirror)
    for ann in tqdm(chosen, desc=f"real clips ({split})", unit="clip", leave=False):
        fps = ann.fps or cfg.real_fps
        pose = load_pose_file(media / ann.name, fps)
        cycles = cycles_seconds(ann, fps) if ann.cycle_frames and ann.cycles_agree else None
        action = labels.spoken_name(ann.action_type)
        variants = augmented_poses(pose, cfg.real_speeds, cfg.real_mirror) if augment else [("", pose)]
        for tag, variant in variants:
            scale = pose.fps / variant.fps  # times shrink by the replay speed
            var_cycles = [Segment(c.start * scale, c.end * scale) for c in cycles] if cycles else None
            feats = encode(encoder, pose=variant)
            clips.append(Clip(feats, ann.count, var_cycles, action, (len(variant) - 1) / variant.fps,
                              ann.name + tag, density_target(var_cycles, feats.times) if var_cycles else None))
    return clips


def describe(clip: Clip) -> str:
    """A stage-1 caption: the action, the body parts that move, and the tempo."""
    name = clip.action or "an exercise"
    parts = moving_parts(name)
    if clip.cycles:
        period = float(np.mean([c.duration for c in clip.cycles]))
    else:
        period = clip.duration_s / max(clip.count or 1, 1)
    return f"A person doing {name} repetitions; the {parts} move, about {period:.1f} seconds per repetition."


def answer_for(clip: Clip, task: str) -> str | None:
    """The standardized answer of `task` for this clip, or None when the clip cannot answer it."""
    if task == "count" and clip.count is not None:
        return format_answer(clip.count)
    if task == "cycles" and clip.cycles is not None and clip.count == len(clip.cycles):
        return format_answer(clip.count, clip.cycles)
    if task == "name" and clip.action is not None:
        return format_exercise_answer(clip.action)
    if task == "describe":
        return describe(clip)
    return None


def make_sample(clip: Clip, task: str, builder: PromptBuilder, rng: random.Random) -> Sample | None:
    answer = answer_for(clip, task)
    if answer is None:
        return None
    return Sample(clip.features, task, builder.question(task, rng), answer,
                  count=float(clip.count) if clip.count is not None else math.nan,
                  density=clip.density, source=clip.source)
