"""The offline planner on a table of question phrasings × synthetic workouts with known answers.

The table runs with two recognizers: an oracle that knows each workout
(`agent_workouts.OracleRecognition`), which tests the planner's reading and reasoning alone, and
the shipped one, which tests the product end to end on these clean sequences (its accuracy on
real poses is measured on its own, `countllm eval --recognize`).

Rows cover one exercise, two exercises in one file, rests, time ranges, tempo, absent exercises
and unrelated questions. Every row checks the intent and what the answer must say; counts are
checked against the synthetic truth (exactly: these sequences are clean). One `AgentSession`
per workout serves all its rows, as a conversation would, so the rows also exercise follow-ups.
"""

from __future__ import annotations

from typing import Any

import pytest

from countllm.agents.ask import AgentAnswer, AgentSession, VideoTools
from countllm.agents.ask.planner_rules import RulesPlanner
from countllm.media import DecodeOptions, MediaInputs
from tests.agent_workouts import SPECS, OracleRecognition, build_workout

# (workout, question, expected). Expected keys: intent; count (int, None, or "between" → the
# truth inside the question's range given as "range"); exercise; says (substrings of the answer,
# case-insensitive); rest (a true rest the answer's rests must overlap); counts ({exercise: n}).
TABLE: list[tuple[str, str, dict[str, Any]]] = [
    ("squat_rest", "how many squats?", {"intent": "count", "count": 8, "exercise": "squat", "says": ["8 squats"]}),
    ("squat_rest", "How many reps did I do?", {"intent": "count", "count": 8, "exercise": "squat"}),
    ("squat_rest", "count the squats please", {"intent": "count", "count": 8}),
    ("squat_rest", "how many squats after 10 seconds?", {"intent": "count", "range": (10, None),
                                                         "says": ["after 0:10"]}),
    ("squat_rest", "how many squats in the first 10 seconds?", {"intent": "count", "range": (None, 10)}),
    ("squat_rest", "how many reps between 0:05 and 0:20?", {"intent": "count", "range": (5, 20)}),
    ("squat_rest", "how many did I do in the last 12 seconds?", {"intent": "count", "range": (27.2 - 12, None)}),
    ("squat_rest", "when did I rest?", {"intent": "locate", "rest": True, "count": None}),
    ("squat_rest", "did I take a break at some point?", {"intent": "locate", "rest": True}),
    ("squat_rest", "how many times did I rest?", {"intent": "locate", "rest": True, "says": ["1 time"]}),
    ("squat_rest", "how many burpees?", {"intent": "count", "count": 0, "exercise": "burpee",
                                         "says": ["no burpees", "8 squats"], "oracle_only": True}),
    ("squat_rest", "how many lunges?", {"intent": "count", "count": 0, "says": ["no lunges", "8 squats"]}),
    ("squat_rest", "How many push-ups did I do?", {"intent": "count", "count": 0, "says": ["no push-ups", "squats"]}),
    ("squat_rest", "what exercise is this?", {"intent": "recognize", "exercise": "squat", "count": None,
                                              "says": ["squats"]}),
    ("squat_rest", "which exercise am I doing?", {"intent": "recognize", "exercise": "squat"}),
    ("squat_rest", "what's the weather like today?", {"intent": "unsupported", "count": None,
                                                      "says": ["only answer questions about the repetitions"]}),
    ("squat_rest", "tell me a joke", {"intent": "unsupported", "count": None}),
    ("pushup_slowing", "was I slowing down?", {"intent": "tempo", "says": ["slowing down"], "count": None}),
    ("pushup_slowing", "how long was each rep?", {"intent": "tempo", "says": ["on average"]}),
    ("pushup_slowing", "how many push-ups?", {"intent": "count", "count": 9, "exercise": "push_up"}),
    ("jacks_faster", "did I speed up towards the end?", {"intent": "tempo", "says": ["speeding up"]}),
    ("jacks_faster", "how many jumping jacks did I do", {"intent": "count", "count": 14, "exercise": "jumping_jack"}),
    ("curls", "how many bicep curls?", {"intent": "count", "count": 10, "exercise": "bicep_curl"}),
    ("curls", "what is this person doing?", {"intent": "recognize", "exercise": "bicep_curl",
                                             "shipped_unsure": "the shipped recognizer answers unknown on "
                                             "generated bicep curls (test_recognize.CLEAN_CASES)"}),
    ("curls", "was my pace consistent?", {"intent": "tempo", "says": ["steady"]}),
    ("squat_then_pushup", "what exercises did I do and how many of each?",
     {"intent": "summary", "count": None, "exercise": None, "counts": {"squat": 6, "push_up": 5},
      "says": ["6 squats", "5 push-ups"]}),
    ("squat_then_pushup", "how many squats?", {"intent": "count", "count": 6, "exercise": "squat"}),
    ("squat_then_pushup", "how many push-ups did I do?", {"intent": "count", "count": 5, "exercise": "push_up"}),
    ("squat_then_pushup", "how many sets did I do?", {"intent": "sets", "counts": {"squat": 6, "push_up": 5},
                                                       "says": ["2 set"]}),
    ("squat_then_pushup", "how many in the second set?", {"intent": "count", "count": 5, "exercise": "push_up"}),
    ("squat_then_pushup", "how many reps in total?", {"intent": "count", "count": None,
                                                      "says": ["6 squats", "5 push-ups"]}),
]


