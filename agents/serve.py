"""`countllm serve`: an OpenAI-compatible chat endpoint over any `LLMBackend`, standard library only.

It makes the offline default model reachable by every OpenAI client (and by `OpenAIBackend`,
so the HTTP path is tested for real on loopback). Endpoints:

- `POST /v1/chat/completions` — messages, temperature, max_tokens (or max_completion_tokens),
  seed, response_format {"type": "json_object"|"text"}, stream, stream_options.include_usage.
  Other standard sampling fields (top_p, stop, ...) are accepted and ignored; n must be 1.
  Defaults follow OpenAI's API: temperature 1.0 when absent.
- `GET /v1/models`, `GET /health`.

Streaming is honest but coarse: the whole answer is generated first, then sent as one content
chunk, a stop chunk (and a usage chunk if asked), then `data: [DONE]`. That keeps a backend
failure a plain 500 JSON error rather than a broken stream, at the cost of no token-by-token
latency benefit. Errors are OpenAI-style `{"error": {"message", "type", "param", "code"}}`:
400/404/405/411/413 for bad requests, 500 for backend failures.

Requests are served on threads (`ThreadingHTTPServer`); a local backend serialises generation
with its own lock, so concurrency buys overlap of I/O and parsing, not parallel decoding.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from countllm.agents.llm.base import ChatMessage, Completion, GenerationConfig, LLMBackend, LLMBadRequest, LLMError
from countllm.errors import CountLLMError, InputError

ROLES = ("system", "user", "assistant", "developer")  # "developer" is OpenAI's newer "system"
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ServeConfig:
    """What the server reports and its request defaults."""

    served_name: str
    default_max_tokens: int = 512
    default_temperature: float = 1.0  # OpenAI's documented default
    verbose: bool = False  # access log on stderr


@dataclass(frozen=True)
class ChatRequest:
    """A validated /v1/chat/completions body."""

    messages: list[ChatMessage]
    config: GenerationConfig
    stream: bool = False
    include_usage: bool = False


class RequestError(Exception):
    """A client mistake; becomes an OpenAI-style error JSON with this HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


# --- request validation -------------------------------------------------------------------------

