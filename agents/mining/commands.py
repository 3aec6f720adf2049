"""`countllm mine <kind>`: argparse namespaces in, library calls out, a summary printed.

`MINE_COMMANDS` is the registry the CLI dispatches on; the helpers every command shares live
in `runs.py` (re-exported here for the CLI's `add_mining_options`).

Exit codes (what every handler returns): `EXIT_OK` (0) when every question was answered,
`EXIT_PARTIAL` (3) when the run finished but some failed (listed in the summary and the output
file; `--retry-failures` asks them again), `EXIT_USAGE` (2, raised as `InputError`) when the
input is unusable and nothing was done, and `EXIT_INTERRUPTED` (130) after Ctrl-C.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from countllm.agents.mining.runs import (
    DECODINGS,
    add_mining_options,
    backend_and_runner,
    check_counts,
    command_line,
    decoding_mode,
    list_failures,
    llm_errors_as_input,
    run_items,
    utc_now,
)
from countllm.errors import EXIT_OK, EXIT_PARTIAL, InputError

__all__ = [
    "DECODINGS", "EXIT_INTERRUPTED", "MINE_COMMANDS", "add_mining_options", "backend_and_runner", "check_counts",
    "command_line", "decoding_mode", "list_failures", "llm_errors_as_input", "run_cooccurrence", "run_items",
    "run_priors", "stops_cleanly", "utc_now", "write_cooccurrence",
]

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C: 128 + SIGINT, what a shell reports for a job a signal stopped.

Why not 2 (usage) or 3 (partial): both mean the run *ended* — nothing done, or done with
failures recorded in the output — while an interrupted run wrote no output and is simply
unfinished; 130 lets a script tell "rerun me" from "fix the input" and from "look at the
failures", and is what `set -e` loops and CI runners already read as "interrupted"."""

def stops_cleanly(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Ctrl-C during a mining command: one line on stderr, exit `EXIT_INTERRUPTED`, no traceback.

    Every answer received so far is already committed to the cache, so the line only has to say
    so and that the same command resumes.
    """

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except KeyboardInterrupt as exc:
            saved = str(exc) or "answers received so far are saved in the answer cache"
            print(f"countllm mine {getattr(args, 'kind', '')}: interrupted: {saved}; rerun the same command "
                  "to resume", file=sys.stderr)
            return EXIT_INTERRUPTED

    return run


def run_cooccurrence(args: argparse.Namespace) -> int:
    """`countllm mine cooccurrence`: mine, write NPZ + JSON + PNG into --out, print a summary."""
    from countllm.agents.mining import cooccurrence as cooc  # noqa: PLC0415
    from countllm.agents.mining.vocabulary import label_topk, load_label_sets, load_vocabulary  # noqa: PLC0415

    check_counts(args, num=1, rounds=1)
    vocab = load_vocabulary(args.actions)
    out = Path(args.out)
    backend, runner = backend_and_runner(args, out.parent / f"{out.name}.cache.sqlite")
    try:
        config = cooc.CooccurrenceConfig(num=args.num, rounds=args.rounds, consensus=args.consensus,
                                         decoding=decoding_mode(args, backend))
    except ValueError as exc:
        raise InputError("--consensus", str(exc)) from None
    if args.export_batch and config.decoding == "choice-scoring":
        raise InputError("--export-batch", "the Batch API generates answers; it cannot score choices "
                         "(use --backend openai, or --decoding free-generation)")
    label_rows = label_topk(load_label_sets(args.labels, vocab), len(vocab), config.top_k) if args.labels else {}
    job = cooc.plan(vocab, config, label_rows)
    started = time.perf_counter()
    report = run_items(args, runner, job.items, job.parse)
    if report is None:
        return 0
    result = cooc.finish(vocab, config, job, report, backend.model_id, label_rows)
    paths = write_cooccurrence(result, out, command_line(args, "cooccurrence"))
    print(_summary(result, time.perf_counter() - started, paths))
    return EXIT_PARTIAL if report.failures else EXIT_OK


def write_cooccurrence(result: Any, out: Path, command: str | None) -> list[Path]:
    """cooccurrence.{npz,json,png} in `out`; InputError if the folder cannot be written."""
    from countllm.agents.mining.cooc_output import plot_heatmap, result_json, write_npz  # noqa: PLC0415

    paths = [out / "cooccurrence.npz", out / "cooccurrence.json", out / "cooccurrence.png"]
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_npz(result, paths[0])
        paths[1].write_text(json.dumps(result_json(result, command, utc_now()), indent=1, ensure_ascii=False) + "\n")
        plot_heatmap(result, paths[2])
    except OSError as exc:
        raise InputError(str(out), f"cannot write the output ({exc.strerror or exc})") from None
    return paths


def _summary(result: Any, seconds: float, paths: list[Path]) -> str:
    """The human summary: cost, failures, what the matrix looks like, where it went."""
    report, tally = result.report, result.tally
    n_items = len(report.outcomes)
    rate = report.calls_made / report.wall_s if report.wall_s > 0 and report.calls_made else 0.0
    lines = [
        f"model {result.model_id} ({result.config.decoding}): {n_items} questions, "
        f"{report.calls_made} calls ({rate:.2f} calls/s), "
        f"{report.cache_hits} from cache, {len(report.failures)} failed "
        f"({len(report.failures) / max(n_items, 1):.0%}) in {seconds:.1f} s",
        (f"answers: {len(tally.unmatched)} names matched no action, {tally.self_mentions} named the action itself"
         if result.config.decoding == "free-generation" else
         "answers: the best-scored names of each category (nothing to parse or map)"),
        f"matrix: {len(result.vocab)} actions, {int(result.matrix.sum())} pairs, density {result.density:.3f}"
        + (f"; {len(result.label_rows)} rows from labels" if result.label_rows else ""),
        *list_failures([(o.key, o.error or "no answer") for o in report.failures]),
        "wrote " + ", ".join(str(p) for p in paths),
    ]
    return "\n".join(lines)


def run_priors(args: argparse.Namespace) -> int:
    """`countllm mine priors` lives with its own module (semantic priors, docs/design.md §5)."""
    from countllm.agents.mining.priors import run_priors_command  # noqa: PLC0415

    return run_priors_command(args)


MINE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "cooccurrence": stops_cleanly(run_cooccurrence),
    "priors": stops_cleanly(run_priors),
}
