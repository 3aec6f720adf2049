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

With a backend that can score given answers (the local model; `--decoding auto`), the three
multiple-choice questions — moving parts, cycle range, confusions — are answered by choice
scoring instead (`priors_choices.py`: options ranked by likelihood averaged over the shuffled
rounds, then a fixed rule), so they can no longer fail; phases and the completion rule stay free
generation with strict validation. The file's `decoding` says which question went which way.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable

from countllm.agents.batch import BatchItem, BatchReport
from countllm.agents.llm.base import ChatMessage, GenerationConfig
from countllm.agents.llm.structured import extract_json
from countllm.agents.mining.priors_choices import (
    CHOICE_RULES,
    CYCLE_OPTIONS,
    SCORED_QUESTIONS,
    choices_for,
    mean_scores,
    parse_scored,
    select,
)
from countllm.errors import InputError
from countllm.priors import MAX_CYCLE_S, MIN_CYCLE_S, normalise_joints
from countllm.prompt_templates import PromptTemplate, load_prompt

FORMAT_VERSION = 1
TEMPLATE = "semantic_priors"
# The body-part words offered; each is a key of countllm.priors.BODY_PARTS (checked in tests).
BODY_PART_OPTIONS = ("knees", "hips", "ankles", "shoulders", "elbows", "wrists", "torso", "head")
QUESTIONS = ("moving_parts", "cycle_seconds", "phases", "complete_when", "confusions")
MAX_TOKENS = {"moving_parts": 24, "cycle_seconds": 12, "phases": 40, "complete_when": 32, "confusions": 24}
# Valid answers fit with room to spare; a rambling answer is cut off early (it fails anyway).
SAMPLING_TEMPERATURE = 0.7


@dataclass(frozen=True)
class Action:
    """One entry of the action list: its name and other spellings a question may use."""

    name: str
    aliases: tuple[str, ...] = ()


