"""OpenAI response objects: `chat.completion`, its streamed `chat.completion.chunk`s, and errors.

Both served models (the LLM and `countllm-agent`) produce a `Completion` first and are
answered through these, so the two read the same to a client. Streaming is honest but coarse:
the whole answer exists before the first event, so a failure is a plain JSON error with its
status rather than a broken stream; the cost is no token-by-token latency benefit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from countllm.agents.llm.base import Completion


def error_body(message: str, kind: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


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
    """`chat.completion.chunk` events: the whole text in one chunk, then the stop chunk (then usage)."""
    def chunk(delta: dict, finish: str | None) -> dict:
        return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    chunks = [chunk({"role": "assistant", "content": done.text}, None),
              chunk({}, done.extra.get("finish_reason", "stop"))]
    if include_usage:
        chunks.append({**chunk({}, None), "choices": [], "usage": _usage(done)})
    return chunks


def sse_events(chunks: list[dict]) -> Iterator[str]:
    """Server-sent events: `data: {json}` per chunk, a blank line after each, then `data: [DONE]`."""
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"
