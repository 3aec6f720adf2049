"""Training clips for the recognizer (countllm/recognize), and the samples drawn from them each epoch.

Two sources, both turned into prepared joints once (smoothed, per-frame normalised, 12.5 fps —
`countllm.recognize.motion_image.prepare_joints`, exactly what inference does):

* **synthetic skeletons** (countllm.synthetic) with exact cycles, passed through the MediaPipe
  layout and back (so neck and head are MediaPipe's nose and mid-ears, as in real poses) and
  with z negated (MediaPipe's z grows away from the camera, the generator's toward it);
* **real pose files** of a RepCountA-style CSV (e.g. the Countix-Fitness poses written by
  `python -m countllm.eval.prepare_countix_pose`), split by file name with the project's split
  (`finetune.data.split_of`, val = 1/3): validation clips are never trained on. The training
  part is split once more, by a salted hash, into `train` and `dev`; `dev` chooses the epoch
  and calibrates the confidence, so the project's val stays untouched until the final report.

Each epoch draws fresh samples: random crops (4 s … one image, `image.max_frames`), a replay speed, a mirror image, and
one question — the exercise question (answer: its weighted words) or the count question (answer:
the integer; only where the count of the crop is known: synthetic crops, whole real clips).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import numpy as np
from tqdm import tqdm

from countllm import labels
from countllm.benchmarks.annotations import load_annotations
from countllm.pose.gaps import interpolate_gaps
from countllm.pose.io import load_pose_file
from countllm.pose.layouts import H36M, H36M_JOINTS, mediapipe33_to_h36m17
from countllm.recognize.motion_image import (
    MotionImageConfig,
    bbox_normalise,
    image_from_joints,
    pad_image,
    prepare_joints,
    resample_time,
)
from countllm.recognize.questions import paraphrases, question
from countllm.recognize.words import MAX_COUNT, OutputVocabulary
from countllm.synthetic.skeleton import EXERCISES, make_sequence, to_mediapipe33
from countllm.types import Pose, Segment

from .data import random_synthetic_config, split_of

SPLITS = ("train", "dev", "val", "all")
MIRRORED = [H36M[n.replace("l_", "@").replace("r_", "l_").replace("@", "r_")] for n in H36M_JOINTS]


@dataclass(frozen=True)
class LiftDataConfig:
    synthetic_clips: int = 400
    synthetic_seed: int = 0
    synthetic_exercises: tuple[str, ...] = ()  # empty: every exercise the generator has
    real_annotations: str | None = None  # RepCountA-style CSV; pose files beside it (or real_media_dir)
    real_media_dir: str | None = None
    real_fps: float = 30.0  # frame rate of the pose files when the CSV has no fps column
    val_fraction: float = 1 / 3  # the project's train/val split (finetune/data.py)
    dev_fraction: float = 0.2  # share of the training clips held back to choose the epoch and calibrate
    crops_per_real: int = 8
    crops_per_synthetic: int = 2
    count_fraction: float = 0.4  # share of samples asking the count question (where the count is known)
    min_window_s: float = 4.0
    speed_range: tuple[float, float] = (0.8, 1.25)
    mirror: bool = True
    flip_z: bool = True  # negate depth in half the samples: the model must not rely on its sign
    mediapipe_fraction: float = 0.5  # synthetic clips passed through the MediaPipe layout (nose as neck, ...)
    extra_yaw_deg: float = 30.0  # camera yaw beyond the generator's own ±30° around each exercise's best view
    # Per-epoch draws. None keeps the fixed per-clip counts above (crops_per_real for every real
    # clip, every synthetic clip). A number makes an epoch that many samples regardless of how many
    # clips there are: real crops split evenly over the classes (a class of 3 clips is seen as often
    # as one of 15), synthetic clips a fresh random subset of the pool each epoch.
    real_crops_per_epoch: int | None = None
    synthetic_per_epoch: int | None = None
    rotate_deg: float = 0.0  # random turn about the vertical axis of every sample (then re-normalised per frame)
    scale_jitter: float = 0.0  # random per-axis stretch, exp(±scale_jitter), before the per-frame normalisation


@dataclass
class Item:
    """One clip, prepared once: (T, 17, 3) joints at the image rate, with what is known about it."""

    joints: np.ndarray
    label: str  # exercise id
    count: int | None  # of the whole clip
    cycles: list[Segment] | None  # seconds, when every cycle is known (synthetic)
    source: str
    fps: float = 12.5
    extra: dict = field(default_factory=dict)


def split_name(name: str, cfg: LiftDataConfig) -> str:
    """train / dev / val of a file name (val: the project's split; dev: a salted part of train)."""
    if split_of(name, cfg.val_fraction) == "val":
        return "val"
    return "dev" if split_of("lift-dev:" + name, cfg.dev_fraction) == "val" else "train"


def real_items(cfg: LiftDataConfig, image: MotionImageConfig, split: str) -> list[Item]:
    """The real clips of `split` ("train", "dev", "val" or "all") whose class the vocabulary knows."""
    if cfg.real_annotations is None:
        return []
    from pathlib import Path  # noqa: PLC0415

    annotations, errors = load_annotations(cfg.real_annotations)
    if errors:
        raise ValueError(f"{cfg.real_annotations}: {len(errors)} malformed rows, first: {errors[0]}")
    media = Path(cfg.real_media_dir or Path(cfg.real_annotations).parent)
    items = []
    for ann in tqdm([a for a in annotations if split == "all" or split_name(a.name, cfg) == split],
                    desc=f"real clips ({split})", unit="clip", leave=False):
        label = labels.normalize(ann.action_type)
        if label is None or labels.is_placeholder(label):
            continue
        pose = load_pose_file(media / ann.name, ann.fps or cfg.real_fps)
        items.append(Item(prepare_joints(pose, image), label, ann.count, None, ann.name, image.fps))
    return items


def synthetic_pose(seq_pose: Pose, as_mediapipe: bool = True) -> Pose:
    """A generated H36M pose as a MediaPipe estimate would give it (see the module doc); with
    `as_mediapipe` False only z is negated and the generator's own neck and head stay."""
    joints = seq_pose.joints.copy()
    joints[..., 2] = -joints[..., 2]
    if as_mediapipe:
        joints = mediapipe33_to_h36m17(to_mediapipe33(joints))
    joints = interpolate_gaps(joints, seq_pose.valid)
    return Pose(joints, seq_pose.valid, seq_pose.fps, "h36m17", seq_pose.source)


def synthetic_items(cfg: LiftDataConfig, image: MotionImageConfig, seed_offset: int = 0) -> list[Item]:
    exercises = sorted(cfg.synthetic_exercises or EXERCISES)
    rng = random.Random(cfg.synthetic_seed + seed_offset)
    items = []
    for i in tqdm(range(cfg.synthetic_clips), desc="synthetic clips", unit="clip", leave=False):
        seq_cfg = random_synthetic_config(rng, (cfg.synthetic_seed + seed_offset) * 100_003 + i)
        while seq_cfg.exercise not in exercises:  # redraw: period and view belong to the exercise
            seq_cfg = random_synthetic_config(rng, (cfg.synthetic_seed + seed_offset) * 100_003 + i)
        seq_cfg = replace(seq_cfg, yaw_deg=seq_cfg.yaw_deg + rng.uniform(-cfg.extra_yaw_deg, cfg.extra_yaw_deg))
        seq = make_sequence(seq_cfg)
        pose = synthetic_pose(seq.pose, as_mediapipe=rng.random() < cfg.mediapipe_fraction)
        items.append(Item(prepare_joints(pose, image), labels.normalize(seq_cfg.exercise),
                          seq.count, seq.cycles, f"synthetic:{seed_offset}:{i}:{seq_cfg.exercise}", image.fps))
    return items


# --------------------------------------------------------------------------- samples of one epoch
@dataclass
class Sample:
    joints: np.ndarray  # (T ≤ max_frames, 17, 3)
    question: str
    target: np.ndarray  # (V,)


def _turn(joints: np.ndarray, rng: np.random.Generator, cfg: LiftDataConfig, image: MotionImageConfig
          ) -> np.ndarray:
    """Another camera, roughly: a turn about the vertical (y) axis and a stretch of each axis,
    then the per-frame normalisation again, so the sample still looks like a prepared clip."""
    out = joints
    if cfg.rotate_deg > 0:
        a = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
        x, z = out[..., 0], out[..., 2]
        out = np.stack([np.cos(a) * x + np.sin(a) * z, out[..., 1], -np.sin(a) * x + np.cos(a) * z], axis=-1)
    if cfg.scale_jitter > 0:
        out = out * np.exp(rng.uniform(-cfg.scale_jitter, cfg.scale_jitter, 3)).astype(np.float32)
    return bbox_normalise(out) if image.normalise == "bbox" else out.astype(np.float32)


def _augment(joints: np.ndarray, rng: np.random.Generator, cfg: LiftDataConfig, image: MotionImageConfig
             ) -> tuple[np.ndarray, float]:
    speed = float(np.exp(rng.uniform(*np.log(cfg.speed_range))))
    out = resample_time(joints, image.fps * speed, image.fps)
    if cfg.rotate_deg > 0 or cfg.scale_jitter > 0:
        out = _turn(out, rng, cfg, image)
    if cfg.mirror and rng.random() < 0.5:
        out = out[:, MIRRORED].copy()
        out[..., 0] = -out[..., 0]
    if cfg.flip_z and rng.random() < 0.5:  # depth conventions differ between sources (MediaPipe: away from camera)
        out = out.copy()
        out[..., 2] = -out[..., 2]
    return out, speed


def _crop(n: int, rng: np.random.Generator, cfg: LiftDataConfig, image: MotionImageConfig) -> tuple[int, int]:
    lo = min(n, max(2, int(cfg.min_window_s * image.fps)))
    length = int(rng.integers(lo, min(n, image.max_frames) + 1))
    start = int(rng.integers(0, n - length + 1))
    return start, start + length


def _count_in(cycles: list[Segment], a_s: float, b_s: float) -> int:
    return sum(1 for c in cycles if c.start >= a_s - 1e-6 and c.end <= b_s + 1e-6)


def draw_sample(item: Item, rng: np.random.Generator, cfg: LiftDataConfig, image: MotionImageConfig,
                vocab: OutputVocabulary) -> Sample:
    """One random crop of `item` with one question and its target (see the module doc)."""
    joints, speed = _augment(item.joints, rng, cfg, image)
    ask_count = rng.random() < cfg.count_fraction
    named = item.label if rng.random() < 0.8 else None
    if ask_count and item.cycles is not None:
        a, b = _crop(len(joints), rng, cfg, image)
        count = _count_in(item.cycles, a * speed / image.fps, (b - 1) * speed / image.fps)
        if count <= MAX_COUNT:
            return Sample(joints[a:b], _question(rng, "count", named), vocab.target(count=count))
    if ask_count and item.count is not None and len(joints) <= image.max_frames and item.count <= MAX_COUNT:
        return Sample(joints, _question(rng, "count", named), vocab.target(count=item.count))
    a, b = _crop(len(joints), rng, cfg, image)
    return Sample(joints[a:b], _question(rng, "recognize"), vocab.target(label_id=item.label))


def epoch_draws(items: list[Item], rng: np.random.Generator, cfg: LiftDataConfig) -> list[Item]:
    """The clips of one epoch's samples, one entry per sample (see LiftDataConfig's per-epoch draws)."""
    synthetic = [it for it in items if it.cycles is not None]
    real = [it for it in items if it.cycles is None]
    if cfg.synthetic_per_epoch is not None and len(synthetic) > cfg.synthetic_per_epoch:
        synthetic = [synthetic[i] for i in sorted(rng.choice(len(synthetic), cfg.synthetic_per_epoch, replace=False))]
    draws = [it for it in synthetic for _ in range(cfg.crops_per_synthetic)]
    if cfg.real_crops_per_epoch is None or not real:
        return draws + [it for it in real for _ in range(cfg.crops_per_real)]
    by_class: dict[str, list[Item]] = {}
    for it in real:
        by_class.setdefault(it.label, []).append(it)
    per_class = cfg.real_crops_per_epoch / len(by_class)
    for k, (_, clips) in enumerate(sorted(by_class.items())):
        n = int(round((k + 1) * per_class)) - int(round(k * per_class))
        # every clip of the class in turn, then a random rest: no clip of a class is left out by chance
        picks = [i % len(clips) for i in range(n - n % len(clips))]
        picks += list(rng.choice(len(clips), n % len(clips), replace=False))
        draws += [clips[i] for i in picks]
    return draws


def _question(rng: np.random.Generator, task: str, exercise: str | None = None) -> str:
    return question(task, exercise, int(rng.integers(len(paraphrases(task)))))


def epoch_samples(items: list[Item], epoch: int, seed: int, cfg: LiftDataConfig, image: MotionImageConfig,
                  vocab: OutputVocabulary) -> list[Sample]:
    """This epoch's samples, shuffled; the same epoch and seed give the same samples (resume)."""
    rng = np.random.default_rng([seed, epoch])
    samples = []
    for item in epoch_draws(items, rng, cfg):
        samples.append(draw_sample(item, rng, cfg, image, vocab))
    order = rng.permutation(len(samples))
    return [samples[i] for i in order]


def collate(samples: list[Sample], image: MotionImageConfig, tokenizer) -> dict[str, np.ndarray]:
    """Arrays of one batch: pixel_values, pixel_mask, input_ids, attention_mask, targets."""
    pairs = [pad_image(image_from_joints(s.joints, image.points_per_chain), image.max_frames) for s in samples]
    ids, att = tokenizer.encode_batch([s.question for s in samples])
    return {"pixel_values": np.stack([p[0] for p in pairs]), "pixel_mask": np.stack([p[1] for p in pairs]),
            "input_ids": ids, "attention_mask": att, "targets": np.stack([s.target for s in samples])}
