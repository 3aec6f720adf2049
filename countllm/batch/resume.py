"""The project's one resume rule, shared by every batch job (counting here, LLM mining in agents/).

Why one rule: a killed or interrupted run must lose nothing and repeat nothing, and a rerun must
treat what an earlier run left behind the same way whatever the job is:

- a key with a stored result is done: it is reported from the record, never computed again;
- a key with a recorded failure is reported as failed from the record, and computed again only
  when the caller asks for it (`--retry-failures`), so a finished job reruns in no time;
- every other key is work to do, and its result (or failure) is committed the moment it exists.

Only the rule and the interruption contract live here; each job keeps the store that suits what
it records (the mining cache is SQLite of LLM answers, `countllm batch` appends to the JSONL
results file the user asked for), since the stores hold different things for different readers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K")  # a unit of work (an input, a group of identical requests)
D = TypeVar("D")  # what the record holds for a finished one
F = TypeVar("F")  # what the record holds for a failed one


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch run; the message says how much was done and saved, and where.

    A KeyboardInterrupt still (callers that catch that keep working), so that a command can
    print this one line instead of a traceback and exit 130.
    """


@dataclass
class ResumePlan(Generic[K, D, F]):
    """What a rerun does with each key: reuse a result, report a recorded failure, or do it."""

    done: list[tuple[K, D]] = field(default_factory=list)
    known_failures: list[tuple[K, F]] = field(default_factory=list)
    todo: list[K] = field(default_factory=list)


def plan_resume(keys: Iterable[K], result_of: Callable[[K], D | None], failure_of: Callable[[K], F | None],
                retry_failures: bool = False) -> ResumePlan[K, D, F]:
    """Split `keys` by the resume rule (see the module docstring), keeping their order.

    `result_of` / `failure_of` look a key up in the caller's store (None: nothing stored). The
    failure record is not even read when `retry_failures` is set.
    """
    plan: ResumePlan[K, D, F] = ResumePlan()
    for key in keys:
        result = result_of(key)
        if result is not None:
            plan.done.append((key, result))
            continue
        failure = None if retry_failures else failure_of(key)
        if failure is None:
            plan.todo.append(key)
        else:
            plan.known_failures.append((key, failure))
    return plan


def saved_message(done: int, total: int, what: str, where: object) -> str:
    """The one sentence an interrupted run ends with, e.g. "3 of 6 items answered and saved in c.sqlite"."""
    return f"{done} of {total} {what} and saved in {where}"


__all__ = ["BatchInterrupted", "ResumePlan", "plan_resume", "saved_message"]
