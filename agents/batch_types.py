"""What a batch job is made of and what it reports: items, settings, outcomes, the report.

Kept apart from the runner and the cache so that code which only builds items or reads a report
(mining, the Batch API files, benchmarks) needs neither threads nor SQLite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from countllm.agents.llm.base import ChatMessage, Choices, GenerationConfig

Parse = Callable[[str], Any]  # raw answer text → the caller's structure; ValueError if it does not fit
Try = dict[str, Any]  # one failed try: {"error": str, "text": str | None}


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
    log_summary: bool = True  # log the report (every failure listed); False when the caller reports itself

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.rate_per_s is not None and self.rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be > 0 or None, got {self.rate_per_s}")
        if self.retries < 0 or self.burst < 1 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ValueError("need retries >= 0, burst >= 1, timeout_s > 0, backoff_s >= 0")


@dataclass
class ItemOutcome:
    """What became of one item; `text` is kept for failures too, so they can be inspected.

    `tries` holds every failed try's error and raw text (oldest first, earlier runs included for
    a recorded failure): the last try alone often hides what went wrong first.
    """

    key: str
    status: str  # "ok" | "failed"
    text: str | None
    parsed: Any | None
    error: str | None
    attempts: int
    cached: bool  # answered without a call of its own (cache, or an identical item in the run)
    tries: list[Try] = field(default_factory=list)


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
            lines.append(f"  ... and {len(self.failures) - max_listed} more")
        return "\n".join(lines)


def check_unique_keys(items: Iterable[BatchItem]) -> None:
    """Each item is done exactly once, which needs unique keys: a duplicate is a caller bug."""
    dupes = sorted(key for key, n in Counter(item.key for item in items).items() if n > 1)
    if dupes:
        raise ValueError(f"duplicate item keys (each item needs a unique key): {dupes[:10]}")
