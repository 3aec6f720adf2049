"""OpenAI Batch API files for the items of a `BatchRunner` job, through the same answer cache.

Why: a very large mining job is cheaper and not rate limited as a Batch API job. The export
writes the requests not yet answered; the import reads the provider's output (or error) file
into the cache and the failure table exactly as live answers would land there, so the next
live run (or a rebuild of the outputs) treats both alike.

File formats: input lines `custom_id`, `method`, `url`, `body`; output lines `custom_id`,
`response` {`status_code`, `request_id`, `body`}, `error` {`code`, `message`}.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from countllm.agents.batch_cache import ResponseCache, cache_key, cached_outcome
from countllm.agents.batch_types import BatchItem, BatchReport, ItemOutcome, Parse, check_unique_keys
from countllm.agents.llm.base import Completion

BATCH_URL = "/v1/chat/completions"  # the only endpoint the export writes requests for


def request_body(model: str, item: BatchItem) -> dict[str, Any]:
    """The chat-completions request body for an item, as the Batch API input file wants it."""
    from countllm.agents.llm.openai_backend import chat_request_body  # noqa: PLC0415 — openai on demand

    return chat_request_body(model, item.messages, item.config)


def export_batch_jsonl(items: list[BatchItem], path: Path | str, model: str,
                       cache: ResponseCache | None = None) -> int:
    """Write one Batch API request per line for the items not yet answered; returns how many.

    `custom_id` is the item key. With a `cache`, answered items are skipped and each exported
    item's model is remembered there, so `import_batch_jsonl` can rebuild its cache key even
    though the output names a dated model snapshot rather than the name that was asked.
    """
    path = Path(path)
    check_unique_keys(items)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            if item.choices is not None:
                raise ValueError(f"{item.key}: a scored (multiple-choice) item cannot go through the Batch API")
            key = cache_key(model, item.messages, item.config)
            if cache is not None and key in cache:
                continue
            line = {"custom_id": item.key, "method": "POST", "url": BATCH_URL, "body": request_body(model, item)}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
            if cache is not None:
                cache.record_export(item.key, key, model, path)
    return written


def import_batch_jsonl(path: Path | str, cache: ResponseCache, items: list[BatchItem], parse: Parse | None = None,
                       *, model: str | None = None) -> BatchReport:
    """Read a Batch API output (or error) file into the cache and the failure table.

    Answers are parsed like live ones; an item answered in the cache already keeps its answer.
    Items with no line in the file and no cached answer are reported (and recorded) as failed,
    so a partial batch cannot pass silently. `model` (the name the requests were made with)
    defaults to the one `export_batch_jsonl(..., cache=cache)` recorded.
    """
    t0 = time.perf_counter()
    path = Path(path)
    check_unique_keys(items)
    by_key = {item.key: item for item in items}
    lines: dict[str, dict[str, Any]] = {}
    for line in _read_output_lines(path):
        custom_id = line.get("custom_id")
        if custom_id not in by_key:
            raise ValueError(f"{path}: custom_id {custom_id!r} is not one of the given items")
        if custom_id in lines:
            raise ValueError(f"{path}: custom_id {custom_id!r} appears twice")
        lines[custom_id] = line
    model = model if model is not None else _exported_model(cache, list(lines) or list(by_key))
    outcomes = {item.key: _import_item(item, lines.get(item.key), cache, parse, model) for item in items}
    failures = [o for o in outcomes.values() if o.status == "failed"]
    hits = sum(o.cached for o in outcomes.values())
    return BatchReport(outcomes, 0, hits, failures, time.perf_counter() - t0)


def _read_output_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; a malformed line is an error naming its number."""
    lines = []
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc
    return lines


def _exported_model(cache: ResponseCache, item_keys: list[str]) -> str:
    """The one model the export recorded for these items (a Batch API file has one model)."""
    models = {model for key in item_keys if (model := cache.exported_model(key)) is not None}
    if len(models) != 1:
        raise ValueError(f"cannot tell which model the batch was made with (recorded: {sorted(models)}); "
                         "export with cache=... or pass model=...")
    return models.pop()


def _import_item(item: BatchItem, line: dict[str, Any] | None, cache: ResponseCache, parse: Parse | None,
                 model: str) -> ItemOutcome:
    """One item into the cache (answer) or the failure table (error, unparseable, missing)."""
    key = cache_key(model, item.messages, item.config, item.choices)
    cached = cache.get(key)
    hit = cached_outcome(item.key, cached, parse) if cached is not None else None
    if hit is not None:  # answered before (or skipped at export): ok results are never replaced
        return hit
    text: str | None
    error: str | None
    if line is None:
        text, error = None, "no line for this item in the batch output"
    else:
        text, error = _line_text(line)
    parsed = None
    if error is None and parse is not None:
        try:
            parsed = parse(text or "")
        except ValueError as exc:
            error = f"unparseable answer: {exc}"
    if error is not None:
        cache.record_failure(key, item.key, model, error, text, 1)
        return ItemOutcome(item.key, "failed", text, None, error, 1, False)
    usage = (line or {}).get("response", {}).get("body", {}).get("usage") or {}
    completion = Completion(text or "", model, usage.get("prompt_tokens"), usage.get("completion_tokens"))
    cache.put(key, item.key, completion, parsed, 1)
    return ItemOutcome(item.key, "ok", text, parsed, None, 1, False)


def _line_text(line: dict[str, Any]) -> tuple[str | None, str | None]:
    """(answer text, error) of one output line; the error is None exactly when it answered."""
    if line.get("error"):
        err = line["error"]
        return None, f"batch error {err.get('code')}: {err.get('message')}"
    response = line.get("response") or {}
    body = response.get("body") or {}
    status = response.get("status_code")
    if status != 200:
        message = (body.get("error") or {}).get("message", "") if isinstance(body, dict) else ""
        return None, f"HTTP {status}: {message}".rstrip(": ")
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None, "response body has no choices[0].message.content"
    if content is None:
        return None, "response has no text content (refusal or tool call)"
    return content, None