def open_sessions(folder, recognizer: str = "oracle") -> dict:
    """One session per workout; its recognizer the oracle that knows the workout (see agent_workouts)
    or the shipped one."""
    sessions = {}
    for name in SPECS:
        workout = build_workout(name, folder)
        inputs = MediaInputs.open(workout.path, DecodeOptions(fps=30))
        oracle = OracleRecognition(workout, inputs.pose().joints) if recognizer == "oracle" else None
        session = AgentSession(tools=VideoTools(inputs, recognition=oracle), planner=RulesPlanner(chooser=None))
        sessions[name] = (session, workout)
    return sessions


@pytest.fixture(scope="module", params=["oracle", "shipped"])
def sessions(request, tmp_path_factory):
    """The table runs twice: with the oracle (the planner's reasoning alone) and with the shipped
    recognizer (the product end to end; a retrained recognizer that breaks a row fails here)."""
    return {**open_sessions(tmp_path_factory.mktemp("workouts"), request.param), "_recognizer": request.param}


def check(answer: AgentAnswer, workout: Any, expected: dict[str, Any]) -> list[str]:
    """What is wrong with `answer` (empty when it is right)."""
    wrong = []
    if answer.intent != expected["intent"]:
        wrong.append(f"intent {answer.intent} != {expected['intent']}")
    if "range" in expected:
        truth = workout.count_between(*expected["range"])
        if answer.count != truth:
            wrong.append(f"count {answer.count} != {truth} in {expected['range']}")
    if "count" in expected and answer.count != expected["count"]:
        wrong.append(f"count {answer.count} != {expected['count']}")
    if "exercise" in expected and answer.exercise != expected["exercise"]:
        wrong.append(f"exercise {answer.exercise} != {expected['exercise']}")
    for text in expected.get("says", []):
        if text.lower() not in answer.answer.lower():
            wrong.append(f"answer {answer.answer!r} lacks {text!r}")
    if expected.get("rest"):
        hit = any(a < b_true and b > a_true for a, b in answer.rests for a_true, b_true in workout.rests)
        if not hit:
            wrong.append(f"rests {answer.rests} miss the true {workout.rests}")
    if "counts" in expected:
        got: dict[str | None, int] = {}
        for s in answer.counts:
            got[s.exercise] = got.get(s.exercise, 0) + s.count
        if got != expected["counts"]:
            wrong.append(f"counts {got} != {expected['counts']}")
    return wrong


@pytest.mark.parametrize(("workout", "question", "expected"), TABLE, ids=[f"{w}:{q}" for w, q, _ in TABLE])
def test_question_table(sessions, workout, question, expected, request):
    if expected.get("shipped_unsure") and sessions["_recognizer"] != "oracle":
        request.applymarker(pytest.mark.xfail(strict=True, reason=expected["shipped_unsure"]))
    if expected.get("oracle_only") and sessions["_recognizer"] != "oracle":
        pytest.skip("burpees are not among the shipped recognizer's classes: it rules them out only when it "
                    "is >= 0.9 sure of what it sees, which it is not here")
    session, truth = sessions[workout]
    answer = session.ask(question)
    assert not check(answer, truth, expected), (answer.answer, check(answer, truth, expected), answer.notes)
    assert answer.planner == "rules"
    if answer.count is not None:
        assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    AgentAnswer.model_validate_json(answer.model_dump_json())  # the JSON round-trips through the schema


def test_table_is_large_enough():
    assert len(TABLE) >= 25
    assert len({q for _, q, _ in TABLE}) >= 25
