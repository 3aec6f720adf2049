"""Short human summaries of a recognition and of a set split (what `countllm recognize` prints)."""

from __future__ import annotations

from pathlib import Path

from countllm import labels
from countllm.recognize.recognizer import UNKNOWN, Recognition
from countllm.recognize.sets import SetsResult


def _name(exercise: str) -> str:
    return exercise if exercise == UNKNOWN or exercise not in labels.known_ids() else labels.display_name(exercise)


def describe_recognition(rec: Recognition, source: str | Path) -> str:
    head = (f"{Path(source).name}: not sure (best guesses: "
            + ", ".join(f"{_name(e)} {p:.2f}" for e, p in rec.alternatives) + ")") if rec.exercise == UNKNOWN \
        else f"{Path(source).name}: {_name(rec.exercise)} (confidence {rec.confidence:.2f})"
    lines = [head, "  words: " + (", ".join(f"{w} {p:.2f}" for w, p in rec.words) or "none above 0.05")]
    if rec.exercise != UNKNOWN and rec.alternatives:
        lines.append("  next: " + ", ".join(f"{_name(e)} {p:.2f}" for e, p in rec.alternatives))
    lines += [f"  note: {n}" for n in rec.notes]
    return "\n".join(lines)


def describe_sets(result: SetsResult, source: str | Path) -> str:
    lines = [f"{Path(source).name}: {len(result.sets)} set(s)"]
    for i, s in enumerate(result.sets, 1):
        lines.append(f"  set {i}: {_name(s.exercise)} x {s.count}, {s.start_s:.1f}-{s.end_s:.1f} s "
                     f"(confidence {s.confidence:.2f})")
    if result.rests:
        lines.append("  rests: " + ", ".join(f"{r.start:.1f}-{r.end:.1f} s" for r in result.rests))
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)
