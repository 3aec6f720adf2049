"""Asking the priors questions: waves of retries, strict validation, an honest failure record.

Why waves and not the runner's own retries: an answer that does not validate is asked again
with a new *sampling* seed of the priors' own scheme (`priors_questions.generation`: even round
0, greedy at first, is sampled on a retry), and validating needs the Ask (its options), which
the runner's `parse` does not see. So each wave is one runner job over the Asks still without a
valid answer, and the runner retries only server errors within a wave.

What the cache holds: an answer that fails validation is moved from the answers to the failure
record (`BatchRunner.reject`), so a rerun reports it instead of handing it back as ok, and
`--retry-failures` really asks it again. Every try's error and raw answer is kept, earlier
runs' included, in the output's `failures[].tries`.

`--retry-failures` runs the waves twice: first as a plain resume (nothing recorded is asked),
then again from attempt 0 with the recorded failures re-asked — only for the Asks that ended the
first pass without a valid answer, so a question a later attempt answered is never asked again.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from countllm.agents.batch_runner import BatchRunner
from countllm.agents.batch_types import BatchItem, BatchReport, Try
from countllm.agents.mining.priors_choices import parse_scored
from countllm.agents.mining.priors_parsers import parse_choice, parse_cycle, parse_phases, parse_sentence
from countllm.agents.mining.priors_questions import Ask, batch_item
from countllm.agents.mining.runs import run_items
from countllm.prompt_templates import PromptTemplate

MAX_ANSWER_CHARS = 300  # raw answers kept per try in the output file


def parse_ask(ask: Ask, text: str) -> Any:
    """The validated value of one answer to `ask`; ValueError (with the reason) otherwise."""
    if ask.scored:
        return parse_scored(text, ask.question, ask.options)
    if ask.question == "moving_parts":
        return parse_choice(text, ask.options, 1, 3)
    if ask.question == "confusions":
        return parse_choice(text, ask.options, 0, 3)
    return {"cycle_seconds": parse_cycle, "phases": parse_phases, "complete_when": parse_sentence}[ask.question](text)


@dataclass
class Answers:
    """What the asking produced: a valid parsed answer per Ask, the failures, the cost."""

    valid: dict[Ask, Any] = field(default_factory=dict)
    raw: dict[Ask, str] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    asked: int = 0  # Asks (action × question × round)
    calls: int = 0
    cache_hits: int = 0  # valid answers read from the cache
    known_failures: int = 0  # failed Asks whose every attempt an earlier run recorded (not asked again)


def ask_all(args: argparse.Namespace, runner: BatchRunner, template: PromptTemplate, asks: list[Ask]
            ) -> Answers | None:
    """Ask every question, in waves (see the module docstring). None when `--export-batch`
    wrote the first wave instead of asking."""
    answers = Answers(asked=len(asks))
    tries: dict[Ask, list[Try]] = {ask: [] for ask in asks}
    asked_live: set[Ask] = set()
    pending = _waves(args, _with_retry_failures(runner, False), template, asks, answers, tries, asked_live)
    if pending is None:
        return None
    if pending and runner.config.retry_failures:
        again = argparse.Namespace(**{**vars(args), "import_batch": None, "export_batch": None})
        pending = _waves(again, _with_retry_failures(runner, True), template, pending, answers, tries, asked_live)
    answers.failures = [failure_entry(ask, tries[ask]) for ask in pending or []]
    answers.known_failures = sum(ask not in asked_live for ask in pending or [])
    return answers


def _with_retry_failures(runner: BatchRunner, retry: bool) -> BatchRunner:
    if runner.config.retry_failures == retry:
        return runner
    return BatchRunner(runner.backend, runner.cache, dataclasses.replace(runner.config, retry_failures=retry))


def _waves(args: argparse.Namespace, runner: BatchRunner, template: PromptTemplate, asks: list[Ask],
           answers: Answers, tries: dict[Ask, list[Try]], asked_live: set[Ask]) -> list[Ask] | None:
    """Attempts 0..`--retries` of the Asks without a valid answer; the Asks still without one."""
    pending = list(asks)
    for attempt in range(args.retries + 1):
        if not pending:
            break
        items = {ask: batch_item(ask, attempt, template) for ask in pending}
        # A Batch API output holds the first wave only; later waves are asked live.
        wave_args = args if attempt == 0 else argparse.Namespace(**{**vars(args), "import_batch": None})
        report = run_items(wave_args, runner, list(items.values()), None)
        if report is None:
            return None
        answers.calls += report.calls_made
        pending = _take_valid(pending, items, report, runner, answers, tries, asked_live)
    return pending


def _take_valid(pending: list[Ask], items: dict[Ask, BatchItem], report: BatchReport, runner: BatchRunner,
                answers: Answers, tries: dict[Ask, list[Try]], asked_live: set[Ask]) -> list[Ask]:
    """Store the answers that validate; reject the rest in the cache; return the Asks still
    without a valid answer."""
    still = []
    for ask in pending:
        outcome = report.outcomes[items[ask].key]
        if not outcome.cached:
            asked_live.add(ask)
        if outcome.status != "ok" or outcome.text is None:
            tries[ask] += outcome.tries or [{"error": outcome.error or "no answer", "text": outcome.text}]
            still.append(ask)
            continue
        try:
            answers.valid[ask] = parse_ask(ask, outcome.text)
        except ValueError as exc:
            error = f"invalid answer: {exc}"
            runner.reject(items[ask], error)
            tries[ask].append({"error": error, "text": outcome.text})
            still.append(ask)
            continue
        answers.raw[ask] = outcome.text
        answers.cache_hits += outcome.cached
    return still


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ANSWER_CHARS]


def failure_entry(ask: Ask, tries: list[Try]) -> dict[str, Any]:
    """The output record of an Ask that never got a valid answer: the last error and answer,
    and every try's (oldest first), so what went wrong first is not hidden by the last try."""
    last = tries[-1] if tries else {"error": "no answer", "text": None}
    return {"kind": "answer", "action": ask.action, "question": ask.question, "round": ask.round,
            "attempts": len(tries), "error": last.get("error"), "answer": _clip(last.get("text")),
            "tries": [{"error": t.get("error"), "answer": _clip(t.get("text"))} for t in tries]}
