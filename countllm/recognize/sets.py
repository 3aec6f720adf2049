"""Split a workout into sets of different exercises and count each: `split_sets(inputs)`.

How:
1. **Exercise over time**: the recognizer scores windows of 6 s every 1 s. The sequence of
   exercises is the most probable path through those windows (Viterbi) where changing exercise
   costs `switch_cost` nats: one window that prefers another exercise, or a stumble, is not a
   set; several windows in a row that clearly do are. Every frame takes the exercise of the
   nearest window. Runs shorter than 4 s are absorbed by their longer neighbour.
2. **Rests** are where the body barely moves: the local spread (standard deviation over a 2 s
   window) of the normalised joints, averaged over joints and axes, stays below a quarter of
   its 90th percentile for at least 6 s. The percentile is that of the exercise run the frame
   lies in, not of the whole video: a rope pushdown moves the joints a tenth as much as a
   sit-up does, and against the sit-up's percentile a whole set of pushdowns looked still.
3. **Merge**: consecutive frames of one exercise form a set, and a rest always ends one (two
   sets of squats stay two sets).
4. **Count** each set through the one `auto` policy (`run_counter("auto", ...)`) on that set's
   time range, with the semantic prior of its exercise; the set's confidence is the count's.
A set whose exercise probability is below the recognizer's confidence floor is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from countllm import labels
from countllm.media import MediaInputs, crop_pose
from countllm.types import JSON_SCHEMA_VERSION, Segment

if TYPE_CHECKING:
    from countllm.priors import ActionPrior
    from countllm.recognize.recognizer import Recognizer


@dataclass(frozen=True)
class SetsConfig:
    window_s: float = 6.0
    hop_s: float = 1.0
    min_set_s: float = 4.0
    activity_window_s: float = 2.0
    rest_ratio: float = 0.25  # of the 90th percentile of activity in the frame's exercise run
    # A pause this long ends a set; shorter ones (a breath at the top, a re-grip) do not. With
    # the switch cost, chosen on 30 workouts joined from the train clips (eval/real_workouts.py;
    # sets found per true set / number of sets right / boundary within 4 s):
    #   2 s, argmax per window (the old rule) 1.30 / 0.50 / 0.91;  6 s, cost 4: 1.17 / 0.60 / 0.91;
    #   6 s, cost 8: 1.09 / 0.60 / 0.87;  6 s, cost 12: 1.03 / 0.77 / 0.85. A higher cost holds a
    #   true change back longer (a set's first reps go to the set before), so the lowest cost
    #   that gained as much was kept.
    min_rest_s: float = 6.0
    switch_cost: float = 4.0  # nats a change of exercise costs on the window path


@dataclass
class ExerciseSet:
    exercise: str
    start_s: float
    end_s: float
    count: int
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "count": int(self.count), "confidence": round(float(self.confidence), 3)}


@dataclass
class SetsResult:
    sets: list[ExerciseSet]
    rests: list[Segment]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sets": [s.to_json() for s in self.sets],
                "rests": [[round(r.start, 3), round(r.end, 3)] for r in self.rests],
                "schema_version": JSON_SCHEMA_VERSION}


def activity(joints: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """(T,) local motion: std over a centred `window_s` window, mean over joints and axes."""
    w = max(2, int(round(window_s * fps)))
    x = joints.reshape(len(joints), -1).astype(np.float64)
    pad = np.pad(x, ((w // 2, w - 1 - w // 2), (0, 0)), mode="edge")
    c1 = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), pad]), axis=0)
    c2 = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), pad ** 2]), axis=0)
    mean = (c1[w:] - c1[:-w]) / w
    var = np.maximum((c2[w:] - c2[:-w]) / w - mean ** 2, 0.0)
    return np.sqrt(var).mean(axis=1)


def runs(values: np.ndarray) -> list[tuple[int, int, Any]]:
    """[(start, stop, value)] of the maximal runs of equal values."""
    out, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out.append((start, i, values[start]))
            start = i
    return out


def rest_mask(joints: np.ndarray, fps: float, cfg: SetsConfig, exercise_runs: np.ndarray | None = None
              ) -> np.ndarray:
    """(T,) where the body is still for `min_rest_s` or more, against the activity of its own
    exercise run (`exercise_runs`: a label per frame; None: one run over everything)."""
    act = activity(joints, fps, cfg.activity_window_s)
    runs_of = runs(exercise_runs) if exercise_runs is not None else [(0, len(act), 0)]
    still = np.zeros(len(act), dtype=bool)
    for a, b, _ in runs_of:
        still[a:b] = act[a:b] < cfg.rest_ratio * max(np.percentile(act[a:b], 90), 1e-9)
    keep = np.zeros(len(still), dtype=bool)
    for a, b, value in runs(still):
        if value and (b - a) / fps >= cfg.min_rest_s:
            keep[a:b] = True
    return keep


def viterbi_labels(log_probs: np.ndarray, switch_cost: float) -> np.ndarray:
    """(W,) the label path maximising the sum of window log-probabilities minus `switch_cost`
    per change of label; 0 is the argmax of every window."""
    n, k = log_probs.shape
    score = log_probs[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        best = int(score.argmax())
        stay = score >= score[best] - switch_cost  # staying beats switching from the best label
        back[i] = np.where(stay, np.arange(k), best)
        score = np.where(stay, score, score[best] - switch_cost) + log_probs[i]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def frame_labels(centres: np.ndarray, window_labels: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """(T,) the label index of the nearest window centre per frame."""
    times = np.arange(n_frames) / fps
    nearest = np.abs(times[:, None] - centres[None, :]).argmin(axis=1)
    return window_labels[nearest]


def absorb_short_runs(lab: np.ndarray, min_frames: int) -> np.ndarray:
    """Runs of one exercise shorter than `min_frames` take the label of their longer moving
    neighbour; isolated short runs (rests on both sides) become rest. Shortest runs go first."""
    lab = lab.copy()
    while True:
        short = [r for r in runs(lab) if r[2] >= 0 and r[1] - r[0] < min_frames]
        if not short:
            return lab
        a, b, _ = min(short, key=lambda r: r[1] - r[0])
        left = lab[a - 1] if a > 0 else -1
        right = lab[b] if b < len(lab) else -1
        if left < 0 and right < 0:
            lab[a:b] = -1
            continue
        neighbours = {r[2]: r[1] - r[0] for r in runs(lab) if r[2] >= 0 and (r[1] == a or r[0] == b)}
        lab[a:b] = max(neighbours, key=neighbours.get)


@lru_cache(maxsize=1)
def _priors() -> dict[str, ActionPrior]:
    from countllm.priors import default_priors_path, load_priors  # noqa: PLC0415

    return load_priors(default_priors_path())


def count_set(inputs: MediaInputs, exercise: str, start_s: float, end_s: float) -> tuple[int, float, list[str]]:
    """The auto policy's count of one set, with the prior of its exercise when there is one."""
    from countllm.counters.base import CountRequest  # noqa: PLC0415
    from countllm.counters.registry import run_counter  # noqa: PLC0415
    from countllm.priors import match_action  # noqa: PLC0415

    prior = match_action(labels.display_name(exercise), _priors()) if exercise in labels.known_ids() else None
    result = run_counter("auto", CountRequest(inputs, start_s=start_s, end_s=end_s, prior=prior))
    return result.count, result.confidence, result.notes


