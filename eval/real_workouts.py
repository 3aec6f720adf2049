"""`recognize --sets` measured on workouts joined from real clips, where every set's truth is known.

    python -m countllm.finetune.split --annotations outputs/countix_pose/annotations.csv
    python -m countllm.eval.real_workouts --annotations outputs/countix_pose/annotations.val.csv \\
        [--workouts 30] [--seed 0] [--json F] [--plot F.png]

Why joined clips: no real multi-exercise workout with per-set truth exists here, but every
annotated clip is one set with a known exercise and count. Each workout joins 2 or 3 clips of
different exercises, drawn with a seeded generator so that every clip is used about equally.
Pass the val part of the split (never trained on). A joint between two clips is a cut: another
person and framing starts at once. That is harder than a real workout at the boundary, and
easier between sets, since no one walks over to the next machine.

Scored, against the truth that each clip is a set:
- **sets**: how often the number of sets found equals the number joined;
- **per true set**: is the exercise of the found set that overlaps it most right? Is the sum of
  the counts of the found sets lying mostly inside it within ±1 of the clip's count, as a user
  adding up a split set would? Also the normalized count error. A set that no found set
  overlaps is a miss, with exercise wrong and count 0;
- **boundaries**: for each joint, the distance to the nearest edge of a found set;
- the same exercise and count measures on each clip alone (recognize + auto count), so what the
  splitting costs can be read off.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from countllm import labels
from countllm.benchmarks.annotations import Annotation, load_annotations
from countllm.errors import CountLLMError, InputError
from countllm.eval.run import find_media
from countllm.media import MediaInputs
from countllm.pose.io import load_pose_file
from countllm.types import Pose


@dataclass(frozen=True)
class Clip:
    name: str
    exercise: str
    count: int
    pose: Pose


@dataclass
class SetScore:
    """One true set (a joined clip) against what the split found there."""

    workout: int
    name: str
    exercise: str
    count: int
    found_exercise: str | None  # None: no found set overlaps it
    found_count: int  # the counts of the found sets lying mostly inside it, added up
    alone_exercise: str  # the recognizer on the clip by itself
    alone_count: int  # the auto policy on the clip by itself, given the true exercise's prior


def load_clips(annotations: Path, media_dir: Path, fps: float) -> list[Clip]:
    """The CSV's clips whose type names an exercise of the vocabulary."""
    rows, errors = load_annotations(annotations)
    if errors:
        raise InputError(str(annotations), f"{len(errors)} malformed rows (first: {errors[0]}); fix or remove them")
    clips = []
    for ann in rows:
        exercise = labels.normalize(ann.action_type)
        if exercise is None or labels.is_placeholder(exercise):
            continue
        clips.append(Clip(ann.name, exercise, ann.count, _pose(ann, media_dir, fps)))
    return clips


def _pose(ann: Annotation, media_dir: Path, fps: float) -> Pose:
    return load_pose_file(find_media(media_dir, ann.name), ann.fps or fps)


def draw_workouts(clips: list[Clip], n: int, seed: int) -> list[list[Clip]]:
    """`n` workouts of 2 or 3 clips of different exercises; the least used clips are drawn first."""
    rng = np.random.default_rng(seed)
    used = {c.name: 0 for c in clips}
    workouts = []
    for _ in range(n):
        size = int(rng.integers(2, 4))
        chosen: list[Clip] = []
        for clip in sorted(clips, key=lambda c: (used[c.name], rng.random())):
            if clip.exercise not in {c.exercise for c in chosen}:
                chosen.append(clip)
            if len(chosen) == size:
                break
        if len(chosen) < 2:
            raise InputError("annotations", "fewer than 2 exercises among the clips; a workout needs 2 or more")
        for clip in chosen:
            used[clip.name] += 1
        workouts.append(chosen)
    return workouts


def join(clips: list[Clip]) -> tuple[Pose, list[tuple[float, float]]]:
    """The clips one after another on one clock, and each clip's span (s) on it."""
    fps = clips[0].pose.fps
    spans, start = [], 0.0
    for clip in clips:
        if abs(clip.pose.fps - fps) > 1e-6:
            raise InputError(clip.name, f"frame rate {clip.pose.fps} differs from {fps}; join clips of one rate")
        length = len(clip.pose) / fps
        spans.append((start, start + length))
        start += length
    pose = Pose(np.concatenate([c.pose.joints for c in clips]), np.concatenate([c.pose.valid for c in clips]),
                fps, clips[0].pose.layout, "+".join(c.name for c in clips))
    return pose, spans


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def score_workout(index: int, clips: list[Clip], alone: dict[str, tuple[str, int]]
                  ) -> tuple[list[SetScore], list[float], dict[str, Any]]:
    """(per-set scores, boundary errors in s, what the split found) for one workout."""
    from countllm.recognize import split_sets  # noqa: PLC0415

    pose, spans = join(clips)
    result = split_sets(MediaInputs.from_pose(pose))
    found = result.sets
    scores = []
    for clip, span in zip(clips, spans, strict=True):
        best = max(found, key=lambda s: overlap(span, (s.start_s, s.end_s)), default=None)
        hit = best is not None and overlap(span, (best.start_s, best.end_s)) > 0
        mostly_inside = [s for s in found if overlap(span, (s.start_s, s.end_s)) > 0.5 * (s.end_s - s.start_s)]
        scores.append(SetScore(index, clip.name, clip.exercise, clip.count, best.exercise if hit else None,
                               sum(s.count for s in mostly_inside), *alone[clip.name]))
    edges = [x for s in found for x in (s.start_s, s.end_s)]
    errors = [min((abs(e - span[1]) for e in edges), default=span[1]) for span in spans[:-1]]
    truth = [[round(a, 2), round(b, 2), c.exercise] for c, (a, b) in zip(clips, spans, strict=True)]
    return scores, errors, {"true": truth, **result.to_json()}


