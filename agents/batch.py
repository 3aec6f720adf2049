"""Batch execution of many LLM calls: concurrent, rate-limited, cached, resumable, honest.

Why: knowledge mining asks thousands of questions. A crash, a Ctrl-C or a flaky server must
not cost answers already paid for, a rerun must not ask again what is known, and an answer
that never parsed must show up as a failure with its raw text, never as a guess.

How:
- `ResponseCache` is one SQLite file (WAL). An answer is committed the moment it arrives, keyed
  by `cache_key(model, messages, config)`; a key that is in it is never asked again (unless
  the caller's current `parse` rejects the stored text: a changed schema). Failures
  live in a separate table; a later success removes them. A caller that validates answers
  itself after the run moves the ones it rejects there (`BatchRunner.reject`).
- `BatchRunner.run` asks the rest with a thread pool (the concurrency bound), a token bucket
  on request starts (the rate limit), exponential backoff with jitter for retryable
  `LLMError`s and for answers `parse` rejects with `ValueError`, a tqdm bar, and a report.
  Non-retryable errors fail the item at once; `LLMUnavailable` (server down, wrong URL, no
  model) stops the whole job instead, since every other item would fail the same way.
  Items that differ only in their key (identical requests) share one call.
- A retry after an unparseable answer asks with a different sampling seed (`retry_config`):
  the same seed would make a seeded sampler repeat the answer word for word.
- A key with a recorded failure is not asked again by a rerun unless `retry_failures` is set,
  so a finished job's outputs can be rebuilt from the cache alone, with zero calls. A failure
  keeps every try's error and raw text, not only the last one's.
- A backend that can only run `max_concurrent_calls` at a time (the local model, behind one
  lock) gets at most that many slots: a call waiting for the lock would otherwise spend its
  `timeout_s` queueing and time out through no fault of the model.
- An item with `choices` is a multiple-choice question scored by a `ChoiceScorer` backend
  instead of generated; the scores are stored as JSON text (`structured.scores_text`) under a
  cache key that includes the mode and the options, so they never pass for generated answers.
- `batch_api.export_batch_jsonl` / `import_batch_jsonl` move the same items through OpenAI
  Batch API files into the same cache.

Where it lives (this module only re-exports, so `from countllm.agents.batch import ...` keeps
working): `batch_types` (items, settings, outcomes, report), `batch_cache` (the SQLite cache,
cache keys), `batch_ratelimit` (the token bucket), `batch_runner` (the runner, retries, resume),
`batch_api` (Batch API JSONL files).
"""

from __future__ import annotations

from countllm.agents.batch_cache import CachedAnswer, FailureRecord, ResponseCache, cache_key, cached_outcome
from countllm.agents.batch_ratelimit import TokenBucket
from countllm.agents.batch_runner import RETRY_SEED_STRIDE, BatchInterrupted, BatchRunner, retry_config
from countllm.agents.batch_types import (
    BatchConfig,
    BatchItem,
    BatchReport,
    ItemOutcome,
    Parse,
    Try,
    check_unique_keys,
)

__all__ = [
    "RETRY_SEED_STRIDE", "BatchConfig", "BatchInterrupted", "BatchItem", "BatchReport", "BatchRunner", "CachedAnswer",
    "FailureRecord", "ItemOutcome", "Parse", "ResponseCache", "TokenBucket", "Try", "cache_key", "cached_outcome",
    "check_unique_keys", "retry_config",
]
