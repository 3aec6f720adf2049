"""The one interface every LLM backend implements, and the errors it may raise.

Mining and agents only ever see `LLMBackend.complete`; which server or local model answers is
configuration. A backend that can also *score* given continuations (a local model: it sees its
own logits) offers the optional `ChoiceScorer` capability; callers check `supports_choices`
and fall back to free generation + strict parsing where it is missing. Errors are typed so the batch
runner can tell what is worth retrying
(timeouts, rate limits, server errors) from what is not (a bad request, a missing model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from countllm.errors import CountLLMError, ModelUnavailable


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


class LLMError(CountLLMError, RuntimeError):
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


class LLMUnavailable(LLMError, ModelUnavailable):
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


@dataclass(frozen=True)
class Choices:
    """A multiple-choice request: score each of `options` as the answer's continuation.

    `prefix` is answer text every option shares and that is not scored (e.g. '["' when the
    answer is a JSON array), so the options are compared exactly where they differ.
    `max_tokens` scores only each option's first tokens (see `scoring.truncate_choices`).
    Part of the cache key, like everything that changes the scores.
    """

    options: tuple[str, ...]
    prefix: str = ""
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.options or any(not o for o in self.options):
            raise ValueError("choices need at least one option and no empty option")
        if len(set(self.options)) != len(self.options):
            raise ValueError("an option is listed twice")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1 or None, got {self.max_tokens}")


@runtime_checkable
class ChoiceScorer(Protocol):
    """Optional capability: the log-likelihood of given answers, instead of a sampled one.

    Why: a small model asked a multiple-choice question in free text often answers in a form
    no strict parser accepts; scoring the offered options can never produce an unparseable
    answer. Only a backend that sees the model's logits can do it: an OpenAI-compatible server
    returns at most top-k logprobs of tokens it sampled itself, so it cannot score arbitrary
    continuations in general, and `OpenAIBackend` does not offer this.
    """

    def score_choices(self, messages: list[ChatMessage], choices: Choices) -> list[float]:
        """Mean per-token log-likelihood of each option after the prompt (+ prefix), in order."""
        ...


def supports_choices(backend: object) -> bool:
    """Whether `backend` can score choices (see `ChoiceScorer`)."""
    return isinstance(backend, ChoiceScorer)
