"""Strict structured output: an LLM answer is a JSON value that validates, or it is an error.

Nothing here repairs or guesses: no trailing-comma fixing, no "first {...} in the prose", no
coercing "3" into 3. What does not parse raises ValueError with a short reason that goes into
the failure record, and the batch runner asks again.

Accepted answers: the whole answer is one JSON object/array (surrounding whitespace allowed), or
it contains exactly one ``` fence (optionally tagged json) whose body is one. Prose around a
single fence is tolerated because chat models add it habitually and the fence makes the intended
JSON unambiguous; two fences are ambiguous and rejected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
MAX_REASON_CHARS = 200


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Duplicate keys are ambiguous (json keeps the last silently), so they are an error."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _json_body(text: str) -> str:
    """The text that must be JSON: the whole answer, or the body of its single fence."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("empty answer")
    if stripped[0] in "{[":
        return stripped
    fences = FENCE.findall(stripped)
    if len(fences) > 1:
        raise ValueError(f"ambiguous: {len(fences)} fenced blocks")
    if len(fences) == 1:
        return fences[0].strip()
    if "```" in stripped:
        raise ValueError("unterminated or malformed ``` fence")
    raise ValueError(f"no JSON object or array (answer starts {stripped[:40]!r})")


def extract_json(text: str) -> Any:
    """The JSON object or array an answer consists of; ValueError with a short reason otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"answer is {type(text).__name__}, not text")
    body = _json_body(text)
    try:
        value = json.loads(body, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(value, (dict, list)):
        raise ValueError(f"JSON {type(value).__name__}, expected an object or array")
    return value


def _short_validation_reason(exc: Any) -> str:
    """'phases: Field required; duration_s.0: Input should be a valid number' — first 3 errors."""
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    reason = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return reason[:MAX_REASON_CHARS]


def parse_with(model_cls: type, strict: bool = True) -> Callable[[str], dict]:
    """A parser `answer -> dict` that accepts only answers validating against `model_cls`.

    Validation runs in pydantic's JSON mode so `strict` means JSON's own types: "3" is not an
    int, but an array is a fine tuple. Returns `model_dump()`, a plain JSON-able dict.
    """
    from pydantic import ValidationError  # noqa: PLC0415

    def parse(text: str) -> dict:
        value = extract_json(text)
        try:
            record = model_cls.model_validate_json(json.dumps(value), strict=strict)
        except ValidationError as exc:
            raise ValueError(f"schema {model_cls.__name__}: {_short_validation_reason(exc)}") from None
        return record.model_dump()

    parse.__name__ = f"parse_{model_cls.__name__}"
    return parse


# ----------------------------------------------------------------------------- scored choices
SCORED_FORMAT = "choice-scoring/1"


def scores_text(options: tuple[str, ...], scores: list[float]) -> str:
    """A scored multiple-choice answer as the JSON text the answer cache stores."""
    if len(options) != len(scores):
        raise ValueError(f"{len(scores)} scores for {len(options)} options")
    return json.dumps({"format": SCORED_FORMAT, "options": list(options), "scores": [round(s, 6) for s in scores]},
                      ensure_ascii=False)


def parse_scores(text: str, options: tuple[str, ...] | None = None) -> dict[str, float]:
    """Option → score from `scores_text` output; ValueError unless it scores exactly `options`
    (any options when None)."""
    value = extract_json(text)
    if not isinstance(value, dict) or value.get("format") != SCORED_FORMAT:
        raise ValueError(f"not a scored answer ({SCORED_FORMAT})")
    got, scores = value.get("options"), value.get("scores")
    if not isinstance(got, list) or not all(isinstance(o, str) for o in got) or len(set(got)) != len(got):
        raise ValueError("scored answer: options must be distinct strings")
    if (options is not None and got != list(options)) or not isinstance(scores, list) or len(scores) != len(got):
        raise ValueError("scored answer is for other options")
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
        raise ValueError("scores must be numbers")
    return dict(zip(got, map(float, scores)))
