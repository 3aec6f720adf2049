"""Batch execution of many LLM calls: concurrent, rate-limited, cached, resumable, honest.

Why: knowledge mining asks thousands of questions. A crash, a Ctrl-C or a flaky server must
not cost answers already paid for, a rerun must not ask again what is known, and an answer
that never parsed must show up as a failure with its raw text, never as a guess.

How:
- `ResponseCache` is one SQLite file (WAL). An answer is committed the moment it arrives, keyed
  by `cache_key(model, messages, config)`; a key that is in it is never asked again (unless
  the caller's current `parse` rejects the stored text: a changed schema). Failures
  live in a separate table and are retried by the next run; a later success removes them.
- `BatchRunner.run` asks the rest with a thread pool (the concurrency bound), a token bucket
  on request starts (the rate limit), exponential backoff with jitter for retryable
  `LLMError`s and for answers `parse` rejects with `ValueError`, a tqdm bar, and a report.
  Non-retryable errors fail the item at once; `LLMUnavailable` (server down, wrong URL, no
  model) stops the whole job instead, since every other item would fail the same way.
  Items that differ only in their key (identical requests) share one call.
- A retry after an unparseable answer asks with a different sampling seed (`retry_config`):
  the same seed would make a seeded sampler repeat the answer word for word.
- A key with a recorded failure is not asked again by a rerun unless `retry_failures` is set,
  so a finished job's outputs can be rebuilt from the cache alone, with zero calls.
- A backend that can only run `max_concurrent_calls` at a time (the local model, behind one
  lock) gets at most that many slots: a call waiting for the lock would otherwise spend its
  `timeout_s` queueing and time out through no fault of the model.
- An item with `choices` is a multiple-choice question scored by a `ChoiceScorer` backend
  instead of generated; the scores are stored as JSON text (`structured.scores_text`) under a
  cache key that includes the mode and the options, so they never pass for generated answers.
- `batch_api.export_batch_jsonl` / `import_batch_jsonl` move the same items through OpenAI
  Batch API files into the same cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from countllm.agents.llm.base import (
    ChatMessage,
    Choices,
    Completion,
    GenerationConfig,
    LLMBackend,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    supports_choices,
)
from countllm.agents.llm.structured import scores_text

log = logging.getLogger(__name__)

Parse = Callable[[str], Any]


# ----------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class BatchItem:
    """One question; `key` is the caller's id (unique within a run), e.g. "cooc|jump|r1".

    With `choices`, the backend scores the options instead of generating (`config` is unused).
    """

    key: str
    messages: list[ChatMessage]
    config: GenerationConfig = GenerationConfig()
    choices: Choices | None = None

    @property
    def decoding(self) -> str:
        return "free-generation" if self.choices is None else "choice-scoring"


@dataclass
class BatchConfig:
    """How hard to push the backend. `timeout_s` is enforced by the runner itself (see `_call`)."""

    concurrency: int = 4  # parallel requests (threads); also the cap on calls in flight
    rate_per_s: float | None = None  # token-bucket limit on request starts (retries count)
    retries: int = 3  # extra tries after the first, for retryable errors and unparseable answers
    backoff_s: float = 0.5  # exponential: backoff_s * 2**(try-1), with jitter in [50 %, 100 %]
    timeout_s: float = 120.0  # per call; a backend that hangs longer counts as LLMTimeout
    progress: bool = True  # tqdm bar
    burst: int = 1  # token-bucket capacity: starts allowed back to back after an idle spell
    max_backoff_s: float = 30.0  # ceiling of one backoff sleep
    retry_failures: bool = False  # ask keys with a recorded failure again (else: report the record)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be > 0 or None, got {self.rate_per_s}")
        if self.retries < 0 or self.burst < 1 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("need retries >= 0, burst >= 1, timeout_s > 0, backoff_s >= 0")


@dataclass
class ItemOutcome:
    """What became of one item; `text` is kept for failures too, so they can be inspected."""

    key: str
    status: str  # "ok" | "failed"
    text: str | None
    parsed: Any | None
    error: str | None
    attempts: int
    cached: bool  # answered without a call of its own (cache, or an identical item in the run)


@dataclass
class BatchReport:
    """Every item exactly once, what it cost, and which failed."""

    outcomes: dict[str, ItemOutcome]
    calls_made: int
    cache_hits: int
    failures: list[ItemOutcome]
    wall_s: float
    known_failures: int = 0  # failures reported from the record of an earlier run, not asked again

    def summary(self, max_listed: int = 20) -> str:
        """A human summary: counts, then one line per failed key (so nothing fails unseen)."""
        n_ok = sum(o.status == "ok" for o in self.outcomes.values())
        lines = [
            f"{len(self.outcomes)} items: {n_ok} ok ({self.cache_hits} from cache), "
            f"{len(self.failures)} failed ({self.known_failures} recorded earlier, not asked again); "
            f"{self.calls_made} calls in {self.wall_s:.1f} s"
        ]
        for o in self.failures[:max_listed]:
            lines.append(f"  FAILED {o.key} after {o.attempts} tries: {o.error}")
        if len(self.failures) > max_listed:
            lines.append(f"  ... and {len(self.failures) - max_listed} more (ResponseCache.failures())")
        return "\n".join(lines)


@dataclass(frozen=True)
class CachedAnswer:
    """A row of the `responses` table."""

    cache_key: str
    item_key: str
    model: str
    text: str
    parsed: Any | None
    attempts: int
    created_at: float


@dataclass(frozen=True)
class FailureRecord:
    """A row of the `failures` table; `attempts` adds up over runs."""

    cache_key: str
    item_key: str
    model: str
    error: str
    text: str | None
    attempts: int
    failed_at: float


def cache_key(model_id: str, messages: list[ChatMessage], config: GenerationConfig,
              choices: Choices | None = None) -> str:
    """sha256 of the model and canonical JSON of the prompt and sampling settings.

    Canonical (sorted keys, no spaces) so that equal requests hash equal on any machine. A
    scored question adds its mode and options; a generated one hashes exactly as it always
    did, so caches written before choice scoring existed stay valid.
    """
    payload: dict[str, Any] = {
        "model": model_id,
        "messages": [dataclasses.asdict(m) for m in messages],
        "config": dataclasses.asdict(config),
    }
    if choices is not None:
        payload |= {"decoding": "choice-scoring", "choices": dataclasses.asdict(choices)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- the cache

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    cache_key TEXT PRIMARY KEY, item_key TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,
    parsed_json TEXT, attempts INTEGER NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    cache_key TEXT PRIMARY KEY, item_key TEXT NOT NULL, model TEXT NOT NULL, error TEXT NOT NULL,
    text TEXT, attempts INTEGER NOT NULL, first_failed_at REAL NOT NULL, failed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS exports (
    item_key TEXT PRIMARY KEY, cache_key TEXT NOT NULL, model TEXT NOT NULL, path TEXT NOT NULL,
    exported_at REAL NOT NULL);
"""


