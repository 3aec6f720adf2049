"""The one `auto` policy: which counter answers when the user did not choose.

Why one place: later capabilities (evidence-based choice between the pose and frame paths,
the recognizer's per-set choice, the agent's reconciliation) extend this policy rather than
write their own. Today's rule, measured on the development clips:
- a pose sequence has only skeletons → the pose counter;
- a video where the pose estimator tracks the person through at least `min_tracked_fraction`
  of the repetitive span → the pose counter (joints are the cleanest signal for a body);
- otherwise (nobody found, or tracking too spotty to trust) → the self-similarity counter on
  frame embeddings, which counts whatever moves.
Evidence decides between the two where the pose evidence is weak: when the pose counter's
confidence is below `consult_below`, the self-similarity counter is asked too (on the frame
embeddings of a video, on the joint coordinates of a pose sequence) and the more confident
answer wins. Confidence is the one comparable score across paths: both are calibrated to the
same meaning, the probability that the count is within ±1 of the truth.

Why 0.7, measured on the Countix-Fitness development poses (MAE / OBO of `auto`; threshold
chosen on the train split, val untouched): never consulting 0.164 / 0.779 train, 0.186 / 0.773
val; 0.7: 0.154 / 0.788 train (5 of 104 clips switched), 0.171 / 0.795 val (1 of 44);
consulting always 0.157 / 0.779 train. Where the pose counter is confident the other path adds
cost and no accuracy, so confident videos (most of them) pay for pose alone.

Before any of that, a video gets a first look at its native rate (`counters/tempo.py`): a
repetition faster than the 10 fps analysis resolves (periods under 0.4 s, e.g. speed jump rope)
is counted there, on native-rate motion profiles (the `motion` counter), and the pose path is
not run. Where the look found a clear repetition with full cycles of 2 s or more, pose is
estimated on every other analysis frame and interpolated (said in the notes; `tempo.py` step
3). What the look saw is in `diagnostics["first_look"]` either way.

The first note of the result always says which counter was used and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from countllm.counters.base import CountRequest
from countllm.counters.tempo import ANALYSIS_FLOOR_S, TempoLook, first_look
from countllm.errors import NoPersonError
from countllm.types import CountResult, Pose


@dataclass(frozen=True)
class AutoPolicyConfig:
    min_tracked_fraction: float = 0.7  # person needed in this share of the repetitive span
    consult_below: float = 0.7  # pose confidence under which the similarity counter is asked too
    first_look: bool = True  # look for a repetition too fast for the 10 fps analysis first (tempo.py)
    frames_faster_by: float = 1.5  # the look's cycle this much shorter than the body's: something else repeats


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
            return self._weigh(result, request, "auto: input is a pose sequence,", "the joint coordinates")
        look = None
        if request.settings.get("first_look", self.config.first_look):
            look = first_look(request, _span_s(request))
            if look.is_fast:
                rate = request.inputs.options.sample_fps
                reason = (f"auto: {look.describe()}, faster than the {rate:g} fps analysis resolves (periods from "
                          f"{ANALYSIS_FLOOR_S:g} s); counted every frame's motion profile (the motion counter; "
                          "--method pose counts the body's slower motion instead)")
                return _looked(_with_reason(self.run_counter("motion", request), reason), look)
            sparse = look.sparse_pose_fps(request.inputs.options.sample_fps)
            if sparse is not None:
                request.inputs.estimate_pose_at(sparse, f"the first look found full cycles of {look.cycle_s:.1f} s")
        return _looked(self._count_at_analysis_rate(request, look), look)

    def _count_at_analysis_rate(self, request: CountRequest, look: TempoLook | None = None) -> CountResult:
        threshold = float(request.settings.get("min_tracked_fraction", self.config.min_tracked_fraction))
        try:
            pose = request.pose()
        except NoPersonError as exc:
            reason = f"auto: {exc.message.split(';')[0]}; used the self-similarity counter"
        else:
            result = self.run_counter("pose", request)
            tracked = tracked_fraction(pose, _on_crop_clock(result, request))
            if tracked >= threshold:
                why = f"auto: person tracked in {tracked:.0%} of the repetitive span;"
                return self._follow_the_frames(result, request, why, look) or self._weigh(
                    result, request, why, "the frame embeddings")
            reason = (f"auto: person tracked in only {tracked:.0%} of the repetitive span; "
                      "used the self-similarity counter")
        return _with_reason(self.run_counter("similarity", request), reason)

    def _follow_the_frames(self, pose_result: CountResult, request: CountRequest, why_pose: str,
                           look: TempoLook | None) -> CountResult | None:
        """The self-similarity counter's answer where the whole frame clearly repeats faster than
        the body does (by `frames_faster_by`) and that counter's period is nearer the frames'
        rhythm than the body's is (by the square root of that factor); None otherwise.

        Why: a person in view is not the repetition when a hand, a tool or an object beside them
        repeats (the class-agnostic failure: the pose counter counted a bystander's slow
        gestures). The first look is a third witness, independent of both counters: it reads the
        whole frame's motion. Measured on the rendered objects with a bystander (12 clips):
        where `auto` kept the pose counter wrongly, its period was 1.9–6.6× the look's cycle and
        the self-similarity counter's within 1.1× of it (but 2× on one); where the pose
        counter was right, its period matched the look's. Pose files take no look: unchanged.
        """
        if look is None or look.cycle_s is None or look.score < look.config.min_score:
            return None
        if pose_result.count == 0 or not pose_result.period_s:
            return None
        ratio = pose_result.period_s / look.cycle_s
        if ratio < self.config.frames_faster_by:
            return None
        other = self.run_counter("similarity", request)
        if other.count == 0 or not other.period_s:
            return None
        margin = 0.5 * np.log(self.config.frames_faster_by)  # it must follow the frames clearly better
        if abs(np.log(other.period_s / look.cycle_s)) >= abs(np.log(ratio)) - margin:
            return None
        reason = (f"{why_pose} but the body repeats every {pose_result.period_s:.1f} s while the whole frame "
                  f"repeats every {look.cycle_s:.1f} s (the first look): something else in view repeats; the "
                  f"self-similarity counter on the frame embeddings follows the frames ({other.period_s:.1f} s), "
                  f"used it (the pose counter counted {pose_result.count})")
        chosen = _with_reason(other, reason)
        chosen.diagnostics["auto_candidates"] = {
            r.method: {"count": r.count, "confidence": round(r.confidence, 3), "period_s": round(r.period_s, 3)}
            for r in (pose_result, other)}
        return chosen

    def _weigh(self, pose_result: CountResult, request: CountRequest, why_pose: str, features: str) -> CountResult:
        """The pose counter's answer, or the self-similarity counter's where the pose evidence is
        weak and that one is more confident (module docstring); the note says which and why.
        `why_pose` ends in its separator, so the confident case keeps the note it always had."""
        if pose_result.confidence >= self.config.consult_below:
            return _with_reason(pose_result, f"{why_pose} used the pose counter")
        other = self.run_counter("similarity", request)
        weak = (f"{why_pose} but the pose counter's confidence {pose_result.confidence:.2f} is below "
                f"{self.config.consult_below:g}, so the self-similarity counter on {features} was asked too")
        candidates = {r.method: {"count": r.count, "confidence": round(r.confidence, 3)} for r in (pose_result, other)}
        if other.confidence > pose_result.confidence:
            chosen = _with_reason(other, f"{weak}: it was more confident ({other.confidence:.2f}), used it "
                                  f"(the pose counter counted {pose_result.count})")
        else:
            chosen = _with_reason(pose_result, f"{weak}: it was less confident ({other.confidence:.2f}, count "
                                  f"{other.count}), kept the pose counter")
        chosen.diagnostics["auto_candidates"] = candidates
        return chosen


def _on_crop_clock(result: CountResult, request: CountRequest) -> CountResult:
    """The result's cycles on the cropped pose's clock (run_counter moved them to the video's)."""
    if not request.cropped:
        return result
    shifted = [type(c)(c.start - request.start_s, c.end - request.start_s) for c in result.cycles]
    return CountResult(count=result.count, cycles=shifted, confidence=result.confidence, method=result.method)


def _span_s(request: CountRequest) -> float:
    """Length of what is being counted: the request's time range, or the whole video."""
    end = request.inputs.duration_s() if request.end_s is None else request.end_s
    return max(end - request.start_s, 0.0)


def _looked(result: CountResult, look: TempoLook | None) -> CountResult:
    if look is not None:
        result.diagnostics["first_look"] = look.to_json()
    return result


def _with_reason(result: CountResult, reason: str) -> CountResult:
    result.notes.insert(0, reason)
    result.diagnostics["auto_choice"] = result.method
    return result