def _message_text(content: Any, index: int) -> str:
    """A message's text: a string, or a list of {"type": "text", "text": ...} parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise RequestError(400, f"messages[{index}].content must be a string or a list of text parts",
                       f"messages[{index}].content")


def _parse_messages(raw: Any) -> list[ChatMessage]:
    if not isinstance(raw, list) or not raw:
        raise RequestError(400, "messages must be a non-empty array", "messages")
    out = []
    for i, msg in enumerate(raw):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            raise RequestError(400, f"messages[{i}] needs a role in {list(ROLES)}", f"messages[{i}].role")
        role = "system" if msg["role"] == "developer" else msg["role"]
        out.append(ChatMessage(role=role, content=_message_text(msg.get("content"), i)))
    return out


def _number(body: dict, name: str, kind: type, default: Any, low: float, high: float | None = None) -> Any:
    """body[name] checked for type and range (bool is rejected although Python calls it an int)."""
    value = body.get(name)
    if value is None:
        return default
    ok_type = (int, float) if kind is float else (int,)
    if isinstance(value, bool) or not isinstance(value, ok_type) or value < low or (high is not None and value > high):
        bounds = f">= {low}" + (f" and <= {high}" if high is not None else "")
        raise RequestError(400, f"{name} must be a {kind.__name__} {bounds}, got {value!r}", name)
    return kind(value)


def _json_mode(body: dict) -> bool:
    fmt = body.get("response_format")
    if fmt is None:
        return False
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object"):
        raise RequestError(400, f"response_format.type must be 'text' or 'json_object', got {kind!r}",
                           "response_format")
    return kind == "json_object"


def _check_model(body: dict, cfg: ServeConfig) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError(400, "model is required", "model")
    if model != cfg.served_name:
        raise RequestError(404, f"model {model!r} is not served here; available: {cfg.served_name!r}",
                           "model", "model_not_found")


def parse_chat_request(body: Any, cfg: ServeConfig) -> ChatRequest:
    """Validate a chat completions body; RequestError (400/404) naming the bad field."""
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    _check_model(body, cfg)
    if _number(body, "n", int, 1, 1) != 1:
        raise RequestError(400, "only n=1 is supported", "n")
    max_tokens = _number(body, "max_completion_tokens", int, None, 1)
    config = GenerationConfig(
        temperature=_number(body, "temperature", float, cfg.default_temperature, 0.0, 2.0),
        max_tokens=max_tokens or _number(body, "max_tokens", int, cfg.default_max_tokens, 1),
        seed=_number(body, "seed", int, None, -(2**63)),
        json_mode=_json_mode(body),
    )
    stream = body.get("stream") or False
    options = body.get("stream_options") or {}
    if not isinstance(stream, bool) or not isinstance(options, dict):
        raise RequestError(400, "stream must be a boolean and stream_options an object", "stream")
    return ChatRequest(_parse_messages(body.get("messages")), config, stream, bool(options.get("include_usage")))


# --- responses ----------------------------------------------------------------------------------

def _usage(done: Completion) -> dict | None:
    if done.prompt_tokens is None or done.completion_tokens is None:
        return None
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}


def completion_body(done: Completion, name: str, rid: str, created: int) -> dict:
    """The standard `chat.completion` object."""
    choice = {"index": 0, "message": {"role": "assistant", "content": done.text},
              "finish_reason": done.extra.get("finish_reason", "stop"), "logprobs": None}
    return {"id": rid, "object": "chat.completion", "created": created, "model": name,
            "choices": [choice], "usage": _usage(done)}


def stream_chunks(done: Completion, name: str, rid: str, created: int, include_usage: bool) -> list[dict]:
    """`chat.completion.chunk` events: the whole text in one chunk, then the stop chunk."""
    def chunk(delta: dict, finish: str | None) -> dict:
        return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    chunks = [chunk({"role": "assistant", "content": done.text}, None),
              chunk({}, done.extra.get("finish_reason", "stop"))]
    if include_usage:
        chunks.append({**chunk({}, None), "choices": [], "usage": _usage(done)})
    return chunks


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# --- HTTP ---------------------------------------------------------------------------------------

class LLMHTTPServer(ThreadingHTTPServer):
    """Holds the backend and config the handler threads share."""

    daemon_threads = True  # a stuck request must not keep the process alive after shutdown

    def __init__(self, address: tuple[str, int], backend: LLMBackend, cfg: ServeConfig) -> None:
        super().__init__(address, ChatHandler)
        self.backend, self.cfg = backend, cfg


class ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the openai client pools connections
    # Headers and body go out in separate writes; with Nagle's algorithm on, a keep-alive
    # connection holds the body until the client ACKs the headers (~40 ms a request).
    disable_nagle_algorithm = True
    server: LLMHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — the stdlib's name
        if self.server.cfg.verbose:
            super().log_message(format, *args)

    def _send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, exc: RequestError) -> None:
        kind = "not_found_error" if exc.status == 404 else "invalid_request_error"
        self._send_json(exc.status, error_body(exc.message, kind, exc.param, exc.code))

    def do_GET(self) -> None:  # noqa: N802 — the stdlib's name
        name = self.server.cfg.served_name
        if self.path == "/health":
            self._send_json(200, {"status": "ok", "model": name})
        elif self.path == "/v1/models":
            model = {"id": name, "object": "model", "created": 0, "owned_by": "countllm"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(RequestError(404, f"no route GET {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        try:
            body = self._read_json()
            if self.path != "/v1/chat/completions":
                raise RequestError(404, f"no route POST {self.path}")
            request = parse_chat_request(body, self.server.cfg)
        except RequestError as exc:
            self._send_error(exc)
            return
        self._answer(request)

    def _read_json(self) -> Any:
        """The request body as JSON; it is always read fully so keep-alive stays in sync."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "Content-Length is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, f"body larger than {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(400, f"body is not valid JSON: {exc}") from None

    def _answer(self, request: ChatRequest) -> None:
        """Run the backend; a backend failure is a 500 (400 if the backend says the request is bad)."""
        try:
            done = self.server.backend.complete(request.messages, request.config)
        except LLMBadRequest as exc:
            self._send_json(400, error_body(str(exc), "invalid_request_error"))
            return
        except Exception as exc:  # noqa: BLE001 — any failure must reach the client as a 500 JSON
            if not isinstance(exc, LLMError):
                traceback.print_exc(file=sys.stderr)
            self._send_json(500, error_body(f"{type(exc).__name__}: {exc}", "server_error"))
            return
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        name = self.server.cfg.served_name
        if request.stream:
            self._send_stream(stream_chunks(done, name, rid, created, request.include_usage))
        else:
            self._send_json(200, completion_body(done, name, rid, created))

    def _send_stream(self, chunks: list[dict]) -> None:
        """Server-sent events; the body ends when the connection closes (no Content-Length)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


# --- entry points -------------------------------------------------------------------------------

def start_background_server(backend: LLMBackend, host: str = "127.0.0.1", port: int = 0,
                            served_name: str | None = None,
                            verbose: bool = False) -> tuple[LLMHTTPServer, threading.Thread, str]:
    """Serve on a daemon thread; returns (server, thread, base_url ending in /v1).

    Port 0 picks a free port. Stop with `server.shutdown(); server.server_close()`.
    """
    cfg = ServeConfig(served_name=served_name or backend.model_id, verbose=verbose)
    server = LLMHTTPServer((host, port), backend, cfg)
    # A short poll interval: shutdown() waits up to one interval, and tests start many servers.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="countllm-serve", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return server, thread, f"http://{bound_host}:{bound_port}/v1"


def run_server(model: str | None, host: str = "127.0.0.1", port: int = 8000, served_name: str | None = None,
               threads: int | None = None) -> None:
    """`countllm serve`: load the local model (default SmolLM2), serve until Ctrl-C.

    The port is bound first (a port in use fails at once, before a model load of seconds), then
    the model loads before the first request is accepted, so a bad folder is a one-line error
    and the first request is not slow.
    """
    from countllm.agents.llm.local_backend import TransformersBackend  # noqa: PLC0415

    backend = TransformersBackend(model, num_threads=threads)
    cfg = ServeConfig(served_name=served_name or backend.model_id, verbose=True)
    try:
        server = LLMHTTPServer((host, port), backend, cfg)
    except OSError as exc:
        raise InputError(f"--port {port}", f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                         "pass another --port") from None
    print(f"loading {model or backend.model_id} ...", flush=True)
    try:
        backend.load()
    except CountLLMError:
        server.server_close()
        raise
    print(f"loaded in {backend.load_seconds:.1f} s; serving {cfg.served_name!r} at "
          f"http://{host}:{server.server_address[1]}/v1 (OpenAI-compatible). Ctrl-C stops.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped", flush=True)
    finally:
        server.server_close()
