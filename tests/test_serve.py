"""`countllm serve` for real over loopback HTTP: the `openai` client and OpenAIBackend against it.

The end-to-end tests use the tiny random LLaMA from test_llm_backends (greedy, so its answer is
known by asking the local backend directly); request-handling tests use a scripted fake backend.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

pytest.importorskip("transformers")
openai = pytest.importorskip("openai")

from countllm.agents.llm.base import (  # noqa: E402
    ChatMessage,
    Completion,
    GenerationConfig,
    LLMBadRequest,
    LLMServerError,
)
from countllm.agents.llm.local_backend import TransformersBackend  # noqa: E402
from countllm.agents.llm.openai_backend import OpenAIBackend  # noqa: E402
from countllm.agents.serve import run_server, start_background_server  # noqa: E402
from countllm.default_lm import DEFAULT_MODEL_NAME, default_model_path  # noqa: E402
from countllm.errors import InputError, ModelUnavailable  # noqa: E402
from tests.test_llm_backends import USER, tiny_backend, tiny_model_dir  # noqa: E402, F401 — fixtures

SERVED = "tiny"


@dataclass
class FakeBackend:
    """Returns a fixed reply (or raises `fail`) and records what it was asked."""

    reply: str = '{"reps": 5}'
    fail: Exception | None = None
    seen: list = field(default_factory=list)
    model_id: str = "fake"

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = GenerationConfig()) -> Completion:
        self.seen.append((messages, config))
        if self.fail is not None:
            raise self.fail
        return Completion(self.reply, self.model_id, 3, 2, {"finish_reason": "stop"})


@pytest.fixture(scope="module")
def tiny_server(tiny_backend):  # noqa: F811
    server, thread, url = start_background_server(tiny_backend, served_name=SERVED)
    yield url
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def fake_server():
    backend = FakeBackend()
    server, thread, url = start_background_server(backend, served_name="fake")
    yield backend, url
    server.shutdown()
    server.server_close()
    thread.join(5)


def _raw(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    """One request with http.client (no openai client in the way); returns (status, JSON body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _chat(**fields) -> bytes:
    return json.dumps({"model": "fake", "messages": [{"role": "user", "content": "hi"}], **fields}).encode()


# --- end to end with the tiny real model --------------------------------------------------------

def test_openai_backend_over_http_matches_local(tiny_server, tiny_backend):  # noqa: F811
    cfg = GenerationConfig(max_tokens=8)
    local = tiny_backend.complete(USER, cfg)
    remote = OpenAIBackend(SERVED, base_url=tiny_server, api_key="x").complete(USER, cfg)
    assert remote.text == local.text and remote.text.strip()
    assert (remote.prompt_tokens, remote.completion_tokens) == (local.prompt_tokens, 8)
    assert remote.model == SERVED and remote.extra["finish_reason"] == "length"
    assert remote.extra["id"].startswith("chatcmpl-")


def test_openai_client_streaming(tiny_server, tiny_backend):  # noqa: F811
    expected = tiny_backend.complete(USER, GenerationConfig(max_tokens=8)).text
    client = openai.OpenAI(base_url=tiny_server, api_key="x", max_retries=0)
    stream = client.chat.completions.create(model=SERVED, messages=[{"role": "user", "content": USER[0].content}],
                                            temperature=0, max_tokens=8, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == expected and finish == ["length"]
    assert chunks[-1].usage.completion_tokens == 8
    assert all(c.object == "chat.completion.chunk" and c.model == SERVED for c in chunks)


def test_concurrent_requests_are_served(tiny_server, tiny_backend):  # noqa: F811
    expected = tiny_backend.complete(USER, GenerationConfig(max_tokens=5)).text
    backend = OpenAIBackend(SERVED, base_url=tiny_server, api_key="x")
    results: list[str] = []

    def ask() -> None:
        results.append(backend.complete(USER, GenerationConfig(max_tokens=5)).text)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [expected] * 4


def test_models_and_health(tiny_server):
    client = openai.OpenAI(base_url=tiny_server, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == [SERVED]
    assert _raw(tiny_server, "GET", "/health") == (200, {"status": "ok", "model": SERVED})


# --- request handling with a fake backend -------------------------------------------------------

def test_generation_settings_reach_the_backend(fake_server):
    backend, url = fake_server
    done = OpenAIBackend("fake", base_url=url).complete(
        USER, GenerationConfig(temperature=0.5, max_tokens=7, seed=3, json_mode=True))
    assert done.text == '{"reps": 5}' and (done.prompt_tokens, done.completion_tokens) == (3, 2)
    assert backend.seen[-1][1] == GenerationConfig(temperature=0.5, max_tokens=7, seed=3, json_mode=True)


def test_request_defaults_and_message_forms(fake_server):
    backend, url = fake_server
    messages = [{"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "count "}, {"type": "text", "text": "it"}]}]
    status, body = _raw(url, "POST", "/v1/chat/completions",
                        json.dumps({"model": "fake", "messages": messages, "max_completion_tokens": 9}).encode())
    assert status == 200 and body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": '{"reps": 5}'}
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    seen_messages, seen_config = backend.seen[-1]
    assert seen_messages == [ChatMessage("system", "be brief"), ChatMessage("user", "count it")]
    assert (seen_config.temperature, seen_config.max_tokens, seen_config.json_mode) == (1.0, 9, False)


MALFORMED = [  # (method, path, body, status, words in the error message)
    ("POST", "/v1/chat/completions", b"not json", 400, "not valid JSON"),
    ("POST", "/v1/chat/completions", b"[]", 400, "JSON object"),
    ("POST", "/v1/chat/completions", json.dumps({"messages": []}).encode(), 400, "model is required"),
    ("POST", "/v1/chat/completions", _chat(model="gpt-9"), 404, "not served here"),
    ("POST", "/v1/chat/completions", _chat(messages=[]), 400, "non-empty array"),
    ("POST", "/v1/chat/completions", _chat(messages=[{"role": "robot", "content": "x"}]), 400, "role"),
    ("POST", "/v1/chat/completions", _chat(messages=[{"role": "user", "content": 5}]), 400, "content"),
    ("POST", "/v1/chat/completions", _chat(temperature=3), 400, "temperature"),
    ("POST", "/v1/chat/completions", _chat(max_tokens=0), 400, "max_tokens"),
    ("POST", "/v1/chat/completions", _chat(max_tokens=True), 400, "max_tokens"),
    ("POST", "/v1/chat/completions", _chat(seed="x"), 400, "seed"),
    ("POST", "/v1/chat/completions", _chat(n=2), 400, "n=1"),
    ("POST", "/v1/chat/completions", _chat(response_format={"type": "json_schema"}), 400, "response_format"),
    ("POST", "/v1/chat/completions", _chat(stream="yes"), 400, "stream"),
    ("POST", "/v1/completions", _chat(), 404, "no route"),
    ("GET", "/v2/models", None, 404, "no route"),
]


@pytest.mark.parametrize("method,path,body,status,words", MALFORMED, ids=[f"{m[3]}-{m[4]}" for m in MALFORMED])
def test_malformed_requests_get_openai_style_errors(fake_server, method, path, body, status, words):
    backend, url = fake_server
    got_status, got = _raw(url, method, path, body)
    assert got_status == status and words in got["error"]["message"]
    assert got["error"]["type"] in ("invalid_request_error", "not_found_error")
    assert backend.seen == []


def test_keep_alive_survives_a_bad_request(fake_server):
    _, url = fake_server
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    statuses = []
    for body in (_chat(), b"{broken", _chat()):
        conn.request("POST", "/v1/chat/completions", body=body)
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
    conn.close()
    assert statuses == [200, 400, 200]


@pytest.mark.parametrize("failure,status,mapped", [
    (LLMServerError("model crashed"), 500, LLMServerError),
    (RuntimeError("unexpected bug"), 500, LLMServerError),
    (LLMBadRequest("prompt too long"), 400, LLMBadRequest),
])
def test_backend_failures_become_http_errors(fake_server, failure, status, mapped, capsys):
    backend, url = fake_server
    backend.fail = failure
    got_status, got = _raw(url, "POST", "/v1/chat/completions", _chat())
    assert got_status == status and str(failure) in got["error"]["message"]
    with pytest.raises(mapped, match=str(failure)):
        OpenAIBackend("fake", base_url=url).complete(USER)


def test_run_server_bad_model_is_a_one_line_error(tmp_path):
    with pytest.raises(ModelUnavailable, match="not a model folder"):
        run_server(str(tmp_path / "nope"), port=0)


def test_run_server_port_in_use_fails_before_loading(monkeypatch):
    """Bind first: a taken port is an InputError naming --port, and the model is never loaded."""

    monkeypatch.setattr(TransformersBackend, "load", lambda self: pytest.fail("loaded before binding"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(InputError, match=rf"--port {port}.*another --port"):
            run_server(None, port=port)


def test_default_model_resolves_without_loading():
    """No --model: the backend names the default SmolLM2 (this was a NameError) and loads nothing yet."""
    backend = TransformersBackend(None)
    assert backend.model_id == DEFAULT_MODEL_NAME == default_model_path().name
    assert backend._model is None
