"""The /v1/chat/completions body as pydantic models, and the validation errors as OpenAI's 400s.

Why pydantic: FastAPI validates the body against these models before a route runs, so the
OpenAPI schema (GET /openapi.json) and the checks are one definition. Every field is strict
(`true` is not a max_tokens, `"1"` is not a temperature), unknown fields are ignored (clients
send top_p, stop, user, ...), and a failed check becomes `{"error": {"message", "type",
"param", "code"}}` with status 400, never FastAPI's own 422 shape (`validation_error`).

A message's content is a string or a list of parts: `{"type": "text", "text": ...}` and, for
the agent, `{"type": "video_url", "video_url": {"url": "file:///abs/path.mp4"}}` as vLLM
accepts. A string is stored as one text part, so a route reads one form.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from countllm.agents.llm.base import ChatMessage, GenerationConfig

Role = Literal["system", "user", "assistant", "developer"]  # "developer" is OpenAI's newer "system"


class RequestError(Exception):
    """A client mistake found after validation; an OpenAI-style error JSON with this HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind = kind or {401: "invalid_request_error", 403: "permission_error",
                             404: "not_found_error"}.get(status, "invalid_request_error")


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class VideoUrl(_Strict):
    url: Annotated[str, Field(min_length=1)]


class ContentPart(_Strict):
    """One part of a message: text, or a video by URL (only `countllm-agent` reads videos)."""

    type: Literal["text", "video_url"]
    text: str | None = None
    video_url: VideoUrl | None = None

    @model_validator(mode="after")
    def _has_its_field(self) -> ContentPart:
        if self.type == "text" and self.text is None:
            raise PydanticCustomError("missing_text", "a text part needs a string 'text'")
        if self.type == "video_url" and self.video_url is None:
            raise PydanticCustomError("missing_video_url", "a video_url part needs 'video_url': {'url': ...}")
        return self


class MessageBody(_Strict):
    role: Role
    content: list[ContentPart]

    @field_validator("content", mode="before")
    @classmethod
    def _string_is_one_text_part(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [{"type": "text", "text": value}]
        if not isinstance(value, list):
            raise PydanticCustomError("content_type", "must be a string or a list of content parts")
        return value

    def text(self) -> str:
        """The text parts joined (as OpenAI joins them: no separator)."""
        return "".join(p.text or "" for p in self.content if p.type == "text")

    def video_urls(self) -> list[str]:
        return [p.video_url.url for p in self.content if p.video_url is not None]


class ResponseFormat(_Strict):
    type: Literal["text", "json_object"]


class StreamOptions(_Strict):
    include_usage: bool = False


PositiveInt = Annotated[int, Field(ge=1)]


class ChatBody(_Strict):
    """A /v1/chat/completions body. Defaults follow OpenAI's API (temperature 1.0 when absent)."""

    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[MessageBody], Field(min_length=1)]
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None  # OpenAI's newer name; wins over max_tokens
    seed: Annotated[int, Field(ge=-(2**63), lt=2**64)] | None = None
    n: PositiveInt | None = None
    response_format: ResponseFormat | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None

    @property
    def json_mode(self) -> bool:
        return self.response_format is not None and self.response_format.type == "json_object"

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


@dataclass(frozen=True)
class ChatRequest:
    """A validated body in the LLM backend's terms."""

    messages: list[ChatMessage]
    config: GenerationConfig
    stream: bool = False
    include_usage: bool = False


def check_n(body: ChatBody) -> None:
    if body.n not in (None, 1):
        raise RequestError(400, "only n=1 is supported", "n")


def llm_request(body: ChatBody, default_temperature: float, default_max_tokens: int, agent_name: str) -> ChatRequest:
    """The body for an LLM backend: text messages only (a video part is the agent's)."""
    check_n(body)
    for i, msg in enumerate(body.messages):
        if msg.video_urls():
            raise RequestError(400, f"messages[{i}].content has a video part; videos are answered by model "
                               f"{agent_name!r}", f"messages[{i}].content")
    config = GenerationConfig(
        temperature=default_temperature if body.temperature is None else body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens or default_max_tokens,
        seed=body.seed, json_mode=body.json_mode)
    messages = [ChatMessage("system" if m.role == "developer" else m.role, m.text()) for m in body.messages]
    return ChatRequest(messages, config, bool(body.stream), body.include_usage)


# --- validation errors in OpenAI's shape ------------------------------------------------------------

def param_name(loc: Sequence[str | int]) -> str | None:
    """("body", "messages", 0, "content") -> "messages[0].content"; None for the body itself."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def _error_message(error: dict) -> str:
    """One pydantic/FastAPI error as a sentence naming the field, worded like the API's docs."""
    kind, param = error.get("type"), param_name(error.get("loc", ()))
    if kind == "json_invalid":
        return f"body is not valid JSON: {error.get('ctx', {}).get('error', 'decode error')}"
    if param is None or kind in ("model_type", "model_attributes_type", "dict_type"):
        where = "the request body" if param is None else param
        return f"{where} must be a JSON object"
    if kind == "missing":
        return f"{param} is required"
    if kind == "too_short" and param == "messages":
        return "messages must be a non-empty array"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f", got {json.dumps(got, default=str)[:80]}"
    return f"{param}: {error.get('msg', 'invalid value')}{shown}"


def validation_error_body(errors: Sequence[Any]) -> tuple[str, str | None]:
    """(message, param) for a list of validation errors: every message in one line, the first param."""
    errors = [e for e in errors if isinstance(e, dict)] or [{"msg": "invalid request", "loc": ()}]
    message = "; ".join(dict.fromkeys(_error_message(e) for e in errors))  # unique, in order
    first = errors[0]
    return message, None if first.get("type") == "json_invalid" else param_name(first.get("loc", ()))
