"""Pictures of a count: the signal it was read from, the cycles, the rests.

A count is easier to trust (or to debug) when one can see the signal the counter chose,
where each counted cycle starts and ends, which extremes were rejected as incomplete, and
which spans were judged rests. For embedding-based counts the self-similarity matrix is
drawn too: its stripes are the repetition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from countllm.types import CountResult


def plot_count(result: CountResult, path: str | Path, title: str = "") -> Path:
    """Write a PNG of `result` to `path` and return the path."""
    import matplotlib  # noqa: PLC0415 — plotting is optional work; keep imports lazy

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    tsm = result.diagnostics.get("self_similarity")
    rows = 2 if tsm is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(12, 3.2 * rows + (2.5 if rows == 2 else 0)),
                             gridspec_kw={"height_ratios": [1, 2] if rows == 2 else [1]})
    axes = np.atleast_1d(axes)
    _draw_signal(axes[0], result, title)
    if tsm is not None:
        _draw_similarity(axes[1], tsm, result)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _draw_signal(ax, result: CountResult, title: str) -> None:
    values = result.diagnostics.get("signal_values")
    fps = result.fps or 1.0
    for rest in result.rests:
        ax.axvspan(rest.start, rest.end, color="0.85", label="rest / not repetitive")
    for i, cycle in enumerate(result.cycles):
        ax.axvspan(cycle.start, cycle.end, color="tab:green" if i % 2 else "tab:olive", alpha=0.25)
        ax.text((cycle.start + cycle.end) / 2, 1.0, str(i + 1), transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=8)
    if values is not None:
        t = np.asarray(result.diagnostics.get("signal_times", np.arange(len(values)) / fps))
        ax.plot(t, values, color="tab:blue", lw=1.2, label=f"signal: {result.signal}")
        for name, color, marker in (("peaks", "tab:green", "v"), ("rejected_peaks", "tab:red", "x")):
            idx = np.asarray(result.diagnostics.get(name, []), dtype=int)
            if idx.size:
                ax.plot(idx / fps, values[idx], marker, color=color, ls="none",
                        label="counted extreme" if name == "peaks" else "incomplete, not counted")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_title(title or f"{result.count} repetitions ({result.method}, confidence {result.confidence:.2f})")


def _draw_similarity(ax, tsm: np.ndarray, result: CountResult) -> None:
    extent = (0, len(tsm) / (result.fps or 1.0)) * 2
    ax.imshow(tsm, cmap="viridis", origin="upper", extent=(extent[0], extent[1], extent[1], extent[0]))
    ax.set_title("temporal self-similarity of frame features")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("time (s)")
