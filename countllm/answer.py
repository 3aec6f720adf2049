"""The human-readable answer printed by `countllm count`."""

from __future__ import annotations

from pathlib import Path

from countllm.types import CountResult


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def human_summary(result: CountResult, source: str | Path, question: str | None = None,
                  plot: Path | None = None) -> str:
    """A few lines a person reads: the count, where the cycles are, how sure, what was used."""
    lines = [f"Q: {question}"] if question else []
    noun = "repetition" if result.count == 1 else "repetitions"
    if result.count == 0:
        lines.append(f"{Path(source).name}: no repetition found")
    else:
        period = f", about {result.period_s:.1f} s each" if result.period_s else ""
        lines.append(f"{Path(source).name}: {result.count} {noun}{period} "
                     f"(confidence {result.confidence:.2f}, {result.method} counter, signal {result.signal})")
        spans = ", ".join(f"{_clock(c.start)}–{_clock(c.end)}" for c in result.cycles[:12])
        more = f" … (+{len(result.cycles) - 12})" if len(result.cycles) > 12 else ""
        lines.append(f"  cycles: {spans}{more}")
    if result.rests:
        lines.append("  not repetitive: " + ", ".join(f"{_clock(r.start)}–{_clock(r.end)}" for r in result.rests))
    lines.extend(f"  note: {note}" for note in result.notes)
    if plot:
        lines.append(f"  plot: {plot}")
    return "\n".join(lines)
