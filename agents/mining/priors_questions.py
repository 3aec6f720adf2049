"""The questions of `mine priors`: the action list, and five tiny questions per action and round.

Why five tiny questions: a 135M model cannot fill in a JSON record with five fields, but can
sometimes answer one small question in one small format (see `priors.py`). A retry of an Ask is
the same question with a new sampling seed (`generation`); its item key names the attempt.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from countllm.agents.batch_types import BatchItem
from countllm.agents.llm.base import ChatMessage, GenerationConfig
from countllm.agents.mining.priors_choices import CYCLE_OPTIONS, SCORED_QUESTIONS, choices_for
from countllm.errors import InputError
from countllm.prompt_templates import PromptTemplate

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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(str(path), f"cannot read the action list ({reason}); pass --actions with a text "
                         "file (one action a line) or a CSV with a 'name' column") from None
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
