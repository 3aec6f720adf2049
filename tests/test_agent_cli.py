"""`countllm ask` through the installed console script, as the README shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from countllm.synthetic import SyntheticConfig, make_sequence

COUNTLLM = str(Path(sys.executable).with_name("countllm"))
REPO = Path(__file__).resolve().parents[1]
ANSWER_KEYS = {"schema_version", "answer", "intent", "exercise", "count", "counts", "cycles", "rests", "confidence",
               "tools", "planner", "notes", "question", "input"}
TOOL_KEYS = {"name", "args", "result", "agreed", "seconds"}


def ask(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([COUNTLLM, "ask", *argv], capture_output=True, text=True, timeout=300, input=stdin,
                          cwd=REPO)


@pytest.fixture(scope="module")
def squat_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ask") / "squats6.npy"
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=6, rests=[(2, 5.0)], seed=31))
    np.save(path, seq.pose.joints)
    return path


def test_json_answer_keeps_the_contract(squat_file):
    out = ask(str(squat_file), "how many squats?", "--fps", "30", "--json", "--rules-only")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert set(answer) == ANSWER_KEYS
    assert answer["schema_version"] == 1 and answer["intent"] == "count" and answer["count"] == 6
    assert answer["planner"] == "rules" and 0 <= answer["confidence"] <= 1
    assert all(set(t) == TOOL_KEYS for t in answer["tools"])
    assert all(len(c) == 2 and c[0] < c[1] for c in answer["cycles"]) and len(answer["cycles"]) == 6
    for entry in answer["counts"]:
        assert set(entry) == {"exercise", "count", "start_s", "end_s"}


def test_text_answer_lists_its_evidence_and_writes_the_plot(squat_file, tmp_path):
    plot = tmp_path / "answer.png"
    out = ask(str(squat_file), "when did I rest?", "--fps", "30", "--rules-only", "--plot", str(plot))
    assert out.returncode == 0, out.stderr
    first, *rest = out.stdout.splitlines()
    assert first.startswith("You rested 1 time(s):")
    assert any(line.strip().startswith("tool localize(") for line in rest)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_question_opens_a_prompt_that_answers_each_line(squat_file):
    out = ask(str(squat_file), "--fps", "30", "--rules-only", "--json",
              stdin="how many squats?\nhow many squats after 8 seconds?\nwhat is the capital of France?\n")
    assert out.returncode == 0, out.stderr
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [a["intent"] for a in answers] == ["count", "count", "unsupported"]
    assert answers[0]["count"] == 6 and answers[1]["count"] < 6 and answers[2]["count"] is None
    follow_up = answers[1]["tools"]
    assert all(t["seconds"] < 0.5 for t in follow_up)  # the session's memo: nothing is recomputed


def test_bundled_sample_video(tmp_path):
    """The README's example: a rendered squat video through decode, MediaPipe and the agent."""
    out = ask("samples/squats.mp4", "how many squats?", "--json", "--rules-only")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    truth = 6  # samples/squats.txt
    assert abs(answer["count"] - truth) <= 1 and answer["exercise"] == "squat"
    assert any("pose tracker follows" in n for n in answer["notes"])


@pytest.mark.slow  # ~18 s: loads the local LM; -m slow keeps the default suite under 15 minutes
def test_a_question_no_rule_reads_is_decided_by_a_local_model(squat_file):
    out = ask(str(squat_file), "squats?", "--fps", "30", "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no model-loading bars or library warnings on a non-terminal stderr
    answer = json.loads(out.stdout)
    assert (answer["planner"], answer["intent"], answer["count"]) == ("local-llm", "count", 6)
    assert "a local model chose the intent 'count'" in answer["notes"][0]
