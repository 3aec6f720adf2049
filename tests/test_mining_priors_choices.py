"""`mine priors` with choice scoring: multiple-choice questions scored, the rest generated.

A scripted scorer fixes which options win, so the selection rules (mean over shuffled rounds,
top 2 parts, best cycle range) are checked exactly; one test runs the CLI on a tiny random
LLaMA, which cannot know anything but must still yield a valid answer to every scored question.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from countllm import cli
from countllm.agents.llm.base import ChatMessage, Choices, Completion, GenerationConfig
from countllm.agents.mining import priors as mining
from countllm.agents.mining.priors_choices import CYCLE_OPTIONS, mean_scores, select
from countllm.errors import EXIT_PARTIAL
from countllm.priors import load_priors
from countllm.prompt_templates import load_prompt

DEFAULT_CONFIG = GenerationConfig()  # fakes take the same default as LLMBackend.complete

# (action, option) → bonus over a flat score; position in the list adds a bias that rounds average out
BONUS = {("squat", "knees"): 2.0, ("squat", "hips"): 1.5, ("squat", "2-3 seconds"): 1.0, ("squat", "lunge"): 1.0,
         ("curl", "elbows"): 2.0, ("curl", "wrists"): 1.0, ("curl", "1-2 seconds"): 1.0}


class ScriptedScorer:
    """Scores = bonus − 0.1 × place in the list; free-generation questions get garbage."""

    model_id = "scripted-scorer"

    def __init__(self) -> None:
        self.scored, self.generated = 0, 0

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = DEFAULT_CONFIG) -> Completion:
        self.generated += 1
        return Completion("I am not sure.", self.model_id)

    def score_choices(self, messages: list[ChatMessage], choices: Choices) -> list[float]:
        self.scored += 1
        action = re.match(r"Exercise: (.+?)\.", messages[-1].content).group(1)
        names = [o.removesuffix('"') for o in choices.options]
        return [BONUS.get((action, n), 0.0) - 0.1 * place for place, n in enumerate(names)]


def test_mean_scores_and_selection_rules() -> None:
    means = mean_scores([{"a": -1.0, "b": -2.0, "c": -3.0}, {"a": -3.0, "b": -1.0, "c": -2.0}])
    assert list(means) == ["b", "a", "c"] and means["a"] == pytest.approx(-2.0)
    assert select("moving_parts", {"knees": -1, "hips": -2, "head": -3}) == ["knees", "hips"]
    assert select("cycle_seconds", {"2-3 seconds": -1, "1-2 seconds": -2}) == [2.0, 3.0]
    with pytest.raises(ValueError, match="not a scored question"):
        select("phases", {"x": 0.0})


def test_scored_plan_offers_cycle_ranges_and_keeps_free_questions_unchanged() -> None:
    actions = [mining.Action("squat"), mining.Action("curl")]
    scored = mining.plan_asks(actions, 2, "choice-scoring")
    free = mining.plan_asks(actions, 2)
    cycle = [a for a in scored if a.question == "cycle_seconds"]
    assert all(a.scored and sorted(a.options) == sorted(CYCLE_OPTIONS) for a in cycle)
    assert {a.question for a in scored if not a.scored} == {"phases", "complete_when"}
    template = load_prompt("semantic_priors")
    item = mining.batch_item(cycle[0], 0, template)
    assert item.choices is not None and "0.5-1 seconds" in item.messages[-1].content
    # questions that stay generated are rendered exactly as in free-generation mode (same cache keys)
    same = [(s, f) for s, f in zip(scored, free, strict=True) if not s.scored]
    assert all(mining.batch_item(s, 0, template) == mining.batch_item(f, 0, template) for s, f in same)


def test_mine_priors_scores_the_multiple_choice_questions(tmp_path: Path, monkeypatch) -> None:
    actions = tmp_path / "actions.txt"
    actions.write_text("squat\ncurl\nlunge\n")
    backend = ScriptedScorer()
    monkeypatch.setattr("countllm.agents.llm.factory.make_backend", lambda **kwargs: backend)
    out = tmp_path / "priors.json"
    argv = ["mine", "priors", "--actions", str(actions), "--out", str(out), "--retries", "1", "--rounds", "2"]
    assert cli.main(argv) == EXIT_PARTIAL  # the generated questions get garbage
    document, priors = json.loads(out.read_text()), load_priors(out)
    assert document["decoding"] == {"moving_parts": "choice-scoring", "cycle_seconds": "choice-scoring",
                                    "phases": "free-generation", "complete_when": "free-generation",
                                    "confusions": "choice-scoring"}
    squat, curl = priors["squat"], priors["curl"]
    assert squat.source["body_parts"] == ["knees", "hips"] and squat.cycle_s == (2.0, 3.0)
    assert squat.confusions[0] == "lunge" and len(squat.confusions) == 2
    assert curl.source["body_parts"] == ["elbows", "wrists"] and curl.cycle_s == (1.0, 2.0)
    assert set(squat.source["choice_scores"]) == {"moving_parts", "cycle_seconds", "confusions"}
    assert squat.phases == [] and {(f["action"], f["question"]) for f in document["failures"]} >= {
        ("squat", "phases"), ("squat", "complete_when")}  # generated garbage is still recorded, not filled in
    assert not any(f["question"] in ("moving_parts", "cycle_seconds", "confusions") for f in document["failures"])
    # at most one call per action × scored question × round (a shuffle that repeats round 0's order
    # is the same request, answered once): scored answers never need a retry
    assert 3 * 3 < backend.scored <= 3 * 3 * 2
    calls = (backend.scored, backend.generated)
    assert cli.main(argv) == EXIT_PARTIAL and (backend.scored, backend.generated) == calls  # rerun: cache only


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from tests.test_llm_backends import build_tiny_chat_model  # noqa: PLC0415

    folder = build_tiny_chat_model(tmp_path_factory.mktemp("llm") / "tiny-llama")
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 2048
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_mine_priors_with_a_tiny_local_model_never_fails_a_scored_question(tiny_chat_model: Path,
                                                                            tmp_path: Path) -> None:
    actions = tmp_path / "actions.txt"
    actions.write_text("squat\npush-up\n")
    out = tmp_path / "priors.json"
    argv = ["mine", "priors", "--actions", str(actions), "--out", str(out), "--retries", "0", "--rounds", "2",
            "--model", str(tiny_chat_model), "--concurrency", "2"]
    assert cli.main(argv) == EXIT_PARTIAL  # a random model's generated answers fail
    document = json.loads(out.read_text())
    mined = document["stats"]["fields_mined"]
    assert mined["moving_parts"] == 2 and mined["cycle_seconds"] == 2 and mined["confusions"] == 2
    assert all(f["question"] in ("phases", "complete_when") for f in document["failures"])
    assert all(len(p["source"]["body_parts"]) == 2 for p in document["priors"].values())
    assert cli.main(argv) == EXIT_PARTIAL and json.loads(out.read_text())["stats"]["calls"] == 0
