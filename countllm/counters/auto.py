"""The one `auto` policy: which counter answers when the user did not choose.

Why one place: later capabilities (evidence-based choice between the pose and frame paths,
the recognizer's per-set choice, the agent's reconciliation) extend this policy rather than
write their own. Today's rule, measured on the development clips:
- a pose sequence has only skeletons → the pose counter;
- a video where the pose estimator tracks the person through at least `min_tracked_fraction`
  of the repetitive span → the pose counter (joints are the cleanest signal for a body);
- otherwise (nobody found, or tracking too spotty to trust) → the self-similarity counter on
  frame embeddings, which counts whatever moves.
The first note of the result always says which counter was used and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from countllm.counters.base import CountRequest
from countllm.errors import NoPersonError
from countllm.types import CountResult, Pose


@dataclass(frozen=True)
class AutoPolicyConfig:
    min_tracked_fraction: float = 0.7  # person needed in this share of the repetitive span


def tracked_fraction(pose: Pose, result: CountResult) -> float:
    """Share of the repetitive span (first to last counted cycle, or the whole clip) in which
    the pose estimator actually saw the person."""
    if result.cycles:
        a = int(result.cycles[0].start * pose.fps)
        b = max(a + 1, int(np.ceil(result.cycles[-1].end * pose.fps)))
        return float(pose.valid[a:b].mean())
    return pose.detected_fraction


Dispatch = Callable[[str, CountRequest], CountResult]


class AutoCounter:
    """Chooses a counter per request by the policy above; `settings["min_tracked_fraction"]`
    overrides the threshold. `run_counter` is the registry's dispatch (handed in, so that this
    module does not import the registry that lists it)."""

    def __init__(self, run_counter: Dispatch, config: AutoPolicyConfig | None = None) -> None:
        self.run_counter = run_counter
        self.config = config or AutoPolicyConfig()

    def count(self, request: CountRequest) -> CountResult:
        if request.inputs.is_pose_file:
            result = self.run_counter("pose", request)
            return _with_reason(result, "auto: input is a pose sequence, used the pose counter")
        threshold = float(request.settings.get("min_tracked_fraction", self.config.min_tracked_fraction))
        try:
            pose = request.pose()
        except NoPersonError as exc:
            reason = f"auto: {exc.message.split(';')[0]}; used the self-similarity counter"
        else:
            result = self.run_counter("pose", request)
            tracked = tracked_fraction(pose, _on_crop_clock(result, request))
            if tracked >= threshold:
                return _with_reason(result, f"auto: person tracked in {tracked:.0%} of the repetitive span; "
                                    "used the pose counter")
            reason = (f"auto: person tracked in only {tracked:.0%} of the repetitive span; "
                      "used the self-similarity counter")
        return _with_reason(self.run_counter("similarity", request), reason)


def _on_crop_clock(result: CountResult, request: CountRequest) -> CountResult:
    """The result's cycles on the cropped pose's clock (run_counter moved them to the video's)."""
    if not request.cropped:
        return result
    shifted = [type(c)(c.start - request.start_s, c.end - request.start_s) for c in result.cycles]
    return CountResult(count=result.count, cycles=shifted, confidence=result.confidence, method=result.method)


def _with_reason(result: CountResult, reason: str) -> CountResult:
    result.notes.insert(0, reason)
    result.diagnostics["auto_choice"] = result.method
    return result
