"""One call from an input path to a `CountResult`: decode → features → counter.

This is what the CLI and the evaluation call. It decides whether the input is a video or a
pose file, runs the stages the chosen method needs, and — for `method="auto"` — uses the pose
counter when a person is tracked through the repetitive span and the self-similarity counter
otherwise, saying which it used and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from countllm.counters.baseline import BaselineCounter
from countllm.counters.pose_counter import PoseCounter
from countllm.counters.similarity_counter import SimilarityCounter
from countllm.errors import InputError, NoPersonError
from countllm.pose.io import is_pose_file, load_pose_file
from countllm.priors import ActionPrior
from countllm.signals.pose_signals import relative_trajectories
from countllm.types import CountResult, Features, Pose

METHODS = ("auto", "pose", "similarity", "baseline", "videollm")
DEFAULT_POSE_FILE_FPS = 30.0


@dataclass
class CountOptions:
    """How to count one input.

    `fps` is the input's own frame rate: for a pose file, the rate its rows were sampled at
    (default 30, announced); for a video, an override for a container whose rate is wrong.
    `sample_fps` is the rate a video is analysed at: 10 fps resolves periods down to 0.4 s
    while keeping pose estimation fast enough for ≥ 3× real time on 2 cores.
    `prior` is the semantic prior of the action being counted (docs/design.md §5), when known: the
    pose counter then searches only its moving joints and its cycle duration range.
    `model` is the video-LLM checkpoint `method="videollm"` loads; the question is passed to it.
    """

    method: str = "auto"
    fps: float | None = None
    pose_format: str | None = None
    question: str | None = None
    sample_fps: float = 10.0
    max_side: int = 256
    min_tracked_fraction: float = 0.7  # auto: person needed in this share of the repetitive span
    prior: ActionPrior | None = None
    model: str | None = None  # video-LLM checkpoint folder (method "videollm"); None: the shipped default
    counter_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        for name in ("fps", "sample_fps"):
            value = getattr(self, name)
            if value is not None and not (0 < value < float("inf")):
                raise ValueError(f"{name} must be a positive number, got {value}")


def pose_features(pose: Pose) -> Features:
    """Body-relative joint coordinates as generic features, for the similarity counter."""
    trajectories = relative_trajectories(pose.joints.astype(np.float64))
    vectors = np.stack(list(trajectories.values()), axis=1).astype(np.float32)
    return Features(vectors=vectors, fps=pose.fps, kind="pose", source=pose.source)


def _videollm(pose: Pose, options: CountOptions) -> CountResult:
    from countllm.videollm.counter import VideoLLMCounter  # noqa: PLC0415 — torch/transformers on demand

    return VideoLLMCounter(options.model).count(pose, options.question)


# Which counter reads a pose sequence, by method name (auto resolves to the pose counter).
# Only the pose counter reads a semantic prior; the others are given it and ignore it.
POSE_SEQUENCE_COUNTERS: dict[str, Callable[[Pose, CountOptions], CountResult]] = {
    "pose": lambda pose, options: PoseCounter().count(pose, options.prior),
    "similarity": lambda pose, options: SimilarityCounter().count(pose_features(pose)),
    "baseline": lambda pose, options: BaselineCounter().count(pose_features(pose)),
    "videollm": _videollm,
}


def count_pose(pose: Pose, method: str, prior: ActionPrior | None = None,
               options: CountOptions | None = None) -> CountResult:
    """Count a pose sequence with the counter `method` names (guided by `prior`, if any);
    `options` carries what some counters read besides (the question, a video-LLM checkpoint)."""
    counter = "pose" if method == "auto" else method
    options = replace(options or CountOptions(), method=method, prior=prior)
    result = POSE_SEQUENCE_COUNTERS[counter](pose, options)
    if prior is not None and counter != "pose":
        result.notes.insert(0, prior_unused_note(prior, counter))
    if method == "auto":
        result.notes.insert(0, "auto: input is a pose sequence, used the pose counter")
    return result


def prior_unused_note(prior: ActionPrior, counter: str) -> str:
    """Said whenever a prior was given to a counter that cannot use it, so no one assumes it was."""
    return f"semantic prior {prior.action!r} not used: the {counter} counter does not read priors"


def count_file(path: str | Path, options: CountOptions | None = None) -> CountResult:
    """Count repetitions in a video or pose file. Raises InputError on unusable input."""
    options = options or CountOptions()
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "file not found")
    if is_pose_file(path):
        return _count_pose_file(path, options)
    from countllm.video_counting import count_video  # noqa: PLC0415 — decoders load on demand

    return count_video(path, options)


def _count_pose_file(path: Path, options: CountOptions) -> CountResult:
    fps = options.fps if options.fps is not None else DEFAULT_POSE_FILE_FPS
    pose = load_pose_file(path, fps, options.pose_format)
    result = count_pose(pose, options.method, options.prior, options)
    if options.fps is None:
        result.notes.append(f"pose file has no frame rate; assumed {DEFAULT_POSE_FILE_FPS:g} fps "
                            "(pass --fps: cycle times, and the 0.4–12 s period search range, depend on it)")
    return result


__all__ = ["CountOptions", "METHODS", "count_file", "count_pose", "pose_features", "NoPersonError"]
