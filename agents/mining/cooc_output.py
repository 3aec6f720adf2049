"""The files `mine cooccurrence` writes: the JSON record, the NPZ arrays, the heatmap PNG.

The JSON carries `schema_version` (an integer, bumped when a field changes meaning or goes
away) so readers can refuse a file they do not understand instead of misreading it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from countllm.agents.mining.cooc_matching import DEFAULT_ENCODER
from countllm.agents.mining.cooc_questions import category_text
from countllm.agents.mining.cooc_tally import CooccurrenceResult

SCHEMA_VERSION = 1

def _pair_votes(result: CooccurrenceResult) -> list[dict[str, Any]]:
    """Sparse per-pair record: every pair with a vote or a one in C."""
    names, votes, matrix = result.vocab.names, result.tally.votes, result.matrix
    rows, cols = np.nonzero((votes > 0) | (matrix > 0))
    scores = result.tally.scores
    return [{"action": names[i], "with": names[j], "votes": int(votes[i, j]),
             "rounds_answered": int(result.tally.rounds_answered[i, result.vocab.category_index(j)]),
             "in_matrix": bool(matrix[i, j])}
            | ({} if scores is None else {"mean_score": round(float(scores[i, j]), 4)})
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True)]


def _clip(text: str | None, max_chars: int) -> str | None:
    return None if text is None else text[:max_chars]


def _failures(result: CooccurrenceResult, max_chars: int = 300) -> list[dict[str, Any]]:
    """Every failed question with its last error and every try's error and raw answer."""
    return [{"key": o.key, "error": o.error, "attempts": o.attempts, "text": _clip(o.text, max_chars),
             "tries": [{"error": t.get("error"), "text": _clip(t.get("text"), max_chars)} for t in o.tries]}
            for o in result.report.failures]


def result_json(result: CooccurrenceResult, command: str | None, timestamp: str) -> dict[str, Any]:
    """The JSON record: what was asked of whom, what came back, and what it became."""
    vocab, report = result.vocab, result.report
    names = vocab.names
    return {
        "schema_version": SCHEMA_VERSION,
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