class ResponseCache:
    """Answers and failures in one SQLite file, safe to share between the runner's threads.

    One connection behind a lock: writes are tiny, so serialising them costs nothing next to an
    LLM call, and it avoids SQLite's "database is locked" between threads. WAL lets other
    processes (a second run, a notebook) read while a run writes; synchronous=NORMAL keeps every
    committed answer through a crash or SIGKILL of the process (not through a power cut).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def get(self, key: str) -> CachedAnswer | None:
        """The stored answer for a cache key, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT cache_key, item_key, model, text, parsed_json, attempts, created_at "
                "FROM responses WHERE cache_key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        parsed = None if row[4] is None else json.loads(row[4])
        return CachedAnswer(row[0], row[1], row[2], row[3], parsed, row[5], row[6])

    def put(self, key: str, item_key: str, completion: Completion, parsed: Any, attempts: int) -> None:
        """Commit an answer now (this is what makes a crash lose nothing) and clear its failure."""
        parsed_json = None if parsed is None else _to_json(parsed)
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, item_key, completion.model, completion.text, parsed_json, attempts,
                 completion.prompt_tokens, completion.completion_tokens, time.time()),
            )
            self._conn.execute("DELETE FROM failures WHERE cache_key = ?", (key,))

    def record_failure(self, key: str, item_key: str, model: str, error: str, text: str | None, attempts: int) -> None:
        """Upsert a failure; attempts accumulate over runs so chronic failures stand out."""
        now = time.time()
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET "
                "item_key = excluded.item_key, error = excluded.error, text = excluded.text, "
                "attempts = failures.attempts + excluded.attempts, failed_at = excluded.failed_at",
                (key, item_key, model, error, text, attempts, now, now),
            )

    def failure(self, key: str) -> FailureRecord | None:
        """The recorded failure of a cache key, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT cache_key, item_key, model, error, text, attempts, failed_at FROM failures WHERE cache_key = ?",
                (key,),
            ).fetchone()
        return None if row is None else FailureRecord(*row)

    def failures(self) -> list[FailureRecord]:
        """Every recorded failure, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT cache_key, item_key, model, error, text, attempts, failed_at FROM failures "
                "ORDER BY first_failed_at, item_key"
            ).fetchall()
        return [FailureRecord(*row) for row in rows]

    def record_export(self, item_key: str, key: str, model: str, path: Path) -> None:
        """Remember which model an exported item was asked of, for `import_batch_jsonl`."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO exports VALUES (?, ?, ?, ?, ?)", (item_key, key, model, str(path), time.time())
            )

    def exported_model(self, item_key: str) -> str | None:
        """The model an item was exported for, or None if it never was."""
        with self._lock:
            row = self._conn.execute("SELECT model FROM exports WHERE item_key = ?", (item_key,)).fetchone()
        return None if row is None else row[0]


def cached_outcome(item_key: str, hit: CachedAnswer, parse: Parse | None) -> ItemOutcome | None:
    """The outcome of a cache hit, or None if the current `parse` rejects the cached text.

    `parse` is re-applied (pure, no call) so a hit returns the same type as a fresh answer; a
    text it rejects means the schema changed since, and the item is asked again rather than
    handed back unvalidated.
    """
    parsed = hit.parsed
    if parse is not None:
        try:
            parsed = parse(hit.text)
        except ValueError as exc:
            log.warning("cached answer for %s no longer parses (%s); asking again", item_key, exc)
            return None
    return ItemOutcome(item_key, "ok", hit.text, parsed, None, hit.attempts, cached=True)


RETRY_SEED_STRIDE = 1_000_003  # a prime: retry seeds of nearby base seeds never collide in practice


def retry_config(config: GenerationConfig, attempt: int) -> GenerationConfig:
    """The sampling settings of try `attempt` (0 = the first): the item's own, then a new seed
    per retry, derived so that reruns repeat it. Greedy decoding (temperature 0) ignores seeds,
    so its retries can only help against server errors, not against unparseable answers."""
    if attempt == 0:
        return config
    return dataclasses.replace(config, seed=(config.seed or 0) + attempt * RETRY_SEED_STRIDE)


def _to_json(parsed: Any) -> str:
    """JSON text of what `parse` returned; pydantic models and dataclasses are dumped first."""
    if hasattr(parsed, "model_dump"):
        parsed = parsed.model_dump(mode="json")
    elif dataclasses.is_dataclass(parsed) and not isinstance(parsed, type):
        parsed = dataclasses.asdict(parsed)
    try:
        return json.dumps(parsed, ensure_ascii=False, sort_keys=True)
    except TypeError as exc:
        raise TypeError(f"parse must return JSON-able data (dict, list, pydantic model): {exc}") from exc


# ----------------------------------------------------------------------------- rate limit


class TokenBucket:
    """Limits request *starts* to `rate` per second, with up to `burst` back to back.

    Why starts and not completions: providers count requests as they arrive, and a retry is a
    request too. `acquire` returns False if `stop` is set while waiting, so Ctrl-C is prompt.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate, self.capacity = rate, float(burst)
        self._tokens, self._last = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> bool:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return True
                wait = (1.0 - self._tokens) / self.rate
            if stop.wait(wait):
                return False


