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

This module plans and finishes a run; the parts live beside it: `cooc_questions` (settings,
items, the strict parser), `cooc_matching` (names → vocabulary), `cooc_tally` (votes, consensus,
the result), `cooc_output` (JSON, NPZ, heatmap), `cooc_scoring` (choice scoring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from countllm.agents.batch_runner import BatchRunner
from countllm.agents.batch_types import BatchItem, BatchReport
from countllm.agents.mining.cooc_matching import (
    DEFAULT_ENCODER,
    Encoder,
    Match,
    VocabularyMatcher,
    load_sentence_encoder,
)
from countllm.agents.mining.cooc_output import SCHEMA_VERSION, plot_heatmap, result_json, write_npz
from countllm.agents.mining.cooc_questions import (
    PROMPT_NAME,
    CooccurrenceConfig,
    Question,
    build_items,
    category_text,
    item_key,
    parse_answer,
)
from countllm.agents.mining.cooc_scoring import parse_scored, scored_items, tally_scores
from countllm.agents.mining.cooc_tally import (
    CooccurrenceResult,
    Tally,
    apply_label_rows,
    consensus_matrix,
    density,
    tally_votes,
)
from countllm.agents.mining.vocabulary import Vocabulary
from countllm.prompt_templates import PromptTemplate, load_prompt

__all__ = [
    "DEFAULT_ENCODER", "PROMPT_NAME", "SCHEMA_VERSION", "CooccurrenceConfig", "CooccurrenceResult", "Encoder", "Match",
    "MiningPlan", "Question", "Tally", "VocabularyMatcher", "apply_label_rows", "build_items", "category_text",
    "consensus_matrix", "density", "finish", "item_key", "load_sentence_encoder", "mine_cooccurrence",
    "parse_answer", "plan", "plot_heatmap", "result_json", "tally_votes", "write_npz",
]


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
