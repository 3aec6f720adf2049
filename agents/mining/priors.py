"""`countllm mine priors`: semantic priors of actions (docs/design.md §5) from an LLM, validated strictly.

Why this shape: the default model is a 135M SmolLM2, which cannot fill in a JSON record with five
fields, but can sometimes answer one tiny question in one tiny format. So each action is asked
five separate questions (template `semantic_priors`): which body parts move (multiple choice),
how long a repetition takes ("MIN-MAX seconds"), its phases, when it is complete, and which other
exercises it is confused with (multiple choice). Every answer is parsed strictly (JSON + pydantic
or one exact pattern) and validated (body parts from the offered list, 0.2 ≤ min ≤ max ≤ 30 s);
nothing is repaired or guessed.

Rounds and retries:
- Each question is asked `rounds` times; round 0 decodes greedily, later rounds sample. The
  multiple-choice lists are shown in a different order each round. The list answers (moving
  parts, confusions) and the cycle range are kept only where the rounds agree (the parts named
  in every valid round; the overlap of the ranges), so an answer that merely follows the order
  of the list, or a number drawn at random, does not survive. Phases and the completion rule
  are free text and cannot be compared: the first valid round is kept.
- An answer that does not validate is asked again (up to `--retries` times) with a new sampling
  seed — re-asking a greedy decoder would only repeat it. What still fails is recorded in the
  output's `failures` with the raw answer; the field stays empty in the record.
An action is written when at least one field was mined; the counter uses whatever is there.
The run exits 3 (`EXIT_PARTIAL`) when some question never got a valid answer; rounds that
answered validly but disagree are a result of the consensus rule (listed, kind "consensus"),
not a failed question, as a pair short of consensus is in `mine cooccurrence`.

With a backend that can score given answers (the local model; `--decoding auto`), the three
multiple-choice questions — moving parts, cycle range, confusions — are answered by choice
scoring instead (`priors_choices.py`: options ranked by likelihood averaged over the shuffled
rounds, then a fixed rule), so they can no longer fail; phases and the completion rule stay free
generation with strict validation. The file's `decoding` says which question went which way.

The parts: `priors_questions` (action list, Asks, items), `priors_parsers` (strict parsers),
`priors_asking` (waves, validation, the failure record), `priors_choices` (choice scoring);
this module combines the rounds and writes the file.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from countllm.agents.batch_runner import BatchRunner
from countllm.agents.mining.priors_asking import Answers, ask_all, failure_entry, parse_ask
from countllm.agents.mining.priors_choices import CHOICE_RULES, SCORED_QUESTIONS, mean_scores, select
from countllm.agents.mining.priors_parsers import parse_choice, parse_cycle, parse_phases, parse_sentence
from countllm.agents.mining.priors_questions import (
    BODY_PART_OPTIONS,
    MAX_TOKENS,
    QUESTIONS,
    SAMPLING_TEMPERATURE,
    Action,
    Ask,
    batch_item,
    generation,
    load_actions,
    plan_asks,
)
from countllm.agents.mining.runs import (
    backend_and_runner,
    check_counts,
    command_line,
    decoding_mode,
    list_failures,
    utc_now,
)
from countllm.errors import EXIT_OK, EXIT_PARTIAL, InputError
from countllm.priors import normalise_joints
from countllm.prompt_templates import load_prompt

__all__ = [
    "BODY_PART_OPTIONS", "FORMAT_VERSION", "MAX_TOKENS", "QUESTIONS", "SAMPLING_TEMPERATURE", "SCHEMA_VERSION",
    "TEMPLATE", "Action", "Answers", "Ask", "ask_all", "batch_item", "combine", "failure_entry", "generation",
    "load_actions", "mine_priors", "parse_ask", "parse_choice", "parse_cycle", "parse_phases", "parse_sentence",
    "plan_asks", "prior_record", "run_priors_command", "summary",
]

FORMAT_VERSION = 1  # what countllm.priors.load_priors reads; unchanged (fields were only added)
SCHEMA_VERSION = 1  # of the whole document; bumped when a field changes meaning or goes away
TEMPLATE = "semantic_priors"


# ----------------------------------------------------------------------------- combining rounds
def _agreed_choice(answers: list[list[str]]) -> list[str]:
    """The options named in every round, in the first round's order; ValueError if none."""
    agreed = [a for a in answers[0] if all(a in other for other in answers[1:])]
    if not agreed and any(answers):
        raise ValueError(f"rounds disagree: {answers}")
    return agreed


def _agreed_cycle(answers: list[list[float]]) -> list[float]:
    lo, hi = max(a[0] for a in answers), min(a[1] for a in answers)
    if lo > hi:
        raise ValueError(f"rounds disagree: {answers}")
    return [lo, hi]


# question → (how the valid rounds are combined, whether it needs every round to agree)
COMBINE: dict[str, tuple[Callable[[list[Any]], Any], bool]] = {
    "moving_parts": (_agreed_choice, True),
    "confusions": (_agreed_choice, True),
    "cycle_seconds": (_agreed_cycle, True),
    "phases": (lambda answers: answers[0], False),
    "complete_when": (lambda answers: answers[0], False),
}


