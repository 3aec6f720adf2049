"""From answers to the matrix: votes per pair, the consensus rule, label rows, the result.

A pair (i, j) is in C when j was named for i in at least ceil(consensus × rounds answered)
rounds (at least one); a failed question counts nowhere, so a failure can only remove pairs,
never invent them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from countllm.agents.batch_types import BatchReport
from countllm.agents.mining.cooc_matching import Match, VocabularyMatcher
from countllm.agents.mining.cooc_questions import CooccurrenceConfig, Question
from countllm.agents.mining.vocabulary import Vocabulary


@dataclass
class Tally:
    """Votes counted from the parsed answers."""

    votes: np.ndarray  # (N, N) int: rounds in which j was named for i
    rounds_answered: np.ndarray  # (N, K) int: rounds of question (i, category k) that parsed
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    self_mentions: int = 0  # answers naming the asked action itself (never counted)
    matches: list[Match] = field(default_factory=list)
    scores: np.ndarray | None = None  # (N, N) mean choice score of j for i (choice-scoring only)


def tally_votes(vocab: Vocabulary, questions: dict[str, Question], report: BatchReport,
                matcher: VocabularyMatcher) -> Tally:
    """Count, per pair, the rounds that named it; failed items count nowhere."""
    n, cats = len(vocab), vocab.categories
    tally = Tally(np.zeros((n, n), dtype=np.int32), np.zeros((n, len(cats)), dtype=np.int32))
    answered = [(key, o.parsed) for key, o in report.outcomes.items() if o.status == "ok" and key in questions]
    found = matcher.match_all((a, questions[key].category) for key, parsed in answered for a in parsed)
    tally.matches = sorted(found.values(), key=lambda m: (m.category, m.answer))
    for key, parsed in answered:
        q = questions[key]
        tally.rounds_answered[q.action, cats.index(q.category)] += 1
        named: set[int] = set()
        for answer in parsed:
            m = found[(answer, q.category)]
            if m.index is None:
                tally.unmatched.append({"key": key, "answer": answer, "best_cosine": round(m.score, 3)})
            elif m.index == q.action:
                tally.self_mentions += 1
            else:
                named.add(m.index)
        tally.votes[q.action, sorted(named)] += 1
    return tally


def consensus_matrix(vocab: Vocabulary, votes: np.ndarray, rounds_answered: np.ndarray,
                     consensus: float) -> np.ndarray:
    """C[i, j] = 1 iff j was named in ≥ ceil(consensus × rounds answered) rounds (≥ 1), i ≠ j."""
    cat_of = np.array([vocab.category_index(j) for j in range(len(vocab))], dtype=np.int64)
    answered = rounds_answered[:, cat_of]  # (N, N): rounds of the question that could name j
    need = np.maximum(1, np.ceil(consensus * answered - 1e-9))
    matrix = ((votes >= need) & (answered > 0)).astype(np.uint8)
    np.fill_diagonal(matrix, 0)
    return matrix


def apply_label_rows(matrix: np.ndarray, label_rows: dict[int, list[int]]) -> np.ndarray:
    """Replace the rows of labelled (seen) classes by their top-k co-labelled actions."""
    out = matrix.copy()
    for i, cols in label_rows.items():
        out[i] = 0
        out[i, cols] = 1
    return out


def density(matrix: np.ndarray) -> float:
    """Fraction of off-diagonal ones."""
    n = matrix.shape[0]
    return float(matrix.sum()) / (n * (n - 1)) if n > 1 else 0.0


@dataclass
class CooccurrenceResult:
    """Everything the output files record."""

    vocab: Vocabulary
    config: CooccurrenceConfig
    model_id: str
    provenance: dict[str, Any]
    matrix: np.ndarray  # (N, N) uint8, the binary C
    tally: Tally
    label_rows: dict[int, list[int]]
    report: BatchReport
    questions: dict[str, Question]

    @property
    def density(self) -> float:
        return density(self.matrix)
