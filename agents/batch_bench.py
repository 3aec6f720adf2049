"""Batch LLM throughput: calls/s at several concurrency levels, and what the cache saves.

Why: mining is thousands of calls, so the two numbers that decide how long it takes are the
throughput of a cold run and how much a rerun costs once everything is cached (the resume
path after a crash). Both are measured in the same process against the same server, so the
ratio is not skewed by a different machine load between two runs.

What runs: an in-process OpenAI-compatible server (`countllm.agents.serve`) on loopback, reached
through `OpenAIBackend` (the real `openai` client), driven by `BatchRunner`:
- `local`: the default local model (SmolLM2-135M-Instruct) answers; the server generates one
  request at a time, so concurrency only overlaps HTTP and tokenisation with generation.
- `scripted`: a deterministic backend that sleeps `--latency-ms` per call, like a remote API
  would; it measures the runner's own overhead and how it scales with concurrency.
- `auto` (default): `local` if the model loads, else `scripted` (the output says which, and why).

Each concurrency level gets a fresh cache, so each cold run makes every call; then the last
level's job is run again on its now-full cache, which must make zero calls.

    python -m countllm.agents.batch_bench [--backend auto|local|scripted] [--calls 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from countllm.agents.batch import BatchConfig, BatchItem, BatchReport, BatchRunner, ResponseCache
from countllm.agents.llm.base import ChatMessage, Completion, GenerationConfig, LLMBackend, LLMUnavailable

ACTIONS = ("jumping jacks", "push-ups", "squats", "skipping rope", "rowing", "lunges", "burpees", "sit-ups")


@dataclass
class BenchRun:
    """One timed run of the whole job."""

    label: str
    concurrency: int
    wall_s: float
    calls: int
    cache_hits: int
    failed: int
    load_avg: float  # 1-minute load average when the run ended: other work on the cores skews timings

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def items_per_s(self) -> float:
        return (self.calls + self.cache_hits) / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "calls_per_s": self.calls_per_s, "items_per_s": self.items_per_s}


@dataclass
class BenchResult:
    backend: str  # what answered, in words
    n_items: int
    max_tokens: int
    runs: list[BenchRun] = field(default_factory=list)
    cached: BenchRun | None = None

    def speedup(self, reference: BenchRun) -> float:
        """How many times faster the fully cached rerun finished the job than `reference`."""
        assert self.cached is not None
        return reference.wall_s / self.cached.wall_s


class ScriptedBackend:
    """Answers instantly after a fixed sleep (a stand-in for network + model latency)."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s

    @property
    def model_id(self) -> str:
        return "scripted-bench"

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = GenerationConfig()) -> Completion:
        time.sleep(self.latency_s)
        return Completion(json.dumps({"echo": messages[-1].content[-24:]}), self.model_id, 20, 8)


def make_jobs(n: int, max_tokens: int) -> list[BatchItem]:
    """n distinct short questions (distinct, so no two share a cache key)."""
    config = GenerationConfig(temperature=0.0, max_tokens=max_tokens)
    return [
        BatchItem(f"bench-{i}", [ChatMessage("user", f"Question {i}: which action often happens together "
                                                     f"with {ACTIONS[i % len(ACTIONS)]}? One word.")], config)
        for i in range(n)
    ]


def pick_backend(kind: str, latency_ms: float, torch_threads: int | None = None) -> tuple[LLMBackend, str]:
    """The backend behind the server and a sentence saying what it is (and why, for `auto`).

    `torch_threads` exists because on a busy 2-core machine torch's default (one thread per
    core) was measured 4-6x slower per call than a single thread; the output says which ran.
    """
    if kind not in ("auto", "local", "scripted"):
        raise ValueError(f"unknown backend {kind!r}; accepted: auto, local, scripted")
    if kind in ("auto", "local"):
        try:
            import torch  # noqa: PLC0415 - only for the local model

            from countllm.agents.llm.local_backend import TransformersBackend  # noqa: PLC0415

            if torch_threads is not None:
                torch.set_num_threads(torch_threads)
            backend = TransformersBackend()
            backend.load()
            return backend, (f"local model {backend.model_id} (loaded in {backend.load_seconds:.1f} s, "
                             f"torch threads {torch.get_num_threads()})")
        except (LLMUnavailable, ImportError) as exc:
            if kind == "local":
                raise
            reason = f"local model unavailable: {exc}"
    else:
        reason = "chosen with --backend scripted"
    return ScriptedBackend(latency_ms / 1000), f"scripted backend, {latency_ms:g} ms per call ({reason})"