def combine(action: str, rounds: int, answers: Answers) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Per question, the value kept for `action` (absent when none) and the consensus failures.

    Scored questions keep their mean option scores under `values["choice_scores"]`.
    """
    values: dict[str, Any] = {}
    failures = []
    for question in QUESTIONS:
        asks = sorted((a for a in answers.valid if a.action == action and a.question == question),
                      key=lambda a: a.round)
        valid = [answers.valid[a] for a in asks]
        if asks and asks[0].scored:
            means = mean_scores(valid)
            values[question] = select(question, means)
            values.setdefault("choice_scores", {})[question] = {o: round(v, 4) for o, v in means.items()}
            continue
        merge, needs_agreement = COMBINE[question]
        if not valid or (needs_agreement and len(valid) < min(2, rounds)):
            if valid:
                failures.append(_no_consensus(action, question,
                                              f"only {len(valid)} of {rounds} rounds valid; no consensus possible"))
            continue
        try:
            values[question] = merge(valid)
        except ValueError as exc:
            failures.append(_no_consensus(action, question, str(exc)))
    return values, failures


def _no_consensus(action: str, question: str, error: str) -> dict[str, Any]:
    return {"kind": "consensus", "action": action, "question": question, "round": None, "attempts": None,
            "error": error, "answer": None, "tries": []}


def prior_record(action: Action, values: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """The JSON record `countllm.priors.load_priors` reads; unmined fields stay empty."""
    parts = values.get("moving_parts", [])
    return {
        "action": action.name, "aliases": list(action.aliases), "phases": values.get("phases", []),
        "moving_joints": normalise_joints(parts), "cycle_s": values.get("cycle_seconds"),
        "complete_when": values.get("complete_when", ""), "confusions": values.get("confusions", []),
        "source": {**source, "body_parts": parts, "mined_fields": [q for q in QUESTIONS if q in values]}
        | ({"choice_scores": values["choice_scores"]} if "choice_scores" in values else {}),
    }


# ----------------------------------------------------------------------------- the command
def mine_priors(actions: list[Action], args: argparse.Namespace, runner: BatchRunner, model_id: str
                ) -> dict[str, Any] | None:
    """The whole priors document for `actions`, or None after `--export-batch`."""
    template = load_prompt(TEMPLATE)
    started = time.perf_counter()
    mode = decoding_mode(args, runner.backend)
    if args.export_batch and mode == "choice-scoring":
        raise InputError("--export-batch", "the Batch API generates answers; it cannot score choices "
                         "(use --backend openai, or --decoding free-generation)")
    answers = ask_all(args, runner, template, plan_asks(actions, args.rounds, mode))
    if answers is None:
        return None
    decoding = {q: mode if q in SCORED_QUESTIONS else "free-generation" for q in QUESTIONS}
    source = {"kind": "mined", "model": model_id, "prompt": f"{template.name} v{template.version} "
              f"sha256:{template.digest}", "rounds": args.rounds, "decoding": decoding}
    priors, failures = {}, list(answers.failures)
    for action in actions:
        values, consensus_failures = combine(action.name, args.rounds, answers)
        failures += consensus_failures
        if values:
            priors[action.name] = prior_record(action, values, source)
    return {"schema_version": SCHEMA_VERSION, "format_version": FORMAT_VERSION, "model": model_id,
            "prompt": template.provenance(), "created": utc_now(), "command": command_line(args, "priors"),
            "actions": len(actions),
            "decoding": decoding, "choice_rules": CHOICE_RULES if mode == "choice-scoring" else None,
            "body_part_options": list(BODY_PART_OPTIONS), "priors": priors, "failures": failures,
            "stats": _stats(actions, priors, failures, answers, time.perf_counter() - started)}


def _stats(actions: list[Action], priors: dict[str, Any], failures: list[dict[str, Any]], answers: Answers,
           seconds: float) -> dict[str, Any]:
    mined = {q: sum(q in p["source"]["mined_fields"] for p in priors.values()) for q in QUESTIONS}
    return {"actions": len(actions), "actions_with_prior": len(priors), "fields_mined": mined,
            "questions": answers.asked, "answered": len(answers.valid), "failed_questions": len(answers.failures),
            "known_failures": answers.known_failures, "failures": len(failures), "calls": answers.calls,
            "cache_hits": answers.cache_hits, "wall_s": round(seconds, 1)}


def run_priors_command(args: argparse.Namespace) -> int:
    """`countllm mine priors --actions FILE --out FILE`: mine, write the JSON, print a summary.

    Returns `EXIT_PARTIAL` when some question never got a valid answer, else `EXIT_OK`.
    """
    check_counts(args, rounds=1, retries=0)
    actions = load_actions(args.actions)
    out = Path(args.out)
    backend, runner = backend_and_runner(args, out.parent / f"{out.stem}.cache.sqlite")
    document = mine_priors(actions, args, runner, backend.model_id)
    if document is None:
        return EXIT_OK
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(str(out), f"cannot write the priors ({exc.strerror or exc})") from None
    print(summary(document, out))
    return EXIT_PARTIAL if document["stats"]["failed_questions"] else EXIT_OK


def summary(document: dict[str, Any], out: Path) -> str:
    """Cost, what was mined, and every failure by name and reason — never a bare count."""
    stats = document["stats"]
    fields_line = ", ".join(f"{q} {n}" for q, n in stats["fields_mined"].items())
    answer_failures = [f for f in document["failures"] if f["kind"] == "answer"]
    disagreements = [f for f in document["failures"] if f["kind"] == "consensus"]
    return "\n".join([
        f"model {document['model']}: {stats['actions']} actions, {stats['questions']} questions: "
        f"{stats['answered']} answered validly ({stats['cache_hits']} from the cache), {stats['failed_questions']} "
        f"failed ({stats['known_failures']} recorded by an earlier run, not asked again); "
        f"{stats['calls']} calls in {stats['wall_s']} s",
        f"priors written for {stats['actions_with_prior']} actions; fields mined: {fields_line}",
        "decoding: " + ", ".join(f"{q} {m}" for q, m in document["decoding"].items()),
        *list_failures([(f"{f['action']} {f['question']} round {f['round']} ({f['attempts']} tries)", f["error"])
                        for f in answer_failures]),
        *(f"  no consensus: {f['action']} {f['question']}: {f['error']}" for f in disagreements),
        f"wrote {out}",
    ])