def load_actions(path: str | Path) -> list[Action]:
    """A text file (one action a line, "name: alias, alias", # comments) or a CSV with a `name`
    column (and optionally `aliases`, ';'-separated). InputError if unreadable, empty or duplicated."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the action list ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if not rows or "name" not in rows[0]:
            raise InputError(str(path), "a CSV action list needs a 'name' column")
        actions = [Action(r["name"].strip(), _split(r.get("aliases") or "", ";")) for r in rows if r["name"].strip()]
    else:
        lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        actions = [Action(n.strip(), _split(a, ",")) for n, _, a in (ln.partition(":") for ln in lines if ln)]
    names = [a.name.lower() for a in actions]
    if not actions or len(set(names)) != len(names):
        raise InputError(str(path), "needs at least one action and no action twice")
    return actions


def _split(text: str, sep: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(sep) if part.strip())


# ----------------------------------------------------------------------------- questions
@dataclass(frozen=True)
class Ask:
    """One question about one action in one round (retries of it are attempts of the same Ask)."""

    action: str
    question: str
    round: int
    options: tuple[str, ...] = ()
    scored: bool = False  # answered by choice scoring (see priors_choices.py), not generated

    def key(self, attempt: int) -> str:
        return f"priors|{self.action}|{self.question}|r{self.round}|a{attempt}"


def plan_asks(actions: list[Action], rounds: int, decoding: str = "free-generation") -> list[Ask]:
    """Every (action, question, round), multiple-choice options shuffled per round (seeded).

    With `decoding="choice-scoring"` the multiple-choice questions are scored, and the cycle
    question offers the fixed ranges of `CYCLE_OPTIONS` instead of asking for any range.
    """
    names = [a.name for a in actions]
    asks = []
    for action in names:
        others = tuple(n for n in names if n != action)
        for question in QUESTIONS:
            scored = decoding == "choice-scoring" and question in SCORED_QUESTIONS
            base = {"moving_parts": BODY_PART_OPTIONS, "confusions": others}.get(question, ())
            if scored and question == "cycle_seconds":
                base = CYCLE_OPTIONS
            for r in range(rounds):
                options = list(base)
                if r > 0:
                    random.Random(f"{action}|{question}|{r}").shuffle(options)
                asks.append(Ask(action, question, r, tuple(options), scored))
    return asks


def generation(ask: Ask, attempt: int) -> GenerationConfig:
    """Greedy for the first try of round 0; otherwise sampled with a seed of its own, so every
    retry and round is a different, reproducible answer."""
    max_tokens = MAX_TOKENS[ask.question]
    if ask.round == 0 and attempt == 0:
        return GenerationConfig(temperature=0.0, max_tokens=max_tokens)
    return GenerationConfig(temperature=SAMPLING_TEMPERATURE, max_tokens=max_tokens, seed=100 * ask.round + attempt)


def batch_item(ask: Ask, attempt: int, template: PromptTemplate) -> BatchItem:
    messages = [ChatMessage(m["role"], m["content"])
                for m in template.render(action=ask.action, question=ask.question, options=list(ask.options))]
    if ask.scored:
        return BatchItem(ask.key(attempt), messages, choices=choices_for(ask.question, ask.options))
    return BatchItem(ask.key(attempt), messages, generation(ask, attempt))


# ----------------------------------------------------------------------------- strict parsers
def _adapter(type_: Any) -> Any:
    from pydantic import TypeAdapter  # noqa: PLC0415 — the llm extra

    return TypeAdapter(type_)


def _validate(type_: Any, value: Any, what: str) -> Any:
    """Validate `value` against a pydantic type (strict, JSON's own types); ValueError says why."""
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return _adapter(type_).validate_python(value, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{what}: {'.'.join(str(p) for p in first['loc']) or 'value'}: {first['msg']}") from None


def parse_choice(text: str, options: tuple[str, ...], fewest: int, most: int) -> list[str]:
    """A JSON array of `fewest`–`most` distinct entries of `options` (case aside), in option spelling."""
    from pydantic import Field, StringConstraints  # noqa: PLC0415

    item = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    names = _validate(Annotated[list[item], Field(min_length=fewest, max_length=most)], extract_json(text), "choice")
    by_lower = {o.lower(): o for o in options}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise ValueError(f"not among the options: {unknown}")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("an option is named twice")
    return [by_lower[n.lower()] for n in names]


_CYCLE = re.compile(r'"?\s*(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\s*\.?\s*"?',
                    re.IGNORECASE)


def parse_cycle(text: str) -> list[float]:
    """Exactly "MIN-MAX seconds" (nothing else), with 0.2 ≤ MIN ≤ MAX ≤ 30."""
    match = _CYCLE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not 'MIN-MAX seconds': {text.strip()[:60]!r}")
    lo, hi = float(match.group(1)), float(match.group(2))
    if not MIN_CYCLE_S <= lo <= hi <= MAX_CYCLE_S:
        raise ValueError(f"{lo:g}-{hi:g} s is outside {MIN_CYCLE_S} ≤ min ≤ max ≤ {MAX_CYCLE_S}")
    return [lo, hi]


def parse_phases(text: str) -> list[str]:
    """A JSON array of 2–5 distinct short phrases (1–8 words each), none a format placeholder."""
    from pydantic import Field, StringConstraints  # noqa: PLC0415

    phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
    phases = _validate(Annotated[list[phrase], Field(min_length=2, max_length=5)], extract_json(text), "phases")
    if any(not 1 <= len(p.split()) <= 8 for p in phases):
        raise ValueError("a phase is not a short phrase (1-8 words)")
    if len({p.lower() for p in phases}) != len(phases):
        raise ValueError("a phase is repeated")
    return phases


# Answers that are not about the action at all: hedges, refusals, the instruction echoed back.
_NON_ANSWER = re.compile(r"\b(not sure|don't know|do not know|cannot (answer|say|tell)|as an ai|reply with|"
                         r"short sentence|json array)\b", re.IGNORECASE)


def parse_sentence(text: str) -> str:
    """One statement of 3–30 words on one line (a trailing full stop allowed, no second sentence),
    not a hedge, a question or the instruction echoed back. Only the form can be checked: a
    fluent sentence about something else passes, which is why the counter never reads it."""
    sentence = text.strip().strip('"')
    if "\n" in sentence or not 3 <= len(sentence.split()) <= 30:
        raise ValueError("not one short sentence (one line, 3-30 words)")
    if _NON_ANSWER.search(sentence):
        raise ValueError(f"not an answer: {sentence[:60]!r}")
    if re.search(r"[.!?]\s+\S", sentence):
        raise ValueError("more than one sentence")
    if sentence.endswith("?"):
        raise ValueError("a question, not an answer")
    return sentence


PARSERS: dict[str, Callable[[str, Ask], Any]] = {
    "moving_parts": lambda text, ask: parse_choice(text, ask.options, 1, 3),
    "cycle_seconds": lambda text, ask: parse_cycle(text),
    "phases": lambda text, ask: parse_phases(text),
    "complete_when": lambda text, ask: parse_sentence(text),
    "confusions": lambda text, ask: parse_choice(text, ask.options, 0, 3),
}


# ----------------------------------------------------------------------------- asking
@dataclass
class Answers:
    """What the asking produced: a valid parsed answer per Ask, the failures, the cost."""

    valid: dict[Ask, Any] = field(default_factory=dict)
    raw: dict[Ask, str] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    cache_hits: int = 0


def ask_all(args: argparse.Namespace, runner: Any, template: PromptTemplate, asks: list[Ask]) -> Answers | None:
    """Ask every question; re-ask (new seed) those whose answer does not validate, up to
    `args.retries` times. None when `--export-batch` wrote the first wave instead of asking."""
    from countllm.agents.mining.commands import run_items  # noqa: PLC0415

    answers, pending, errors = Answers(), list(asks), {}
    for attempt in range(args.retries + 1):
        if not pending:
            break
        items = [batch_item(ask, attempt, template) for ask in pending]
        # A Batch API output holds the first wave only; later waves are asked live.
        wave_args = args if attempt == 0 else argparse.Namespace(**{**vars(args), "import_batch": None})
        report = run_items(wave_args, runner, items, None)
        if report is None:
            return None
        answers.calls, answers.cache_hits = answers.calls + report.calls_made, answers.cache_hits + report.cache_hits
        pending = _take_valid(pending, attempt, report, answers, errors)
    answers.failures = [_failure(ask, args.retries + 1, *errors[ask]) for ask in pending]
    return answers


def _take_valid(pending: list[Ask], attempt: int, report: BatchReport, answers: Answers,
                errors: dict[Ask, tuple[str, str | None]]) -> list[Ask]:
    """Store the answers that validate; return the Asks still without one."""
    still = []
    for ask in pending:
        outcome = report.outcomes[ask.key(attempt)]
        if outcome.status != "ok" or outcome.text is None:
            errors[ask] = (outcome.error or "no answer", outcome.text)
            still.append(ask)
            continue
        try:
            parse = (lambda text, a: parse_scored(text, a.question, a.options)) if ask.scored else PARSERS[ask.question]
            answers.valid[ask] = parse(outcome.text, ask)
            answers.raw[ask] = outcome.text
        except ValueError as exc:
            errors[ask] = (str(exc), outcome.text)
            still.append(ask)
    return still


def _failure(ask: Ask, attempts: int, error: str, text: str | None) -> dict[str, Any]:
    return {"action": ask.action, "question": ask.question, "round": ask.round, "attempts": attempts,
            "error": error, "answer": None if text is None else text[:300]}


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
                failures.append({"action": action, "question": question, "round": None, "attempts": None,
                                 "error": f"only {len(valid)} of {rounds} rounds valid; no consensus possible",
                                 "answer": None})
            continue
        try:
            values[question] = merge(valid)
        except ValueError as exc:
            failures.append({"action": action, "question": question, "round": None, "attempts": None,
                             "error": str(exc), "answer": None})
    return values, failures


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
def mine_priors(actions: list[Action], args: argparse.Namespace, runner: Any, model_id: str
                ) -> dict[str, Any] | None:
    """The whole priors document for `actions`, or None after `--export-batch`."""
    from countllm.agents.mining.commands import command_line, decoding_mode, utc_now  # noqa: PLC0415

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
    return {"format_version": FORMAT_VERSION, "model": model_id, "prompt": template.provenance(),
            "created": utc_now(), "command": command_line(args, "priors"), "actions": len(actions),
            "decoding": decoding, "choice_rules": CHOICE_RULES if mode == "choice-scoring" else None,
            "body_part_options": list(BODY_PART_OPTIONS), "priors": priors, "failures": failures,
            "stats": _stats(actions, priors, failures, answers, time.perf_counter() - started)}


def _stats(actions: list[Action], priors: dict[str, Any], failures: list[dict[str, Any]], answers: Answers,
           seconds: float) -> dict[str, Any]:
    mined = {q: sum(q in p["source"]["mined_fields"] for p in priors.values()) for q in QUESTIONS}
    return {"actions": len(actions), "actions_with_prior": len(priors), "fields_mined": mined,
            "failures": len(failures), "calls": answers.calls, "cache_hits": answers.cache_hits,
            "wall_s": round(seconds, 1)}


def run_priors_command(args: argparse.Namespace) -> int:
    """`countllm mine priors --actions FILE --out FILE`: mine, write the JSON, print a summary."""
    from countllm.agents.mining.commands import backend_and_runner  # noqa: PLC0415

    if args.rounds < 1 or args.retries < 0:
        raise InputError("options", f"need --rounds >= 1 and --retries >= 0, got {args.rounds}, {args.retries}")
    actions = load_actions(args.actions)
    out = Path(args.out)
    backend, runner = backend_and_runner(args, out.parent / f"{out.stem}.cache.sqlite")
    document = mine_priors(actions, args, runner, backend.model_id)
    if document is None:
        return 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(str(out), f"cannot write the priors ({exc.strerror or exc})") from None
    print(summary(document, out))
    return 0


def summary(document: dict[str, Any], out: Path) -> str:
    """Cost, what was mined, what failed — so a weak model's failures are never unseen."""
    stats = document["stats"]
    fields_line = ", ".join(f"{q} {n}" for q, n in stats["fields_mined"].items())
    return "\n".join([
        f"model {document['model']}: {stats['actions']} actions, {stats['calls']} calls "
        f"({stats['cache_hits']} cached answers) in {stats['wall_s']} s",
        f"priors written for {stats['actions_with_prior']} actions; fields mined: {fields_line}",
        "decoding: " + ", ".join(f"{q} {m}" for q, m in document["decoding"].items()),
        f"{stats['failures']} failures (listed in the file's 'failures')",
        f"wrote {out}",
    ])
