"""`countllm-agent` over loopback HTTP: the openai client asks the real agent about a synthetic pose file.

Also: --media-root (403, symlinks included), --api-key (401), a bad video (400, one line), FastAPI's
validation errors in OpenAI's shape, streaming, the agent alone, and `countllm serve --agent-only`
through the console script. The LLM beside the agent is the scripted FakeBackend of test_serve.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("fastapi")

from countllm.agents.serve import AGENT_MODEL, default_agent_factory, start_background_server  # noqa: E402
from countllm.synthetic.skeleton import SyntheticConfig, make_sequence  # noqa: E402
from tests.test_serve import FakeBackend  # noqa: E402

KEY = "sesame-123"
COUNTLLM = str(Path(sys.executable).with_name("countllm"))


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """A media root with a 6-squat pose file, a corrupt one and a symlink to a file outside the root."""
    base = tmp_path_factory.mktemp("media")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    joints = make_sequence(SyntheticConfig(exercise="squat", n_reps=6)).pose.joints
    np.save(root / "squats.npy", joints)
    np.save(outside / "private.npy", joints)
    (root / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    (root / "escape.npy").symlink_to(outside / "private.npy")
    return {"root": root, "outside": outside}


@pytest.fixture(scope="module")
def opened() -> list[Path]:
    return []


@pytest.fixture(scope="module")
def server(media, opened):
    """The fake LLM and the real agent, videos under media['root'], key KEY."""
    real = default_agent_factory()

    def factory(path: Path):
        opened.append(path)
        return real(path)

    with start_background_server(FakeBackend(), served_name="fake", agent=factory, media_roots=[media["root"]],
                                 api_key=KEY) as running:
        yield running.url


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server, api_key=KEY, max_retries=0, timeout=60)


def _video(path: Path, text: str = "How many squats?") -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "video_url", "video_url": {"url": path.as_uri()}}]}]


def _raw(url: str, method: str, path: str, body: dict | bytes | None = None,
         key: str | None = KEY) -> tuple[int, dict]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    try:
        conn.request(method, path, body=json.dumps(body).encode() if isinstance(body, dict) else body,
                     headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _ask(url: str, messages: list[dict], key: str | None = KEY) -> tuple[int, dict]:
    return _raw(url, "POST", "/v1/chat/completions", {"model": AGENT_MODEL, "messages": messages}, key)


def _assert_openai_error(body: dict, words: str) -> None:
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert words in body["error"]["message"], body
    assert "\n" not in body["error"]["message"]


# --- the agent through the openai client ---------------------------------------------------------

def test_models_lists_the_llm_and_the_agent(client):
    assert [m.id for m in client.models.list()] == ["fake", AGENT_MODEL]


def test_the_agent_answers_json_about_a_pose_file(client, media):
    reply = client.chat.completions.create(model=AGENT_MODEL, messages=_video(media["root"] / "squats.npy"),
                                           response_format={"type": "json_object"})
    answer = json.loads(reply.choices[0].message.content)
    assert answer["count"] == 6 and answer["intent"] == "count" and answer["schema_version"] == 1
    assert answer["question"] == "How many squats?" and reply.model == AGENT_MODEL
    assert reply.choices[0].finish_reason == "stop" and reply.usage is None


def test_a_path_in_the_text_and_a_fast_follow_up(client, media, opened):
    path = media["root"] / "squats.npy"
    asked = []
    for question in (f"how many squats in {path}?", f"how long was each rep in {path}?"):
        start = time.perf_counter()
        reply = client.chat.completions.create(model=AGENT_MODEL, messages=[{"role": "user", "content": question}])
        asked.append((reply.choices[0].message.content, time.perf_counter() - start))
    assert "6" in asked[0][0] and "squat" in asked[0][0]
    assert "rep" in asked[1][0].lower() and " s" in asked[1][0]
    assert opened.count(path.resolve()) == 1  # the follow-up reused the session (also across tests)
    assert asked[1][1] < 5.0


def test_streaming_an_agent_answer(client, media):
    stream = client.chat.completions.create(model=AGENT_MODEL, messages=_video(media["root"] / "squats.npy"),
                                            stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "6" in text and [c.choices[0].finish_reason for c in chunks][-1] == "stop"


def test_the_stream_on_the_wire_is_server_sent_events(server, media):
    parts = urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = {"model": AGENT_MODEL, "messages": _video(media["root"] / "squats.npy"), "stream": True,
            "stream_options": {"include_usage": True}}
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers={"Authorization": f"Bearer {KEY}"})
    resp = conn.getresponse()
    raw = resp.read().decode()
    conn.close()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and all(e.startswith("data: ") for e in events[:-1])
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert [c["choices"][0]["finish_reason"] if c["choices"] else "usage" for c in chunks] == [None, "stop", "usage"]
    assert "6" in chunks[0]["choices"][0]["delta"]["content"] and chunks[0]["model"] == AGENT_MODEL


def test_the_llm_is_still_served_beside_the_agent(client):
    reply = client.chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == '{"reps": 5}'


# --- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["outside/private.npy", "root/escape.npy", "root/../outside/private.npy"])
def test_a_path_outside_the_media_root_is_refused(server, media, where):
    path = media["root"].parent / where
    for messages in (_video(path), [{"role": "user", "content": f"how many squats in {path}?"}]):
        status, body = _ask(server, messages)
        assert status == 403, body
        _assert_openai_error(body, "outside the folders this server reads (--media-root)")
        assert body["error"]["type"] == "permission_error" and body["error"]["code"] == "media_outside_root"


def test_the_openai_client_sees_the_403(client, media):
    with pytest.raises(openai.PermissionDeniedError, match="--media-root"):
        client.chat.completions.create(model=AGENT_MODEL, messages=_video(media["root"] / "escape.npy"))


@pytest.mark.parametrize("key", [None, "wrong", KEY + "x", KEY[:-1]])
def test_a_missing_or_wrong_key_is_a_401(server, key, media):
    for method, path, body in (("GET", "/v1/models", None), ("POST", "/v1/chat/completions", b"not even json"),
                               ("GET", "/no/such/route", None)):
        status, got = _raw(server, method, path, body, key)
        assert status == 401, (path, got)
        _assert_openai_error(got, "missing or wrong API key")
        assert got["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server, api_key=key or "none", max_retries=0).models.list()


def test_the_right_key_works_and_health_is_open(server):
    assert _raw(server, "GET", "/v1/models")[0] == 200
    assert _raw(server, "GET", "/health", key=None) == (200, {"status": "ok", "model": "fake"})


@pytest.mark.parametrize("name,words", [("broken.npy", "broken.npy"), ("missing.npy", "file not found")])
def test_a_bad_video_is_a_400_with_one_line(server, media, name, words):
    status, body = _ask(server, _video(media["root"] / name))
    assert status == 400, body
    _assert_openai_error(body, words)


def test_no_video_is_a_400_saying_how_to_attach_one(server):
    status, body = _ask(server, [{"role": "user", "content": "how many squats?"}])
    assert status == 400
    _assert_openai_error(body, '{"type": "video_url", "video_url": {"url": "file:///abs/path.mp4"}}')


@pytest.mark.parametrize("body,param,words", [
    ({"model": AGENT_MODEL, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     "messages[0].content[0].type", "'text' or 'video_url'"),
    ({"model": AGENT_MODEL, "messages": [{"role": "user", "content": [{"type": "video_url"}]}]},
     "messages[0].content[0]", "needs 'video_url'"),
    ({"model": AGENT_MODEL, "messages": [{"role": "user", "content": [
        {"type": "video_url", "video_url": {"url": 7}}]}]}, "messages[0].content[0].video_url.url", "string"),
    ({"messages": [{"role": "user"}]}, "model", "model is required; messages[0].content is required"),
    ({"model": "fake", "messages": _video(Path("/x.mp4"))}, "messages[0].content", "answered by model"),
])
def test_validation_errors_are_openai_shaped_400s(server, body, param, words):
    status, got = _raw(server, "POST", "/v1/chat/completions", body)
    assert status == 400, got  # never FastAPI's 422
    _assert_openai_error(got, words)
    assert got["error"]["param"] == param and got["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None, "text/plain"])
def test_the_body_is_json_whatever_its_content_type(server, content_type):
    """`curl -d` sends form encoding and http.client none: the body is read as JSON all the same."""
    parts = urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Authorization": f"Bearer {KEY}", **({"Content-Type": content_type} if content_type else {})}
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(), headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["choices"][0]["message"]["content"] == '{"reps": 5}'
    conn.close()


def test_an_oversized_body_is_a_413(server):
    status, got = _raw(server, "POST", "/v1/chat/completions", b"x" * (8 * 1024 * 1024 + 1))
    assert status == 413
    _assert_openai_error(got, "body larger than")


# --- the agent alone -------------------------------------------------------------------------------

class FakeSession:
    """Answers from a script; stands in for AgentSession where the answer's shape is what matters."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def ask(self, question: str):
        from countllm.agents.ask import AgentAnswer  # noqa: PLC0415

        return AgentAnswer(answer=f"asked {question!r} about {self.path.name}", intent="count", count=3)


