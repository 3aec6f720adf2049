"""Plain-text tables of an evaluation report, for people reading a terminal."""

from __future__ import annotations

from typing import Any

_COUNT_KEYS = (("mae", "MAE"), ("obo", "OBO"), ("exact", "exact"), ("rmse", "RMSE"))


def format_items(items: list[dict[str, Any]], limit: int = 40) -> list[str]:
    lines = [f"{'item':<32} {'gt':>4} {'pred':>5}  note"]
    for item in items[:limit]:
        pred = "-" if item["pred_count"] is None else str(item["pred_count"])
        note = item.get("error", "")
        lines.append(f"{item['name'][:32]:<32} {item['gt_count']:>4} {pred:>5}  {note}")
    if len(items) > limit:
        lines.append(f"... {len(items) - limit} more items (see --json)")
    return lines


def format_metrics(metrics: dict[str, Any]) -> list[str]:
    lines = [f"items: {metrics['n_items']}  failed: {metrics['n_failed']}  "
             f"malformed rows: {metrics['n_malformed_rows']}"]
    if "mae" in metrics:
        lines.append("  ".join(f"{label} {metrics[key]:.3f}" for key, label in _COUNT_KEYS))
    if "confidence_auroc" in metrics:
        lines.append(format_confidence(metrics))
    located = [k for k in metrics if k.startswith(("frame_acc", "edit", "f1"))]
    if located:
        lines.append("localization: " + "  ".join(f"{k} {metrics[k]:.1f}" for k in located))
    return lines


def format_confidence(metrics: dict[str, Any]) -> str:
    """One line: how well confidence (P(count within ±1)) ranks hits over misses, the OBO a user
    gets trusting only the most confident 80 % / 90 %, and how far the numbers are from the rates."""
    auroc = metrics["confidence_auroc"]
    coverage = "  ".join(f"OBO@{float(k[4:]):.0%} {metrics[k]:.3f}" for k in metrics if k.startswith("obo@"))
    return (f"confidence: AUROC {'n/a' if auroc is None else f'{auroc:.3f}'} (within ±1)  {coverage}  "
            f"ECE {metrics['ece']:.3f}  Brier {metrics['brier']:.3f}  mean {metrics['mean_confidence']:.2f}")


def format_table(report: dict[str, Any]) -> str:
    lines = format_items(report["items"]) + [""] + format_metrics(report["metrics"])
    for row in report.get("malformed_rows", []):
        lines.append(f"malformed row {row['row']} ({row['name'] or 'no name'}): {row['error']}")
    return "\n".join(lines)
