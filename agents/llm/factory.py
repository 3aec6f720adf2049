"""Build an `LLMBackend` from CLI-style options: one registry from kind to constructor."""

from __future__ import annotations

from collections.abc import Callable

from countllm.agents.llm.base import LLMBackend


def _local(model: str | None, base_url: str | None, api_key: str | None, timeout_s: float,
           threads: int | None) -> LLMBackend:
    """`model` is a local folder (None: SmolLM2-135M-Instruct); URL and key make no sense here."""
    if base_url or api_key:
        raise ValueError("--base-url/--api-key apply to the openai backend, not the local one")
    from countllm.agents.llm.local_backend import TransformersBackend  # noqa: PLC0415 — torch on demand

    return TransformersBackend(model, num_threads=threads)


def _openai(model: str | None, base_url: str | None, api_key: str | None, timeout_s: float,
            threads: int | None) -> LLMBackend:
    """`threads` is ignored: the server decides how it computes."""
    from countllm.agents.llm.openai_backend import OpenAIBackend  # noqa: PLC0415

    return OpenAIBackend(model, base_url=base_url, api_key=api_key, timeout_s=timeout_s)


BACKENDS: dict[str, Callable[[str | None, str | None, str | None, float, int | None], LLMBackend]] = {
    "local": _local,
    "openai": _openai,
}


def make_backend(kind: str = "local", model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, timeout_s: float = 60.0, threads: int | None = None) -> LLMBackend:
    """The backend named by `kind`; ValueError listing the accepted kinds for anything else.

    Nothing loads or connects here: both backends are lazy, so a CLI can build one before it
    knows whether any call is needed (a fully cached rerun makes none).
    """
    try:
        build = BACKENDS[kind]
    except KeyError:
        raise ValueError(f"unknown LLM backend {kind!r}; accepted: {', '.join(sorted(BACKENDS))}") from None
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return build(model, base_url, api_key, timeout_s, threads)
