"""The multiple-choice questions of `mine priors`, answered by choice scoring (docs/design.md §5).

Why: SmolLM2-135M answered 0 of 34 moving-parts and confusions questions in a form that
validated, and 0 cycle ranges. A backend that can score given answers (the local model) is asked
the same questions, and every offered option is scored as the answer's start; no answer can fail
validation. Which options are kept is a fixed rule, stated here and recorded in every file:

- Rounds list the options in different orders (seeded shuffles, round 0 in the original order).
  An option's score is its mean per-token log-likelihood averaged over the rounds, which cancels
  most of a small model's preference for a place in the list.
- moving_parts: the `TOP_PARTS` (2) best body parts. Two because almost every exercise moves
  two joint groups (knees + hips, elbows + shoulders); a fixed count needs no threshold tuned on
  the data the priors are evaluated on.
- confusions: the `TOP_CONFUSIONS` (2) best other exercises (the counter does not read them).
- cycle_seconds: the best of `CYCLE_OPTIONS`, a fixed set of ranges that tile 0.5–8 s.
"""

from __future__ import annotations

from typing import Any

from countllm.agents.llm.base import Choices
from countllm.agents.llm.structured import parse_scores
from countllm.agents.mining.priors_parsers import parse_cycle

SCORED_QUESTIONS = ("moving_parts", "cycle_seconds", "confusions")
CYCLE_OPTIONS = ("0.5-1 seconds", "1-2 seconds", "2-3 seconds", "3-5 seconds", "5-8 seconds")
TOP_PARTS, TOP_CONFUSIONS = 2, 2
CHOICE_RULES = {"moving_parts": f"top {TOP_PARTS} by mean score over rounds",
                "confusions": f"top {TOP_CONFUSIONS} by mean score over rounds",
                "cycle_seconds": f"best of {list(CYCLE_OPTIONS)} by mean score over rounds"}
LIST_PREFIX = '["'  # list questions are answered with a JSON array; an option is scored as its first element


def choices_for(question: str, options: tuple[str, ...]) -> Choices:
    """How the options of a scored question are scored: as the first element of a JSON array
    (closing quote included, so "hip" ≠ "hips"), or — cycle ranges — as the whole answer."""
    if question == "cycle_seconds":
        return Choices(options)
    return Choices(tuple(f'{o}"' for o in options), LIST_PREFIX)


def parse_scored(text: str, question: str, options: tuple[str, ...]) -> dict[str, float]:
    """Option → score of one scored answer; ValueError unless it scores exactly these options."""
    choices = choices_for(question, options)
    scores = parse_scores(text, choices.options)
    return {option: scores[scored] for option, scored in zip(options, choices.options, strict=True)}


def mean_scores(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each option's score averaged over the rounds that scored it, best first."""
    options = {o for r in rounds for o in r}
    means = {o: sum(r[o] for r in rounds if o in r) / sum(o in r for r in rounds) for o in options}
    return dict(sorted(means.items(), key=lambda kv: (-kv[1], kv[0])))


def select(question: str, means: dict[str, float]) -> Any:
    """The value kept for a question from its mean scores (best first), by the module's rules."""
    best = list(means)
    if question == "moving_parts":
        return best[:TOP_PARTS]
    if question == "confusions":
        return best[:TOP_CONFUSIONS]
    if question == "cycle_seconds":
        return parse_cycle(best[0])
    raise ValueError(f"{question!r} is not a scored question; scored: {', '.join(SCORED_QUESTIONS)}")