def test_the_agent_alone_with_a_fake_session(media):
    with start_background_server(None, agent=FakeSession, media_roots=[media["root"]]) as running:
        client = openai.OpenAI(base_url=running.url, api_key="none", max_retries=0)
        assert [m.id for m in client.models.list()] == [AGENT_MODEL]
        reply = client.chat.completions.create(model=AGENT_MODEL, messages=_video(media["root"] / "squats.npy"))
        assert reply.choices[0].message.content == "asked 'How many squats?' about squats.npy"
        empty = client.chat.completions.create(model=AGENT_MODEL, messages=_video(media["root"] / "squats.npy", ""))
        assert "How many repetitions" in empty.choices[0].message.content
        with pytest.raises(openai.NotFoundError, match="not served here"):
            client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=[{"role": "user", "content": "x"}])


def test_countllm_serve_agent_only_through_the_console_script(media, tmp_path):
    """`countllm serve --agent-only --api-key KEY --media-root DIR`: no LLM loads; the openai client asks."""
    from tests.test_cli_bad_input import _occupied_port  # noqa: PLC0415

    sock, port = _occupied_port()
    sock.close()
    server = subprocess.Popen([COUNTLLM, "serve", "--agent-only", "--port", str(port), "--media-root",
                               str(media["root"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**__import__("os").environ, "COUNTLLM_SERVE_API_KEY": KEY})
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0, timeout=60)
        deadline = time.monotonic() + 120
        while True:
            try:
                assert [m.id for m in client.models.list()] == [AGENT_MODEL]
                break
            except openai.APIConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.3)
        reply = client.chat.completions.create(model=AGENT_MODEL, messages=_video(media["root"] / "squats.npy"),
                                               response_format={"type": "json_object"})
        assert json.loads(reply.choices[0].message.content)["count"] == 6
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0).models.list()
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "serving 'countllm-agent'" in out and "API key required" in out and KEY not in out + err


@pytest.mark.parametrize("flags,names", [(["--media-root", "{tmp}/nope"], "nope"),
                                         (["--model", "{tmp}"], "--agent-only")])
def test_countllm_serve_bad_flags_are_one_line(tmp_path, flags, names):
    argv = [COUNTLLM, "serve", "--agent-only", "--port", "0", *(f.format(tmp=tmp_path) for f in flags)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and names in lines[0] and "error" in lines[0], out.stderr


def test_a_corrupt_mp4_is_a_400(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    with start_background_server(None, agent=default_agent_factory(), media_roots=[tmp_path]) as running:
        status, body = _ask(running.url, _video(broken), key=None)
    assert status == 400
    _assert_openai_error(body, "broken.mp4")


@pytest.mark.slow
def test_the_agent_counts_a_rendered_video(squat_video):
    """A real .mp4 (decoded, MediaPipe pose, frame embeddings: ~20 s on 2 cores) through the server."""
    path, true_count = squat_video
    with start_background_server(None, agent=default_agent_factory(), media_roots=[path.parent]) as running:
        status, body = _ask(running.url, _video(path), key=None)
    assert status == 200, body
    assert str(true_count) in body["choices"][0]["message"]["content"]
