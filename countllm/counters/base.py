"""The one counter interface: a `Counter` takes a `CountRequest` and returns a `CountResult`.

Why one request type: the CLI, `eval`, the agent and batch counting call counters as
interchangeable tools. Each counter reads what it needs from the request — the pose, frame
features, the question, a semantic prior — and ignores the rest; the registry
(`counters/registry.py`) says which it reads, so the caller can tell the user when something
it gave was not used. A time range is applied here, once, for every counter: `pose()` and
`frame_features()` return only the rows inside it, with time 0 at `start_s`, and the
dispatcher shifts the result back onto the video's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from countllm.media import MediaInputs, crop_features, crop_pose
from countllm.priors import ActionPrior
from countllm.types import CountResult, Features, Pose


@dataclass
class CountRequest:
    """One question about one input: what to count, and with which hints.

    `start_s`/`end_s` restrict counting to that span of the video (None: from the start / to
    the end). `model` is the checkpoint a learned counter loads (None: its shipped default).
    `settings` carries counter-specific options by name (e.g. the auto policy's threshold).
    """

    inputs: MediaInputs
    question: str | None = None
    prior: ActionPrior | None = None
    start_s: float = 0.0
    end_s: float | None = None
    model: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.start_s < 0 or (self.end_s is not None and self.end_s <= self.start_s):
            raise ValueError(f"bad time range: start {self.start_s} s, end {self.end_s} s "
                             "(need 0 <= start < end)")

    @property
    def cropped(self) -> bool:
        return self.start_s > 0 or self.end_s is not None

    @property
    def source(self) -> str:
        return self.inputs.source

    def pose(self) -> Pose:
        if "pose" not in self._cache:
            pose = self.inputs.pose()
            self._cache["pose"] = crop_pose(pose, self.start_s, self.end_s) if self.cropped else pose
        return self._cache["pose"]

    def frame_features(self) -> Features:
        return self._features("frame_features", self.inputs.frame_features)

    def pose_features(self) -> Features:
        return self._features("pose_features", self.inputs.pose_features)

    def motion_features(self) -> Features:
        return self._features("motion_features", self.inputs.motion_features)

    def _features(self, key: str, compute: Any) -> Features:
        if key not in self._cache:
            features = compute()
            self._cache[key] = crop_features(features, self.start_s, self.end_s) if self.cropped else features
        return self._cache[key]


class Counter(Protocol):
    """Anything that answers a `CountRequest` with a `CountResult` (see the module doc)."""

    def count(self, request: CountRequest) -> CountResult: ...
