"""A second table of phrasings, written after the rules were frozen and never used to tune them.

Real users word things their own way; this table measures how well the rules generalise
rather than asserting they are perfect. The test fails only below a floor (a regression), and
prints the pass rate with every miss so the number reported for the rules is honest.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_agent_questions import check, open_sessions

HELD_OUT: list[tuple[str, str, dict[str, Any]]] = [
    ("squat_rest", "squats - how many?", {"intent": "count", "count": 8}),
    ("squat_rest", "what's my squat count", {"intent": "count", "count": 8}),
    ("squat_rest", "give me the number of reps past the 10 second mark", {"intent": "count", "range": (10, None)}),
    ("squat_rest", "reps done before the 0:10 mark?", {"intent": "count", "range": (None, 10)}),
    ("squat_rest", "at which points in the clip was I resting", {"intent": "locate", "rest": True}),
    ("squat_rest", "did I stop anywhere in the middle?", {"intent": "locate", "rest": True}),
    ("squat_rest", "can you tell what workout this is", {"intent": "recognize", "exercise": "squat"}),
    ("squat_rest", "any lunges in this video?", {"intent": "count", "count": 0}),
    ("squat_rest", "who is the president of France?", {"intent": "unsupported", "count": None}),
    ("pushup_slowing", "did my reps get slower over time", {"intent": "tempo", "says": ["slowing down"]}),
    ("pushup_slowing", "average time per push-up?", {"intent": "tempo", "says": ["on average"]}),
    ("pushup_slowing", "number of pushups", {"intent": "count", "count": 9}),
    ("jacks_faster", "was I getting quicker?", {"intent": "tempo", "says": ["speeding up"]}),
    ("curls", "how many times did I curl the weight", {"intent": "count", "count": 10}),
    ("squat_then_pushup", "break down my workout for me", {"intent": "summary", "counts": {"squat": 6, "push_up": 5}}),
    ("squat_then_pushup", "push ups in the 2nd set?", {"intent": "count", "count": 5}),
]
FLOOR = 0.5  # below this share the rules have regressed, not merely met a new wording


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return open_sessions(tmp_path_factory.mktemp("heldout"))


def test_held_out_phrasings(sessions, capsys):
    misses = []
    for workout, question, expected in HELD_OUT:
        session, truth = sessions[workout]
        wrong = check(session.ask(question), truth, expected)
        if wrong:
            misses.append(f"{workout}: {question!r}: {'; '.join(wrong)}")
    rate = 1 - len(misses) / len(HELD_OUT)
    with capsys.disabled():
        print(f"\nheld-out phrasings: {len(HELD_OUT) - len(misses)}/{len(HELD_OUT)} = {rate:.0%}")
        for miss in misses:
            print("  miss:", miss)
    assert len(HELD_OUT) >= 15
    assert rate >= FLOOR, misses