def alone_answers(clips: list[Clip]) -> dict[str, tuple[str, int]]:
    """Each clip by itself: the recognizer's exercise and the auto count given the true exercise."""
    from countllm.recognize import load_recognizer  # noqa: PLC0415
    from countllm.recognize.sets import count_set  # noqa: PLC0415

    recognizer = load_recognizer()
    out = {}
    for clip in tqdm(clips, desc="clips alone", unit="clip", leave=False):
        inputs = MediaInputs.from_pose(clip.pose)
        out[clip.name] = (recognizer.recognize(clip.pose).exercise,
                          count_set(inputs, clip.exercise, 0.0, len(clip.pose) / clip.pose.fps)[0])
    return out


def summarise(sets: list[SetScore], boundary_errors: list[float], found_vs_true: list[tuple[int, int]]
              ) -> dict[str, Any]:
    def share(values: list[bool]) -> float:
        return float(np.mean(values)) if values else 0.0

    truth = np.array([s.count for s in sets], float)
    found = np.array([s.found_count for s in sets], float)
    alone = np.array([s.alone_count for s in sets], float)
    errors = np.array(boundary_errors, float)
    return {
        "workouts": len(found_vs_true), "true_sets": len(sets),
        "set_number_right": share([f == t for f, t in found_vs_true]),
        "sets_found_per_true": float(sum(f for f, _ in found_vs_true) / max(1, sum(t for _, t in found_vs_true))),
        "exercise_right": share([s.found_exercise == s.exercise for s in sets]),
        "exercise_right_alone": share([s.alone_exercise == s.exercise for s in sets]),
        "count_obo": share([abs(s.found_count - s.count) <= 1 for s in sets]),
        "count_mae": float(np.mean(np.abs(found - truth) / np.maximum(truth, 1))),
        "count_obo_alone": share([abs(s.alone_count - s.count) <= 1 for s in sets]),
        "count_mae_alone": float(np.mean(np.abs(alone - truth) / np.maximum(truth, 1))),
        "missed_sets": sum(s.found_exercise is None for s in sets),
        "boundary_error_median_s": float(np.median(errors)) if len(errors) else None,
        "boundary_within_2s": share(list(errors <= 2.0)), "boundary_within_4s": share(list(errors <= 4.0)),
    }


def evaluate(annotations: Path, media_dir: Path, n_workouts: int, seed: int, fps: float) -> dict[str, Any]:
    clips = load_clips(annotations, media_dir, fps)
    workouts = draw_workouts(clips, n_workouts, seed)
    used = {c.name: c for w in workouts for c in w}
    alone = alone_answers(list(used.values()))
    sets, boundaries, splits = [], [], []
    for i, workout in enumerate(tqdm(workouts, desc="workouts", unit="workout")):
        scores, errors, split = score_workout(i, workout, alone)
        sets += scores
        boundaries += errors
        splits.append(split)
    numbers = [(len(s["sets"]), len(s["true"])) for s in splits]
    return {"metrics": summarise(sets, boundaries, numbers), "sets": [asdict(s) for s in sets],
            "boundary_errors_s": [round(e, 2) for e in boundaries], "workouts": splits}


def format_report(report: dict[str, Any]) -> str:
    m = report["metrics"]
    return "\n".join([
        f"{m['workouts']} workouts joined from real clips, {m['true_sets']} sets in all",
        f"  number of sets right {m['set_number_right']:.2f}   found per true set {m['sets_found_per_true']:.2f}   "
        f"missed sets {m['missed_sets']}",
        f"  exercise right {m['exercise_right']:.2f}   (each clip alone {m['exercise_right_alone']:.2f})",
        f"  count OBO {m['count_obo']:.2f}  MAE {m['count_mae']:.3f}   "
        f"(each clip alone, its exercise given: OBO {m['count_obo_alone']:.2f}  MAE {m['count_mae_alone']:.3f})",
        f"  boundary error median {m['boundary_error_median_s']:.1f} s   within 2 s {m['boundary_within_2s']:.2f}   "
        f"within 4 s {m['boundary_within_4s']:.2f}"])


def plot(report: dict[str, Any], path: Path) -> None:
    """Each true set's count against the split's count and the count of the clip alone."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sets = report["sets"]
    truth = [s["count"] for s in sets]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(truth, [s["alone_count"] for s in sets], s=14, alpha=0.6, label="clip alone")
    ax.scatter(truth, [s["found_count"] for s in sets], s=14, alpha=0.6, label="set found in the workout")
    top = max(truth + [1]) * 1.1
    ax.plot([0, top], [0, top], color="grey", lw=0.8)
    ax.set_xlabel("true count of the set"), ax.set_ylabel("count"), ax.legend()
    ax.set_title("recognize --sets on joined real clips")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", required=True, type=Path, help="RepCountA-style CSV of pose files (val)")
    parser.add_argument("--media-dir", type=Path, help="folder of the pose files (default: the CSV's folder)")
    parser.add_argument("--workouts", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of pose files that do not say")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--plot", type=Path, help="write the count scatter here (.png)")
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.annotations, args.media_dir or args.annotations.parent, args.workouts, args.seed,
                          args.fps)
    except CountLLMError as exc:
        print(f"real_workouts: {exc.one_line()}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if args.plot:
        plot(report, args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
