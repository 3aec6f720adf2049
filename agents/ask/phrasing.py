"""The one-sentence answers, in plain English: names, plurals, clock times, uncertainty.

Kept apart from the planners so both (rules and the langchain agent) say things the same way,
and a wording change is one edit.
"""

from __future__ import annotations

from countllm import labels
from countllm.answer import LOW_CONFIDENCE

UNCERTAIN_BELOW = LOW_CONFIDENCE  # one line for "uncertain", shared with `countllm count`


def clock(seconds: float) -> str:
    """0:07, 1:15 — how people read times in a video."""
    total = int(round(max(0.0, float(seconds))))
    return f"{total // 60}:{total % 60:02d}"


def span(a: float, b: float) -> str:
    return f"{clock(a)}–{clock(b)}"


def exercise_name(label_id: str | None, n: int = 2) -> str:
    """ "squat" / "squats", "push-up" / "push-ups"; "repetition(s)" when the exercise is unknown."""
    if not label_id or label_id == "unknown":
        return "repetition" if n == 1 else "repetitions"
    try:
        name = labels.display_name(label_id)
    except KeyError:
        name = label_id.replace("_", " ")
    if n == 1:
        return name
    if name.endswith(("s", "sh", "ch", "x")):
        return name + "es"
    return name + "s"


def counted(n: int, label_id: str | None) -> str:
    """ "12 squats", "1 push-up", "0 burpees"."""
    return f"{n} {exercise_name(label_id, n)}"


def range_phrase(start_s: float | None, end_s: float | None) -> str:
    if start_s is None and end_s is None:
        return ""
    if end_s is None:
        return f" after {clock(start_s or 0)}"
    if start_s is None or start_s <= 0:
        return f" before {clock(end_s)}"
    return f" between {clock(start_s)} and {clock(end_s)}"


def listing(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def uncertainty(confidence: float | None) -> str:
    """A clause for a low-confidence count, else ""."""
    if confidence is None or confidence >= UNCERTAIN_BELOW:
        return ""
    return f" I am not sure of this count (confidence {confidence:.2f})."


UNSUPPORTED = ("I can only answer questions about the repetitions in this video: how many, which exercise, "
               "when you rested, your tempo, or your sets.")
