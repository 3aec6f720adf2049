"""The page's words: Markdown for a count, its sets and rests, an answer, and an error message.

Plain functions of the results (no Gradio), so what the page says is tested without a browser.
Times are shown as m:ss, the way the CLI and the agent write them.
"""

from __future__ import annotations

from typing import Any

from countllm.types import CountResult


def clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, float(seconds)), 60.0)
    return f"{int(minutes)}:{secs:04.1f}"


def span(pair: Any) -> str:
    a, b = (pair.start, pair.end) if hasattr(pair, "start") else pair
    return f"{clock(a)}–{clock(b)}"


def count_markdown(result: CountResult, name: str, notes: list[str] | None = None) -> str:
    """The headline: how many, how sure, by which counter, and the notes (default: the counter's)."""
    notes = result.notes if notes is None else notes
    plural = "repetition" if result.count == 1 else "repetitions"
    blocks = [f"## {result.count} {plural}",
              f"in **{name}** ({result.duration_s:.1f} s), counted by `{result.method}`; confidence "
              f"{result.confidence:.2f} (the probability that the count is within ±1)"]
    if result.period_s:
        blocks.append(f"one repetition every {result.period_s:.1f} s on average")
    if notes:
        blocks.append("\n".join(f"- {note}" for note in notes))
    return "\n\n".join(blocks)


def sets_markdown(result: CountResult, sets_answer: Any | None, sets_error: str | None = None) -> str:
    """Sets (the agent's split of the workout) and rests (the counter's non-repetitive spans)."""
    counts = list(getattr(sets_answer, "counts", None) or [])
    if counts:
        rows = ["| set | exercise | repetitions | from – to |", "|---|---|---|---|"]
        rows += [f"| {i} | {s.exercise or 'not recognised'} | {s.count} | {clock(s.start_s)} – {clock(s.end_s)} |"
                 for i, s in enumerate(counts, 1)]
        sets = "\n".join(rows)
    else:
        sets = sets_error or "no sets found"
    rests = ", ".join(span(r) for r in result.rests) if result.rests else "no rest found"
    return "\n\n".join(["### Sets", sets, "### Rests", rests])


def answer_markdown(answer: Any) -> str:
    """The agent's sentence, its count and confidence, and the tools it rests on."""
    lines = [f"**{answer.answer}**"]
    facts = []
    if answer.count is not None:
        facts.append(f"count {answer.count}")
    if answer.confidence is not None:
        facts.append(f"confidence {answer.confidence:.2f}")
    if answer.cycles:
        facts.append(f"{len(answer.cycles)} cycles")
    if answer.rests:
        facts.append("rests " + ", ".join(span(r) for r in answer.rests))
    if facts:
        lines.append(" · ".join(facts))
    if answer.tools:
        lines.append("evidence: " + "; ".join(f"`{t.name}` → {t.result}" for t in answer.tools))
    return "\n\n".join(lines)


def error_markdown(message: str) -> str:
    """A bad upload or question, said in one line on the page (never a stack trace)."""
    return f"⚠️ **Cannot use this upload:** {message}"
