"""Any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, llama.cpp, `countllm serve`).

The `openai` client does the HTTP; this module only resolves settings (arguments, then
environment) and translates the client's exceptions into our typed `LLMError`s, because the
batch runner decides retries from those types alone. The client's own retries are switched off
(`max_retries=0` by default) so that retrying, backoff and the failure record live in one
place — the batch runner.

Exception mapping (most specific first):

| openai exception                              | ours            | retryable |
|-----------------------------------------------|-----------------|-----------|
| APITimeoutError                               | LLMTimeout      | yes       |
| RateLimitError (429)                          | LLMRateLimited  | yes       |
| InternalServerError / any status >= 500       | LLMServerError  | yes       |
| status 408                                    | LLMTimeout      | yes       |
| AuthenticationError / PermissionDenied (401/3)| LLMUnavailable  | no        |
| BadRequest / NotFound / 409 / 422 / other 4xx | LLMBadRequest   | no        |
| APIConnectionError (refused, DNS, TLS)        | LLMUnavailable  | no        |
| APIResponseValidationError, no choices        | LLMServerError  | yes       |

Connection errors are *not* retryable on purpose: a refused connection or an unknown host means
a wrong URL or a server that is down, and retrying each of thousands of items with backoff only
delays the inevitable. The batch runner should treat `LLMUnavailable` as fatal for the whole
job (stop, keep the cache, report), and the user reruns once the server is up — resume makes
that free.

No choice scoring (`base.ChoiceScorer`): an OpenAI-compatible server returns at most the top-k
logprobs of tokens it sampled itself, not the likelihood of an arbitrary given answer, so
multiple-choice questions go through free generation and the caller's strict parser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from countllm.agents.llm.base import (
    ChatMessage,
    Completion,
    GenerationConfig,
    LLMBadRequest,
    LLMError,
    LLMRateLimited,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
)

BASE_URL_ENV = ("COUNTLLM_LLM_BASE_URL", "OPENAI_BASE_URL")
API_KEY_ENV = ("COUNTLLM_LLM_API_KEY", "OPENAI_API_KEY")
MODEL_ENV = "COUNTLLM_LLM_MODEL"
LOCAL_DUMMY_KEY = "not-needed"  # local servers ignore the key, but the client insists on one


@dataclass(frozen=True)
class OpenAIEndpoint:
    """Resolved connection settings: what was passed, else the environment."""

    model: str
    base_url: str | None  # None: the client's default, api.openai.com
    api_key: str
    timeout_s: float = 60.0
    max_retries: int = 0


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def resolve_endpoint(model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                     timeout_s: float = 60.0, max_retries: int = 0) -> OpenAIEndpoint:
    """Fill unset settings from the environment; raise ValueError naming the missing one.

    A key is only required for the default OpenAI URL: a custom `base_url` (a local server)
    gets a dummy key, since such servers ignore it but the client refuses to run without one.
    """
    model = model or os.environ.get(MODEL_ENV)
    if not model:
        raise ValueError(f"no model name: pass --model or set {MODEL_ENV}")
    base_url = base_url or _first_env(BASE_URL_ENV)
    api_key = api_key or _first_env(API_KEY_ENV)
    if not api_key:
        if base_url is None:
            raise ValueError(f"no API key for the OpenAI API: pass --api-key or set {' / '.join(API_KEY_ENV)}"
                             " (or --base-url for a local server)")
        api_key = LOCAL_DUMMY_KEY
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    return OpenAIEndpoint(model=model, base_url=base_url, api_key=api_key, timeout_s=timeout_s,
                          max_retries=max_retries)


def _retry_after(exc: Any) -> float | None:
    """The Retry-After header of a failed response in seconds, if the server sent a number."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from LLM servers; the runner's backoff applies
        return None


def translate_error(exc: Exception, where: str) -> LLMError:
    """Map one `openai` exception onto our error types (see the table in the module docstring)."""
    import openai  # noqa: PLC0415 — optional dependency, imported only when used

    msg = f"{where}: {type(exc).__name__}: {exc}"
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeout(msg)
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable(f"{msg} (is the server running at this URL?)")
    if isinstance(exc, openai.RateLimitError):
        return LLMRateLimited(msg, retry_after_s=_retry_after(exc))
    if isinstance(exc, openai.APIStatusError):
        return _translate_status(exc, msg)
    if isinstance(exc, openai.APIResponseValidationError):
        return LLMServerError(msg)
    if isinstance(exc, openai.OpenAIError):
        return LLMError(msg)
    raise TypeError(f"not an openai error: {exc!r}") from exc


def _translate_status(exc: Any, msg: str) -> LLMError:
    status = exc.status_code
    if status >= 500:
        return LLMServerError(msg, retry_after_s=_retry_after(exc))
    if status == 408:
        return LLMTimeout(msg)
    if status in (401, 403):
        return LLMUnavailable(f"{msg} (check the API key)")
    return LLMBadRequest(msg)


def chat_request_body(model: str, messages: list[ChatMessage], config: GenerationConfig) -> dict[str, Any]:
    """The chat-completions request for `messages`: the same body for a live call and for a
    Batch API input line, so the two can never drift apart.

    `max_tokens` rather than `max_completion_tokens`: every compatible server (vLLM, Ollama,
    llama.cpp) understands it; only OpenAI's reasoning models insist on the newer name.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
    }
    if config.seed is not None:
        body["seed"] = config.seed
    if config.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body


class OpenAIBackend:
    """Chat completions through the `openai` client; one client, reused (it pools connections)."""

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0, max_retries: int = 0) -> None:
        self.endpoint = resolve_endpoint(model, base_url, api_key, timeout_s, max_retries)
        self._client: Any = None

    @property
    def model_id(self) -> str:
        return self.endpoint.model

    def _get_client(self) -> Any:
        """Create the client on first use, so constructing a backend never touches the network."""
        if self._client is None:
            from openai import OpenAI  # noqa: PLC0415

            ep = self.endpoint
            self._client = OpenAI(base_url=ep.base_url, api_key=ep.api_key, timeout=ep.timeout_s,
                                  max_retries=ep.max_retries)
        return self._client

    def _request(self, messages: list[ChatMessage], config: GenerationConfig) -> dict[str, Any]:
        """Keyword arguments of `chat.completions.create`."""
        return chat_request_body(self.endpoint.model, messages, config)

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = GenerationConfig()) -> Completion:
        """One chat completion; raises an `LLMError` subclass on any failure."""
        import openai  # noqa: PLC0415

        where = f"{self.endpoint.base_url or 'api.openai.com'} model {self.endpoint.model}"
        try:
            response = self._get_client().chat.completions.create(**self._request(messages, config))
        except openai.OpenAIError as exc:
            raise translate_error(exc, where) from exc
        except ValueError as exc:  # a 200 whose body is not JSON (a proxy's page, a broken server): the
            # client lets json's error through, which would stop a whole batch as if it were a bug
            raise LLMServerError(f"{where}: response body is not JSON ({exc})") from exc
        return self._to_completion(response, where)

    def _to_completion(self, response: Any, where: str) -> Completion:
        """Our `Completion` from the client's response; a reply without text is a server error."""
        if not response.choices:
            raise LLMServerError(f"{where}: response has no choices")
        choice = response.choices[0]
        content = choice.message.content
        if content is None:
            refusal = getattr(choice.message, "refusal", None)
            raise LLMServerError(f"{where}: response has no text content (refusal: {refusal!r})")
        usage = response.usage
        return Completion(
            text=content,
            model=response.model or self.endpoint.model,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            extra={"finish_reason": choice.finish_reason, "id": response.id},
        )
