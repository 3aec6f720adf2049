"""Co-occurrence by choice scoring: rank a category's actions by likelihood instead of sampling.

Why: a small local model asked in free text never produced a parseable list (0 of 480 with
SmolLM2-135M). A backend that can score continuations (`ChoiceScorer`) is asked the same docs/design.md
§3 question, and every candidate name is scored as the start of the answer (`["<name>"`); the
`num` best are that round's answer. Nothing can fail to parse, and nothing is paraphrased, so no
embedding matcher is needed.

Choices made here, and why:
- Rounds differ by the order in which the category's actions are listed (round 1: vocabulary
  order; later rounds: a shuffle seeded by category and round). A small model favours names by
  their place in the list; a pair that survives the consensus over orders is not an order artefact.
- The prompt lists the whole category (a_i included when it belongs to it) in the same order
  for every a_i of a round; a_i itself is never a candidate. Same list, same prompt prefix: the local backend
  reuses its key/value cache across the questions of a round (see `llm/scoring.py`).
- Calibration (`calibrate`, on by default): a 135M model prefers the same few names whatever
  a_i is (surface-form competition, Holtzman et al. 2021). Each (category, round) is also asked
  about a neutral action (`NEUTRAL_ACTION`), and a candidate's score is its log-likelihood for
  a_i minus that for the neutral action — a pointwise mutual information, so a candidate ranks
  high for a_i only if a_i makes it more likely than usual.
- Scores are mean per-token log-likelihoods of the first `choice_tokens` tokens of a name: the
  rest of a name copied from the list is near certain and adds compute, not information.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from countllm.agents.batch_types import BatchItem, BatchReport
from countllm.agents.llm.base import ChatMessage, Choices
from countllm.agents.llm.structured import parse_scores
from countllm.agents.mining.cooc_questions import category_text, item_key
from countllm.agents.mining.vocabulary import Vocabulary
from countllm.prompt_templates import PromptTemplate

NEUTRAL_ACTION = "any action"
ANSWER_PREFIX = '["'  # the answer is a JSON array; each option is scored as its first name


def option_text(name: str) -> str:
    """How a candidate is scored: the name and its closing quote (so "sit" ≠ "sit down")."""
    return f'{name}"'


def round_order(vocab: Vocabulary, category: str, round_: int) -> list[int]:
    """The category's actions in the order round `round_` lists them (round 1: vocabulary order)."""
    members = list(vocab.members(category))
    if round_ > 1:
        random.Random(f"{category}|r{round_}").shuffle(members)
    return members


@dataclass(frozen=True)
class ScoredQuestion:
    """Action `action` (an index; None for the neutral baseline) in `category`, round `round`."""

    action: int | None
    category: str
    round: int
    candidates: tuple[int, ...]  # vocabulary indices, in the order they are scored


def _item(key: str, template: PromptTemplate, action_text: str, category_text: str, listed: list[str],
          candidates: list[str], num: int, choice_tokens: int | None) -> BatchItem:
    rendered = template.render(action=action_text, category=category_text, candidates=listed, num=num)
    choices = Choices(tuple(option_text(c) for c in candidates), ANSWER_PREFIX, choice_tokens)
    return BatchItem(key, [ChatMessage(m["role"], m["content"]) for m in rendered], choices=choices)


def scored_items(vocab: Vocabulary, config: Any, template: PromptTemplate, skip: Iterable[int] = ()
                 ) -> tuple[list[BatchItem], dict[str, ScoredQuestion]]:
    """Round by round, category by category: the neutral baseline (if calibrating), then every
    asked action — the order in which consecutive prompts share the longest prefix."""
    skipped = set(skip)
    items, questions = [], {}
    for r in range(1, config.rounds + 1):
        for category in vocab.categories:
            order = round_order(vocab, category, r)
            listed = [vocab.actions[j].name for j in order]
            if not order:
                continue
            if config.calibrate:
                key = f"cooc-baseline|{category}|r{r}"
                items.append(_item(key, template, NEUTRAL_ACTION, category_text(category), listed, listed,
                                   min(config.num, len(order)), config.choice_tokens))
                questions[key] = ScoredQuestion(None, category, r, tuple(order))
            for i in (j for j in range(len(vocab)) if j not in skipped):  # every action, in every category
                others = [j for j in order if j != i]
                if not others:
                    continue
                key = item_key(vocab.actions[i].name, category, r)
                items.append(_item(key, template, vocab.actions[i].name, category_text(category), listed,
                                   [vocab.actions[j].name for j in others], min(config.num, len(others)),
                                   config.choice_tokens))
                questions[key] = ScoredQuestion(i, category, r, tuple(others))
    items.sort(key=lambda item: _order(questions[item.key], vocab))
    return items, questions


def _order(q: ScoredQuestion, vocab: Vocabulary) -> tuple[int, int, int]:
    return q.round, vocab.categories.index(q.category), -1 if q.action is None else q.action


def parse_scored(text: str) -> dict[str, float]:
    """The runner's parser for scored answers (format only; the options are checked in `tally`)."""
    return parse_scores(text)


@dataclass
class ScoredTally:
    """What the scored answers add up to; `Tally`'s fields plus the scores themselves."""

    votes: np.ndarray  # (N, N) int: rounds in which j was among the top `num` for i
    rounds_answered: np.ndarray  # (N, K) int
    scores: np.ndarray  # (N, N) float: mean (calibrated) score of j for i over answered rounds; NaN: never asked


def _candidate_scores(vocab: Vocabulary, q: ScoredQuestion, parsed: dict[str, float]) -> np.ndarray:
    """(C,) scores of `q.candidates`, in order; ValueError if the answer scores other options."""
    expected = [option_text(vocab.actions[j].name) for j in q.candidates]
    if list(parsed) != expected:
        raise ValueError(f"scored answer is for other options than {q}")
    return np.array([parsed[o] for o in expected])


def tally_scores(vocab: Vocabulary, questions: dict[str, ScoredQuestion], report: BatchReport, num: int
                 ) -> ScoredTally:
    """Top `num` candidates per answered question (calibrated where a baseline answered) → votes."""
    n, cats = len(vocab), vocab.categories
    votes, answered = np.zeros((n, n), dtype=np.int32), np.zeros((n, len(cats)), dtype=np.int32)
    total, counted = np.zeros((n, n)), np.zeros((n, n))
    ok = {key: o.parsed for key, o in report.outcomes.items() if o.status == "ok" and key in questions}
    baselines = {(q.category, q.round): dict(zip(q.candidates, _candidate_scores(vocab, q, ok[key]), strict=True))
                 for key, q in questions.items() if q.action is None and key in ok}
    for key, parsed in ok.items():
        q = questions[key]
        if q.action is None:
            continue
        scores = _candidate_scores(vocab, q, parsed)
        base = baselines.get((q.category, q.round))
        if base is not None:
            scores = scores - np.array([base[j] for j in q.candidates])
        cols = np.array(q.candidates)
        top = cols[np.argsort(-scores, kind="stable")[:min(num, len(cols))]]
        votes[q.action, top] += 1
        answered[q.action, cats.index(q.category)] += 1
        total[q.action, cols] += scores
        counted[q.action, cols] += 1
    mean = np.divide(total, counted, out=np.full((n, n), np.nan), where=counted > 0)
    return ScoredTally(votes, answered, mean)
