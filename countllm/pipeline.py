"""One call from an input path to a `CountResult`: resolve the inputs once, dispatch by name.

This is what the CLI and `eval` call. `count_file` opens the input as `MediaInputs` (decoding,
pose estimation and embedding happen lazily, only for what the chosen counter reads) and runs
the counter the registry names (`counters/registry.py`); `auto` is the policy in
`counters/auto.py`. A caller that asks several counters about one video opens the inputs
itself and calls `count_inputs` for each, so the video is decoded once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from countllm.counters.base import CountRequest
from countllm.counters.registry import get_spec, method_names, run_counter
from countllm.media import DEFAULT_POSE_FILE_FPS, DecodeOptions, MediaInputs, pose_features
from countllm.priors import ActionPrior
from countllm.types import CountResult, Pose


@dataclass
class CountOptions:
    """How to count one input.

    `fps` is the input's own frame rate: for a pose file, the rate its rows were sampled at
    (default 30, announced); for a video, an override for a container whose rate is wrong.
    `sample_fps` is the rate a video is analysed at (see `media.DecodeOptions`).
    `prior` is the semantic prior of the action being counted (docs/design.md §5), when known.
    `model` is the checkpoint a learned counter loads (None: its shipped default).
    `start_s`/`end_s` restrict the count to that span of the input.
    """

    method: str = "auto"
    fps: float | None = None
    pose_format: str | None = None
    question: str | None = None
    sample_fps: float = 10.0
    max_side: int = 256
    min_tracked_fraction: float = 0.7  # auto: person needed in this share of the repetitive span
    prior: ActionPrior | None = None
    model: str | None = None
    start_s: float = 0.0
    end_s: float | None = None

    def __post_init__(self) -> None:
        get_spec(self.method)  # ValueError naming the choices
        self.decode_options()  # ValueError on a bad rate
        if self.start_s < 0 or (self.end_s is not None and self.end_s <= self.start_s):
            raise ValueError(f"bad time range: --start {self.start_s:g} s, --end {self.end_s} s "
                             "(need 0 <= start < end)")

    def decode_options(self) -> DecodeOptions:
        return DecodeOptions(fps=self.fps, pose_format=self.pose_format, sample_fps=self.sample_fps,
                             max_side=self.max_side)

    def request(self, inputs: MediaInputs) -> CountRequest:
        return CountRequest(inputs=inputs, question=self.question, prior=self.prior, start_s=self.start_s,
                            end_s=self.end_s, model=self.model,
                            settings={"min_tracked_fraction": self.min_tracked_fraction})


def count_file(path: str | Path, options: CountOptions | None = None) -> CountResult:
    """Count repetitions in a video or pose file. Raises CountLLMError on unusable input."""
    options = options or CountOptions()
    return count_inputs(MediaInputs.open(path, options.decode_options()), options)


def count_inputs(inputs: MediaInputs, options: CountOptions) -> CountResult:
    """Count already-opened inputs (their decoded representations are reused)."""
    return run_counter(options.method, options.request(inputs))


def count_pose(pose: Pose, method: str, prior: ActionPrior | None = None,
               options: CountOptions | None = None) -> CountResult:
    """Count a pose sequence held in memory with the counter `method` names."""
    options = replace(options or CountOptions(), method=method, prior=prior)
    return count_inputs(MediaInputs.from_pose(pose), options)


METHODS = method_names()

__all__ = ["CountOptions", "DEFAULT_POSE_FILE_FPS", "METHODS", "count_file", "count_inputs", "count_pose",
           "pose_features"]
