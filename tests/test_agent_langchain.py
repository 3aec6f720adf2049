"""The langchain planner: a scripted fake chat model in-process, and a scripted OpenAI-compatible
tool-calling server on loopback driven through the installed `countllm ask --backend openai`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from countllm.agents.ask import AgentSession
from countllm.agents.ask.planner_langchain import LangchainPlanner
from countllm.errors import ModelOutputError
from countllm.media import DecodeOptions
from countllm.synthetic import SyntheticConfig, make_sequence

COUNTLLM = str(Path(sys.executable).with_name("countllm"))


class ScriptedToolModel(GenericFakeChatModel):
    """A fake chat model that emits the scripted messages (tool calls included) in order."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:
        return self


def call(name: str, args: dict, i: int) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{i}"}])


@pytest.fixture(scope="module")
def squat_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lc") / "squats7.npy"
    np.save(path, make_sequence(SyntheticConfig(exercise="squat", n_reps=7, seed=21)).pose.joints)
    return path


def test_fake_model_drives_tools_and_fills_the_schema(squat_file):
    script = iter([call("count", {"action": "squat"}, 1),
                   call("FinalAnswer", {"intent": "count", "exercise": "squat", "answer": "You did 7 squats."}, 2)])
    session = AgentSession.open(squat_file, DecodeOptions(fps=30),
                                planner=LangchainPlanner(ScriptedToolModel(messages=script), name="scripted"))
    answer = session.ask("how many squats?")
    assert (answer.intent, answer.count, answer.exercise, answer.planner) == ("count", 7, "squat", "scripted")
    names = [t.name for t in answer.tools]
    assert names == ["count", "count"]  # the model's call, then the reconciliation's second witness
    assert [t.args["method"] for t in answer.tools] == ["auto", "similarity_pose"]
    assert all(t.agreed for t in answer.tools)
    assert 0 < answer.confidence <= 1 and len(answer.cycles) == 7


def test_a_sentence_with_another_number_is_replaced_by_the_tools_count(squat_file):
    script = iter([call("count", {"action": "squat"}, 1),
                   call("FinalAnswer", {"intent": "count", "exercise": "squat", "answer": "You did 12 squats."}, 2)])
    session = AgentSession.open(squat_file, DecodeOptions(fps=30),
                                planner=LangchainPlanner(ScriptedToolModel(messages=script), name="scripted"))
    answer = session.ask("how many squats?")
    assert answer.count == 7 and "7 squats" in answer.answer and "12" not in answer.answer
    assert any("did not state the counted 7" in n for n in answer.notes)


def test_a_model_that_never_gives_a_final_answer_is_one_error(squat_file):
    script = iter([AIMessage(content="I think about 10 or so.")])
    session = AgentSession.open(squat_file, DecodeOptions(fps=30),
                                planner=LangchainPlanner(ScriptedToolModel(messages=script), name="scripted"))
    with pytest.raises(ModelOutputError, match="FinalAnswer"):
        session.ask("how many squats?")


# --------------------------------------------------------------------------- a real HTTP endpoint
class ScriptedServer:
    """An OpenAI-compatible /v1/chat/completions that plays a tool-calling model: first it calls
    `count` for the exercise in the question, then `FinalAnswer` with the count the tool returned.
    `garbage=True` makes it answer non-JSON bodies instead."""

    def __init__(self, garbage: bool = False) -> None:
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 — the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                data = b"<html>oops</html>" if garbage else json.dumps(owner.reply(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def reply(body: dict) -> dict:
        tools = [t["function"]["name"] for t in body.get("tools", [])]
        assert "count" in tools and "FinalAnswer" in tools, tools
        done = [m for m in body["messages"] if m["role"] == "tool"]
        if not done:
            name, args = "count", {"method": "auto", "action": "squat"}
        else:
            count = json.loads(done[-1]["content"])["count"]
            name, args = "FinalAnswer", {"intent": "count", "exercise": "squat", "answer": f"I counted {count} squats."}
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{len(done)}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]}
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def test_countllm_ask_through_a_tool_calling_endpoint(scripted, squat_file):
    out = subprocess.run([COUNTLLM, "ask", str(squat_file), "how many squats?", "--fps", "30", "--json",
                          "--backend", "openai", "--base-url", scripted.url, "--model", "scripted-tools"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert (answer["count"], answer["intent"], answer["planner"]) == (7, "count", "scripted-tools")
    assert answer["answer"] == "I counted 7 squats."
    assert len(scripted.requests) == 2  # tool call, then the final answer
    assert not any("tiktoken" in line for line in out.stderr.splitlines())


def test_an_endpoint_answering_garbage_is_one_line_exit_2(squat_file):
    server = ScriptedServer(garbage=True)
    try:
        out = subprocess.run([COUNTLLM, "ask", str(squat_file), "how many squats?", "--fps", "30",
                              "--backend", "openai", "--base-url", server.url, "--model", "m", "--timeout", "20"],
                             capture_output=True, text=True, timeout=300)
    finally:
        server.close()
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("countllm ask: error:"), out.stderr
    assert "Traceback" not in out.stderr
