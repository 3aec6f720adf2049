"""The one interface every LLM backend implements, and the errors it may raise.

Mining and agents only ever see `LLMBackend.complete`; which server or local model answers is
configuration. Errors are typed so the batch runner can tell what is worth retrying
(timeouts, rate limits, server errors) from what is not (a bad request, a missing model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings; part of the cache key, since they change the answer."""

    temperature: float = 0.0
    max_tokens: int = 256
    seed: int | None = None
    json_mode: bool = False  # ask the server for a JSON object where it supports it


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict = field(default_factory=dict)


class LLMError(RuntimeError):
    """Base class; `retryable` tells the batch runner whether another try may succeed.

    `retry_after_s` carries a server's Retry-After hint (429/503) so the runner can wait as
    long as the server asked instead of guessing a backoff; None when the server gave none.
    """

    retryable = False

    def __init__(self, message: str = "", *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LLMTimeout(LLMError):
    retryable = True


class LLMRateLimited(LLMError):
    retryable = True


class LLMServerError(LLMError):
    retryable = True


class LLMBadRequest(LLMError):
    retryable = False


class LLMUnavailable(LLMError):
    """The backend cannot be reached or loaded at all (wrong URL, missing model folder)."""

    retryable = False


@runtime_checkable
class LLMBackend(Protocol):
    """Anything that turns chat messages into one completion."""

    @property
    def model_id(self) -> str:
        """A stable name of the model (goes into cache keys and mined artifacts)."""
        ...

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = GenerationConfig()) -> Completion:
        """One completion; raises an `LLMError` subclass on failure, never returns filler."""
        ...
