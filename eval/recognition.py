"""`countllm eval --recognize`: how well the skeleton recognizer names each item's exercise.

The truth is the annotation's `type` column, normalised through the one label vocabulary
(RepCountA's `squant` is a squat); the prediction always comes from the recognizer, whatever
`--method` counts. Reported: accuracy with its 95 % Wilson interval (one item of 44 is 2.3 %,
so the interval matters), LiFT's partial credit (the share of the true exercise's words among
the words predicted with p ≥ 0.05), per-class accuracy, and the confusion matrix (printed, and
drawn by `eval --plot DIR`). Items whose type names no exercise (RepCountA's "others") are
left out of these metrics and counted as such.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from countllm import labels


def recognition_item(pose: Any, recognizer: Any) -> dict[str, Any]:
    """The recognizer's answer for one item, as the JSON an eval item carries."""
    found = recognizer.recognize(pose)
    return {"pred_exercise": found.exercise, "recognition_confidence": round(float(found.confidence), 3),
            "words": [[w, round(float(p), 3)] for w, p in found.words]}


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def recognition_metrics(items: list[dict[str, Any]], types: list[str]) -> dict[str, Any]:
    """Accuracy, its interval, partial credit, per class and the confusion, over items with a prediction."""
    from countllm.recognize.words import partial_credit  # noqa: PLC0415

    pairs, no_exercise = [], 0
    for item, kind in zip(items, types, strict=True):
        if "pred_exercise" not in item:
            continue
        truth = labels.normalize(kind)
        if truth is None or labels.is_placeholder(truth):
            no_exercise += 1
            continue
        pairs.append((truth, item["pred_exercise"], partial_credit(dict(item.get("words", [])), truth)))
    n = len(pairs)
    correct = sum(t == p for t, p, _ in pairs)
    per_class: dict[str, dict[str, Any]] = {}
    for truth in sorted({t for t, _, _ in pairs}):
        mine = [(t, p) for t, p, _ in pairs if t == truth]
        hits = sum(t == p for t, p in mine)
        per_class[truth] = {"n": len(mine), "correct": hits, "accuracy": round(hits / len(mine), 3)}
    confusion = Counter((t, p) for t, p, _ in pairs)
    return {"n_recognized": n, "n_without_exercise_type": no_exercise,
            "recognition_accuracy": round(correct / n, 3) if n else None,
            "recognition_accuracy_95ci": [round(v, 3) for v in wilson(correct, n)],
            "partial_credit": round(sum(c for _, _, c in pairs) / n, 3) if n else None,
            "per_class": per_class,
            "confusion": [{"truth": t, "predicted": p, "n": k} for (t, p), k in sorted(confusion.items())]}


def format_confusion(metrics: dict[str, Any]) -> list[str]:
    """The confusion matrix as text: rows are the truth, columns the prediction."""
    truths = sorted({c["truth"] for c in metrics["confusion"]})
    preds = sorted({c["predicted"] for c in metrics["confusion"]})
    cell = {(c["truth"], c["predicted"]): c["n"] for c in metrics["confusion"]}
    width = max([len(p) for p in preds] + [3])
    lo, hi = metrics["recognition_accuracy_95ci"]
    lines = [f"recognition: accuracy {metrics['recognition_accuracy']:.3f} (95% {lo:.3f}–{hi:.3f}) over "
             f"{metrics['n_recognized']} items, partial credit {metrics['partial_credit']:.3f}",
             "confusion (rows: truth, columns: predicted):",
             " " * 16 + " ".join(f"{p[:width]:>{width}}" for p in preds)]
    for t in truths:
        lines.append(f"{t[:15]:<16}" + " ".join(f"{cell.get((t, p), 0):>{width}}" for p in preds))
    return lines


def plot_confusion(metrics: dict[str, Any], path: Path) -> Path:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    truths = sorted({c["truth"] for c in metrics["confusion"]})
    preds = sorted({c["predicted"] for c in metrics["confusion"]} | set(truths))
    grid = np.zeros((len(truths), len(preds)))
    for c in metrics["confusion"]:
        grid[truths.index(c["truth"]), preds.index(c["predicted"])] = c["n"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(preds), 1.0 + 0.6 * len(truths)))
    ax.imshow(grid / np.maximum(grid.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(truths)):
        for j in range(len(preds)):
            if grid[i, j]:
                ax.text(j, i, int(grid[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(preds)), preds, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(truths)), truths, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth (annotation type)")
    ax.set_title(f"recognition accuracy {metrics['recognition_accuracy']:.2f} (n={metrics['n_recognized']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_counts(items: list[dict[str, Any]], path: Path, method: str) -> Path:
    """Predicted against true counts, the ±1 band shaded: where a counter under- or overcounts."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    done = [i for i in items if i.get("pred_count") is not None]
    gt = [i["gt_count"] for i in done]
    pred = [i["pred_count"] for i in done]
    top = max(gt + pred + [1]) + 1
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.fill_between([0, top], [-1, top - 1], [1, top + 1], color="tab:green", alpha=0.15, label="within ±1")
    ax.plot([0, top], [0, top], color="tab:green", lw=1)
    ax.scatter(gt, pred, s=14, color="tab:blue")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("true count")
    ax.set_ylabel(f"predicted count ({method})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
