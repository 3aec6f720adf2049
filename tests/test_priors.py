"""Semantic priors (docs/design.md §5): reading and matching them, the counter using them, mining them.

Everything here is offline and fast: priors files are written in the test, the counter runs on
synthetic skeletons, and mining talks to a scripted fake chat model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from countllm import cli
from countllm.counters.pose_counter import PoseCounter, PoseCounterConfig, prior_period_range, restrict_to_joints
from countllm.errors import EXIT_PARTIAL, InputError
from countllm.pipeline import count_pose
from countllm.pose.layouts import H36M_JOINTS
from countllm.priors import (
    BODY_PARTS,
    ActionPrior,
    body_part_joints,
    default_priors_path,
    load_priors,
    match_action,
)
from countllm.prompt_templates import available_prompts, load_prompt
from countllm.signals.periodicity import PeriodConfig
from countllm.signals.pose_signals import pose_signals
from countllm.synthetic import SyntheticConfig, make_sequence

ARMS = ["l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist"]


def write_priors(path: Path, records: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"format_version": 1, "priors": records}))
    return path


GOOD = {
    "squat": {"action": "squat", "moving_joints": ["root", "l_knee", "r_knee", "l_hip", "r_hip"],
              "cycle_s": [1.0, 4.0], "phases": ["stand", "descend", "rise"], "source": {"kind": "test"}},
    "push-up": {"action": "push-up", "aliases": ["press-up"], "moving_joints": ["l_elbow", "r_elbow"]},
    "bench press": {"action": "bench press", "cycle_s": None},
    "pull-up": {"action": "pull-up"}, "sit-up": {"action": "sit-up"}, "lunge": {"action": "lunge"},
    "front raise": {"action": "front raise"}, "rope pushdown": {"action": "rope pushdown"},
    "romanian deadlift": {"action": "romanian deadlift"}, "deadlift": {"action": "deadlift"},
    "jumping jack": {"action": "jumping jack", "aliases": ["star jump"]},
}


# ----------------------------------------------------------------------------- loading
def test_load_good_file(tmp_path: Path) -> None:
    priors = load_priors(write_priors(tmp_path / "p.json", GOOD))
    squat = priors["squat"]
    assert squat.cycle_s == (1.0, 4.0) and squat.phases[0] == "stand" and squat.source == {"kind": "test"}
    assert priors["bench press"].cycle_s is None and priors["bench press"].moving_joints == []
    assert squat.to_json()["cycle_s"] == [1.0, 4.0]


MALFORMED = [
    ("not_json", "{oops", "not valid JSON"),
    ("no_priors_key", json.dumps({"squat": {}}), "priors"),
    ("unknown_joint", json.dumps({"priors": {"s": {"action": "s", "moving_joints": ["knee"]}}}), "H36M"),
    ("cycle_too_long", json.dumps({"priors": {"s": {"action": "s", "cycle_s": [1, 60]}}}), "cycle_s"),
    ("cycle_reversed", json.dumps({"priors": {"s": {"action": "s", "cycle_s": [3, 1]}}}), "cycle_s"),
    ("cycle_strings", json.dumps({"priors": {"s": {"action": "s", "cycle_s": ["1", "2"]}}}), "cycle_s"),
    ("no_action", json.dumps({"priors": {"s": {"moving_joints": []}}}), "action"),
    ("phases_not_list", json.dumps({"priors": {"s": {"action": "s", "phases": "down, up"}}}), "phases"),
]


@pytest.mark.parametrize("case,text,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_an_input_error_naming_it(tmp_path: Path, case: str, text: str, words: str) -> None:
    path = tmp_path / f"{case}.json"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_priors(path)
    assert info.value.source == str(path) and words in info.value.message


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_priors(tmp_path / "absent.json")


def test_shipped_priors_load() -> None:
    """The mined file in the package is valid, whatever the model managed to answer."""
    path = default_priors_path()
    assert path.is_file(), path
    document = json.loads(path.read_text())
    assert {"format_version", "model", "prompt", "created", "command", "priors", "failures"} <= document.keys()
    load_priors(path)


# ----------------------------------------------------------------------------- matching
MATCH_CASES = [
    ("How many push-ups did he do?", "push-up"),
    ("how many pushups", "push-up"),
    ("Count the press-ups", "push-up"),
    ("How many squats?", "squat"),
    ("how many times is she squatting", "squat"),
    ("pull_ups", "pull-up"),
    ("How many pull ups were done?", "pull-up"),
    ("bench_pressing", "bench press"),
    ("front_raise", "front raise"),
    ("rope_pushdown", "rope pushdown"),
    ("sit_up", "sit-up"),
    ("lunge", "lunge"),
    ("how many RDLs?", "romanian deadlift"),
    ("how many Romanian deadlifts", "romanian deadlift"),
    ("how many deadlifts", "deadlift"),
    ("Star jumps: how many?", "jumping jack"),
    ("how many jumping jacks", "jumping jack"),
    ("squant", "squat"),  # RepCountA's typo, through countllm.labels
    ("situp", "sit-up"),
    ("how many 1-leg RDLs", "romanian deadlift"),
    ("How many times did the dog bark?", None),
    ("how many presses", None),
]


@pytest.mark.parametrize("text,expected", MATCH_CASES)
def test_match_action(text: str, expected: str | None) -> None:
    priors = {k: ActionPrior(r["action"], aliases=r.get("aliases", [])) for k, r in GOOD.items()}
    found = match_action(text, priors)
    assert (found.action if found else None) == expected


@pytest.mark.parametrize("word,joints", [
    ("knees", ["l_knee", "r_knee"]), ("Left Elbow", ["l_elbow"]), ("r_wrist", ["r_wrist"]),
    ("hips", ["root", "l_hip", "r_hip"]), ("quads", ["l_hip", "l_knee", "r_hip", "r_knee"]),
    ("torso", ["spine", "thorax"]),
])
def test_body_part_words_map_onto_joints(word: str, joints: list[str]) -> None:
    assert sorted(body_part_joints(word)) == sorted(joints)


def test_unknown_body_part_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown body part"):
        body_part_joints("aura")


def test_body_part_table_names_only_h36m_joints() -> None:
    assert all(j in H36M_JOINTS for joints in BODY_PARTS.values() for j in joints)


# ----------------------------------------------------------------------------- the counter
@pytest.fixture(scope="module")
def jumping_jack():
    return make_sequence(SyntheticConfig(exercise="jumping_jack", n_reps=6, seed=3))


def test_unguided_counter_is_not_fooled_by_the_jumping_jack_harmonic(jumping_jack) -> None:
    """Once a known limitation, now caught by the half-period check (signals/harmonics.py)."""
    assert PoseCounter().count(jumping_jack.pose).count == jumping_jack.count


@pytest.mark.parametrize("prior", [
    ActionPrior("jumping jack", moving_joints=["l_shoulder", "r_shoulder"]),
    ActionPrior("jumping jack", moving_joints=["root", "l_knee", "r_knee", "l_ankle", "r_ankle"] + ARMS,
                cycle_s=(1.5, 3.0)),
], ids=["shoulder_joints", "cycle_range_excludes_half_period"])
def test_prior_fixes_the_jumping_jack_harmonic(jumping_jack, prior: ActionPrior) -> None:
    result = PoseCounter().count(jumping_jack.pose, prior)
    assert result.count == jumping_jack.count, (result.signal, result.notes)
    assert any("used semantic prior 'jumping jack'" in note for note in result.notes)


def test_harmonic_check_still_works_when_the_prior_range_admits_the_half_period(jumping_jack) -> None:
    """A range widened down to the half period (0.6 s) lets the harmonic candidate in; the
    half-period check still counts full repetitions."""
    prior = ActionPrior("jumping jack", moving_joints=["root"] + ARMS, cycle_s=(0.8, 2.0))
    assert PoseCounter().count(jumping_jack.pose, prior).count == jumping_jack.count


def test_restriction_keeps_trajectories_and_angles_of_the_joints(jumping_jack) -> None:
    signals = pose_signals(jumping_jack.pose)
    kept = restrict_to_joints(signals, ["l_knee", "root"])
    assert sorted(kept.names) == ["l_knee_angle", "l_knee_x", "l_knee_y", "root_x", "root_y"]
    assert kept.values.shape == (5, signals.values.shape[1])
    assert restrict_to_joints(signals, ["neck"]) is None


def test_prior_without_matching_signals_uses_all_and_says_so(jumping_jack) -> None:
    result = PoseCounter().count(jumping_jack.pose, ActionPrior("nod", moving_joints=["neck"]))
    assert any("all signals were used" in note for note in result.notes)


@pytest.mark.parametrize("cycle,expected", [((1.0, 4.0), (0.6, 6.4)), ((0.2, 30.0), (0.4, 12.0)),
                                            ((25.0, 30.0), (12.0, 12.0))])
def test_period_range_is_widened_and_clamped(cycle: tuple[float, float], expected: tuple[float, float]) -> None:
    period = prior_period_range(ActionPrior("x", cycle_s=cycle), PeriodConfig(), PoseCounterConfig().prior_widen)
    assert (period.min_period_s, period.max_period_s) == pytest.approx(expected)
    assert prior_period_range(ActionPrior("x"), PeriodConfig(), (0.6, 1.6)) is None


def test_counters_that_cannot_read_a_prior_say_so(jumping_jack) -> None:
    result = count_pose(jumping_jack.pose, "similarity", ActionPrior("jumping jack"))
    assert any("not used" in note for note in result.notes)


# ----------------------------------------------------------------------------- the CLI
def test_count_question_announces_the_prior(squat_h36m_file: Path, tmp_path: Path, capsys) -> None:
    priors = write_priors(tmp_path / "p.json", GOOD)
    code = cli.main(["count", str(squat_h36m_file), "--fps", "30", "--json", "--priors", str(priors),
                     "--question", "How many squats did she do?"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and any("used semantic prior 'squat'" in note for note in payload["notes"])
    cli.main(["count", str(squat_h36m_file), "--fps", "30", "--json", "--no-priors", "--question", "how many squats?"])
    assert not any("prior" in note for note in json.loads(capsys.readouterr().out)["notes"])


def test_count_question_without_a_known_exercise(squat_h36m_file: Path, tmp_path: Path, capsys) -> None:
    priors = write_priors(tmp_path / "p.json", GOOD)
    cli.main(["count", str(squat_h36m_file), "--fps", "30", "--json", "--priors", str(priors),
              "--question", "how many times?"])
    assert any("no semantic prior" in note for note in json.loads(capsys.readouterr().out)["notes"])


def test_eval_looks_priors_up_by_annotation_type(squat_h36m_file: Path, squat_sequence, tmp_path: Path,
                                                 capsys) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.npy", "b.npy"):
        shutil.copy(squat_h36m_file, media / name)
    csv_path = tmp_path / "ann.csv"
    csv_path.write_text(f"type,name,count\nsquat,a.npy,{squat_sequence.count}\nbark,b.npy,{squat_sequence.count}\n")
    priors = write_priors(tmp_path / "p.json", GOOD)
    report_path = tmp_path / "report.json"
    assert cli.main(["eval", "--annotations", str(csv_path), "--media-dir", str(media), "--fps", "30",
                     "--priors", str(priors), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["metrics"]["n_with_prior"] == 1
    assert [item.get("prior") for item in report["items"]] == ["squat", None]
    assert "1 of 2 items" in capsys.readouterr().out


# ----------------------------------------------------------------------------- prompt templates
DUMMY_VALUES: dict[str, Any] = {"question": "moving_parts", "options": ["knees", "hips"], "num": 3,
                                "candidates": ["walk", "run"]}


@pytest.mark.parametrize("name", available_prompts())
def test_every_prompt_template_loads_and_renders(name: str) -> None:
    template = load_prompt(name)
    values = {v: DUMMY_VALUES.get(v, f"dummy {v}") for v in template.variables}
    messages = template.render(**values)
    assert messages and all(m["content"] for m in messages) and messages[-1]["role"] in ("user", "assistant")
    assert template.provenance()["version"] == template.version


def test_priors_template_renders_every_question() -> None:
    from countllm.agents.mining.priors import QUESTIONS  # noqa: PLC0415

    template = load_prompt("semantic_priors")
    texts = {q: template.render(action="squat", question=q, options=["knees"])[-1]["content"] for q in QUESTIONS}
    assert len(set(texts.values())) == len(QUESTIONS) and all("squat" in t for t in texts.values())


# ----------------------------------------------------------------------------- mining
from countllm.agents.mining import priors as mining  # noqa: E402

PARSE_GOOD = [
    (mining.parse_cycle, "1-3 seconds", [1.0, 3.0]),
    (mining.parse_cycle, ' "0.5 - 1.5 s." ', [0.5, 1.5]),
    (mining.parse_cycle, "2 to 4 sec", [2.0, 4.0]),
    (mining.parse_phases, '["stand", "lower the hips", "rise"]', ["stand", "lower the hips", "rise"]),
    (mining.parse_phases, '```json\n["down", "up"]\n```', ["down", "up"]),
    (mining.parse_sentence, "The hips return to standing height.", "The hips return to standing height."),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), '["Knees", "hips"]', ["knees", "hips"]),
    (lambda t: mining.parse_choice(t, ("lunge", "squat"), 0, 3), "[]", []),
]
PARSE_BAD = [
    (mining.parse_cycle, "Reply in the form MIN-MAX seconds", "MIN-MAX"),
    (mining.parse_cycle, "1-3", "MIN-MAX"),
    (mining.parse_cycle, "1-3 seconds: 1000 seconds", "MIN-MAX"),
    (mining.parse_cycle, "10-60 seconds", "outside"),
    (mining.parse_cycle, "4-2 seconds", "outside"),
    (mining.parse_cycle, "0.1-1 seconds", "outside"),
    (mining.parse_phases, '["only one"]', "phases"),
    (mining.parse_phases, '{"phase": "start"}', "phases"),
    (mining.parse_phases, '["a", "b"]', "phases"),
    (mining.parse_phases, '["down", "Down"]', "repeated"),
    (mining.parse_phases, '1. stand\n2. squat', "no JSON"),
    (mining.parse_sentence, "Done.", "short sentence"),
    (mining.parse_sentence, "It is complete. Then rest a bit.", "more than one"),
    (mining.parse_sentence, "line one is here\nline two is here", "short sentence"),
    (mining.parse_sentence, "I am not sure.", "not an answer"),
    (mining.parse_sentence, "Reply with one short sentence.", "not an answer"),
    (mining.parse_sentence, 'One short sentence: "Exercise is good."', "not an answer"),
    (mining.parse_sentence, "When does one repetition count as complete?", "a question"),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), '["knees", "tail"]', "not among"),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), '["knees", "knees"]', "twice"),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), "[]", "choice"),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), '["knees", "hips", "head", "torso"]', "choice"),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), '{"knees": ["knees"]}', "choice"),
    (lambda t: mining.parse_choice(t, mining.BODY_PART_OPTIONS, 1, 3), 'The answer is ["ankles"].', "no JSON"),
]


@pytest.mark.parametrize("parse,text,expected", PARSE_GOOD)
def test_mining_parsers_accept_strict_answers(parse, text: str, expected) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize("parse,text,words", PARSE_BAD)
def test_mining_parsers_reject_everything_else(parse, text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse(text)


def test_offered_body_parts_are_in_the_joint_table() -> None:
    assert all(body_part_joints(word) for word in mining.BODY_PART_OPTIONS)


class ScriptedBackend:
    """A fake chat model: answers by (action, question, round) from a script; counts its calls."""

    model_id = "scripted-fake"

    def __init__(self, script: dict[tuple[str, str], list[str]]) -> None:
        self.script, self.calls = script, 0

    def complete(self, messages, config):
        from countllm.agents.llm.base import Completion  # noqa: PLC0415

        self.calls += 1
        user = messages[-1].content
        action = user.split("\n", 1)[0].removeprefix("Exercise: ").rstrip(".")
        question = next(q for q, words in QUESTION_WORDS.items() if words in user)
        answers = self.script.get((action, question), ["I am not sure."])
        round_ = 0 if config.seed is None else config.seed // 100
        return Completion(text=answers[min(round_, len(answers) - 1)], model=self.model_id)


QUESTION_WORDS = {"moving_parts": "body parts", "cycle_seconds": "How many seconds", "phases": "phases",
                  "complete_when": "complete", "confusions": "mistaken"}
SCRIPT = {
    ("squat", "moving_parts"): ['["knees", "hips"]', '["hips", "knees", "torso"]'],
    ("squat", "cycle_seconds"): ["1-4 seconds", "2-5 seconds"],
    ("squat", "phases"): ['["stand", "descend", "rise"]'],
    ("squat", "complete_when"): ["The person stands up straight again."],
    ("squat", "confusions"): ['["lunge"]'],
    ("plank", "moving_parts"): ['["knees"]', '["elbows"]'],  # rounds disagree: no consensus
    ("plank", "cycle_seconds"): ["30-60 seconds"],  # out of range
    ("plank", "phases"): ['["hold", "release"]'],
}


def test_mine_priors_end_to_end_with_a_scripted_model(tmp_path: Path, monkeypatch) -> None:
    actions = tmp_path / "actions.txt"
    actions.write_text("# test list\nsquat: deep squat\nlunge\nplank\n")
    backend = ScriptedBackend(SCRIPT)
    monkeypatch.setattr("countllm.agents.llm.factory.make_backend", lambda **kwargs: backend)
    out = tmp_path / "priors.json"
    argv = ["mine", "priors", "--actions", str(actions), "--out", str(out), "--retries", "1"]
    assert cli.main(argv) == EXIT_PARTIAL  # lunge and some plank questions never validate
    document = json.loads(out.read_text())
    priors = load_priors(out)
    squat = priors["squat"]
    assert squat.moving_joints == ["root", "r_hip", "r_knee", "l_hip", "l_knee"]  # knees ∩ hips, both rounds
    assert squat.cycle_s == (2.0, 4.0) and squat.aliases == ["deep squat"] and squat.confusions == ["lunge"]
    assert squat.phases == ["stand", "descend", "rise"] and squat.source["model"] == "scripted-fake"
    assert "lunge" not in priors  # nothing valid: no record, only failures
    assert priors["plank"].moving_joints == [] and priors["plank"].cycle_s is None
    assert priors["plank"].phases == ["hold", "release"]
    failed = {(f["action"], f["question"]) for f in document["failures"]}
    assert ("plank", "moving_parts") in failed and ("plank", "cycle_seconds") in failed
    assert {("lunge", q) for q in mining.QUESTIONS} <= failed
    assert document["prompt"]["name"] == "semantic_priors" and "mine priors" in document["command"]
    assert document["stats"]["actions_with_prior"] == 2
    assert document["schema_version"] == 1 and document["format_version"] == 1
    calls = backend.calls
    assert cli.main(argv) == EXIT_PARTIAL and backend.calls == calls  # a rerun is answered from the cache


class FirstTryInvalid(ScriptedBackend):
    """`ScriptedBackend`, but the first try of round 0 of one (action, question) gets an invalid answer."""

    def __init__(self, script: dict[tuple[str, str], list[str]], target: tuple[str, str]) -> None:
        super().__init__(script)
        self.target = target

    def complete(self, messages, config):
        completion = super().complete(messages, config)
        user = messages[-1].content
        if config.seed is None and f"Exercise: {self.target[0]}." in user and QUESTION_WORDS[self.target[1]] in user:
            completion.text = "about four seconds"
        return completion


def test_mine_priors_summary_names_real_failures_and_retry_failures_reasks_invalid_answers(
        tmp_path: Path, monkeypatch, capsys) -> None:
    """Answers that fail validation are failures in the cache too: a rerun reports them without
    asking, `--retry-failures` asks exactly them again (not what a later try answered)."""
    actions = tmp_path / "actions.txt"
    actions.write_text("squat\nlunge\n")
    script = {("squat", q): answers for (a, q), answers in SCRIPT.items() if a == "squat"}
    backend = FirstTryInvalid(script, ("squat", "cycle_seconds"))  # its round 0 is answered by the retry
    monkeypatch.setattr("countllm.agents.llm.factory.make_backend", lambda **kwargs: backend)
    out = tmp_path / "priors.json"
    argv = ["mine", "priors", "--actions", str(actions), "--out", str(out), "--retries", "1"]
    assert cli.main(argv) == EXIT_PARTIAL
    text = capsys.readouterr().out
    document = json.loads(out.read_text())
    stats = document["stats"]
    assert stats["questions"] == 20 and stats["answered"] == 10 and stats["failed_questions"] == 10
    assert "10 answered validly" in text and "10 failed" in text
    assert "FAILED lunge moving_parts round 0 (2 tries): invalid answer:" in text  # named, with the reason
    assert "FAILED squat" not in text and "--retry-failures" in text and "retry_failures" not in text
    lunge = next(f for f in document["failures"] if (f["action"], f["question"], f["round"]) == ("lunge", "phases", 0))
    assert [t["answer"] for t in lunge["tries"]] == ["I am not sure.", "I am not sure."]  # every try's raw text
    first_calls = backend.calls
    assert cli.main(argv) == EXIT_PARTIAL and backend.calls == first_calls  # recorded failures: not asked again
    assert "10 recorded by an earlier run" in capsys.readouterr().out
    backend.script.update({("lunge", q): answers for (_, q), answers in script.items()}
                          | {("lunge", "confusions"): ['["squat"]']})
    assert cli.main([*argv, "--retry-failures"]) == 0
    # exactly the 10 failed Asks were asked again, each valid at its first try (squat's round 0
    # cycle question, answered by its retry in the first run, was not asked again)
    assert backend.calls == first_calls + 10
    again = json.loads(out.read_text())
    assert again["failures"] == [] and again["priors"]["lunge"]["phases"] == ["stand", "descend", "rise"]
    assert cli.main(argv) == 0 and backend.calls == first_calls + 10  # a third run: no calls


def test_mine_priors_export_batch_writes_requests_and_no_priors(tmp_path: Path, monkeypatch) -> None:
    actions = tmp_path / "actions.txt"
    actions.write_text("squat\nlunge\n")
    monkeypatch.setattr("countllm.agents.llm.factory.make_backend", lambda **kwargs: ScriptedBackend({}))
    out, batch = tmp_path / "priors.json", tmp_path / "batch.jsonl"
    assert cli.main(["mine", "priors", "--actions", str(actions), "--out", str(out),
                     "--export-batch", str(batch)]) == 0
    lines = [json.loads(line) for line in batch.read_text().splitlines()]
    assert len(lines) == 2 * len(mining.QUESTIONS) * 2 and not out.exists()
    assert lines[0]["custom_id"] == "priors|squat|moving_parts|r0|a0"


@pytest.mark.parametrize("text,error", [("", "at least one action"), ("squat\nSquat\n", "twice")])
def test_bad_action_lists_are_input_errors(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "actions.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=error):
        mining.load_actions(path)


def test_shipped_exercise_list_has_the_countix_classes() -> None:
    actions = mining.load_actions(Path(mining.__file__).parents[2] / "knowledge" / "exercises.txt")
    assert len(actions) >= 30
    priors = {a.name: ActionPrior(a.name, aliases=list(a.aliases)) for a in actions}
    for countix_type in ("bench_pressing", "front_raise", "lunge", "pull_ups", "push_up", "rope_pushdown",
                         "sit_up", "squat"):
        assert match_action(countix_type, priors) is not None, countix_type


def test_prior_without_joints_or_cycle_changes_nothing_and_says_so(jumping_jack) -> None:
    plain = PoseCounter().count(jumping_jack.pose)
    result = PoseCounter().count(jumping_jack.pose, ActionPrior("jumping jack", phases=["open", "close"]))
    assert result.count == plain.count and result.signal == plain.signal
    assert any("counted without it" in note for note in result.notes)


@pytest.fixture(scope="module")
def squat_six():
    return make_sequence(SyntheticConfig(exercise="squat", n_reps=6, seed=3))


def test_a_prior_that_does_not_fit_the_video_is_set_aside(squat_six) -> None:
    """Wrist joints and a 0.5-1 s cycle for a squat (what a 135M model answers): without the fit
    check the counter finds nothing; with it, both restrictions are set aside, and said so."""
    wrong = ActionPrior("squat", moving_joints=["l_wrist", "r_wrist"], cycle_s=(0.5, 1.0))
    result = PoseCounter().count(squat_six.pose, wrong)
    assert result.count == squat_six.count
    assert sum("set aside" in note for note in result.notes) == 2
    blind = PoseCounter(PoseCounterConfig(prior_min_fit=None)).count(squat_six.pose, wrong)
    assert blind.count != squat_six.count


def test_a_prior_that_fits_the_video_is_kept(squat_six) -> None:
    right = ActionPrior("squat", moving_joints=["root", "l_hip", "r_hip", "l_knee", "r_knee"], cycle_s=(1.0, 4.0))
    result = PoseCounter().count(squat_six.pose, right)
    assert result.count == squat_six.count and not any("set aside" in note for note in result.notes)
    assert any("10 of 34 candidate signals" in note for note in result.notes)
    assert any("period searched in 0.60–6.40 s" in note for note in result.notes)
