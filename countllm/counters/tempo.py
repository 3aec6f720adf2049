"""Tempo-adaptive counting: a cheap first look at the native rate decides whether a repetition is
too fast for the 10 fps analysis, and if so it is counted at the native rate.

Why: the pose and embedding paths sample a video at 10 fps, which resolves periods down to
0.4 s (4 frames a cycle). Speed jump rope runs at 4–8 jumps a second; at 10 fps that is above
the Nyquist rate and aliases into a slow false rhythm (the development jump-rope videos were
counted 5–30 for 65–129, with a confident-looking score). Raising the rate of every video would
triple the pose cost for all the slow ones, so the rate follows the video instead:

1. **First look**: native-rate motion profiles (`video/motion_profiles.py`, 96 px) of a window
   of the video (`look_window_s` from its middle; a short clip whole), counted by the
   self-similarity back end with periods searched from `min_period_s` (0.1 s: 3 frames at 30 fps).
2. If what it finds repeats faster than `fast_below_s` (the 10 fps analysis's floor) and clearly
   (`min_score`, the raw periodicity × regularity score), the whole video is counted the same way
   at the native rate (the `motion` counter). Otherwise the usual analysis runs, so slow videos
   pay only the look.
3. If what it finds is clear and its full cycle lasts at least `sparse_pose_from_s` (2 s), pose
   is estimated at half the analysis rate and interpolated back onto it (`pose/resample.py`,
   where the accuracy measured for it is): pose estimation is most of a count's time, and a
   slow repetition does not need every analysis frame estimated. Slow videos get faster than
   without the look.

Why motion profiles and not pose at 30 fps: on the development jump-rope videos pose at 30 fps
finds the feet alternating (one cycle per two jumps, counts 31–39 for 65–78); the row profile of
frame differences follows the body's bounce, once per jump.

Why the direction check: the magnitude of motion ignores its direction, so a symmetric motion
(down and up, out and back) shows twice per cycle. That is what makes each jump of alternating-
feet jump rope visible, but a squat every 0.6 s would look like a repetition every 0.3 s and be
counted twice. So the look also reads the signed profiles, which show each full cycle once: when
they repeat at about twice the magnitude's period (`half_tolerance`) and that full cycle is at
least `resolved_cycle_s` (5 frames a cycle at 10 fps, which the analysis counts), the fast
rhythm is the two halves of a slower motion and the 10 fps analysis counts it. Measured on
rendered clips at 0.6 s: squat and pull-up looked fast (0.30 s) without the check and are not
with it; on the jump-rope videos the full (two-jump) cycle is 0.26–0.31 s, and 0.48 s for us_3,
close to the bound.

Why `min_swing` 0.25 and not the default 0.45: at 4–6 frames a cycle the smoothing flattens each
swing, so complete cycles look partial (measured on the 4 development jump-rope videos, 96 px:
swing 0.45 → MAE 0.32, 0.3 → 0.17, 0.25 → 0.14, 0.2 → 0.13; 0.25 kept, not the best, for margin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from countllm.counters.base import CountRequest
from countllm.counters.periodic import PeriodicCountConfig
from countllm.counters.similarity_counter import SimilarityCounter, SimilarityCounterConfig, similarity_period
from countllm.signals.periodicity import CycleConfig, PeriodConfig
from countllm.types import CountResult, Features

ANALYSIS_FLOOR_S = PeriodConfig().min_period_s  # the shortest period the 10 fps analysis searches


@dataclass(frozen=True)
class TempoConfig:
    look_window_s: float = 12.0  # the first look reads this much from the middle of a longer video
    min_span_s: float = 1.0  # a shorter span gets no look (too few cycles to tell a tempo)
    min_period_s: float = 0.1
    fast_below_s: float = ANALYSIS_FLOOR_S
    min_score: float = 0.5  # raw score of the look's count needed to call the video fast
    min_swing: float = 0.25
    components: int = 6
    half_tolerance: float = 0.15  # the signed period within this share of twice the magnitude's
    resolved_cycle_s: float = 0.5  # a full cycle this long is the 10 fps analysis's to count
    sparse_pose_from_s: float = 2.0  # full cycles this long or longer: pose at 1/sparse_pose_factor of the rate
    sparse_pose_factor: int = 2

    def counter_config(self) -> SimilarityCounterConfig:
        periodic = PeriodicCountConfig(period=PeriodConfig(min_period_s=self.min_period_s),
                                       cycles=CycleConfig(min_swing=self.min_swing))
        return SimilarityCounterConfig(n_components=self.components, periodic=periodic)


@dataclass
class TempoLook:
    """What the first look saw: its period (None: nothing repeats), raw score, rate and window."""

    period_s: float | None
    score: float
    fps: float
    window_s: tuple[float, float]
    full_cycle_s: float | None = None  # the signed profiles' period: each full cycle seen once
    config: TempoConfig = field(default_factory=TempoConfig)

    @property
    def halves_of_a_slower_motion(self) -> bool:
        """The fast rhythm is the two halves of a full cycle the 10 fps analysis resolves."""
        if self.period_s is None or self.full_cycle_s is None:
            return False
        doubled = abs(self.full_cycle_s / (2 * self.period_s) - 1) <= self.config.half_tolerance
        return doubled and self.full_cycle_s >= self.config.resolved_cycle_s

    @property
    def is_fast(self) -> bool:
        return (self.period_s is not None and self.period_s < self.config.fast_below_s
                and self.score >= self.config.min_score and not self.halves_of_a_slower_motion)

    def sparse_pose_fps(self, analysis_fps: float) -> float | None:
        """The rate pose may be estimated at for a video this look found slow (step 3 of the
        module docstring), or None: the analysis rate. Only a clear repetition whose full cycle
        (the signed profiles' period where the magnitude shows its halves) lasts at least
        `sparse_pose_from_s` qualifies. Why a full cycle of 2 s at 5 fps: a limb often moves at
        twice the whole motion's rate (a jumping jack's wrist goes out and in twice a cycle, a
        lunging knee's x too), and that harmonic must keep >= 5 estimated frames a cycle.
        Measured on rendered exercises: a jumping jack every 1.2 s, estimated at 5 fps, was
        counted 12 for 6 on its wrist; a lunge set drifting from 1.4 s to 2 s, 15 for 9 on its knee.
        """
        if self.cycle_s is None or self.score < self.config.min_score:
            return None
        slow = self.cycle_s >= self.config.sparse_pose_from_s
        return analysis_fps / self.config.sparse_pose_factor if slow else None

    @property
    def cycle_s(self) -> float | None:
        """The full cycle the look saw: the signed period where the magnitude shows its halves."""
        return self.full_cycle_s if self.halves_of_a_slower_motion else self.period_s

    def to_json(self) -> dict:
        rounded = lambda t: None if t is None else round(t, 4)  # noqa: E731
        return {"period_s": rounded(self.period_s), "full_cycle_s": rounded(self.full_cycle_s),
                "score": round(self.score, 3), "fps": round(self.fps, 3),
                "window_s": [round(t, 2) for t in self.window_s], "fast": self.is_fast}

    def describe(self) -> str:
        found = ("nothing repeating" if self.period_s is None
                 else f"a repetition every {self.period_s:.2f} s (score {self.score:.2f})")
        halves = (f", the halves of a motion every {self.full_cycle_s:.2f} s" if self.halves_of_a_slower_motion
                  else "")
        return (f"a first look at {self.fps:.0f} fps ({self.window_s[0]:.0f}–{self.window_s[1]:.0f} s) found "
                f"{found}{halves}")


def look_window(duration_s: float, cfg: TempoConfig) -> tuple[float, float]:
    """The middle `look_window_s` of a clip; the whole clip when it is at most 1.5 windows long
    (then the look's profiles are the count's, nothing is decoded twice)."""
    if duration_s <= 1.5 * cfg.look_window_s:
        return 0.0, duration_s
    middle = duration_s / 2
    return middle - cfg.look_window_s / 2, middle + cfg.look_window_s / 2


def count_motion(features: Features, cfg: TempoConfig | None = None) -> CountResult:
    """Count on native-rate motion profiles (the `motion` counter; periods from 0.1 s)."""
    from countllm.video.motion_profiles import magnitude  # noqa: PLC0415 — decord only for videos

    result = SimilarityCounter((cfg or TempoConfig()).counter_config()).count(magnitude(features))
    result.method = "motion"
    return result


def first_look(request: CountRequest, duration_s: float, cfg: TempoConfig | None = None) -> TempoLook:
    """The first look at `request`'s video (module docstring, step 1). `duration_s` is the span
    being counted (the request's time range, or the whole video)."""
    cfg = cfg or TempoConfig()
    if duration_s < cfg.min_span_s:
        return TempoLook(period_s=None, score=0.0, fps=0.0, window_s=(0.0, duration_s), config=cfg)
    a, b = look_window(duration_s, cfg)
    if (a, b) == (0.0, duration_s):
        features = request.motion_features()
    else:
        features = request.inputs.motion_features_between(request.start_s + a, request.start_s + b)
    from countllm.video.motion_profiles import direction  # noqa: PLC0415 — decord only for videos

    result = count_motion(features, cfg)
    period = result.period_s if result.count > 0 else None
    full = similarity_period(direction(features).vectors, features.fps, PeriodConfig(min_period_s=cfg.min_period_s))
    return TempoLook(period_s=period, score=float(result.confidence), fps=features.fps, window_s=(a, b),
                     full_cycle_s=None if full is None else full / features.fps, config=cfg)
