"""The recognizer's questions (prompts/lift_questions.yaml) and its word-level question tokenizer.

Why a tokenizer of our own: the questions are a few dozen words ("how many squats were done"),
so a word-level vocabulary built from the paraphrases and the exercise names is enough, ships
inside the checkpoint's config.json and needs nothing from a model hub. Words go through LiFT's
word rules (`countllm.labels.word_form`: lower case, singular, hyphens dropped), so "Push-Ups"
and "pushup" are one token; a word the tokenizer has never seen is [UNK].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from countllm import labels
from countllm.prompt_templates import PromptTemplate, load_prompt

TASKS = ("recognize", "count")
PAD, CLS, UNK = "[PAD]", "[CLS]", "[UNK]"
SPECIALS = (PAD, CLS, UNK)


@lru_cache(maxsize=1)
def question_template() -> PromptTemplate:
    return load_prompt("lift_questions")


def paraphrases(task: str) -> list[str]:
    """The question paraphrases of one task; the first is the one inference asks."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return list(question_template().extras["questions"][task])


def plural(name: str) -> str:
    """The plural people say ("push-up" → "push-ups", "bench press" → "bench presses")."""
    if name.endswith(("s", "sh", "ch", "x")):
        return name if name.endswith("knees") else name + "es"
    return name + "s"


def question(task: str, exercise: str | None = None, paraphrase: int = 0) -> str:
    """The question text: paraphrase number `paraphrase` of `task`, naming `exercise` (an id) if it counts."""
    options = paraphrases(task)
    text = options[paraphrase % len(options)]
    if task == "count":
        name = labels.display_name(exercise) if exercise and exercise in labels.known_ids() else exercise
        text = text.format(exercise=plural(name or "repetition"))
    return text


@dataclass(frozen=True)
class QuestionTokenizer:
    """Word-level tokens of a question: [CLS] first (the pooled token), [PAD] after it."""

    words: tuple[str, ...]  # SPECIALS first
    max_length: int = 16

    @classmethod
    def build(cls, exercise_ids: Iterable[str], max_length: int = 16) -> QuestionTokenizer:
        """The words of every paraphrase, with every given exercise's name filled in."""
        texts = list(paraphrases("recognize"))
        for exercise in [*exercise_ids, None]:
            texts += [question("count", exercise, i) for i in range(len(paraphrases("count")))]
        vocab: dict[str, None] = dict.fromkeys(SPECIALS)
        for text in texts:
            vocab.update(dict.fromkeys(labels.word_form(text).split()))
        return cls(tuple(vocab), max_length)

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """((max_length,) int64 ids, (max_length,) int64 attention mask); long questions are cut."""
        index = {w: i for i, w in enumerate(self.words)}
        tokens = [CLS, *labels.word_form(text).split()][: self.max_length]
        ids = np.full(self.max_length, index[PAD], dtype=np.int64)
        ids[: len(tokens)] = [index.get(t, index[UNK]) for t in tokens]
        mask = np.zeros(self.max_length, dtype=np.int64)
        mask[: len(tokens)] = 1
        return ids, mask

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        pairs = [self.encode(t) for t in texts]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