def timed_run(label: str, make_backend: Callable[[], LLMBackend], cache_path: Path, items: list[BatchItem],
              concurrency: int) -> BenchRun:
    """Run the job once through a fresh client; the cache file decides what is already done."""
    config = BatchConfig(concurrency=concurrency, retries=2, backoff_s=0.2, timeout_s=600.0, progress=False)
    with ResponseCache(cache_path) as cache:
        report: BatchReport = BatchRunner(make_backend(), cache, config).run(items)
    return BenchRun(label, concurrency, report.wall_s, report.calls_made, report.cache_hits, len(report.failures),
                    os.getloadavg()[0])


def bench(kind: str, n_calls: int, levels: list[int], max_tokens: int, latency_ms: float,
          torch_threads: int | None = None) -> BenchResult:
    """Serve, warm up, run the job cold at each concurrency level, then once fully cached."""
    from countllm.agents.llm.openai_backend import OpenAIBackend  # noqa: PLC0415
    from countllm.agents.serve import start_background_server  # noqa: PLC0415

    backend, described = pick_backend(kind, latency_ms, torch_threads)
    server, _thread, url = start_background_server(backend, port=0)
    result = BenchResult(f"{described}, served over HTTP at {url}; {os.cpu_count()} CPU cores", n_calls, max_tokens)

    def client() -> LLMBackend:
        return OpenAIBackend(backend.model_id, base_url=url, timeout_s=600.0)

    try:
        client().complete([ChatMessage("user", "warm-up")], GenerationConfig(max_tokens=max_tokens))
        items = make_jobs(n_calls, max_tokens)
        with tempfile.TemporaryDirectory(prefix="llm-bench-") as tmp:
            for level in levels:
                cache_path = Path(tmp) / f"c{level}.sqlite"
                result.runs.append(timed_run(f"cold, concurrency {level}", client, cache_path, items, level))
            result.cached = timed_run("fully cached rerun", client, cache_path, items, levels[-1])
    finally:
        server.shutdown()
        server.server_close()
    if result.cached.calls:
        raise RuntimeError(f"the cached rerun made {result.cached.calls} calls; it must make none")
    return result


def format_result(result: BenchResult) -> str:
    """The human table: one row per run, then the cache speed-ups."""
    lines = [f"backend: {result.backend}",
             f"job: {result.n_items} distinct chat calls, max_tokens {result.max_tokens}",
             f"{'run':<26}{'wall s':>9}{'calls':>7}{'calls/s':>10}{'items/s':>10}{'failed':>8}{'load':>7}"]
    for run in [*result.runs, result.cached]:
        assert run is not None
        lines.append(f"{run.label:<26}{run.wall_s:>9.3f}{run.calls:>7}{run.calls_per_s:>10.2f}"
                     f"{run.items_per_s:>10.1f}{run.failed:>8}{run.load_avg:>7.1f}")
    first, best = result.runs[0], min(result.runs, key=lambda r: r.wall_s)
    lines.append(f"cache-hit speed-up: {result.speedup(first):.0f}x vs cold concurrency {first.concurrency}, "
                 f"{result.speedup(best):.0f}x vs the fastest cold run (concurrency {best.concurrency})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m countllm.agents.batch_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("auto", "local", "scripted"), default="auto",
                        help="what answers behind the server (default: local if it loads, else scripted)")
    parser.add_argument("--calls", type=int, default=200, help="distinct calls in the job (default 200)")
    parser.add_argument("--concurrency", default="1,2,4", help="comma-separated levels (default 1,2,4)")
    parser.add_argument("--max-tokens", type=int, default=16, help="answer length cap (default 16)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="scripted backend's delay per call")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch intra-op threads for the local model (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if args.calls < 1 or not args.levels or min(args.levels) < 1:
        parser.error("--calls and every --concurrency level must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print a table (or JSON)."""
    args = parse_args(argv)
    result = bench(args.backend, args.calls, args.levels, args.max_tokens, args.latency_ms, args.torch_threads)
    if args.json:
        assert result.cached is not None
        payload = {"backend": result.backend, "n_items": result.n_items, "max_tokens": result.max_tokens,
                   "runs": [run.to_dict() for run in result.runs], "cached": result.cached.to_dict(),
                   "cache_speedup_vs_first": result.speedup(result.runs[0]),
                   "cache_speedup_vs_fastest": result.speedup(min(result.runs, key=lambda r: r.wall_s))}
        print(json.dumps(payload, indent=2))
    else:
        print(format_result(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
