"""The standardized answer: round trips, and a table of good and malformed answers."""

from __future__ import annotations

import pytest

from countllm.types import Segment
from countllm.videollm.answer_format import (
    UnparseableAnswer,
    format_answer,
    parse_answer,
    to_count_result,
)

GOOD = [
    ("Count: 3. Cycles: 0.8-3.4, 3.4-5.9, 5.9-8.7 s.", 3, 3),
    ("Count: 0. Cycles: none.", 0, 0),
    ("Count: 12.", 12, None),
    ("  Count:5 .  Cycles: 1-2,2-3,3-4,4-5,5-6 s. ", 5, 5),
    ("Count: 1. Cycles: 0.5-1.5.", 1, 1),
]

BAD = [
    ("There are 7 squats.", "does not start"),
    ("count: 7.", "does not start"),
    ("Count: seven.", "does not start"),
    ("Count: -2.", "does not start"),
    ("Count: 7 squats", "does not start"),
    ("Count: 2. Cycles: 0-1 s.", "2 but 1 cycles"),
    ("Count: 2. Cycles: 1-2, 0.5-3 s.", "increasing"),
    ("Count: 1. Cycles: 3-2 s.", "increasing"),
    ("Count: 2. I think there were two.", "not 'Cycles"),
    ("Count: 1. Cycles: 0-1 s. Count: 2.", "not 'Cycles"),
    ("", "does not start"),
]


@pytest.mark.parametrize("text,count,n_cycles", GOOD)
def test_good_answers_parse(text: str, count: int, n_cycles: int | None) -> None:
    parsed = parse_answer(text)
    assert parsed.count == count
    assert (None if parsed.cycles is None else len(parsed.cycles)) == n_cycles


@pytest.mark.parametrize("text,reason", BAD)
def test_malformed_answers_are_reported_not_guessed(text: str, reason: str) -> None:
    with pytest.raises(UnparseableAnswer) as info:
        parse_answer(text)
    assert reason in info.value.reason


def test_format_then_parse_round_trips() -> None:
    cycles = [Segment(0.84, 3.41), Segment(3.41, 5.9)]
    text = format_answer(2, cycles)
    assert text == "Count: 2. Cycles: 0.8-3.4, 3.4-5.9 s."
    parsed = parse_answer(text)
    assert parsed.count == 2 and [round(c.start, 1) for c in parsed.cycles] == [0.8, 3.4]
    assert parse_answer(format_answer(0, [])).count == 0
    assert parse_answer(format_answer(4)).cycles is None


def test_format_rejects_inconsistent_targets() -> None:
    with pytest.raises(ValueError):
        format_answer(3, [Segment(0, 1)])
    with pytest.raises(ValueError):
        format_answer(-1)


def test_count_result_says_when_cycles_are_missing() -> None:
    result = to_count_result(parse_answer("Count: 4."), "videollm")
    assert result.count == 4 and result.cycles == [] and result.notes
