"""One live counting session: frames from a source → pose → `LiveCounter` → events, as they happen.

The events are the `countllm live --json` contract (one JSON object a line):
- `{"event": "rep", "count", "t_video_s", "latency_s"}` as each repetition completes;
  `t_video_s` is its end on the source's clock, `latency_s` the wall time from the moment the
  frame at that end arrived (or was due, for a file played in real time) to the event;
- `{"event": "lost", "t_video_s", "error"}` when a camera or stream stops delivering;
- `{"event": "end", "count", "cycles", ...}` last, always (also after a loss or Ctrl-C), with
  the latency percentiles, the frames dropped because counting fell behind, and what an
  offline count of the same frames says (`offline_count`), so a disagreement is visible.
With `--exercise`, every event also names it (`"exercise"`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from countllm.counters.pose_counter import PoseCounter
from countllm.live.counter import LiveCounter, LiveCounterConfig, RepEvent
from countllm.live.sources import LiveSource, SourceConfig, SourceLost
from countllm.priors import ActionPrior
from countllm.types import JSON_SCHEMA_VERSION

LIVE_METHODS = ("pose",)  # the counters that run incrementally (see `countllm live --help`)
LATE_S = 0.5  # the latency goal: a repetition reported later than this is counted as late

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class LiveOptions:
    method: str = "pose"
    exercise: str | None = None  # the display name `--exercise` gave
    prior: ActionPrior | None = None  # that exercise's semantic prior
    source: SourceConfig = field(default_factory=SourceConfig)


@dataclass
class LiveOutcome:
    count: int
    cycles: list[tuple[float, float]]
    latencies: list[float]  # of every repetition reported, in order
    late: int  # repetitions reported more than LATE_S after they ended
    dropped: int
    lost: SourceLost | None
    offline_count: int | None
    notes: list[str]


class Skeletons:
    """MediaPipe in tracking mode, one frame at a time → (17, 3) H36M joints or None."""

    def __init__(self) -> None:
        from countllm.pose.estimator import MediaPipePoseEstimator  # noqa: PLC0415 — mediapipe

        self.estimator = MediaPipePoseEstimator()

    def warm(self, image: np.ndarray) -> None:
        """Build the graph before the source starts, so the first frames are not late."""
        self.estimator.landmarks(image[None])

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        from countllm.pose.gaps import missing_frames  # noqa: PLC0415
        from countllm.pose.layouts import mediapipe33_to_h36m17  # noqa: PLC0415

        landmarks = self.estimator.landmarks(image[None])  # (1, 33, 4)
        if missing_frames(landmarks[..., :3])[0]:
            return None
        return mediapipe33_to_h36m17(landmarks)[0, :, :3]

    def close(self) -> None:
        self.estimator.close()


def percentile(values: list[float], q: float) -> float | None:
    return None if not values else round(float(np.percentile(values, q)), 3)


def _named(event: dict[str, Any], options: LiveOptions) -> dict[str, Any]:
    if options.exercise:
        event["exercise"] = options.exercise
    return event


class LiveSession:
    """Runs until the source ends, is lost, or the user interrupts; `outcome` says what happened."""

    def __init__(self, spec: str, options: LiveOptions, emit: Emit) -> None:
        if options.method not in LIVE_METHODS:
            raise ValueError(f"method {options.method!r} cannot count live; use one of {', '.join(LIVE_METHODS)}")
        self.spec, self.options, self.emit = spec, options, emit
        self.source = LiveSource(spec, options.source)
        self.counter = LiveCounter(LiveCounterConfig(fps=self.source.fps), options.prior)
        window_frames = int(self.counter.config.window_s * self.source.fps) + 8
        self.arrivals: deque[tuple[float, float]] = deque(maxlen=window_frames)
        self.latencies: list[float] = []
        self.late = 0
        self.lost: SourceLost | None = None

    def run(self) -> LiveOutcome:
        skeletons = Skeletons()
        try:
            skeletons.warm(np.zeros((self.options.source.max_side, self.options.source.max_side, 3), np.uint8))
            for frame in self.source:
                self.arrivals.append((frame.t_video_s, frame.arrived))
                for rep in self.counter.push(frame.t_video_s, skeletons(frame.image)):
                    self._report(rep)
        except SourceLost as lost:
            self.lost = lost
            self.emit(_named({"event": "lost", "t_video_s": round(lost.t_video_s, 3), "error": lost.error},
                             self.options))
        finally:
            skeletons.close()
        for rep in self.counter.finish():  # the last cycles, which no later look could confirm
            self._report(rep)
        return self.finish()

    def _arrival(self, t_video_s: float) -> float | None:
        """When the frame nearest `t_video_s` arrived (None: it left the window long ago)."""
        if not self.arrivals:
            return None
        t, arrived = min(self.arrivals, key=lambda item: abs(item[0] - t_video_s))
        return arrived if abs(t - t_video_s) <= 1.0 / self.source.fps else None

    def _report(self, rep: RepEvent) -> None:
        arrived = self._arrival(rep.end_s)
        latency = None if arrived is None else time.perf_counter() - arrived
        if latency is not None:
            self.latencies.append(latency)
            self.late += latency > LATE_S
        self.emit(_named({"event": "rep", "count": rep.count, "t_video_s": round(rep.end_s, 3),
                          "latency_s": None if latency is None else round(latency, 3)}, self.options))

    def finish(self) -> LiveOutcome:
        """The end event (printed) and the outcome; safe to call after an interruption."""
        offline = self._offline_count()
        notes = list(self.counter.notes)
        if self.late:
            notes.append(f"{self.late} repetition(s) reported more than {LATE_S} s after they ended: the first "
                         "ones wait until the counter has seen about two cycles and knows what one looks like")
        if self.source.dropped:
            notes.append(f"{self.source.dropped} frame(s) dropped: counting fell behind the source")
        cycles = [(c.start, c.end) for c in self.counter.cycles]
        outcome = LiveOutcome(self.counter.session_count, cycles, self.latencies, self.late, self.source.dropped,
                              self.lost, offline, notes)
        self.emit(_named(end_event(outcome), self.options))
        return outcome

    def _offline_count(self) -> int | None:
        pose = self.counter.session_pose()
        if len(pose) < 2 or not pose.valid.any():
            return None
        if self.counter.final_session_count is not None:  # the final look already counted every frame
            return self.counter.final_session_count
        return PoseCounter().count(pose, self.options.prior).count


def end_event(outcome: LiveOutcome) -> dict[str, Any]:
    return {
        "event": "end", "schema_version": JSON_SCHEMA_VERSION, "count": outcome.count,
        "cycles": [[round(a, 3), round(b, 3)] for a, b in outcome.cycles],
        "latency_s": {"p50": percentile(outcome.latencies, 50), "p95": percentile(outcome.latencies, 95),
                      "max": percentile(outcome.latencies, 100), "reps_timed": len(outcome.latencies)},
        "late_reps": outcome.late, "dropped_frames": outcome.dropped,
        "offline_count": outcome.offline_count, "lost": outcome.lost is not None, "notes": outcome.notes,
    }