# ----------------------------------------------------------------------------- the runner


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


class _Stopped(Exception):
    """The run is being interrupted; the item is left for the next run (not recorded)."""


class BatchRunner:
    """Runs `BatchItem`s against one backend through one cache; see the module docstring."""

    def __init__(self, backend: LLMBackend, cache: ResponseCache, config: BatchConfig | None = None) -> None:
        self.backend = backend
        self.cache = cache
        self.config = config if config is not None else BatchConfig()

    def run(self, items: list[BatchItem], parse: Parse | None = None) -> BatchReport:
        """Answer every item once: from the cache, or by calling the backend (with retries).

        `parse` turns the raw text into the caller's structure and raises `ValueError` when it
        does not fit; such answers are retried like server errors, then reported as failed.
        On KeyboardInterrupt (or any unexpected exception) no new call starts, calls in flight
        finish and are saved, and the exception propagates: a rerun resumes where this stopped.
        """
        t0 = time.perf_counter()
        self._check_choices(items)
        groups = self._groups(items)
        outcomes: dict[str, ItemOutcome] = {}
        todo: list[_Group] = []
        known_failures = 0
        for group in groups:
            hit = self._from_cache(group, parse)
            if hit is not None:
                outcomes.update((o.key, o) for o in hit)
                continue
            known = None if self.config.retry_failures else self.cache.failure(group.cache_key)
            if known is None:
                todo.append(group)
            else:
                outcomes.update((o.key, o) for o in _known_failure(group, known))
                known_failures += len(group.items)
        cache_hits = len(outcomes) - known_failures
        state = self._new_state()
        bar = tqdm(total=len(items), initial=cache_hits, disable=not self.config.progress, desc="llm", unit="item")
        with bar:
            self._execute(todo, parse, state, outcomes, bar)
        ordered = {item.key: outcomes[item.key] for item in items}
        failures = [o for o in ordered.values() if o.status == "failed"]
        report = BatchReport(ordered, state.calls, cache_hits, failures, time.perf_counter() - t0, known_failures)
        log.log(logging.WARNING if failures else logging.INFO, "%s", report.summary())
        return report

    def _check_choices(self, items: list[BatchItem]) -> None:
        """Scored questions need a backend that can score; say so before any call is made."""
        if any(item.choices is not None for item in items) and not supports_choices(self.backend):
            raise ValueError(f"{self.backend.model_id}: this backend cannot score choices (only a local model "
                             "can); ask these questions by free generation instead")

    def _groups(self, items: list[BatchItem]) -> list[_Group]:
        """Group items by cache key, refusing duplicate item keys (each must be done once)."""
        check_unique_keys(items)
        groups: dict[str, _Group] = {}
        model = self.backend.model_id
        for item in items:
            key = cache_key(model, item.messages, item.config, item.choices)
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
        except BaseException:
            state.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            answered = sum(o.status == "ok" for o in outcomes.values())
            log.warning("batch stopped early: %d of %d items answered and saved in %s; rerun to resume",
                        answered, bar.total, self.cache.path)
            raise
        pool.shutdown(wait=True)

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
        attempts = 0
        for attempt in range(self.config.retries + 1):
            if attempt and state.stop.wait(self._backoff(attempt, last.retry_after_s)):
                return None
            asked = dataclasses.replace(leader, config=retry_config(leader.config, attempt))
            try:
                last = self._attempt(asked, parse, state)
            except _Stopped:
                return None
            attempts += 1
            if last.completion is not None:
                self.cache.put(group.cache_key, leader.key, last.completion, last.parsed, attempts)
                return self._fan_out(group, "ok", last, attempts)
            if not last.retryable:
                break
        if last.retryable and state.stop.is_set():
            return None  # interrupted between tries: leave it to the next run, do not call it failed
        self.cache.record_failure(group.cache_key, leader.key, self.backend.model_id, last.error or "", last.text,
                                  attempts)
        return self._fan_out(group, "failed", last, attempts)

    @staticmethod
    def _fan_out(group: _Group, status: str, result: _Try, attempts: int) -> list[ItemOutcome]:
        """One outcome per item of the group; only the leader made the calls."""
        return [
            ItemOutcome(item.key, status, result.text, result.parsed if status == "ok" else None,
                        result.error, attempts, cached=i > 0)
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

        `LLMUnavailable` and anything that is not an `LLMError` (a bug, KeyboardInterrupt)
        propagate and stop the whole run; answers saved so far stay saved.
        """
        try:
            completion = self._call(item, state)
        except LLMUnavailable:
            raise  # wrong URL, server down, model missing: every item would fail, so stop the job
        except LLMError as exc:
            return _Try(error=f"{type(exc).__name__}: {exc}", retryable=exc.retryable,
                        retry_after_s=exc.retry_after_s)
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
                        "rerun with retry_failures to ask again)", record.attempts, cached=True)
            for item in group.items]


def check_unique_keys(items: Iterable[BatchItem]) -> None:
    """Each item is done exactly once, which needs unique keys: a duplicate is a caller bug."""
    dupes = sorted(key for key, n in Counter(item.key for item in items).items() if n > 1)
    if dupes:
        raise ValueError(f"duplicate item keys (each item needs a unique key): {dupes[:10]}")
