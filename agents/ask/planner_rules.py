"""The offline planner: read the question by rules, call the tools it needs, answer with evidence.

No network and no free generation. The intent and slots come from `intents.read_question`;
where no rule fires but the question is about the workout, the local SmolLM2 *chooses* the
intent by likelihood scoring (`IntentChooser`), and the planner is then reported as
"local-llm". Every number in the answer is a tool result; the sentence is built from them by
`phrasing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from countllm.errors import CountLLMError

from . import phrasing as say
from .answer import INTENTS, AgentAnswer, SetCount
from .intents import Reading, read_question
from .reconcile import reconcile_count
from .tools import SetReport, VideoTools

PRESENT_P = 0.15  # recognizer probability above which an asked exercise counts as present
ABSENT_P = 0.05  # ... and below which (while it is sure of another) as absent
NAME_CONFIDENT = 0.5  # below this the recognizer's guess is not put in a count's sentence, and is said unsure
ABSENT_CONFIDENT = 0.5  # the recognizer must be at least this sure of another exercise to say "I see no X"
ABSENT_CONFIDENT_UNKNOWN = 0.9  # ... and this sure when X is not one of the exercises it knows

INTENT_HELP = {
    "count": "how many repetitions were done",
    "recognize": "which exercise is being done",
    "locate": "when something happened, where the rests were",
    "tempo": "how long each repetition took, speeding up or slowing down",
    "sets": "the sets of the workout",
    "summary": "an overview of the whole workout",
    "unsupported": "anything not about the repetitions in this video",
}


class IntentChooser:
    """Picks one intent for a question no rule could read, with a local model; never generates text.

    Default: the shipped sentence encoder (all-MiniLM-L6-v2) and the example questions in
    `agents/ask/intent_examples.yaml` — the question takes the intent of its nearest example, or
    "unsupported" below the file's `min_cosine`. With `backend` (a local causal LM that can
    score choices, e.g. `countllm ask --model DIR`), that LM scores the seven intents instead.
    Why the encoder by default: on ten development phrasings no rule reads, SmolLM2-135M's
    choice scoring picked the right intent 3 times (it prefers one label whatever the question),
    the encoder 8 times.
    """

    def __init__(self, backend: Any = None) -> None:
        self._backend = backend
        self.last_reason = ""

    def choose(self, question: str) -> str:
        return self._by_lm(question) if self._backend is not None else self._by_examples(question)

    def _by_examples(self, question: str) -> str:
        encode, intents, texts, matrix, floor = _intent_examples()
        scores = matrix @ encode([question])[0]
        best = int(scores.argmax())
        if float(scores[best]) < floor:
            self.last_reason = f"all-MiniLM-L6-v2: no example within cosine {floor:g}"
            return "unsupported"
        self.last_reason = f"all-MiniLM-L6-v2, nearest example {texts[best]!r} (cosine {float(scores[best]):.2f})"
        return intents[best]

    def _by_lm(self, question: str) -> str:
        from countllm.agents.llm.base import ChatMessage, Choices  # noqa: PLC0415

        options = "\n".join(f"- {name}: {text}" for name, text in INTENT_HELP.items())
        messages = [ChatMessage("system", "You sort questions about a workout video into categories."),
                    ChatMessage("user", f"Categories:\n{options}\n\nQuestion: {question}\n"
                                        "Answer with the category name only.")]
        scores = self._backend.score_choices(messages, Choices(options=INTENTS))
        self.last_reason = f"{self._backend.model_id}, choice scoring"
        return INTENTS[max(range(len(INTENTS)), key=scores.__getitem__)]


@lru_cache(maxsize=1)
def _intent_examples():  # noqa: ANN202 — (encode, intents, texts, matrix, floor)
    from importlib import resources  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    from countllm.agents.mining.cooc_matching import load_sentence_encoder  # noqa: PLC0415 — seconds

    data = yaml.safe_load((resources.files("countllm.agents.ask") / "intent_examples.yaml").read_text())
    intents = [i for i, examples in data["examples"].items() for _ in examples]
    texts = [t for examples in data["examples"].values() for t in examples]
    encode = load_sentence_encoder(None)
    return encode, intents, texts, encode(texts), float(data["min_cosine"])


@dataclass
class Draft:
    """An answer being built: the planner's handlers fill it, `finish` turns it into AgentAnswer."""

    intent: str
    answer: str = ""
    exercise: str | None = None
    count: int | None = None
    counts: list[SetCount] = field(default_factory=list)
    cycles: list[list[float]] = field(default_factory=list)
    rests: list[list[float]] = field(default_factory=list)
    confidence: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class RulesPlanner:
    """See the module doc. `chooser`: None for rules only (an unread question is unsupported)."""

    chooser: IntentChooser | None = field(default_factory=IntentChooser)
    name: str = "rules"

    def answer(self, tools: VideoTools, question: str) -> AgentAnswer:
        reading = read_question(question)
        planner, intent = self.name, reading.intent
        notes: list[str] = []
        if intent is None:
            if reading.about_workout and self.chooser is not None:
                intent, planner = self.chooser.choose(question), "local-llm"
                notes.append(f"no rule read the question; a local model chose the intent {intent!r} "
                             f"({self.chooser.last_reason})")
            elif reading.exercise is not None:
                intent = "count"
            else:
                intent = "unsupported"
        tools.trace = []
        draft = Draft(intent=intent)
        HANDLERS[intent](tools, reading, draft)  # an unusable input raises: one line, never a made-up answer
        return AgentAnswer(answer=draft.answer, intent=draft.intent, exercise=draft.exercise, count=draft.count,
                           counts=draft.counts, cycles=draft.cycles, rests=draft.rests,
                           confidence=draft.confidence, tools=list(tools.trace), planner=planner,
                           notes=notes + draft.notes, question=question, input=tools.inputs.source)


