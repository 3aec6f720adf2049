"""Count repetitions while they happen, one skeleton at a time.

Why the offline counter, re-run: a live count that disagrees with `countllm count` on the same
frames is a bug users see at once. So the live counter does not have a second rule for what a
repetition is. Every `look_every_s` it runs the offline `PoseCounter` (signal choice, semantic
prior, harmonic check, partial-cycle rule) on the frames seen so far, and a repetition is
reported as soon as the count of complete cycles grows. The offline rule already recognises a
cycle once its return has covered most of the typical swing, before the signal settles, so
the report comes within a look of the return (measured: `countllm live --json`'s latency).

Against jitter (hysteresis): a cycle counts only after both halves reach 45 % of the typical
swing (the offline partial-cycle rule), cycles closer than half a period are one, and a count
must be seen by `confirm_looks` consecutive looks before it is reported: a count that one noisy
look finds and the next drops is never said. The count never goes down.

Long sessions: the analysis runs on the current *segment*, at most `window_s` long. When it is
full, its cycles but the last are committed and the next segment starts where that last cycle
starts, so the cost of a look stays bounded and nothing is counted twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from countllm.counters.pose_counter import PoseCounter, PoseCounterConfig
from countllm.pose.gaps import interpolate_gaps
from countllm.priors import ActionPrior
from countllm.types import CountResult, Pose, Segment


@dataclass(frozen=True)
class LiveCounterConfig:
    fps: float = 10.0  # the analysis rate; `countllm count` samples at the same rate
    window_s: float = 60.0  # longest segment analysed at once (bounds a look's cost)
    warmup_s: float = 1.5  # no look before this much of a segment
    look_every_s: float = 0.2  # video time between looks (stretched when a look is slow, below)
    look_share: float = 0.5  # a look may use at most this share of wall time (1 core of 2)
    min_periods: float = 2.0  # a look counts only when its segment holds this many of its periods
    confirm_looks: int = 2  # consecutive looks that must agree on a count before it is said
    pose: PoseCounterConfig = field(default_factory=PoseCounterConfig)


@dataclass(frozen=True)
class RepEvent:
    """One completed repetition."""

    count: int  # the running count including this one
    start_s: float  # video time the cycle began
    end_s: float  # video time it ended, as the look that reported it saw it


class LiveCounter:
    """`push(t, joints)` per sampled frame → the repetitions reported at that frame."""

    def __init__(self, config: LiveCounterConfig | None = None, prior: ActionPrior | None = None) -> None:
        self.config = config or LiveCounterConfig()
        self.prior = prior
        self._counter = PoseCounter(self.config.pose)
        self._times: list[float] = []
        self._joints: list[np.ndarray] = []
        self._valid: list[bool] = []
        self._last_joints: np.ndarray | None = None
        self._segment = 0  # frame index the current segment starts at
        self._committed: list[Segment] = []  # cycles of closed segments
        self._seen: list[int] = []  # the totals recent looks found (for confirmation)
        self._next_look = 0.0
        self._interval = self.config.look_every_s
        self._final_found: list[Segment] | None = None  # what the final look found (set by finish)
        self.reported: list[Segment] = []  # each cycle as the look that reported it saw it
        self._latest: list[Segment] = []  # the cycles the last look found (with more context)
        self.period_s: float | None = None
        self.withdrawn = 0  # repetitions reported live that the final look over the session did not find
        self.notes: list[str] = []

    @property
    def count(self) -> int:
        return len(self.reported)

    @property
    def session_count(self) -> int:
        """The count to stand by: the reported one, less what the final look withdrew."""
        return self.count - self.withdrawn

    @property
    def cycles(self) -> list[Segment]:
        """The session's cycles: the last look's (it saw the most), while it agrees with the count."""
        return self._latest if len(self._latest) == self.session_count else self.reported

    def push(self, t: float, joints: np.ndarray | None) -> list[RepEvent]:
        """Add the skeleton seen at video time `t` ((J, 3) H36M joints; None: nobody seen)."""
        valid = joints is not None
        if joints is None:
            joints = self._last_joints if self._last_joints is not None else np.zeros((17, 3), np.float32)
        self._last_joints = joints
        self._times.append(t)
        self._joints.append(np.asarray(joints, np.float32))
        self._valid.append(valid)
        if t < self._next_look or t - self._times[self._segment] < self.config.warmup_s:
            return []
        started = time.perf_counter()
        events = self._look()
        spent = time.perf_counter() - started
        self._interval = max(self.config.look_every_s, spent / self.config.look_share)
        self._next_look = t + self._interval
        return events

    def finish(self) -> list[RepEvent]:
        """A last look at the end of the source (its final cycles need no confirmation).

        Why it may also take repetitions back: an early look sees a few seconds and can take
        noise, or half a cycle, for a repetition; the count said live never goes down, but the
        final count is the one users keep, and it should be what the whole session shows (what
        `countllm count` says on the same frames). Withdrawn repetitions are said in the notes.
        """
        if not self._times or not any(self._valid[self._segment:]):
            return []
        events = self._look(final=True)
        if self._final_found is not None and len(self._final_found) < self.count:
            self.withdrawn = self.count - len(self._final_found)
            self.notes.append(f"{self.withdrawn} repetition(s) reported live were withdrawn at the end: the whole "
                              f"session shows {len(self._final_found)} cycle(s); early looks saw too little of it")
        return events

    # ------------------------------------------------------------------ looks
    def _pose_since(self, start: int) -> Pose:
        """The frames pushed from index `start` on, gaps interpolated, as one pose sequence."""
        valid = np.asarray(self._valid[start:], bool)
        if not len(valid):
            return Pose(joints=np.zeros((0, 17, 3), np.float32), valid=valid, fps=self.config.fps, layout="h36m17")
        joints = np.stack(self._joints[start:]).astype(np.float64)
        if valid.any() and not valid.all():
            joints = interpolate_gaps(joints, valid)
        return Pose(joints=joints.astype(np.float32), valid=valid, fps=self.config.fps, layout="h36m17",
                    source="<live>", interpolated_frames=int((~valid).sum()))

    def _look(self, final: bool = False) -> list[RepEvent]:
        if not any(self._valid[self._segment:]):
            return []
        result = self._counter.count(self._pose_since(self._segment), self.prior)
        offset = self._times[self._segment]
        span_s = self._times[-1] - offset
        found = self._committed + [Segment(c.start + offset, c.end + offset) for c in result.cycles]
        if final:
            self._final_found = self._latest = found
        if result.count == 0 or result.period_s is None or span_s < self.config.min_periods * result.period_s:
            return []
        self.period_s = result.period_s
        self._latest = found
        self._seen = (self._seen + [len(found)])[-self.config.confirm_looks:]
        agreed = len(found) if final else (min(self._seen) if len(self._seen) == self.config.confirm_looks else 0)
        events = []
        while self.count < agreed:
            cycle = found[self.count]
            self.reported.append(cycle)
            events.append(RepEvent(self.count, cycle.start, cycle.end))
        if span_s >= self.config.window_s and result.count >= 2:
            self._close_segment(result, offset)
        return events

    def _close_segment(self, result: CountResult, offset: float) -> None:
        """Commit the segment's cycles but the last; the next segment starts where it starts."""
        self._committed += [Segment(c.start + offset, c.end + offset) for c in result.cycles[:-1]]
        restart = offset + result.cycles[-1].start
        self._segment = next(i for i, t in enumerate(self._times) if t >= restart - 1e-9)
        self._seen = []

    def session_pose(self) -> Pose:
        """Every frame pushed, as one pose sequence (what an offline count of the session reads)."""
        return self._pose_since(0)

    @property
    def final_session_count(self) -> int | None:
        """What the final look found when it read the whole session (no segment was closed): then it
        *is* the offline count of the session, and need not be computed again. None otherwise."""
        return len(self._final_found) if self._final_found is not None and self._segment == 0 else None