def split_sets(inputs: MediaInputs, recognizer: Recognizer | None = None, start_s: float = 0.0,
               end_s: float | None = None, config: SetsConfig | None = None) -> SetsResult:
    """The sets (exercise, span, count, confidence) and rests of `inputs` in [start_s, end_s)."""
    from countllm.recognize.recognizer import UNKNOWN, load_recognizer  # noqa: PLC0415

    cfg = config or SetsConfig()
    recognizer = recognizer or load_recognizer()
    pose = inputs.pose()
    if start_s > 0 or end_s is not None:
        pose = crop_pose(pose, start_s, end_s)
    joints = recognizer.prepare(pose)
    fps = recognizer.cfg.image.fps
    centres, probs = recognizer.window_exercise_probs(joints, cfg.window_s, cfg.hop_s)
    ids = recognizer.exercises
    path = viterbi_labels(np.log(np.clip(probs, 1e-9, None)), cfg.switch_cost)
    exercise_runs = absorb_short_runs(frame_labels(centres, path, len(joints), fps), int(cfg.min_set_s * fps))
    rest = rest_mask(joints, fps, cfg, exercise_runs)
    lab = absorb_short_runs(np.where(rest, -1, exercise_runs), int(cfg.min_set_s * fps))
    sets, notes = [], [f"exercise per {cfg.window_s:g} s window every {cfg.hop_s:g} s, on the most probable "
                       f"path where a change costs {cfg.switch_cost:g} nats; rests where the body is still for "
                       f"{cfg.min_rest_s:g} s or more; each set counted by the auto policy with its exercise's prior"]
    named: list[tuple[float, float, str]] = []
    for a, b, value in runs(lab):
        if value < 0:
            continue
        t0, t1 = a / fps, min(b / fps, (len(joints) - 1) / fps)
        inside = (centres >= t0) & (centres < t1)
        p = probs[inside].mean(axis=0) if inside.any() else probs[np.abs(centres - (t0 + t1) / 2).argmin()]
        named.append((t0, t1, ids[value] if p[value] >= recognizer.calibration.confidence_floor else UNKNOWN))
    for t0, t1, exercise in merge_touching(named):
        count, confidence, count_notes = count_set(inputs, exercise, start_s + t0, start_s + t1)
        sets.append(ExerciseSet(exercise, start_s + t0, start_s + t1, count, confidence))
        notes += [f"set {len(sets)} ({exercise}): {n}" for n in count_notes[:1]]
    duration = (len(joints) - 1) / fps
    rests = _gaps([(s.start_s - start_s, s.end_s - start_s) for s in sets], duration, start_s)
    return SetsResult(sets, rests, notes + [n for n in inputs.notes if n not in notes])


def merge_touching(named: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Neighbouring runs with one name and no rest between them are one set. Why: two runs the
    path told apart can both fall below the confidence floor; "unknown, unknown" says nothing
    the user can tell apart, and counting them apart splits the repetitions at a guess."""
    out: list[tuple[float, float, str]] = []
    for t0, t1, name in named:
        if out and out[-1][2] == name and t0 - out[-1][1] < 1e-6:
            out[-1] = (out[-1][0], t1, name)
        else:
            out.append((t0, t1, name))
    return out


def _gaps(spans: list[tuple[float, float]], duration: float, offset: float, min_s: float = 1.0) -> list[Segment]:
    """The parts of [0, duration] no set covers, at least `min_s` long, on the video clock."""
    edges = [0.0] + [x for span in spans for x in span] + [duration]
    return [Segment(offset + a, offset + b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_s]
