"""`countllm ask --plot`: the answer drawn on the signal it was counted from.

One picture answers "why that number?": the counted cycles (numbered, shaded), the rests and
the sets (a labelled band per set) over the signal of the auto count, on the video's clock.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from countllm.types import CountResult

from .answer import AgentAnswer


def plot_answer(answer: AgentAnswer, signal: CountResult | None, path: str | Path) -> Path:
    """Write a PNG of `answer` (over `signal`'s curve when there is one) and return the path."""
    import matplotlib  # noqa: PLC0415 — plotting is optional work

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(12, 3.6))
    values = None if signal is None else signal.diagnostics.get("signal_values")
    if values is not None:
        t = np.asarray(signal.diagnostics.get("signal_times", np.arange(len(values)) / (signal.fps or 1.0)))
        ax.plot(t, values, color="tab:blue", lw=1.1, label=f"signal: {signal.signal}")
    for a, b in answer.rests:
        ax.axvspan(a, b, color="0.85", label="rest")
    for i, (a, b) in enumerate(answer.cycles):
        ax.axvspan(a, b, color="tab:green" if i % 2 else "tab:olive", alpha=0.25, label="counted cycle")
        ax.text((a + b) / 2, 1.0, str(i + 1), transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=7)
    colors = plt.get_cmap("tab10")
    for i, s in enumerate(answer.counts):
        ax.axvspan(s.start_s, s.end_s, ymin=0.0, ymax=0.06, color=colors(i % 10), alpha=0.9)
        ax.text((s.start_s + s.end_s) / 2, 0.08, f"{s.exercise or 'set'}: {s.count}",
                transform=ax.get_xaxis_transform(), ha="center", fontsize=8, color=colors(i % 10))
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    ax.set_xlabel("time (s)")
    ax.set_title(answer.answer if len(answer.answer) < 110 else answer.answer[:107] + "...", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
