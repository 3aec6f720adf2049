"""The agent's tools: plain typed functions over one video, usable from Python with no agent at all.

Why a class bound to one video: every tool reads the same decoded inputs (`MediaInputs`: decode,
pose, embeddings computed once) and many reuse one expensive result (a time-range count keeps
the cycles of the whole-video count whose midpoint lies in the range; tempo reads the same
cycles). So `VideoTools` holds the inputs and a memo of every result; a follow-up question
costs a dictionary lookup, not a second pose estimation. Each method returns a JSON-able
dataclass and has a Google-style docstring, which `agents/ask/lc_tools.py` hands to langchain
(`parse_docstring=True`) so a chat model sees the same description a Python user reads.

Each call is appended to `trace` (name, args, a one-line result, seconds), which is how an
answer lists the evidence it rests on.

    tools = VideoTools.open("workout.mp4")
    tools.count(action="squat", start_s=60).count
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from countllm import labels
from countllm.counters.base import CountRequest
from countllm.counters.registry import method_names, run_counter
from countllm.errors import CountLLMError, ModelUnavailable, NoPersonError
from countllm.media import DecodeOptions, MediaInputs, crop_pose
from countllm.priors import ActionPrior, default_priors_path, load_priors, match_action
from countllm.types import CountResult, Pose, Segment

from .answer import ToolCall, spans_json

RECOGNIZER_MISSING = "exercise recognition unavailable ({why}); the exercise was not checked"
SET_CONFIDENT = 0.5  # recognizer probability a set needs before the video is counted set by set


# --------------------------------------------------------------------------- results
@dataclass
class CountReport:
    """Repetitions counted by one counter, optionally inside a time range of the video."""

    count: int
    confidence: float
    method: str  # the counter that answered (for auto: the one it chose)
    cycles: list[list[float]]
    rests: list[list[float]]
    duration_s: float
    period_s: float | None = None
    exercise: str | None = None  # the exercise whose semantic prior was used
    start_s: float | None = None
    end_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        span = "" if self.start_s is None and self.end_s is None else f" in {_span_text(self.start_s, self.end_s)}"
        return f"{self.count} reps{span} ({self.method}, confidence {self.confidence:.2f})"


@dataclass
class SpansReport:
    """Where the repetitions are and where the person rested."""

    repetitive: list[list[float]]
    rests: list[list[float]]
    duration_s: float

    def summary(self) -> str:
        return f"{len(self.repetitive)} repetitive span(s), {len(self.rests)} rest(s)"


@dataclass
class RecognitionReport:
    """The exercise the skeleton recognizer sees, with its probability and the runners-up."""

    available: bool
    exercise: str | None = None  # a label id, "unknown" below the recognizer's floor, None if unavailable
    confidence: float | None = None
    alternatives: list[list[Any]] = field(default_factory=list)  # [[id, p], ...]
    scores: dict[str, float] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)

    def probability(self, label_id: str) -> float:
        return float(self.scores.get(label_id, 0.0))

    def summary(self) -> str:
        if not self.available:
            return "recognizer unavailable"
        return f"{self.exercise} (p={self.confidence:.2f})"


@dataclass
class SetReport:
    exercise: str | None
    start_s: float
    end_s: float
    count: int
    confidence: float


@dataclass
class SetsReport:
    """The video split into sets of one exercise each, counted set by set."""

    available: bool
    sets: list[SetReport] = field(default_factory=list)
    rests: list[list[float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.available:
            return "set splitting unavailable"
        return "; ".join(f"{s.exercise}: {s.count} ({s.start_s:.0f}–{s.end_s:.0f} s)" for s in self.sets) or "no sets"


@dataclass
class TempoReport:
    """How long each repetition took and whether the pace changed."""

    durations_s: list[float]
    mean_s: float | None
    first_third_s: float | None
    last_third_s: float | None
    change: float | None  # last third's mean duration / first third's − 1 (0.2: 20 % slower)
    trend: str  # "slowing down" | "speeding up" | "steady" | "too few reps to tell"

    def summary(self) -> str:
        if self.mean_s is None:
            return self.trend
        return f"{len(self.durations_s)} reps, mean {self.mean_s:.2f} s, {self.trend}"


@dataclass
class PriorReport:
    """What mined LLM knowledge says about an exercise before looking at the video."""

    action: str
    found: bool
    phases: list[str] = field(default_factory=list)
    moving_joints: list[str] = field(default_factory=list)
    cycle_s: list[float] | None = None
    complete_when: str = ""
    source: str = ""

    def summary(self) -> str:
        return f"prior for {self.action}" if self.found else f"no prior for {self.action}"


@dataclass
class RelatedReport:
    """Actions that occur together with one action, from the mined co-occurrence matrix."""

    action: str
    matched: str | None
    related: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.matched}: {', '.join(self.related)}" if self.matched else f"{self.action}: not in the matrix"


@dataclass
class VideoLLMReport:
    """The CountLLM video-LLM's own answer to a question about the video."""

    answer: str
    count: int
    confidence: float
    cycles: list[list[float]]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.count} reps (video-LLM, confidence {self.confidence:.2f})"


