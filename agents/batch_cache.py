"""The answer cache of batch jobs: one SQLite file of answers and failures, keyed by request.

Why SQLite: an answer is committed the moment it arrives, so a crash, a Ctrl-C or a SIGKILL
loses nothing already paid for, and a rerun asks only what is missing. Failures live in a table
of their own with every try's error and raw text, so they can be inspected and retried
(`--retry-failures`); a later success removes them. An answer the caller's own validation
rejects after the fact is moved from the answers to the failures (`reject`), so it is neither
handed back as valid by the next run nor lost from the record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from countllm.agents.batch_types import ItemOutcome, Parse, Try
from countllm.agents.llm.base import ChatMessage, Choices, Completion, GenerationConfig

log = logging.getLogger(__name__)


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
    """A row of the `failures` table; `attempts` and `tries` add up over runs.

    `text` is the last try's raw answer (None when it never answered); `tries` every try's.
    """

    cache_key: str
    item_key: str
    model: str
    error: str
    text: str | None
    attempts: int
    failed_at: float
    tries: tuple[Try, ...] = ()


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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    cache_key TEXT PRIMARY KEY, item_key TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,
    parsed_json TEXT, attempts INTEGER NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    cache_key TEXT PRIMARY KEY, item_key TEXT NOT NULL, model TEXT NOT NULL, error TEXT NOT NULL,
    text TEXT, attempts INTEGER NOT NULL, first_failed_at REAL NOT NULL, failed_at REAL NOT NULL,
    tries_json TEXT);
CREATE TABLE IF NOT EXISTS exports (
    item_key TEXT PRIMARY KEY, cache_key TEXT NOT NULL, model TEXT NOT NULL, path TEXT NOT NULL,
    exported_at REAL NOT NULL);
"""
_FAILURE_COLUMNS = "cache_key, item_key, model, error, text, attempts, failed_at, tries_json"


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
            self._migrate()

    def _migrate(self) -> None:
        """Caches written before every try was kept lack `failures.tries_json`: add it (NULL =
        only the last try is known, which `failure()` reads as one try)."""
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(failures)")}
        if "tries_json" not in columns:
            self._conn.execute("ALTER TABLE failures ADD COLUMN tries_json TEXT")

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

    def record_failure(self, key: str, item_key: str, model: str, error: str, text: str | None, attempts: int,
                       tries: list[Try] | None = None) -> None:
        """Upsert a failure; attempts and tries accumulate over runs so chronic failures stand out.

        `tries` are this run's failed tries (default: one, `error` with `text`).
        """
        with self._lock, self._conn:
            self._upsert_failure(key, item_key, model, error, text, attempts, tries)

    def _upsert_failure(self, key: str, item_key: str, model: str, error: str, text: str | None, attempts: int,
                        tries: list[Try] | None) -> None:
        """The write of `record_failure`, inside the caller's transaction."""
        tries = list(tries) if tries is not None else [{"error": error, "text": text}]
        earlier = self.failure(key)
        all_tries = [*(earlier.tries if earlier else ()), *tries]
        now = time.time()
        self._conn.execute(
            "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(cache_key) DO UPDATE SET "
            "item_key = excluded.item_key, error = excluded.error, text = excluded.text, "
            "attempts = failures.attempts + excluded.attempts, failed_at = excluded.failed_at, "
            "tries_json = excluded.tries_json",
            (key, item_key, model, error, text, attempts, now, now, json.dumps(all_tries, ensure_ascii=False)),
        )

    def reject(self, key: str, error: str) -> FailureRecord | None:
        """Move a stored answer that the caller's validation rejects into the failures, atomically.

        Why: a caller that validates after the run (the answer needed context the runner's
        `parse` lacks) must not leave the answer looking valid in the cache: the next run would
        hand it back as ok and `--retry-failures` would never ask it again. Returns the failure
        record, or None if the key had no stored answer.
        """
        with self._lock, self._conn:
            answer = self.get(key)
            if answer is None:
                return None
            self._conn.execute("DELETE FROM responses WHERE cache_key = ?", (key,))
            self._upsert_failure(key, answer.item_key, answer.model, error, answer.text, answer.attempts,
                                 [{"error": error, "text": answer.text}])
        return self.failure(key)

    def failure(self, key: str) -> FailureRecord | None:
        """The recorded failure of a cache key, or None."""
        with self._lock:
            row = self._conn.execute(f"SELECT {_FAILURE_COLUMNS} FROM failures WHERE cache_key = ?",
                                     (key,)).fetchone()
        return None if row is None else _failure_record(row)

    def failures(self) -> list[FailureRecord]:
        """Every recorded failure, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_FAILURE_COLUMNS} FROM failures ORDER BY first_failed_at, item_key").fetchall()
        return [_failure_record(row) for row in rows]

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


def _failure_record(row: tuple) -> FailureRecord:
    """A FailureRecord from a row of `_FAILURE_COLUMNS`; a NULL tries_json (an older cache) is
    the one try that was kept."""
    *fields, tries_json = row
    tries = json.loads(tries_json) if tries_json else [{"error": row[3], "text": row[4]}]
    return FailureRecord(*fields, tries=tuple(tries))


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
