"""The registry of counters: the single source of method names, their inputs, help and factory.

Why: the CLI's `--method` choices and help, the `auto` policy, `eval` and the agent all read
this table, so a counter added here is everywhere at once (and a name written in four files
cannot drift). Adding a counter = one module with a `Counter` (`counters/base.py`) + one
`register(CounterSpec(...))` call below. Factories import their module lazily, so listing the
methods (`countllm --help`) imports neither torch nor MediaPipe.

`run_counter` is the one dispatch: it builds the counter, runs it on the request, maps its raw
confidence to the calibrated P(count within ±1) (`counters/calibration.py`), tells the user what
the counter did not read (a prior, a question), copies the input's own notes (an assumed frame
rate, a repaired clock) and puts a time-range result back on the video's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from countllm.counters.base import Counter, CountRequest
from countllm.counters.calibration import calibrate_result
from countllm.types import CountResult, Segment

InputKind = Literal["pose", "frame_features", "pose_features", "motion_features"]


@dataclass(frozen=True)
class CounterSpec:
    """What the registry knows about one counter.

    `needs`: the representation it reads (`MediaInputs`): "pose" (skeletons), "frame_features"
    (frame embeddings of a video; pose features of a pose file), "pose_features" or
    "motion_features" (native-rate motion profiles of a video).
    `model_help`: what `--model` loads for it (None: it loads no model).
    `factory(model)`: builds the counter; `model` is the `--model` value or None.
    """

    name: str
    help: str
    needs: InputKind
    factory: Callable[[str | None], Counter]
    reads_prior: bool = False
    reads_question: bool = False
    model_help: str | None = None


REGISTRY: dict[str, CounterSpec] = {}


def register(spec: CounterSpec) -> CounterSpec:
    if spec.name in REGISTRY:
        raise ValueError(f"counter {spec.name!r} is registered twice")
    REGISTRY[spec.name] = spec
    return spec


def method_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_spec(name: str) -> CounterSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(REGISTRY)}") from None


def methods_help() -> str:
    """One line per method, for `--help`."""
    return "; ".join(f"{s.name}: {s.help}" for s in REGISTRY.values())


def models_help() -> str:
    """What `--model` loads, per method that loads one."""
    loads = [f"{s.name}: {s.model_help}" for s in REGISTRY.values() if s.model_help]
    return "the model the chosen --method loads (" + "; ".join(loads) + "); other methods load none"


def run_counter(name: str, request: CountRequest) -> CountResult:
    """Count `request` with the counter `name` (see the module doc for what is added)."""
    spec = get_spec(name)
    result = calibrate_result(spec.factory(request.model).count(request), name)
    if request.prior is not None and not spec.reads_prior and name != "auto":
        result.notes.insert(0, prior_unused_note(request.prior.action, name))
    if request.cropped and not result.diagnostics.get("on_video_clock"):
        shift_to_video_clock(result, request.start_s, request.end_s)
    for note in request.inputs.notes:
        if note not in result.notes:
            result.notes.append(note)
    return result


def prior_unused_note(action: str, counter: str) -> str:
    """Said whenever a prior was given to a counter that cannot use it, so no one assumes it was."""
    return f"semantic prior {action!r} not used: the {counter} counter does not read priors"


def shift_to_video_clock(result: CountResult, start_s: float, end_s: float | None) -> None:
    """A result counted on a cropped span, moved back so its times are the video's."""
    move = lambda segs: [Segment(s.start + start_s, s.end + start_s) for s in segs]  # noqa: E731
    result.cycles, result.rests = move(result.cycles), move(result.rests)
    values = result.diagnostics.get("signal_values")
    if values is not None:
        fps = result.fps or 1.0
        times = result.diagnostics.get("signal_times", np.arange(len(values)) / fps)
        result.diagnostics["signal_times"] = np.asarray(times) + start_s
    result.diagnostics["on_video_clock"] = True
    span = f"{start_s:g} s to {'the end' if end_s is None else f'{end_s:g} s'}"
    result.notes.append(f"counted only from {span}")


# --------------------------------------------------------------------------- the built-in counters
@dataclass(frozen=True)
class FunctionCounter:
    """A counter made from a function of the request (the built-ins below need no state)."""

    function: Callable[[CountRequest], CountResult]

    def count(self, request: CountRequest) -> CountResult:
        return self.function(request)