# --------------------------------------------------------------------------- resolving slots
def _time_range(tools: VideoTools, reading: Reading, draft: Draft) -> tuple[float | None, float | None, str | None]:
    """(start_s, end_s, exercise of the set asked about) of the question, on the video's clock."""
    slots = reading.time
    if slots.set_index is not None:
        sets = tools.split_sets()
        chosen = _nth_set(sets.sets, slots.set_index, reading.exercise) if sets.available else None
        if chosen is None:
            draft.notes += sets.notes
            raise _NoSuchSet(slots.set_index, len(sets.sets) if sets.available else None)
        return chosen.start_s, chosen.end_s, chosen.exercise
    if not slots.any:
        return None, None, None
    start, end = slots.resolve(tools.duration_s)
    return start, end, None


def _nth_set(sets: list[SetReport], index: int, exercise: str | None) -> SetReport | None:
    counted = [s for s in sets if s.count > 0]
    pool = [s for s in counted if exercise is None or s.exercise == exercise] or counted
    if not pool:
        return None
    if index == -1:
        return pool[-1]
    return pool[index - 1] if 1 <= index <= len(pool) else None


class _NoSuchSet(CountLLMError):
    def __init__(self, index: int, n_sets: int | None) -> None:
        which = "the last" if index == -1 else f"set {index}"
        have = "the sets could not be found" if n_sets is None else f"I found {n_sets} set(s)"
        super().__init__(f"you asked about {which}, but {have}")


def _present(tools: VideoTools, start_s: float | None, end_s: float | None) -> list[str]:
    """Exercises the recognizer sees in the range (from the sets where there are several)."""
    sets = tools.split_sets()
    if sets.available and sets.sets:
        inside = [s for s in sets.sets if _touches(s, start_s, end_s) and s.count > 0]
        return list(dict.fromkeys(s.exercise for s in inside if s.exercise)) or []
    return []


