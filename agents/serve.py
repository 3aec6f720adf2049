"""`countllm serve`: an OpenAI-compatible endpoint (FastAPI + uvicorn) for a local LLM and the agent.

It makes the offline default model reachable by every OpenAI client (and by `OpenAIBackend`,
so the HTTP path is tested for real on loopback), and serves the agent as model
`countllm-agent`: a chat message carrying a video is answered by `countllm.agents.ask`.

The parts, one job each: `serve_requests` (the body's schema and validation errors),
`serve_responses` (OpenAI's response objects and SSE), `serve_media` (which video a message
names and the --media-root check), `serve_agent` (the agent route and its session cache),
`serve_app` (the FastAPI app: routes, API key, error shapes). This module binds and runs it.

`POST /v1/chat/completions` takes messages, temperature, max_tokens (or max_completion_tokens),
seed, response_format {"type": "json_object"|"text"}, stream, stream_options.include_usage;
other standard sampling fields (top_p, stop, ...) are accepted and ignored; n must be 1.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import uvicorn
from fastapi import FastAPI

from countllm.agents.llm.base import LLMBackend
from countllm.agents.serve_agent import AGENT_MODEL, AgentFactory, AgentRoute, SessionCache, default_agent_factory
from countllm.agents.serve_app import MAX_BODY_BYTES, ServeConfig, build_app
from countllm.agents.serve_media import MediaRoots
from countllm.agents.serve_requests import RequestError
from countllm.errors import CountLLMError, InputError, ModelUnavailable

if TYPE_CHECKING:
    from countllm.agents.llm.local_backend import TransformersBackend

SESSION_CACHE_SIZE = 8  # open videos kept for follow-up questions (each holds its decoded pose)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before anything slow happens; InputError naming --port when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says TCP, and
    # accepted sockets inherit it; with proto 0 every response waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart is not refused by TIME_WAIT
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"--port {port}", f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                         "pass another --port") from None
    return sock


def _uvicorn_server(app: FastAPI, verbose: bool) -> uvicorn.Server:
    config = uvicorn.Config(app, lifespan="off", access_log=verbose, log_level="info" if verbose else "warning",
                            log_config=uvicorn.config.LOGGING_CONFIG if verbose else None,
                            timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


class ServerHandle:
    """A uvicorn server on a thread, with the two calls `http.server` users know."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    def shutdown(self) -> None:
        """Stop accepting, finish the requests in flight (up to 5 s), close idle connections."""
        self._server.should_exit = True
        self._thread.join(10)

    def server_close(self) -> None:
        """Nothing left to close after shutdown(); kept so callers written for http.server still work."""


class BackgroundServer(NamedTuple):
    """(server, thread, url) as before; `url` ends in /v1. Also a context manager that shuts down."""

    server: ServerHandle
    thread: threading.Thread
    url: str

    def close(self) -> None:
        self.server.shutdown()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _agent_route(factory: AgentFactory | None, media_roots: Sequence[str | Path], size: int) -> AgentRoute | None:
    return None if factory is None else AgentRoute(SessionCache(factory, size), MediaRoots.of(media_roots))


def start_background_server(backend: LLMBackend | None, host: str = "127.0.0.1", port: int = 0,
                            served_name: str | None = None, verbose: bool = False, *,
                            agent: AgentFactory | None = None, media_roots: Sequence[str | Path] = (),
                            api_key: str | None = None, sessions: int = SESSION_CACHE_SIZE) -> BackgroundServer:
    """Serve on a daemon thread until `.close()` (or `server.shutdown()`); port 0 picks a free port.

    `agent` (e.g. `default_agent_factory()`) also serves `countllm-agent`, reading videos under
    `media_roots` (default: the current directory); `backend=None` serves the agent alone.
    """
    cfg = ServeConfig(served_name=(served_name or backend.model_id) if backend else None, api_key=api_key)
    app = build_app(cfg, backend, _agent_route(agent, media_roots, sessions))
    sock = bind(host, port)
    server = _uvicorn_server(app, verbose)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="countllm-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the background server did not start")
        time.sleep(0.01)
    bound_host, bound_port = sock.getsockname()[:2]
    return BackgroundServer(ServerHandle(server, thread), thread, f"http://{bound_host}:{bound_port}/v1")


def _real_agent(required: bool) -> AgentFactory | None:
    """The agent's factory, or None (said on stdout) when the agent package cannot be imported."""
    try:
        return default_agent_factory()
    except ImportError as exc:
        if required:
            raise ModelUnavailable("countllm.agents.ask", f"the agent cannot be imported ({exc})") from None
        print(f"note: {AGENT_MODEL!r} is not served: the agent cannot be imported ({exc})", flush=True)
        return None


def _load_backend(model: str | None, threads: int | None) -> TransformersBackend:
    from countllm.agents.llm.local_backend import TransformersBackend  # noqa: PLC0415 — transformers on demand

    return TransformersBackend(model, num_threads=threads)


def run_server(model: str | None, host: str = "127.0.0.1", port: int = 8000, served_name: str | None = None,
               threads: int | None = None, *, api_key: str | None = None, media_roots: Sequence[str | Path] = (),
               agent_only: bool = False, sessions: int = SESSION_CACHE_SIZE) -> None:
    """`countllm serve`: load the local model (default SmolLM2) and the agent, serve until Ctrl-C.

    The port is bound first (a port in use fails at once, before a model load of seconds), then
    the model loads before the first request is accepted, so a bad folder is a one-line error
    and the first request is not slow. `agent_only` serves `countllm-agent` without any LLM.
    """
    if agent_only and (model or served_name):
        raise InputError("--agent-only", "serves no LLM, so --model and --served-name do not apply; drop them")
    roots = MediaRoots.of(media_roots)
    backend = None if agent_only else _load_backend(model, threads)
    sock = bind(host, port)
    try:
        agent = _real_agent(required=agent_only)
        if backend is not None:
            print(f"loading {model or backend.model_id} ...", flush=True)
            backend.load()
            print(f"loaded in {backend.load_seconds:.1f} s", flush=True)
    except CountLLMError:
        sock.close()
        raise
    route = None if agent is None else AgentRoute(SessionCache(agent, sessions), roots)
    cfg = ServeConfig(served_name=(served_name or backend.model_id) if backend else None, api_key=api_key)
    app = build_app(cfg, backend, route)
    names = [n for n in (cfg.served_name, route and route.name) if n]
    print(f"serving {', '.join(map(repr, names))} at http://{host}:{sock.getsockname()[1]}/v1 (OpenAI-compatible); "
          f"videos under {', '.join(map(str, roots.roots))}; "
          f"{'API key required' if api_key else 'no API key'}. Ctrl-C stops.", flush=True)
    try:
        _uvicorn_server(app, verbose=True).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down on
        pass
    finally:
        sock.close()
    print("stopped", flush=True)


__all__ = ["AGENT_MODEL", "MAX_BODY_BYTES", "BackgroundServer", "RequestError", "ServeConfig", "bind",
           "default_agent_factory", "run_server", "start_background_server"]
