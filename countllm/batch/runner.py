"""`countllm batch`: count every input once, on an engine, into a results file that resumes.

The flow: expand the inputs (`inputs`), key each by its file and method (`records.InputKey`),
split them by the resume rule against the results file (`resume.plan_resume`), drop the lines
this run replaces, then count the rest on the engine (`engines`) and append each line as it
comes back. Counting one input is `count_one`, a plain function, so every engine can ship it.

An input that cannot be counted (any `CountLLMError`) is a `failed` line with the error and
the run goes on; anything else is a bug and stops the run with its traceback (lines written so
far stay). Ctrl-C stops the workers and raises `BatchInterrupted` saying what was saved.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from countllm.batch.engines import EngineConfig, make_engine
from countllm.batch.inputs import expand_inputs
from countllm.batch.records import InputKey, Record, ResultsFile
from countllm.batch.resume import BatchInterrupted, saved_message
from countllm.errors import CountLLMError
from countllm.pipeline import CountOptions, count_file


@dataclass(frozen=True)
class BatchOptions:
    """One batch run: where results go, how each input is counted, and on which engine."""

    out: Path
    count: CountOptions = field(default_factory=CountOptions)
    engine: EngineConfig = field(default_factory=EngineConfig)
    retry_failures: bool = False
    progress: bool = True


@dataclass
class BatchSummary:
    """What a run did; `failed` includes failures recorded earlier and not retried."""

    out: Path
    total: int = 0
    counted: int = 0  # counted ok by this run
    failed_now: int = 0
    done_before: int = 0  # ok lines of earlier runs, reused
    failed_before: int = 0  # failed lines of earlier runs, reported again (no --retry-failures)
    replaced: int = 0  # lines of earlier runs this run replaced (retried failures, changed files)
    video_s: float = 0.0  # seconds of input counted by this run
    wall_s: float = 0.0
    engine: str = "serial"
    workers: int = 1

    @property
    def failed(self) -> int:
        return self.failed_now + self.failed_before

    def line(self) -> str:
        """One line for the terminal: totals, what earlier runs had done, what this one did."""
        text = f"{self.total} input(s): {self.counted + self.done_before} ok, {self.failed} failed"
        if self.done_before or self.failed_before:
            text += f"; from earlier runs: {self.done_before} ok, {self.failed_before} failed (not retried)"
        done = self.counted + self.failed_now
        this_run = (f"{done} counted in {self.wall_s:.1f} s on {self.engine} x{self.workers}" if done
                    else "nothing left to count")
        return text + f"; this run: {this_run}; results in {self.out}"


def count_one(task: tuple[str, CountOptions]) -> Record:
    """Count one input; the result line without its `resume_key` (see `records`).

    `ok`: the `countllm count --json` object plus `input` (absolute path) and `status`;
    `failed`: `input`, `status` and the one-line `error`.
    """
    path, options = task
    try:
        result = count_file(path, options)
    except CountLLMError as exc:
        return {"input": path, "status": "failed", "error": exc.one_line()}
    record = result.to_json()
    record.update(input=path, question=options.question, status="ok")
    return record


def run_batch(inputs: Iterable[str | Path], options: BatchOptions) -> BatchSummary:
    """Count every input not already done in `options.out`; see the module docstring.

    Raises InputError before any work for a missing input, a pattern matching nothing, or an
    unusable results file; `BatchInterrupted` on Ctrl-C (everything done so far is saved).
    """
    t0 = time.perf_counter()
    paths = expand_inputs(inputs)
    method = options.count.method
    keys = [InputKey.of(path, method) for path in paths]
    summary = BatchSummary(out=options.out, total=len(keys))
    with ResultsFile(options.out) as results:
        plan = results.plan(keys, options.retry_failures)
        summary.done_before, summary.failed_before = len(plan.done), len(plan.known_failures)
        summary.replaced = results.drop(plan.todo)
        engine_config = options.engine if plan.todo else EngineConfig("local", 1)  # nothing to start for
        with make_engine(engine_config) as engine, tqdm(
                total=len(keys), initial=len(plan.done) + len(plan.known_failures), desc="batch", unit="input",
                disable=not options.progress, dynamic_ncols=True) as bar:
            summary.engine, summary.workers = engine.name, engine.workers
            bar.set_postfix(failed=summary.failed_before, refresh=False)
            tasks = [(key.input, options.count) for key in plan.todo]
            try:
                for i, record in engine.map_unordered(count_one, tasks):
                    results.append(plan.todo[i], record)
                    if record["status"] == "ok":
                        summary.counted += 1
                        summary.video_s += float(record.get("duration_s") or 0.0)
                    else:
                        summary.failed_now += 1
                    bar.update(1)
                    bar.set_postfix(failed=summary.failed, refresh=False)
            except KeyboardInterrupt:
                done = summary.done_before + summary.failed_before + summary.counted + summary.failed_now
                raise BatchInterrupted(saved_message(done, len(keys), "inputs done", options.out)
                                       + "; rerun the same command to resume") from None
    summary.wall_s = time.perf_counter() - t0
    return summary


__all__ = ["BatchOptions", "BatchSummary", "count_one", "run_batch"]
