"""The figures `countllm eval --plot DIR` writes: every one that applies to the report.

- counts.png: predicted against true counts (always);
- reliability.png: the reliability diagram of confidence (did a confidence of 0.8 come true 80 %
  of the time?) beside OBO against coverage (the accuracy of trusting only the most confident
  answers), whenever items were counted;
- confusion.png: the recognizer's confusion matrix, with `--recognize`.
matplotlib is imported on demand (Agg), so the rest of `eval` never loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from countllm.benchmarks.confidence import obo_at_coverage, within_one
from countllm.eval.recognition import plot_confusion, plot_counts


def eval_figures(report: dict[str, Any], folder: Path, method: str) -> list[Path]:
    """Write every figure that applies (see the module doc) into `folder`; return their paths."""
    written = [plot_counts(report["items"], folder / "counts.png", method)]
    metrics = report["metrics"]
    if metrics.get("reliability"):
        written.append(plot_reliability(report, folder / "reliability.png", method))
    recognition = metrics.get("recognition")
    if recognition and recognition["n_recognized"]:
        written.append(plot_confusion(recognition, folder / "confusion.png"))
    return written


def plot_reliability(report: dict[str, Any], path: Path, method: str) -> Path:
    """Reliability diagram (hit rate per confidence bin against the diagonal, bar labels = items)
    and OBO at every coverage from 10 % to 100 %."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    metrics = report["metrics"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5))
    _reliability_panel(left, metrics)
    _coverage_panel(right, report["items"], metrics)
    auroc = metrics.get("confidence_auroc")
    fig.suptitle(f"{method}: confidence = P(count within ±1); AUROC "
                 f"{'n/a' if auroc is None else f'{auroc:.3f}'}, ECE {metrics['ece']:.3f}, n={metrics['n']}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _reliability_panel(ax: Any, metrics: dict[str, Any]) -> None:
    bins = metrics["reliability"]
    centres = [(b["lo"] + b["hi"]) / 2 for b in bins]
    widths = [0.9 * (b["hi"] - b["lo"]) for b in bins]
    bars = ax.bar(centres, [b["hit_rate"] for b in bins], width=widths, color="tab:blue", alpha=0.7,
                  label="share within ±1")
    for bar, b in zip(bars, bins):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, str(b["n"]), ha="center", fontsize=7)
    ax.plot([b["mean_confidence"] for b in bins], [b["hit_rate"] for b in bins], "o", color="tab:red", ms=4,
            label="at the bin's mean confidence")
    ax.plot([0, 1], [0, 1], color="gray", lw=1, ls="--", label="calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence", ylabel="share counted within ±1",
           title="reliability (labels: items per bin)")
    ax.legend(loc="upper left", fontsize=8)


def _coverage_panel(ax: Any, items: list[dict[str, Any]], metrics: dict[str, Any]) -> None:
    done = [i for i in items if i.get("pred_count") is not None]
    hits = within_one([i["gt_count"] for i in done], [i["pred_count"] for i in done])
    conf = [float(i.get("confidence") or 0.0) for i in done]
    coverages = np.linspace(0.1, 1.0, 46)
    ax.plot(coverages, [obo_at_coverage(conf, hits, c) for c in coverages], color="tab:blue")
    for key in (k for k in metrics if k.startswith("obo@")):
        c = float(key[4:])
        ax.plot([c], [metrics[key]], "o", color="tab:red", ms=4)
        ax.annotate(f"{metrics[key]:.2f}", (c, metrics[key]), textcoords="offset points", xytext=(-8, 6), fontsize=8)
    ax.axhline(metrics["obo"], color="gray", lw=1, ls="--", label=f"OBO of all items ({metrics['obo']:.2f})")
    ax.set(xlim=(0.1, 1.0), ylim=(0, 1.05), xlabel="coverage (most confident share kept)", ylabel="OBO of those kept",
           title="OBO against coverage")
    ax.legend(loc="lower left", fontsize=8)
