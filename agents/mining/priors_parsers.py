"""The strict parsers of `mine priors`: one exact format per question, nothing repaired or guessed.

Each raises `ValueError` saying what is wrong; the caller records that as a failed try (with the
raw answer) and asks again with a new seed. Only the form of an answer can be checked — a fluent
sentence about something else passes `parse_sentence`, which is why the counter never reads it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from countllm.agents.llm.structured import extract_json
from countllm.priors import MAX_CYCLE_S, MIN_CYCLE_S


def _adapter(type_: Any) -> Any:
    from pydantic import TypeAdapter  # noqa: PLC0415 — the llm extra

    return TypeAdapter(type_)


def _validate(type_: Any, value: Any, what: str) -> Any:
    """Validate `value` against a pydantic type (strict, JSON's own types); ValueError says why."""
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return _adapter(type_).validate_python(value, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{what}: {'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}") from None


def parse_choice(text: str, options: tuple[str, ...], fewest: int, most: int) -> list[str]:
    """A JSON array of `fewest`–`most` distinct entries of `options` (case aside), in option spelling."""
    from pydantic import Field, StringConstraints  # noqa: PLC0415

    item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    names = _validate(Annotated[list[item], Field(min_length=fewest, max_length=most)], extract_json(text), "choice")
    by_lower = {o.lower(): o for o in options}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise ValueError(f"not among the options: {unknown}")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("an option is named twice")
    return [by_lower[n.lower()] for n in names]


_CYCLE = re.compile(r'"?\s*(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\s*\.?\s*"?',
                    re.IGNORECASE)


def parse_cycle(text: str) -> list[float]:
    """Exactly "MIN-MAX seconds" (nothing else), with 0.2 ≤ MIN ≤ MAX ≤ 30."""
    match = _CYCLE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not 'MIN-MAX seconds': {text.strip()[:60]!r}")
    lo, hi = float(match.group(1)), float(match.group(2))
    if not MIN_CYCLE_S <= lo <= hi <= MAX_CYCLE_S:
        raise ValueError(f"{lo:g}-{hi:g} s is outside {MIN_CYCLE_S} ≤ min ≤ max ≤ {MAX_CYCLE_S}")
    return [lo, hi]


def parse_phases(text: str) -> list[str]:
    """A JSON array of 2–5 distinct short phrases (1–8 words each), none a format placeholder."""
    from pydantic import Field, StringConstraints  # noqa: PLC0415

    phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
    phases = _validate(Annotated[list[phrase], Field(min_length=2, max_length=5)], extract_json(text), "phases")
    if any(not 1 <= len(p.split()) <= 8 for p in phases):
        raise ValueError("a phase is not a short phrase (1-8 words)")
    if len({p.lower() for p in phases}) != len(phases):
        raise ValueError("a phase is repeated")
    return phases


# Answers that are not about the action at all: hedges, refusals, the instruction echoed back.
_NON_ANSWER = re.compile(r"\b(not sure|don't know|do not know|cannot (answer|say|tell)|as an ai|reply with|"
                         r"short sentence|json array)\b", re.IGNORECASE)


def parse_sentence(text: str) -> str:
    """One statement of 3–30 words on one line (a trailing full stop allowed, no second sentence),
    not a hedge, a question or the instruction echoed back. Only the form can be checked: a
    fluent sentence about something else passes, which is why the counter never reads it."""
    sentence = text.strip().strip('"')
    if "\n" in sentence or not 3 <= len(sentence.split()) <= 30:
        raise ValueError("not one short sentence (one line, 3-30 words)")
    if _NON_ANSWER.search(sentence):
        raise ValueError(f"not an answer: {sentence[:60]!r}")
    if re.search(r"[.!?]\s+\S", sentence):
        raise ValueError("more than one sentence")
    if sentence.endswith("?"):
        raise ValueError("a question, not an answer")
    return sentence
