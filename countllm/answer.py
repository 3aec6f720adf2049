"""The human-readable answer printed by `countllm count`.

Confidence is the probability that the count is within ±1 of the truth (calibrated for the
counters that have a map, `counters/calibration.py`). Below `LOW_CONFIDENCE` a person is told so
in words, with the main reason the result gives for doubt, instead of a bare number they would
have to know how to read: "about 30 repetitions — low confidence (0.34): the repetition is
irregular ...".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from countllm.types import CountResult

LOW_CONFIDENCE = 0.5  # below this a count is said to be uncertain (the agent uses the same line)
IRREGULAR_CV = 0.25  # cycle lengths varying by more than this (std / mean) is "irregular"
LOW_COVERAGE = 0.5  # counted cycles covering less of the clip than this are a reason for doubt
# Notes that are, by themselves, a reason to doubt the count (their text says why).
_DOUBT_NOTES = ("tracked in only", "not counted", "saturated", "set aside", "below the confidence floor")


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def uncertainty_reason(result: CountResult) -> str:
    """The main reason the result gives for doubting its count, in words.

    In order: counted cycles that cover little of the clip (where the worst misses are: a set
    counted on a third of its span, or short spurious cycles), cycles of uneven length, very
    few cycles, a note that says what went wrong; else the generic "the repetition is
    irregular" (a low periodicity score means just that).
    """
    lengths = np.array([c.duration for c in result.cycles], dtype=float)
    if result.duration_s > 0 and lengths.size:
        coverage = float(lengths.sum()) / result.duration_s
        if coverage < LOW_COVERAGE:
            return f"the counted cycles cover only {coverage:.0%} of the clip"
    if lengths.size >= 2 and lengths.mean() > 0:
        spread = float(lengths.std() / lengths.mean())
        if spread > IRREGULAR_CV:
            return f"the repetition is irregular (cycle lengths vary by {spread:.0%})"
    if 0 < lengths.size <= 2:
        return f"only {lengths.size} cycle{'s' if lengths.size > 1 else ''} found"
    doubt = next((n for n in result.notes if any(marker in n for marker in _DOUBT_NOTES)), None)
    return doubt or "the repetition is irregular"


def count_line(result: CountResult, name: str) -> str:
    """The first line: the count, said plainly as uncertain below `LOW_CONFIDENCE`."""
    noun = "repetition" if result.count == 1 else "repetitions"
    how = f"{result.method} counter, signal {result.signal}"
    digits = 2 if result.period_s and result.period_s < 1 else 1  # 0.13 s, not 0.1 s, for a fast tempo
    if result.confidence < LOW_CONFIDENCE:
        period = f"; period {result.period_s:.{digits}f} s" if result.period_s else ""
        return (f"{name}: about {result.count} {noun} — low confidence ({result.confidence:.2f}): "
                f"{uncertainty_reason(result)}{period} ({how})")
    period = f", about {result.period_s:.{digits}f} s each" if result.period_s else ""
    return f"{name}: {result.count} {noun}{period} (confidence {result.confidence:.2f}, {how})"


def human_summary(result: CountResult, source: str | Path, question: str | None = None,
                  plot: Path | None = None) -> str:
    """A few lines a person reads: the count, where the cycles are, how sure, what was used."""
    lines = [f"Q: {question}"] if question else []
    if result.count == 0:
        lines.append(f"{Path(source).name}: no repetition found")
    else:
        lines.append(count_line(result, Path(source).name))
        spans = ", ".join(f"{_clock(c.start)}–{_clock(c.end)}" for c in result.cycles[:12])
        more = f" … (+{len(result.cycles) - 12})" if len(result.cycles) > 12 else ""
        lines.append(f"  cycles: {spans}{more}")
    if result.rests:
        lines.append("  not repetitive: " + ", ".join(f"{_clock(r.start)}–{_clock(r.end)}" for r in result.rests))
    lines.extend(f"  note: {note}" for note in result.notes)
    if plot:
        lines.append(f"  plot: {plot}")
    return "\n".join(lines)
