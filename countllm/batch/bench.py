"""Batch throughput: `countllm batch` over rendered synthetic videos with 1 and with 2 workers.

    python -m countllm.batch.bench [--videos 6] [--seconds 15] [--workers 1 2] [--json]

Why through the console script, each run in a fresh process on a fresh results file: that is
what a user gets, start-up included (imports, spawning and warming the workers), and a fresh
process has no model already loaded by an earlier run. Reported per run: wall time, inputs per
second, seconds of video counted per wall second, CPU time of the batch and its workers, and
the load: the CPU time other processes took meanwhile, as a share of the machine (this project's
machines are shared, and a number measured next to someone else's job says so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EXERCISES = ("squat", "jumping_jack", "lunge", "bicep_curl")


@dataclass(frozen=True)
class BenchRun:
    """One `countllm batch` run over the clips."""

    workers: int
    wall_s: float
    videos: int
    ok: int
    video_s: float  # seconds of video in the inputs that were counted
    batch_cpu_s: float  # the batch process and its workers
    others_cpu_s: float | None  # CPU time of every other process meanwhile (None: not on Linux)
    cpus: int
    exit_code: int

    @property
    def videos_per_s(self) -> float:
        return self.videos / self.wall_s

    @property
    def video_s_per_s(self) -> float:
        return self.video_s / self.wall_s

    @property
    def others_cpu_share(self) -> float | None:
        """Share of the machine's CPU capacity that other processes used during the run."""
        return None if self.others_cpu_s is None else self.others_cpu_s / (self.wall_s * self.cpus)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(videos_per_s=round(self.videos_per_s, 3), video_s_per_s=round(self.video_s_per_s, 2),
                   others_cpu_share=None if self.others_cpu_share is None else round(self.others_cpu_share, 3))
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def busy_cpu_s() -> float | None:
    """CPU-seconds the whole machine has been busy since boot (Linux /proc/stat), else None."""
    stat = Path("/proc/stat")
    if not stat.is_file():
        return None
    fields = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    guest = sum(fields[8:10])  # already counted in user/nice
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def render_clips(folder: Path, n_videos: int, seconds: float) -> list[Path]:
    """`n_videos` rendered clips of about `seconds` each, of different exercises and tempos."""
    from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence  # noqa: PLC0415

    paths = []
    for i in range(n_videos):
        exercise = EXERCISES[i % len(EXERCISES)]
        period = 1.6 + 0.3 * (i % 3)
        n_reps = max(2, int((seconds - 1.0) / period))
        seq = make_sequence(SyntheticConfig(exercise=exercise, n_reps=n_reps, period_s=period, seed=100 + i,
                                            lead_in_s=0.5, lead_out_s=0.5))
        paths.append(render_sequence(seq, folder / f"clip{i:02d}_{exercise}.mp4", RenderConfig()))
    return paths


def countllm_command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m countllm`."""
    script = Path(sys.executable).with_name("countllm")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "countllm"]


def time_batch(clips: list[Path], workers: int, out: Path, extra: tuple[str, ...] = ()) -> BenchRun:
    """Run `countllm batch` once over `clips` with `workers` and measure it (see the module docstring)."""
    argv = [*countllm_command(), "batch", *map(str, clips), "--out", str(out), "--workers", str(workers), *extra]
    children0, busy0 = _children_cpu_s(), busy_cpu_s()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    batch_cpu, busy1 = _children_cpu_s() - children0, busy_cpu_s()
    if done.returncode not in (0, 3):
        raise RuntimeError(f"countllm batch failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    ok = [r for r in records if r["status"] == "ok"]
    others = None if busy0 is None or busy1 is None else max(0.0, busy1 - busy0 - batch_cpu)
    return BenchRun(workers, wall, len(records), len(ok), sum(float(r["duration_s"]) for r in ok), batch_cpu,
                    others, os.cpu_count() or 1, done.returncode)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
            "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"}


def format_runs(runs: list[BenchRun], clip_s: float, facts: dict[str, Any]) -> str:
    lines = [f"batch throughput: {runs[0].videos} rendered synthetic videos, {clip_s:.1f} s of video in all; "
             f"{facts['cpus']} CPUs, load average before {facts['load_avg_1_5_15']}",
             f"{'workers':>7}  {'wall s':>7}  {'videos/s':>8}  {'video s/s':>9}  {'batch CPU s':>11}  "
             f"{'others CPU':>10}  ok"]
    for r in runs:
        share = "?" if r.others_cpu_share is None else f"{100 * r.others_cpu_share:.0f} %"
        lines.append(f"{r.workers:>7}  {r.wall_s:>7.1f}  {r.videos_per_s:>8.3f}  {r.video_s_per_s:>9.2f}  "
                     f"{r.batch_cpu_s:>11.1f}  {share:>10}  {r.ok}/{r.videos}")
    if len(runs) > 1:
        lines.append(f"speed-up of {runs[-1].workers} workers over {runs[0].workers}: "
                     f"{runs[0].wall_s / runs[-1].wall_s:.2f}x (wall time, start-up included)")
    lines.append("others CPU: the share of the machine other processes used during the run")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m countllm.batch.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=6, help="rendered clips (default 6)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each clip (default 15)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts timed (default 1 2)")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="countllm_batch_bench_") as tmp:
        folder = Path(tmp)
        print(f"rendering {args.videos} clips of {args.seconds:g} s ...", file=sys.stderr)
        clips = render_clips(folder, args.videos, args.seconds)
        facts = machine()
        runs = []
        for workers in args.workers:
            print(f"timing countllm batch --workers {workers} ...", file=sys.stderr)
            runs.append(time_batch(clips, workers, folder / f"results_w{workers}.jsonl"))
    clip_s = runs[0].video_s
    if args.json:
        print(json.dumps({"clips": {"n": args.videos, "seconds_each": args.seconds, "video_s": round(clip_s, 3)},
                          "machine": facts, "runs": [r.to_json() for r in runs]}))
    else:
        print(format_runs(runs, clip_s, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