# --------------------------------------------------------------------------- recognition
class Recognition(Protocol):
    """What the tools need of an exercise recognizer: one clip's exercise, and a video's sets.

    The seam exists so the planner's reasoning (is the asked exercise there? which set is the
    second?) can be tested with a recognizer whose answers are known, apart from how accurate
    the shipped one is (which `countllm eval --recognize` measures).
    """

    def recognize(self, pose: Pose) -> Any: ...  # countllm.recognize.Recognition

    def split_sets(self, inputs: MediaInputs) -> Any: ...  # countllm.recognize.SetsResult


@dataclass(frozen=True)
class ShippedRecognition:
    """The LiFT-style recognizer of `countllm.recognize` (checkpoint `model`; None: the shipped default)."""

    model: str | None = None

    def recognize(self, pose: Pose) -> Any:
        from countllm.recognize import load_recognizer  # noqa: PLC0415 — torch on demand

        return load_recognizer(self.model).recognize(pose)

    def split_sets(self, inputs: MediaInputs) -> Any:
        from countllm.recognize import load_recognizer, split_sets  # noqa: PLC0415

        return split_sets(inputs, load_recognizer(self.model))


# --------------------------------------------------------------------------- the tools
@dataclass
class VideoTools:
    """Every tool over one video, with a memo of each result (see the module doc)."""

    inputs: MediaInputs
    priors_path: Path | None = None
    recognizer_model: str | None = None
    recognition: Recognition | None = None  # None: the shipped recognizer (`recognizer_model` names another)
    trace: list[ToolCall] = field(default_factory=list)
    last_call: ToolCall | None = field(default=None, repr=False)
    _memo: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: str | Path, options: DecodeOptions | None = None, **kwargs: Any) -> VideoTools:
        return cls(MediaInputs.open(path, options), **kwargs)

    # -- bookkeeping
    def _memoised(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()` once per key for the life of these tools (the session)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def _run(self, name: str, args: dict[str, Any], compute: Callable[[], Any]) -> Any:
        """Memoised call, recorded in `trace` (cached calls too: the evidence is the same)."""
        shown = {k: v for k, v in args.items() if v is not None}
        t0 = time.perf_counter()
        result = self._memoised(_call_key(name, shown), compute)
        same = next((c for c in self.trace if c.name == name and c.args == shown), None)
        if same is None:  # a call repeated within one question is the same evidence: listed once
            same = ToolCall(name=name, args=shown, result=result.summary(),
                            seconds=round(time.perf_counter() - t0, 3))
            self.trace.append(same)
        self.last_call = same
        return result

    def result_of(self, name: str) -> Any | None:
        """The result of the latest call of tool `name` in `trace` (None if it was not called)."""
        call = next((c for c in reversed(self.trace) if c.name == name), None)
        return None if call is None else self._memo.get(_call_key(name, call.args))

    def signal_result(self) -> CountResult | None:
        """The whole-video auto count already computed (its signal is what a plot draws), if any."""
        return next((v for k, v in self._memo.items() if k[:2] == ("_whole", "auto")), None)

    @property
    def duration_s(self) -> float:
        return self._whole_count("auto", None).duration_s

    # -- counting
    def count(self, method: str = "auto", action: str | None = None, start_s: float | None = None,
              end_s: float | None = None) -> CountReport:
        """Count the repetitions in the video, or in one time range of it.

        Args:
            method: the counter: "auto" (pose counter when a person is tracked, else frame
                self-similarity), "pose", "similarity" (frame embeddings), "similarity_pose"
                (self-similarity of the joints), "baseline" or "videollm".
            action: the exercise being counted (e.g. "squat"); its semantic prior guides the pose counter.
            start_s: count only repetitions whose midpoint is at or after this time, in seconds.
            end_s: count only repetitions whose midpoint is before this time, in seconds.
        """
        if method not in method_names():
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(method_names())}")
        exercise = labels.normalize(action) if action else None
        args = {"method": method, "action": exercise or action, "start_s": start_s, "end_s": end_s}
        return self._run("count", args, lambda: self._count(method, exercise, start_s, end_s))

    def _count(self, method: str, exercise: str | None, start_s: float | None, end_s: float | None) -> CountReport:
        result = self._whole_count(method, exercise)
        cycles = within(result.cycles, start_s, end_s)
        rests = [r for r in result.rests if _overlaps(r, start_s, end_s)]
        notes = list(result.notes)
        if start_s is not None or end_s is not None:
            notes.append(f"kept the {len(cycles)} of {result.count} cycles whose midpoint lies in "
                         f"{_span_text(start_s, end_s)}")
        return CountReport(count=len(cycles), confidence=float(result.confidence), method=result.method,
                           cycles=spans_json(cycles), rests=spans_json(rests), duration_s=result.duration_s,
                           period_s=result.period_s, exercise=exercise, start_s=start_s, end_s=end_s, notes=notes)

    def _whole_count(self, method: str, exercise: str | None) -> CountResult:
        """The counter's result over the whole video, or over each set where the video holds sets
        of different exercises (memoised; time ranges filter its cycles by midpoint).

        Why per set: a pose counter reads the one signal that repeats best over the span it is
        given, so over squats-then-push-ups it counts one exercise and misses the other. Given
        the recognizer's sets it counts each set on its own span (only the sets of `exercise`
        when one is asked) and joins the cycles.
        """
        def compute() -> CountResult:
            spans = self._set_spans(exercise)
            prior = self._prior(exercise) if exercise else None
            if spans is None:
                return run_counter(method, CountRequest(inputs=self.inputs, prior=prior))
            parts = [run_counter(method, CountRequest(inputs=self.inputs, prior=prior, start_s=a, end_s=b))
                     for a, b in spans]
            return join_results(parts, spans, self._duration_s())

        return self._memoised(("_whole", method, exercise), compute)

    def _set_spans(self, exercise: str | None) -> list[tuple[float, float]] | None:
        """The spans to count separately, or None for the whole video (one exercise, or no sets known)."""
        sets = self._split_sets_memo()
        real = [s for s in sets.sets if s.count > 0]  # a "set" with no counted rep is a misread stretch
        if not sets.available or len({s.exercise for s in real}) < 2:
            return None
        chosen = [s for s in real if exercise is None or s.exercise == exercise]
        return [(s.start_s, s.end_s) for s in chosen] or None

    def _duration_s(self) -> float:
        pose = self.inputs.pose()
        return (len(pose) - 1) / pose.fps if len(pose) else 0.0

    def _split_sets_memo(self) -> SetsReport:
        return self._memoised(_call_key("split_sets", {}), self._split_sets)  # the tool's own memo entry

    # -- localizing
    def localize(self, start_s: float | None = None, end_s: float | None = None) -> SpansReport:
        """Find the stretches of repetitive motion and the rests between them.

        Args:
            start_s: look only from this time, in seconds.
            end_s: look only up to this time, in seconds.
        """
        args = {"start_s": start_s, "end_s": end_s}
        return self._run("localize", args, lambda: self._localize(start_s, end_s))

    def _localize(self, start_s: float | None, end_s: float | None) -> SpansReport:
        result = self._whole_count("auto", None)
        spans = repetitive_spans(result.cycles, result.period_s)
        rests = rest_spans(spans, result.rests, result.duration_s)
        return SpansReport(repetitive=spans_json(s for s in spans if _overlaps(s, start_s, end_s)),
                           rests=spans_json(r for r in rests if _overlaps(r, start_s, end_s)),
                           duration_s=result.duration_s)

    # -- recognizing
    def recognize(self, start_s: float | None = None, end_s: float | None = None) -> RecognitionReport:
        """Name the exercise being performed (from the skeleton alone).

        Args:
            start_s: look only from this time, in seconds.
            end_s: look only up to this time, in seconds.
        """
        args = {"start_s": start_s, "end_s": end_s}
        return self._run("recognize", args, lambda: self._recognize(start_s, end_s))

    def _recognize(self, start_s: float | None, end_s: float | None) -> RecognitionReport:
        return self._memoised(("_recognize", start_s, end_s), lambda: self._recognize_uncached(start_s, end_s))

    def _recognize_uncached(self, start_s: float | None, end_s: float | None) -> RecognitionReport:
        pose = self.inputs.pose()  # an unreadable input, or nobody in it, is the user's error: it raises
        if start_s is not None or end_s is not None:
            pose = crop_pose(pose, start_s or 0.0, end_s)
        try:
            found = self._recognition().recognize(pose)
        except ImportError as exc:
            return RecognitionReport(available=False, notes=[RECOGNIZER_MISSING.format(why=exc)])
        except ModelUnavailable as exc:
            return RecognitionReport(available=False, notes=[RECOGNIZER_MISSING.format(why=exc.one_line())])
        return RecognitionReport(available=True, exercise=found.exercise, confidence=float(found.confidence),
                                 alternatives=[[n, round(float(p), 3)] for n, p in found.alternatives],
                                 scores={k: float(v) for k, v in found.scores.items()}, notes=list(found.notes))

    def _recognition(self) -> Recognition:
        return self.recognition or ShippedRecognition(self.recognizer_model)

    def split_sets(self) -> SetsReport:
        """Split the workout into sets: which exercise, when, and how many repetitions in each."""
        return self._run("split_sets", {}, self._split_sets_memo)

    def _split_sets(self) -> SetsReport:
        try:
            self.inputs.pose()
        except NoPersonError as exc:  # nobody to recognise: counting may still go on (self-similarity)
            return SetsReport(available=False, notes=[f"no sets: {exc.one_line()}"])
        try:
            found = self._recognition().split_sets(self.inputs)
        except (ImportError, ModelUnavailable) as exc:
            why = exc.one_line() if isinstance(exc, CountLLMError) else str(exc)
            return SetsReport(available=False, notes=[RECOGNIZER_MISSING.format(why=why)])
        sets = [SetReport(exercise=s.exercise, start_s=round(float(s.start_s), 3), end_s=round(float(s.end_s), 3),
                          count=int(s.count), confidence=round(float(s.confidence), 3)) for s in found.sets]
        report = SetsReport(available=True, sets=sets, rests=spans_json(found.rests), notes=list(found.notes))
        return self._trust_sets(report)

    def _trust_sets(self, report: SetsReport) -> SetsReport:
        """The sets as found where the recognizer is sure of two different exercises in them; else one set.

        Why: counting set by set is right for squats-then-push-ups, but a recognizer unsure of
        what it sees splits one long set into pieces it names differently, and each piece then
        loses the repetitions cut at its edges (a 30-pull-up video came out as 12). So a split is
        kept only when at least two exercises each have a set recognised with p >= SET_CONFIDENT.
        """
        sure = {}
        for s in report.sets:
            if s.count > 0:
                rec = self._recognize(s.start_s, s.end_s)
                if rec.available and rec.exercise == s.exercise and (rec.confidence or 0.0) >= SET_CONFIDENT:
                    sure[s.exercise] = max(sure.get(s.exercise, 0.0), float(rec.confidence))
        if len(sure) >= 2 or len({s.exercise for s in report.sets if s.count > 0}) <= 1:
            return report
        whole = self._whole_count_unsplit("auto")
        rec = self._recognize(None, None)
        sure_of_it = rec.available and rec.exercise != "unknown" and (rec.confidence or 0.0) >= SET_CONFIDENT
        exercise = rec.exercise if sure_of_it else None
        one = [SetReport(exercise=exercise, start_s=round(whole.cycles[0].start, 3),
                         end_s=round(whole.cycles[-1].end, 3), count=whole.count,
                         confidence=round(float(whole.confidence), 3))] if whole.cycles else []
        named = ", ".join(f"{s.exercise} {s.start_s:.0f}–{s.end_s:.0f} s" for s in report.sets)
        note = (f"the recognizer split the video into {named}, but is not sure (p >= {SET_CONFIDENT:g}) of two "
                "different exercises; treated as one set")
        return SetsReport(available=True, sets=one, rests=spans_json(rest_spans(
            repetitive_spans(whole.cycles, whole.period_s), whole.rests, whole.duration_s)),
            notes=report.notes + [note])

    def _whole_count_unsplit(self, method: str) -> CountResult:
        return self._memoised(("_unsplit", method), lambda: run_counter(method, CountRequest(inputs=self.inputs)))

    # -- tempo
    def tempo(self, start_s: float | None = None, end_s: float | None = None) -> TempoReport:
        """How long each repetition took, and whether the person slowed down or sped up.

        Args:
            start_s: only repetitions whose midpoint is at or after this time, in seconds.
            end_s: only repetitions whose midpoint is before this time, in seconds.
        """
        args = {"start_s": start_s, "end_s": end_s}
        return self._run("tempo", args, lambda: tempo_of(within(self._whole_count("auto", None).cycles,
                                                                    start_s, end_s)))

    # -- knowledge
    def semantic_priors(self, action: str) -> PriorReport:
        """What mined LLM knowledge says about an exercise: its phases, moving joints, cycle length.

        Args:
            action: the exercise, e.g. "push-up".
        """
        return self._run("semantic_priors", {"action": action}, lambda: self._prior_report(action))

    def _prior_report(self, action: str) -> PriorReport:
        prior = self._prior(action)
        if prior is None:
            return PriorReport(action=action, found=False)
        return PriorReport(action=prior.action, found=True, phases=list(prior.phases),
                           moving_joints=list(prior.moving_joints),
                           cycle_s=None if prior.cycle_s is None else list(prior.cycle_s),
                           complete_when=prior.complete_when, source=str(prior.source.get("model", "")))

    def _prior(self, action: str) -> ActionPrior | None:
        priors = _priors(str(self.priors_path or default_priors_path()))
        return match_action(labels.display_name(action) if action in labels.known_ids() else action, priors)

    def related_actions(self, action: str, top_k: int = 5) -> RelatedReport:
        """Actions that tend to happen together with an action, from the mined co-occurrence matrix.

        Args:
            action: an everyday action, e.g. "jump" or "bend".
            top_k: at most this many related actions.
        """
        return self._run("related_actions", {"action": action, "top_k": top_k},
                         lambda: related_from_matrix(action, top_k))

    # -- the video-LLM
    def ask_videollm(self, question: str) -> VideoLLMReport:
        """Ask the CountLLM video-LLM a counting question about the video; it answers with a count.

        Args:
            question: the question, e.g. "How many push-ups are done?".
        """
        return self._run("ask_videollm", {"question": question}, lambda: self._videollm(question))

    def _videollm(self, question: str) -> VideoLLMReport:
        result = run_counter("videollm", CountRequest(inputs=self.inputs, question=question))
        answer = next((n.split(": ", 1)[1] for n in result.notes if n.startswith("video-LLM answer: ")),
                      str(result.count))
        return VideoLLMReport(answer=answer, count=result.count, confidence=float(result.confidence),
                              cycles=spans_json(result.cycles), notes=list(result.notes))

    def public_tools(self) -> list[Callable[..., Any]]:
        """The methods a planner may call, in the order a model should consider them."""
        return [self.count, self.localize, self.recognize, self.split_sets, self.tempo, self.semantic_priors,
                self.related_actions, self.ask_videollm]


# --------------------------------------------------------------------------- pure helpers
def join_results(parts: list[CountResult], spans: list[tuple[float, float]], duration_s: float) -> CountResult:
    """Results counted set by set, joined into one on the video's clock.

    The joined confidence is the lowest of the parts: every set's count must be right (±1) for
    the total to be, and the weakest set bounds that.
    """
    cycles = [c for p in parts for c in p.cycles]
    covered = [Segment(a, b) for a, b in spans]
    gaps = rest_spans(covered, [], duration_s)
    rests = sorted([r for p in parts for r in p.rests] + gaps, key=lambda r: r.start)
    notes = [f"counted {len(parts)} set(s) separately: " + ", ".join(f"{a:.1f}–{b:.1f} s" for a, b in spans)]
    for p in parts:
        notes += [n for n in p.notes if n not in notes and not n.startswith("counted only from")]
    periods = [p.period_s for p in parts if p.period_s]
    return CountResult(count=len(cycles), cycles=cycles, confidence=min(p.confidence for p in parts),
                       method="+".join(sorted({p.method for p in parts})), rests=rests, notes=notes,
                       period_s=float(np.median(periods)) if periods else None, fps=parts[0].fps,
                       duration_s=duration_s)


def within(cycles: list[Segment], start_s: float | None, end_s: float | None) -> list[Segment]:
    """The cycles whose midpoint lies in [start_s, end_s) (a cycle belongs where most of it is)."""
    lo = -np.inf if start_s is None else start_s
    hi = np.inf if end_s is None else end_s
    return [c for c in cycles if lo <= 0.5 * (c.start + c.end) < hi]


def repetitive_spans(cycles: list[Segment], period_s: float | None) -> list[Segment]:
    """Consecutive cycles merged into spans; a gap longer than 1.5 periods (at least 1.5 s) splits them."""
    if not cycles:
        return []
    gap = max(1.5, 1.5 * (period_s or float(np.median([c.duration for c in cycles]))))
    spans = [Segment(cycles[0].start, cycles[0].end)]
    for c in cycles[1:]:
        if c.start - spans[-1].end > gap:
            spans.append(Segment(c.start, c.end))
        else:
            spans[-1] = Segment(spans[-1].start, c.end)
    return spans


MIN_REST_S = 1.5


def rest_spans(spans: list[Segment], counter_rests: list[Segment], duration_s: float) -> list[Segment]:
    """Rests: the time outside the repetitive spans, kept where it lasts at least MIN_REST_S.

    With no repetitive span at all, the counter's own rests (its foreground localizer) are used.
    """
    if not spans:
        return [r for r in counter_rests if r.duration >= MIN_REST_S]
    edges = [0.0] + [t for s in spans for t in (s.start, s.end)] + [duration_s]
    gaps = [Segment(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    return [g for g in gaps if g.duration >= MIN_REST_S]


def tempo_of(cycles: list[Segment]) -> TempoReport:
    """Per-rep durations and the pace trend (last third against first third; ±10 % counts)."""
    durations = [round(c.duration, 3) for c in cycles]
    if len(durations) < 3:
        mean = round(float(np.mean(durations)), 3) if durations else None
        return TempoReport(durations, mean, None, None, None, "too few reps to tell")
    third = max(1, len(durations) // 3)
    first, last = float(np.mean(durations[:third])), float(np.mean(durations[-third:]))
    change = last / first - 1.0
    trend = "slowing down" if change > 0.10 else "speeding up" if change < -0.10 else "steady"
    return TempoReport(durations, round(float(np.mean(durations)), 3), round(first, 3), round(last, 3),
                       round(change, 3), trend)


@lru_cache(maxsize=4)
def _priors(path: str) -> dict[str, ActionPrior]:
    return load_priors(path)


@lru_cache(maxsize=1)
def _cooccurrence() -> tuple[list[str], np.ndarray]:
    from importlib import resources  # noqa: PLC0415

    root = resources.files("countllm.knowledge") / "ava_cooccurrence" / "cooccurrence.npz"
    with resources.as_file(root) as path, np.load(path, allow_pickle=False) as data:
        return [str(a) for a in data["actions"]], np.asarray(data["matrix"])


def related_from_matrix(action: str, top_k: int = 5) -> RelatedReport:
    """Row of the co-occurrence matrix for the AVA action whose name best contains `action`'s words."""
    names, matrix = _cooccurrence()
    words = set(labels.fold(action))
    best, best_overlap = None, 0
    for i, name in enumerate(names):
        overlap = len(words & set(labels.fold(name.replace("/", " "))))
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    if best is None:
        return RelatedReport(action=action, matched=None)
    related = [names[j] for j in np.flatnonzero(matrix[best]) if j != best][:top_k]
    return RelatedReport(action=action, matched=names[best], related=related)


def _overlaps(seg: Segment, start_s: float | None, end_s: float | None) -> bool:
    return (end_s is None or seg.start < end_s) and (start_s is None or seg.end > start_s)


def _span_text(start_s: float | None, end_s: float | None) -> str:
    a = "the start" if start_s is None else f"{start_s:g} s"
    b = "the end" if end_s is None else f"{end_s:g} s"
    return f"{a} to {b}"


def _call_key(name: str, args: dict[str, Any]) -> tuple:
    """The memo key of a tool call: its name and its given (non-None) arguments."""
    return (name, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in args.items())))


def report_json(report: Any) -> dict[str, Any]:
    """A tool result as plain JSON (what langchain hands back to a chat model)."""
    return asdict(report)
