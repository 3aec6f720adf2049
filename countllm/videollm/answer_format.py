"""The standardized answer of the video-LLM, and its strict parser.

Counting as generation only works if the answer can be scored: the model is trained to say
exactly one sentence shape,

    Count: 7. Cycles: 0.8-3.4, 3.4-5.9, 5.9-8.7 s.

(`Cycles: none.` when the count is 0). The parser accepts that shape and nothing else — no
number is ever fished out of free text. An answer that does not parse is reported as
unparseable with the reason, never guessed into a count. The cycle list is optional for the
parser (a model trained on counts only may stop after the count) but must agree with the
count when present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from countllm.errors import ModelOutputError
from countllm.types import CountResult, Segment

_COUNT = re.compile(r"^\s*Count:\s*(\d{1,4})\s*\.\s*(.*)$", re.DOTALL)
_SPAN_TEXT = r"\d+(?:\.\d+)?-\d+(?:\.\d+)?"  # "1.5-3.0"
_CYCLES = re.compile(rf"^Cycles:\s*(none|{_SPAN_TEXT}(?:,\s*{_SPAN_TEXT})*)\s*(?:s)?\s*\.\s*$")
_SPAN = re.compile(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)")


class UnparseableAnswer(ModelOutputError):
    """The model's text does not follow the standardized answer format."""

    def __init__(self, text: str, reason: str) -> None:
        self.text, self.reason = text, reason
        super().__init__(f"unparseable answer ({reason}): {text[:120]!r}")


@dataclass(frozen=True)
class ParsedAnswer:
    count: int
    cycles: list[Segment] | None  # None when the answer gave the count only


def format_answer(count: int, cycles: list[Segment] | None = None) -> str:
    """The training target for `count` (and its cycles, in seconds with one decimal)."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if cycles is None:
        return f"Count: {count}."
    if len(cycles) != count:
        raise ValueError(f"{len(cycles)} cycles given for count {count}")
    spans = ", ".join(f"{c.start:.1f}-{c.end:.1f}" for c in cycles) if cycles else "none"
    return f"Count: {count}. Cycles: {spans}{' s' if cycles else ''}."


def parse_answer(text: str) -> ParsedAnswer:
    """Parse a standardized answer; raises UnparseableAnswer with the reason otherwise."""
    match = _COUNT.match(text)
    if match is None:
        raise UnparseableAnswer(text, "does not start with 'Count: <number>.'")
    count, rest = int(match.group(1)), match.group(2).strip()
    if not rest:
        return ParsedAnswer(count, None)
    cycles_match = _CYCLES.match(rest)
    if cycles_match is None:
        raise UnparseableAnswer(text, "text after the count is not 'Cycles: a-b, c-d s.' or 'Cycles: none.'")
    spans = [Segment(float(a), float(b)) for a, b in _SPAN.findall(cycles_match.group(1))]
    if len(spans) != count:
        raise UnparseableAnswer(text, f"count {count} but {len(spans)} cycles listed")
    if any(s.end <= s.start for s in spans) or any(b.start < a.end - 1e-6 for a, b in zip(spans, spans[1:])):
        raise UnparseableAnswer(text, "cycles must be increasing, non-overlapping start-end pairs")
    return ParsedAnswer(count, spans)


_EXERCISE = re.compile(r"^\s*Exercise:\s*([a-z][a-z \-]{0,40}?)\s*\.\s*$")


def format_exercise_answer(action: str) -> str:
    """The target for "what exercise is this?": `Exercise: push-up.` (lower case)."""
    name = action.strip().lower()
    if not _EXERCISE.match(f"Exercise: {name}."):
        raise ValueError(f"exercise name {action!r} must be letters, spaces or hyphens (≤ 40)")
    return f"Exercise: {name}."


def parse_exercise_answer(text: str) -> str:
    """The exercise named by a standardized answer; UnparseableAnswer otherwise."""
    match = _EXERCISE.match(text)
    if match is None:
        raise UnparseableAnswer(text, "is not 'Exercise: <name>.'")
    return match.group(1)


def to_count_result(answer: ParsedAnswer, method: str, duration_s: float = 0.0) -> CountResult:
    """A parsed answer as the `CountResult` every counter returns (confidence left at 0:
    the text carries none; the model's token probabilities can fill it in)."""
    return CountResult(count=answer.count, cycles=list(answer.cycles or []), confidence=0.0,
                       method=method, duration_s=duration_s,
                       notes=[] if answer.cycles is not None else ["the answer gave no cycle boundaries"])
