"""The FastAPI app of `countllm serve`: routes, the API key, and every error in OpenAI's shape.

Routes: `POST /v1/chat/completions` (to the LLM backend or, for model `countllm-agent`, to the
agent), `GET /v1/models` (both), `GET /health` (open even with an API key, so a load balancer
or `curl` can probe it; it reveals the served names only). Every error — ours, FastAPI's
validation (400, not its 422), unknown routes and methods (404/405), a body over the limit
(413), a missing or wrong key (401), a path outside --media-root (403), a backend failure
(500) — is `{"error": {"message", "type", "param", "code"}}`.

The chat route runs the answer in Starlette's worker threads (`run_in_threadpool`), so a
blocking generation or agent answer never stalls the event loop and requests overlap. A local backend
serialises generation with its own lock; the agent serialises per video (serve_agent.py).
"""

from __future__ import annotations

import hmac
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from countllm.agents.llm.base import Completion, LLMBackend, LLMBadRequest
from countllm.agents.serve_agent import AgentRoute
from countllm.agents.serve_requests import ChatBody, RequestError, llm_request, validation_error_body
from countllm.agents.serve_responses import completion_body, error_body, sse_events, stream_chunks
from countllm.errors import CountLLMError, InputError

MAX_BODY_BYTES = 8 * 1024 * 1024
OPEN_PATHS = frozenset({"/health"})  # answered without the API key


@dataclass(frozen=True)
class ServeConfig:
    """What the server reports and its request defaults. `served_name` is None when no LLM is served."""

    served_name: str | None
    default_max_tokens: int = 512
    default_temperature: float = 1.0  # OpenAI's documented default
    api_key: str | None = None


def _error(status: int, message: str, kind: str | None = None, param: str | None = None,
           code: str | None = None, headers: dict | None = None) -> JSONResponse:
    kind = kind or RequestError(status, message).kind
    return JSONResponse(error_body(message, kind, param, code), status_code=status, headers=headers)


class BearerKey:
    """ASGI middleware: with a key set, every request but OPEN_PATHS needs `Authorization: Bearer KEY`."""

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key and scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.key}".encode()):
                message = ("missing or wrong API key: send the header 'Authorization: Bearer KEY' with the key "
                           "the server was started with (--api-key)")
                response = _error(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is a 413 JSON, declared or chunked.

    The body is read here (at most `limit` bytes are held) and replayed to the app, so an
    oversized chunked upload is refused as cleanly as one with a Content-Length.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _error(413, f"body larger than {self.limit} bytes")(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> dict:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.kind, exc.param, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_error_body(exc.errors())
        return _error(400, message, param=param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        message = {404: f"no route {where}", 405: f"method not allowed: {where}"}.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, message, headers=getattr(exc, "headers", None))


class Answerer:
    """Picks the served model a body names and turns its answer or failure into a response."""

    def __init__(self, cfg: ServeConfig, backend: LLMBackend | None, agent: AgentRoute | None) -> None:
        self.cfg, self.backend, self.agent = cfg, backend, agent
        self.names = [n for n in (cfg.served_name if backend else None, agent.name if agent else None) if n]

    def complete(self, body: ChatBody) -> Completion:
        if self.agent is not None and body.model == self.agent.name:
            return self._guarded(lambda: self.agent.complete(body))
        if self.backend is None or body.model != self.cfg.served_name:
            raise RequestError(404, f"model {body.model!r} is not served here; available: "
                               f"{', '.join(map(repr, self.names))}", "model", "model_not_found")
        request = llm_request(body, self.cfg.default_temperature, self.cfg.default_max_tokens,
                              self.agent.name if self.agent else "countllm-agent")
        return self._guarded(lambda: self.backend.complete(request.messages, request.config))

    @staticmethod
    def _guarded(call: Callable[[], Completion]) -> Completion:
        """A client's fault is a 400; a bad video's InputError a 400 with its one line; anything else a 500."""
        try:
            return call()
        except RequestError:
            raise
        except (LLMBadRequest, InputError) as exc:
            raise RequestError(400, exc.one_line() if isinstance(exc, CountLLMError) else str(exc)) from None
        except Exception as exc:  # noqa: BLE001 — any failure must reach the client as a 500 JSON
            if not isinstance(exc, CountLLMError):
                traceback.print_exc(file=sys.stderr)
            text = exc.one_line() if isinstance(exc, CountLLMError) else str(exc)
            raise RequestError(500, f"{type(exc).__name__}: {text}", kind="server_error") from None


def parse_body(raw: bytes) -> ChatBody:
    """The body as JSON whatever its Content-Type says (`curl -d` sends form encoding, http.client
    none), validated by the model; a failure is FastAPI's RequestValidationError, rendered as a 400."""
    try:
        return ChatBody.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def build_app(cfg: ServeConfig, backend: LLMBackend | None = None, agent: AgentRoute | None = None) -> FastAPI:
    """The ASGI app serving the backend (as cfg.served_name) and/or the agent."""
    if backend is None and agent is None:
        raise ValueError("serve needs an LLM backend, the agent, or both")
    answerer = Answerer(cfg, backend, agent)
    app = FastAPI(title="countllm serve", docs_url=None, redoc_url=None)
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(BearerKey, key=cfg.api_key)  # the outer one: no key, no body read

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": answerer.names[0]}

    @app.get("/v1/models")
    def models() -> dict:
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "countllm"} for n in answerer.names]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        body = parse_body(await request.body())
        done = await run_in_threadpool(answerer.complete, body)  # blocking: generation or an agent answer
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if body.stream:
            chunks = stream_chunks(done, body.model, rid, created, body.include_usage)
            return StreamingResponse(sse_events(chunks), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return JSONResponse(completion_body(done, body.model, rid, created))

    return app
