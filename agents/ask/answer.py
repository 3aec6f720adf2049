"""The agent's answer: one pydantic model, the contract `countllm ask --json` and `countllm-agent` print.

Why pydantic: outside scripts read this JSON, so the schema is declared once, validated when
built (a planner cannot emit an intent that does not exist or a count that is not an int) and
documented by `AgentAnswer.model_json_schema()`. Both planners — the offline rules and the
langchain tool-calling agent — fill this same model; the numbers in it always come from tool
results, never from a language model's text.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from countllm.types import JSON_SCHEMA_VERSION

Intent = Literal["count", "recognize", "locate", "tempo", "sets", "summary", "unsupported"]
INTENTS: tuple[str, ...] = ("count", "recognize", "locate", "tempo", "sets", "summary", "unsupported")


class SetCount(BaseModel):
    """One set: an exercise done over one stretch of the video, and its repetitions."""

    exercise: str | None
    count: int
    start_s: float
    end_s: float


class ToolCall(BaseModel):
    """One tool call the answer rests on. `agreed`: whether this witness agreed (±1) with the
    count that was reported; null where the call was not a count or there was nothing to compare."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: str = ""
    agreed: bool | None = None
    seconds: float = 0.0


class AgentAnswer(BaseModel):
    """What the agent answers about one video (see docs/design.md §9 for every field's meaning)."""

    schema_version: int = JSON_SCHEMA_VERSION
    answer: str
    intent: Intent
    exercise: str | None = None
    count: int | None = None
    counts: list[SetCount] = Field(default_factory=list)
    cycles: list[list[float]] = Field(default_factory=list)
    rests: list[list[float]] = Field(default_factory=list)
    confidence: float | None = None
    tools: list[ToolCall] = Field(default_factory=list)
    planner: str = "rules"
    notes: list[str] = Field(default_factory=list)
    question: str = ""
    input: str = ""


def spans_json(segments: Any) -> list[list[float]]:
    """[[start_s, end_s], ...] rounded to milliseconds, from Segments or pairs."""
    out = []
    for seg in segments:
        a, b = (seg.start, seg.end) if hasattr(seg, "start") else seg
        out.append([round(float(a), 3), round(float(b), 3)])
    return out