# --------------------------------------------------------------------------- handlers
def handle_count(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    try:
        start, end, set_exercise = _time_range(tools, reading, draft)
    except _NoSuchSet as exc:
        draft.answer = f"I cannot answer that: {exc.message}."
        return
    asked = reading.exercise or set_exercise
    if reading.exercise_phrase and asked is None:
        draft.notes.append(f"{reading.exercise_phrase!r} is not an exercise I know; I counted what the video shows")
    present = _present(tools, start, end)
    found = presence(tools, asked, start, end, present) if asked is not None else None
    if found is not None and found.state == "absent":
        _answer_absent(tools, asked, found, start, end, draft, present)
        return
    if asked is None and len(present) > 1:
        _several(tools, draft, start, end, present)
        return
    exercise = asked or (present[0] if len(present) == 1 else _recognized(tools, start, end))
    rec = reconcile_count(tools, exercise, start, end)
    confidence = rec.confidence
    if found is not None and found.state == "unsure":
        confidence = round(confidence * found.p_present, 3)
        draft.notes.append(f"the recognizer does not confirm {asked}: its best guess is {found.seen} "
                           f"(p={found.seen_p or 0:.2f}); the confidence is scaled by P({asked})="
                           f"{found.p_present:.2f}")
    elif found is not None and found.state == "unchecked":
        draft.notes.append(f"{found.note}: counted as {asked} without checking it is there")
    draft.exercise, draft.count, draft.confidence = exercise, rec.count, confidence
    draft.cycles, draft.rests = rec.primary.cycles, rec.primary.rests
    draft.counts = [SetCount(exercise=exercise, count=rec.count, start_s=c[0][0], end_s=c[-1][1])
                    for c in [rec.primary.cycles] if c]
    draft.notes += rec.notes + rec.primary.notes
    if not tools.inputs.is_pose_file and rec.primary.method == "pose":
        draft.notes.append("counted the one person the pose tracker follows (the most prominent in view); "
                           "anyone else in the video is not counted")
    agreement = ""
    if rec.witness is not None and not rec.agreed:
        agreement = f" (a second counter says {rec.witness.count})"
    if found is not None and found.state == "unsure":
        guess = f"; the recognizer's best guess is {say.exercise_name(found.seen)}" if found.seen else ""
        draft.answer = (f"I counted {say.counted(rec.count, None)}{say.range_phrase(start, end)}{agreement}, but I "
                        f"cannot confirm they are {say.exercise_name(asked)}{guess}." + say.uncertainty(confidence))
        return
    draft.answer = (f"I counted {say.counted(rec.count, exercise)}{say.range_phrase(start, end)}{agreement}."
                    + say.uncertainty(confidence))


def _recognized(tools: VideoTools, start: float | None, end: float | None) -> str | None:
    rec = tools.recognize(start, end)
    if rec.available and rec.exercise and rec.exercise != "unknown" and (rec.confidence or 0.0) >= NAME_CONFIDENT:
        return rec.exercise
    return None  # an unsure guess is not put in a count's sentence


@dataclass
class Presence:
    """Whether the exercise asked about is in the video, as far as the recognizer can tell."""

    state: str  # "confirmed" | "absent" | "unsure" | "unchecked"
    p_present: float = 1.0
    seen: str | None = None  # the exercise the recognizer sees instead (absent / unsure)
    seen_p: float | None = None
    note: str = ""


def presence(tools: VideoTools, asked: str, start: float | None, end: float | None,
             present: list[str]) -> Presence:
    """Confirmed (a set of it, or the recognizer gives it p ≥ PRESENT_P), absent (the recognizer is
    sure of another exercise and gives this one almost nothing), unsure, or unchecked."""
    if asked in present:
        return Presence("confirmed")
    rec = tools.recognize(start, end)
    if not rec.available:
        return Presence("unchecked", note=rec.notes[0] if rec.notes else "")
    known = asked in rec.scores
    p = rec.probability(asked) if known else None
    other = next((e for e in present if e != asked), None) or rec.exercise
    if rec.exercise == asked or (p is not None and p >= PRESENT_P):
        return Presence("confirmed", note=f"the recognizer gives {asked} p={rec.probability(asked):.2f}")
    # An exercise outside the recognizer's classes can only be ruled out by a recognizer very sure
    # of one of its own: its probabilities are shared among the classes it knows (a jump-rope video
    # came out "front raise, 0.72"), so below that it cannot tell a new exercise from a known one.
    needed = ABSENT_CONFIDENT if known else ABSENT_CONFIDENT_UNKNOWN
    sure = rec.exercise not in (None, "unknown") and (rec.confidence or 0.0) >= needed
    if sure and (p is None or p < ABSENT_P):
        p_present = p if known else 1.0 - float(rec.confidence)
        return Presence("absent", p_present=p_present or 0.0, seen=other, seen_p=rec.confidence)
    p_present = p if p is not None else 1.0 - float(rec.confidence or 0.0)
    return Presence("unsure", p_present=p_present, seen=other if other != "unknown" else None,
                    seen_p=rec.confidence)


def _answer_absent(tools: VideoTools, asked: str, found: Presence, start: float | None, end: float | None,
                   draft: Draft, present: list[str]) -> None:
    """ "I see no X; I see N Y": count 0 of the asked exercise, and what is there instead."""
    seen = []
    for exercise in present or [found.seen]:
        report = tools.count("auto", exercise, start, end)
        seen.append(say.counted(report.count, exercise))
        if report.cycles:
            draft.counts.append(SetCount(exercise=exercise, count=report.count, start_s=report.cycles[0][0],
                                         end_s=report.cycles[-1][1]))
    draft.exercise, draft.count = asked, 0
    draft.confidence = round(1.0 - found.p_present, 3)
    draft.answer = f"I see no {say.exercise_name(asked)}; I see {say.listing(seen)}{say.range_phrase(start, end)}."


def _several(tools: VideoTools, draft: Draft, start: float | None, end: float | None, present: list[str]) -> None:
    """A count over several exercises with none asked: one figure per exercise, no single count."""
    parts = []
    for exercise in present:
        report = tools.count("auto", exercise, start, end)
        parts.append(say.counted(report.count, exercise))
        draft.cycles += report.cycles
    _fill_sets(tools, draft, start, end)
    draft.answer = f"You did several exercises{say.range_phrase(start, end)}: {say.listing(parts)}."


def _touches(s: SetReport, start: float | None, end: float | None) -> bool:
    return (end is None or s.start_s < end) and (start is None or s.end_s > start)


def _fill_sets(tools: VideoTools, draft: Draft, start: float | None = None,
               end: float | None = None) -> list[SetReport]:
    sets = tools.split_sets()
    draft.notes += sets.notes
    chosen = [s for s in sets.sets if _touches(s, start, end) and s.count > 0]
    draft.counts = [SetCount(exercise=s.exercise, count=s.count, start_s=s.start_s, end_s=s.end_s) for s in chosen]
    draft.rests = sets.rests
    return chosen


def handle_recognize(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    start, end, _ = _safe_range(tools, reading, draft)
    present = _present(tools, start, end)
    if len(present) > 1:
        chosen = _fill_sets(tools, draft, start, end)
        draft.answer = "You did several exercises: " + say.listing(
            [f"{say.exercise_name(s.exercise)} ({say.span(s.start_s, s.end_s)})" for s in chosen]) + "."
        return
    rec = tools.recognize(start, end)
    draft.notes += rec.notes
    if not rec.available:
        draft.answer = "I cannot recognise the exercise here: " + (rec.notes[0] if rec.notes else "no recognizer") + "."
        return
    if rec.exercise in (None, "unknown"):
        guesses = say.listing([f"{say.exercise_name(n, 1)} ({p:.2f})" for n, p in rec.alternatives[:3]])
        draft.answer = f"I cannot tell which exercise this is; my best guesses are {guesses}."
        return
    draft.exercise = rec.exercise
    if (rec.confidence or 0.0) < NAME_CONFIDENT:
        others = say.listing([say.exercise_name(n) for n, _ in rec.alternatives[:2]])
        draft.answer = (f"This might be {say.exercise_name(rec.exercise)}, but I am not sure (confidence "
                        f"{rec.confidence:.2f}; next guesses {others}).")
        return
    draft.answer = f"This looks like {say.exercise_name(rec.exercise)} (confidence {rec.confidence:.2f})."


def handle_locate(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    start, end, _ = _safe_range(tools, reading, draft)
    spans = tools.localize(start, end)
    draft.rests, draft.cycles = spans.rests, tools.count("auto", None, start, end).cycles
    if spans.rests:
        said = say.listing([say.span(a, b) for a, b in spans.rests])
        draft.answer = f"You rested {len(spans.rests)} time(s): {said}."
    elif spans.repetitive:
        draft.answer = "I see no rest: the repetitions run " + say.listing(
            [say.span(a, b) for a, b in spans.repetitive]) + "."
    else:
        draft.answer = "I see no repetitions in this video, so there is nothing to locate."
    if spans.repetitive and spans.rests:
        draft.answer += " The repetitions run " + say.listing([say.span(a, b) for a, b in spans.repetitive]) + "."


def handle_tempo(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    start, end, _ = _safe_range(tools, reading, draft)
    tempo = tools.tempo(start, end)
    draft.cycles = tools.count("auto", reading.exercise, start, end).cycles
    if tempo.mean_s is None:
        draft.answer = "I see no complete repetitions to time."
        return
    lo, hi = min(tempo.durations_s), max(tempo.durations_s)
    text = f"Each rep took {tempo.mean_s:.1f} s on average ({lo:.1f}–{hi:.1f} s over {len(tempo.durations_s)} reps)"
    if tempo.change is not None and tempo.trend != "steady":
        text += f"; you were {tempo.trend}: the last reps took {abs(tempo.change):.0%} " + \
            ("longer" if tempo.change > 0 else "less") + " than the first"
    elif tempo.trend == "steady":
        text += "; your pace was steady"
    draft.answer = text + "."


def handle_sets(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    sets = tools.split_sets()
    if not sets.available:
        draft.notes += sets.notes
        draft.answer = "I cannot split this video into sets: " + (sets.notes[0] if sets.notes else "") + "."
        return
    chosen = _fill_sets(tools, draft)
    kinds = {s.exercise for s in chosen}
    if len(kinds) == 1:
        draft.exercise = chosen[0].exercise
        draft.count = sum(s.count for s in chosen)
        draft.confidence = min(s.confidence for s in chosen)
    listed = say.listing([f"{say.counted(s.count, s.exercise)} ({say.span(s.start_s, s.end_s)})" for s in chosen])
    draft.answer = f"You did {len(chosen)} set(s): {listed}." if chosen else "I found no sets of repetitions."


def handle_summary(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    sets = tools.split_sets()
    if not sets.available:
        handle_count(tools, reading, draft)
        draft.intent = "summary"
        draft.notes += sets.notes
        return
    chosen = _fill_sets(tools, draft)
    totals: dict[str | None, int] = {}
    for s in chosen:
        totals[s.exercise] = totals.get(s.exercise, 0) + s.count
    if len(totals) == 1:
        draft.exercise = next(iter(totals))
        draft.count = totals[draft.exercise]
        draft.confidence = min(s.confidence for s in chosen)
    parts = [say.counted(n, e) for e, n in totals.items()]
    draft.answer = (f"You did {say.listing(parts)} in {len(chosen)} set(s)." if chosen
                    else "I found no repetitions in this video.")


def handle_unsupported(tools: VideoTools, reading: Reading, draft: Draft) -> None:
    draft.answer = say.UNSUPPORTED


def _safe_range(tools: VideoTools, reading: Reading, draft: Draft) -> tuple[float | None, float | None, str | None]:
    try:
        return _time_range(tools, reading, draft)
    except _NoSuchSet as exc:
        draft.notes.append(exc.message)
        return None, None, None


HANDLERS: dict[str, Callable[[VideoTools, Reading, Draft], None]] = {
    "count": handle_count, "recognize": handle_recognize, "locate": handle_locate, "tempo": handle_tempo,
    "sets": handle_sets, "summary": handle_summary, "unsupported": handle_unsupported,
}
