"""The batch runner: many LLM calls, concurrent, rate-limited, retried, cached, resumable.

See `countllm.agents.batch` for the whole picture. This module is the control flow: which
items to ask (cache hits and recorded failures are not asked), the thread pool, one try after
another with backoff, the per-call deadline, and what an interruption leaves behind.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from countllm.agents.batch_cache import FailureRecord, ResponseCache, cache_key, cached_outcome
from countllm.agents.batch_ratelimit import TokenBucket
from countllm.agents.batch_types import (
    BatchConfig,
    BatchItem,
    BatchReport,
    ItemOutcome,
    Parse,
    Try,
    check_unique_keys,
)
from countllm.agents.llm.base import (
    Completion,
    GenerationConfig,
    LLMBackend,
    LLMError,
    LLMTimeout,
    supports_choices,
)
from countllm.agents.llm.structured import scores_text
from countllm.batch.resume import BatchInterrupted, plan_resume, saved_message
from countllm.errors import CountLLMError, ModelUnavailable

log = logging.getLogger(__name__)

RETRY_SEED_STRIDE = 1_000_003  # a prime: retry seeds of nearby base seeds never collide in practice


def retry_config(config: GenerationConfig, attempt: int) -> GenerationConfig:
    """The sampling settings of try `attempt` (0 = the first): the item's own, then a new seed
    per retry, derived so that reruns repeat it. Greedy decoding (temperature 0) ignores seeds,
    so its retries can only help against server errors, not against unparseable answers."""
    if attempt == 0:
        return config
    return dataclasses.replace(config, seed=(config.seed or 0) + attempt * RETRY_SEED_STRIDE)


@dataclass
class _Group:
    """Items that share one cache key (identical requests under different item keys): one call."""

    cache_key: str
    items: list[BatchItem]


@dataclass
class _RunState:
    """Mutable state of one `run`, shared by its worker threads."""

    slots: threading.BoundedSemaphore
    bucket: TokenBucket | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_call(self) -> None:
        with self.lock:
            self.calls += 1


@dataclass
class _Try:
    """The result of one attempt: an answer, or an error and whether another try may help."""

    completion: Completion | None = None
    parsed: Any = None
    text: str | None = None
    error: str | None = None
    retryable: bool = False
    retry_after_s: float | None = None  # the server's Retry-After hint, if it gave one

    def record(self) -> Try:
        return {"error": self.error, "text": self.text}


class _Stopped(Exception):
    """The run is being interrupted; the item is left for the next run (not recorded)."""


class BatchRunner:
    """Runs `BatchItem`s against one backend through one cache; see `countllm.agents.batch`."""

    def __init__(self, backend: LLMBackend, cache: ResponseCache, config: BatchConfig | None = None) -> None:
        self.backend = backend
        self.cache = cache
        self.config = config if config is not None else BatchConfig()

    def run(self, items: list[BatchItem], parse: Parse | None = None) -> BatchReport:
        """Answer every item once: from the cache, or by calling the backend (with retries).

        `parse` turns the raw text into the caller's structure and raises `ValueError` when it
        does not fit; such answers are retried like server errors, then reported as failed.
        On KeyboardInterrupt (or any unexpected exception) no new call starts, calls in flight
        finish and are saved, and the exception propagates (Ctrl-C as `BatchInterrupted`): a
        rerun resumes where this stopped.
        """
        t0 = time.perf_counter()
        self._check_choices(items)
        outcomes: dict[str, ItemOutcome] = {}
        todo, known_failures = self._plan(self._groups(items), parse, outcomes)
        cache_hits = len(outcomes) - known_failures
        state = self._new_state()
        bar = tqdm(total=len(items), initial=cache_hits, disable=not self.config.progress, desc="llm", unit="item")
        with bar:
            self._execute(todo, parse, state, outcomes, bar)
        ordered = {item.key: outcomes[item.key] for item in items}
        failures = [o for o in ordered.values() if o.status == "failed"]
        report = BatchReport(ordered, state.calls, cache_hits, failures, time.perf_counter() - t0, known_failures)
        if self.config.log_summary:
            log.log(logging.WARNING if failures else logging.INFO, "%s", report.summary())
        return report

    def key_of(self, item: BatchItem) -> str:
        """The cache key this runner files `item` under (its backend's model and the request)."""
        return cache_key(self.backend.model_id, item.messages, item.config, item.choices)

    def reject(self, item: BatchItem, error: str) -> FailureRecord | None:
        """Record that the cached answer of `item` failed the caller's own validation: it becomes
        a failure (re-asked by `retry_failures`), never a cache hit (see `ResponseCache.reject`)."""
        return self.cache.reject(self.key_of(item), error)

    def _plan(self, groups: list[_Group], parse: Parse | None,
              outcomes: dict[str, ItemOutcome]) -> tuple[list[_Group], int]:
        """Fill `outcomes` from the cache and the failure record by the project's resume rule
        (`countllm.batch.resume`); return what to ask and how many items were reported from a
        recorded failure."""
        plan = plan_resume(groups, lambda group: self._from_cache(group, parse),
                           lambda group: self.cache.failure(group.cache_key), self.config.retry_failures)
        for _, hit in plan.done:
            outcomes.update((o.key, o) for o in hit)
        for group, known in plan.known_failures:
            outcomes.update((o.key, o) for o in _known_failure(group, known))
        return plan.todo, sum(len(group.items) for group, _ in plan.known_failures)

    def _check_choices(self, items: list[BatchItem]) -> None:
        """Scored questions need a backend that can score; say so before any call is made."""
        if any(item.choices is not None for item in items) and not supports_choices(self.backend):
            raise ValueError(f"{self.backend.model_id}: this backend cannot score choices (only a local model "
                             "can); ask these questions by free generation instead")

    def _groups(self, items: list[BatchItem]) -> list[_Group]:
        """Group items by cache key, refusing duplicate item keys (each must be done once)."""
        check_unique_keys(items)
        groups: dict[str, _Group] = {}
        for item in items:
            key = self.key_of(item)
            groups.setdefault(key, _Group(key, [])).items.append(item)
        return list(groups.values())

    def _from_cache(self, group: _Group, parse: Parse | None) -> list[ItemOutcome] | None:
        """Outcomes from the cache, or None if the group must be asked (see `cached_outcome`)."""
        hit = self.cache.get(group.cache_key)
        first = cached_outcome(group.items[0].key, hit, parse) if hit is not None else None
        if first is None:
            return None
        return [dataclasses.replace(first, key=item.key) for item in group.items]

    def _new_state(self) -> _RunState:
        cfg = self.config
        bucket = TokenBucket(cfg.rate_per_s, cfg.burst) if cfg.rate_per_s else None
        return _RunState(slots=threading.BoundedSemaphore(self.slots), bucket=bucket)

    @property
    def slots(self) -> int:
        """Calls in flight at once: `concurrency`, capped by what the backend can really run
        in parallel (`max_concurrent_calls`; the local model runs one at a time)."""
        limit = getattr(self.backend, "max_concurrent_calls", None)
        return min(self.config.concurrency, limit) if limit else self.config.concurrency

    def _execute(self, todo: list[_Group], parse: Parse | None, state: _RunState,
                 outcomes: dict[str, ItemOutcome], bar: tqdm) -> None:
        """Run the groups on the pool; on any exception stop, drain, and re-raise."""
        pool = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="llm-batch")
        futures: list[Future] = [pool.submit(self._work, group, parse, state) for group in todo]
        n_failed = 0
        try:
            for future in as_completed(futures):
                done = future.result()
                if done is None:
                    continue
                outcomes.update((o.key, o) for o in done)
                n_failed += sum(o.status == "failed" for o in done)
                bar.update(len(done))
                bar.set_postfix(failed=n_failed, calls=state.calls, refresh=False)
        except BaseException as exc:
            state.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._stopped_early(exc, outcomes, bar.total)
            raise
        pool.shutdown(wait=True)

    def _stopped_early(self, exc: BaseException, outcomes: dict[str, ItemOutcome], total: int) -> None:
        """Say what an interrupted run saved: as the message of a Ctrl-C (`BatchInterrupted`,
        so a command prints one line), quietly for a `CountLLMError` (the caller's error
        message says it), and as a warning before the traceback of anything else (a bug)."""
        answered = sum(o.status == "ok" for o in outcomes.values())
        saved = saved_message(answered, total, "items answered", self.cache.path)
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, BatchInterrupted):
            raise BatchInterrupted(saved) from exc
        level = logging.INFO if isinstance(exc, (CountLLMError, KeyboardInterrupt)) else logging.WARNING
        log.log(level, "batch stopped early: %s; rerun to resume", saved)

    def _work(self, group: _Group, parse: Parse | None, state: _RunState) -> list[ItemOutcome] | None:
        """`_ask`, but an exception that ends the run stops the other workers at once (before
        the main thread even sees it), so no further call starts."""
        try:
            return self._ask(group, parse, state)
        except BaseException:
            state.stop.set()
            raise

    def _ask(self, group: _Group, parse: Parse | None, state: _RunState) -> list[ItemOutcome] | None:
        """Ask one group until it parses, retries run out, or the error is not retryable."""
        leader = group.items[0]
        last = _Try()
        tries: list[Try] = []
        for attempt in range(self.config.retries + 1):
            if attempt and state.stop.wait(self._backoff(attempt, last.retry_after_s)):
                return None
            asked = dataclasses.replace(leader, config=retry_config(leader.config, attempt))
            try:
                last = self._attempt(asked, parse, state)
            except _Stopped:
                return None
            if last.completion is not None:
                self.cache.put(group.cache_key, leader.key, last.completion, last.parsed, len(tries) + 1)
                return self._fan_out(group, "ok", last, len(tries) + 1, tries)
            tries.append(last.record())
            if not last.retryable:
                break
        if last.retryable and state.stop.is_set():
            return None  # interrupted between tries: leave it to the next run, do not call it failed
        self.cache.record_failure(group.cache_key, leader.key, self.backend.model_id, last.error or "", last.text,
                                  len(tries), tries)
        return self._fan_out(group, "failed", last, len(tries), tries)

    @staticmethod
    def _fan_out(group: _Group, status: str, result: _Try, attempts: int, tries: list[Try]) -> list[ItemOutcome]:
        """One outcome per item of the group; only the leader made the calls."""
        return [
            ItemOutcome(item.key, status, result.text, result.parsed if status == "ok" else None,
                        result.error, attempts, cached=i > 0, tries=list(tries))
            for i, item in enumerate(group.items)
        ]

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float:
        """Exponential backoff with jitter, so that threads failing together spread out; at
        least as long as the server's Retry-After (both capped by `max_backoff_s`)."""
        cap = self.config.max_backoff_s
        jittered = min(cap, self.config.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        return max(jittered, min(cap, retry_after_s or 0.0))

    def _attempt(self, item: BatchItem, parse: Parse | None, state: _RunState) -> _Try:
        """One call and one parse; item-level errors come back as values.

        Any `CountLLMError` of the call fails this item only (an `LLMError` says whether another
        try may help; any other is not retried), except `ModelUnavailable` (wrong URL, server
        down, model missing: every item would fail the same way), which stops the whole run.
        Anything that is not a `CountLLMError` (a bug, KeyboardInterrupt) stops it too; answers
        saved so far stay saved.
        """
        try:
            completion = self._call(item, state)
        except ModelUnavailable:
            raise
        except LLMError as exc:
            return _Try(error=f"{type(exc).__name__}: {exc}", retryable=exc.retryable,
                        retry_after_s=exc.retry_after_s)
        except CountLLMError as exc:
            return _Try(error=f"{type(exc).__name__}: {exc.one_line()}")
        if parse is None:
            return _Try(completion=completion, text=completion.text)
        try:
            parsed = parse(completion.text)
        except ValueError as exc:
            return _Try(text=completion.text, error=f"unparseable answer: {exc}", retryable=True)
        return _Try(completion=completion, parsed=parsed, text=completion.text)

    def _call(self, item: BatchItem, state: _RunState) -> Completion:
        """One backend call under the concurrency slot, the rate limit and the runner's deadline.

        The call runs on its own daemon thread so a backend that ignores its own timeout (a hung
        socket, a local model stuck generating) still counts as `LLMTimeout` after `timeout_s`.
        Its slot is only given back when the call really returns, so calls in flight never
        exceed `concurrency`, even counting abandoned ones.
        """
        while not state.slots.acquire(timeout=0.1):
            if state.stop.is_set():
                raise _Stopped
        if state.stop.is_set() or (state.bucket is not None and not state.bucket.acquire(state.stop)):
            state.slots.release()
            raise _Stopped
        box: dict[str, Any] = {}
        finished = threading.Event()
        thread = threading.Thread(target=self._call_into, args=(item, box, finished, state.slots), daemon=True)
        state.count_call()
        thread.start()
        if not finished.wait(self.config.timeout_s):
            raise LLMTimeout(f"no answer within the batch deadline of {self.config.timeout_s} s")
        if "error" in box:
            raise box["error"]
        return box["completion"]

    def _answer(self, item: BatchItem) -> Completion:
        """Generate, or score the options of a multiple-choice item into JSON text."""
        if item.choices is None:
            return self.backend.complete(item.messages, item.config)
        scores = self.backend.score_choices(item.messages, item.choices)  # type: ignore[attr-defined]
        return Completion(scores_text(item.choices.options, scores), self.backend.model_id,
                          extra={"decoding": "choice-scoring"})

    def _call_into(self, item: BatchItem, box: dict[str, Any], finished: threading.Event,
                   slots: threading.BoundedSemaphore) -> None:
        """Thread body of `_call`: store the completion or the exception, free the slot."""
        try:
            box["completion"] = self._answer(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which re-raises it
            box["error"] = exc
        finally:
            slots.release()
            finished.set()


def _known_failure(group: _Group, record: FailureRecord) -> list[ItemOutcome]:
    """Outcomes of a group whose failure an earlier run recorded (not asked again)."""
    return [ItemOutcome(item.key, "failed", record.text, None, f"{record.error} (recorded earlier; "
                        "rerun with --retry-failures to ask again)", record.attempts, cached=True,
                        tries=list(record.tries))
            for item in group.items]
