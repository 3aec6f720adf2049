"""Exercise words, LiFT's category weights and the weighted multi-hot targets (docs/design.md §2).

Why words and not class ids: LiFT answers "what exercise?" with the words of its name ("front",
"raise"), each scored on its own, so a model that has seen front raises and lateral pull-downs
can still say something true about a lateral raise, and a wrong answer gets partial credit for
the words it got right. Label spelling goes through the one vocabulary (`countllm.labels`):
`labels.normalize` folds a dataset's class name ("frontraise", "squant") to an id, `labels.words`
turns the id into LiFT's word form ("front raise") and `labels.from_words` reads words back.

The category of every word, and LiFT's weight per category, live in `words.yaml` beside this
module; a word that is in no category weighs 0 and is never a target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from countllm import labels

WORDS_FILE = Path(__file__).with_name("words.yaml")
MAX_COUNT = 30  # the integer answers 1–30 (LiFT); a window with more reps saturates
INTEGERS = tuple(str(i) for i in range(1, MAX_COUNT + 1))
WORD_THRESHOLD = 0.05  # LiFT: a word is "predicted" at p >= 0.05


@dataclass(frozen=True)
class WordTable:
    """Word → category and category → weight, as `words.yaml` lists them."""

    weights: Mapping[str, float]
    categories: Mapping[str, str]

    def category(self, word: str) -> str:
        if word.isdigit() and 1 <= int(word) <= MAX_COUNT:
            return "integer"
        return self.categories.get(word, "uncategorized")

    def weight(self, word: str) -> float:
        return float(self.weights[self.category(word)])


@lru_cache(maxsize=1)
def word_table(path: Path = WORDS_FILE) -> WordTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    weights = {str(k): float(v) for k, v in data["weights"].items()}
    categories: dict[str, str] = {}
    for category, words in data["words"].items():
        if category not in weights:
            raise ValueError(f"{path}: category {category!r} has no weight")
        for word in words:
            if word in categories:
                raise ValueError(f"{path}: {word!r} is listed under {categories[word]!r} and {category!r}")
            categories[str(word)] = str(category)
    return WordTable(weights, categories)


def label_words(label_id: str) -> list[str]:
    """The LiFT words of an exercise id (bench_press → ["bench", "press"])."""
    return labels.words(label_id).split()


def text_words(text: str) -> list[str]:
    """LiFT's word rules on free text ("1-leg RDLs" → ["single", "leg", "romanian", "deadlift"])."""
    return labels.word_form(text).split()


def normalise_label(text: str) -> str | None:
    """A dataset's class name as an exercise id ("frontraise" → front_raise, "squant" → squat)."""
    return labels.normalize(text)


def weighted_words(label_id: str, table: WordTable | None = None) -> dict[str, float]:
    """Each word of the exercise with weight > 0, and its weight (bench press: bench 0.1, press 1)."""
    table = table or word_table()
    return {w: table.weight(w) for w in label_words(label_id) if table.weight(w) > 0}


@dataclass(frozen=True)
class OutputVocabulary:
    """The model's answers: exercise words, then the integers 1–30. Saved with every checkpoint."""

    words: tuple[str, ...]
    weights: tuple[float, ...] = field(default=())  # of each word; filled from words.yaml when empty

    def __post_init__(self) -> None:
        if not self.weights:
            table = word_table()
            object.__setattr__(self, "weights", tuple(table.weight(w) for w in self.words))
        if len(self.weights) != len(self.words) or len(set(self.words)) != len(self.words):
            raise ValueError("output vocabulary: words must be unique and have one weight each")

    @classmethod
    def for_exercises(cls, label_ids: Iterable[str]) -> OutputVocabulary:
        """Every weighted word of these exercises, in first-seen order."""
        table = word_table()
        words: dict[str, float] = {}
        for label_id in label_ids:
            for word, weight in weighted_words(label_id, table).items():
                words.setdefault(word, weight)
        return cls(tuple(words), tuple(words.values()))

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.words + INTEGERS

    def __len__(self) -> int:
        return len(self.words) + len(INTEGERS)

    def index(self, token: str) -> int:
        return self.tokens.index(token)

    def word_target(self, label_id: str) -> np.ndarray:
        """(n_words,) the weighted multi-hot vector of an exercise over the word part."""
        target = np.zeros(len(self.words), dtype=np.float32)
        for word, weight in weighted_words(label_id).items():
            if word in self.words:
                target[self.words.index(word)] = weight
        return target

    def target(self, label_id: str | None = None, count: int | None = None) -> np.ndarray:
        """(V,) the answer to the exercise question (label_id) or the count question (count)."""
        target = np.zeros(len(self), dtype=np.float32)
        if label_id is not None:
            target[: len(self.words)] = self.word_target(label_id)
        if count is not None and 1 <= count <= MAX_COUNT:
            target[len(self.words) + count - 1] = 1.0
        return target


def partial_credit(word_probs: Mapping[str, float], true_id: str, threshold: float = WORD_THRESHOLD) -> float:
    """LiFT's partial credit: the share of the true exercise's weighted words predicted at p ≥ threshold."""
    true = list(weighted_words(true_id))
    if not true:
        return 0.0
    return sum(word_probs.get(w, 0.0) >= threshold for w in true) / len(true)