def _pose(request: CountRequest) -> CountResult:
    from countllm.counters.pose_counter import PoseCounter  # noqa: PLC0415 — listing methods stays light

    return PoseCounter().count(request.pose(), request.prior)


def _similarity(request: CountRequest) -> CountResult:
    from countllm.counters.similarity_counter import SimilarityCounter  # noqa: PLC0415

    return SimilarityCounter().count(request.frame_features())


def _similarity_pose(request: CountRequest) -> CountResult:
    from countllm.counters.similarity_counter import SimilarityCounter  # noqa: PLC0415

    result = SimilarityCounter().count(request.pose_features())
    result.method = "similarity_pose"
    return result


def _motion(request: CountRequest) -> CountResult:
    from countllm.counters.tempo import count_motion  # noqa: PLC0415

    result = count_motion(request.motion_features())
    if request.inputs.motion_repeats:
        result.notes.append(f"{request.inputs.motion_repeats} repeated frames (a frame-rate conversion) were "
                            "bridged in the motion profiles")
    return result


def _baseline(request: CountRequest) -> CountResult:
    from countllm.counters.baseline import BaselineCounter  # noqa: PLC0415

    return BaselineCounter().count(request.pose_features())


@dataclass(frozen=True)
class _VideoLLM:
    model: str | None

    def count(self, request: CountRequest) -> CountResult:
        from countllm.videollm.counter import VideoLLMCounter  # noqa: PLC0415 — torch/transformers on demand

        return VideoLLMCounter(self.model).count(request.pose(), request.question)


def _lift(model: str | None) -> Counter:
    from countllm.counters.lift_counter import LiftCounter  # noqa: PLC0415 — torch on demand

    return LiftCounter(model)


def _auto(model: str | None) -> Counter:
    from countllm.counters.auto import AutoCounter  # noqa: PLC0415

    return AutoCounter(run_counter)


register(CounterSpec(
    "auto", "the pose counter when a person is tracked through the repetitive span, else self-similarity "
    "(the notes say which and why)", needs="pose", factory=_auto, reads_prior=True))
register(CounterSpec(
    "pose", "joint trajectories and angles of the MediaPipe skeleton (training-free)", needs="pose",
    factory=lambda model: FunctionCounter(_pose), reads_prior=True))
register(CounterSpec(
    "similarity", "temporal self-similarity of MobileNetV2 frame embeddings, for anything that moves "
    "(on a pose file: of the joint coordinates)", needs="frame_features",
    factory=lambda model: FunctionCounter(_similarity)))
register(CounterSpec(
    "similarity_pose", "temporal self-similarity of the skeleton's body-relative joint coordinates (the "
    "similarity counter on pose instead of pixels: cheap on a video once its pose is known)",
    needs="pose_features", factory=lambda model: FunctionCounter(_similarity_pose)))
register(CounterSpec(
    "motion", "temporal self-similarity of native-rate motion profiles (frame differences by row and column), "
    "periods from 0.1 s: for repetitions too fast for the 10 fps analysis, e.g. speed jump rope; videos only",
    needs="motion_features", factory=lambda model: FunctionCounter(_motion)))
register(CounterSpec(
    "baseline", "the naive reference: first principal component + autocorrelation peaks",
    needs="pose_features", factory=lambda model: FunctionCounter(_baseline)))
register(CounterSpec(
    "videollm", "the trained CountLLM video-LLM (motion encoder, periodicity transformer, LoRA LM)",
    needs="pose", factory=_VideoLLM, reads_question=True,
    model_help="a video-LLM checkpoint folder (default: the shipped countllm/videollm/default; "
    "make one with `countllm finetune`)"))
register(CounterSpec(
    "lift", "the skeleton recognizer's integer head (LiFT): one count of 1-30 per motion image (at most 51.2 s), "
    "summed; no cycle boundaries", needs="pose", factory=_lift, reads_prior=True,
    model_help="a recognizer checkpoint folder (default: the shipped countllm/recognize/default; make one with "
    "`countllm finetune --config finetune/recipes/lift/default.yaml`)"))
