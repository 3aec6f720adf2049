"""Live counting, measured: latency through the console script, and agreement on real poses.

    python -m countllm.eval.live_bench [--reps 10] [--annotations CSV [--media-dir DIR]] [--json]

1. *Latency*, the way a user meets it: a rendered squat set with a rest is played by
   `countllm live CLIP --realtime --json` (each frame is due at its own time, as from a camera),
   and every event line is stamped when it reaches this process. Reported: the latency the
   events carry (p50, p95, max; the goal is 0.5 s), how many repetitions were reported while
   the clip was still playing, and the final count against `countllm count` on the same file
   (the baseline measured in the same run) and against the rendered truth.
2. *Agreement on real motion* (`--annotations CSV`: a RepCountA-style CSV of pose files, as
   `countllm.eval.prepare_countix_pose` writes it): every sequence is fed to the
   `LiveCounter` one skeleton at a time at the live rate, and compared with the offline
   `PoseCounter` on the same frames and with the annotated count — does live counting lose
   accuracy, and how long after a repetition's end (in video time) is it said?

Why not a timed assertion in a test: latency depends on the machine and its load; the tests
check that every event carries a measured latency, this prints what it was here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from countllm.batch.bench import countllm_command, machine
from countllm.benchmarks.annotations import load_annotations
from countllm.benchmarks.metrics import count_metrics
from countllm.counters.pose_counter import PoseCounter
from countllm.live.counter import LiveCounter, LiveCounterConfig
from countllm.live.session import LATE_S, percentile
from countllm.pose.io import load_pose_file
from countllm.types import Pose

LIVE_FPS = 10.0


@dataclass(frozen=True)
class LatencyRun:
    truth: int
    clip_s: float
    live_count: int
    offline_count: int  # `countllm count CLIP --json` in the same run
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None
    late_reps: int  # reported later than LATE_S after they ended
    reps_while_playing: int  # rep events that reached us before the clip's last frame was due
    wall_s: float


@dataclass(frozen=True)
class AgreementRun:
    items: int
    live_mae: float
    live_obo: float
    offline_mae: float
    offline_obo: float
    agree_within_1: float  # share of items where the live final and offline counts differ by ≤ 1
    live_over_offline: float  # share where the live final count is above offline + 1
    running_over_final: float  # share where the count said during the session rose above the final + 1
    delay_p50_s: float | None  # video time from a repetition's end to the frame it was said at
    delay_p95_s: float | None


def render_rest_clip(folder: Path, reps: int) -> tuple[Path, int, float]:
    """A rendered squat set with a rest half-way: (path, true count, seconds)."""
    from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence  # noqa: PLC0415

    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=reps, rests=[(reps // 2 - 1, 3.0)], seed=11,
                                        lead_in_s=0.8, lead_out_s=0.8))
    path = render_sequence(seq, folder / "live_bench_squats.mp4", RenderConfig())
    return path, seq.count, len(seq.pose) / seq.pose.fps


def time_live(path: Path, truth: int, clip_s: float) -> LatencyRun:
    command = countllm_command()
    started = time.perf_counter()
    proc = subprocess.Popen([*command, "live", str(path), "--realtime", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)
    events = [(time.perf_counter() - started, json.loads(line)) for line in proc.stdout]
    stderr = proc.stderr.read()
    if proc.wait() != 0 or not events or events[-1][1]["event"] != "end":
        raise RuntimeError(f"countllm live failed ({proc.returncode}): {stderr.strip()[-500:]}")
    wall = time.perf_counter() - started
    end = events[-1][1]
    # each rep says when its frame was due (t_video_s + latency_s before it reached us), hence when
    # the clip's first frame was due on our clock, and its last one clip_s later
    reps = [(at, e) for at, e in events if e["event"] == "rep"]
    first_due = float(np.median([at - e["latency_s"] - e["t_video_s"] for at, e in reps])) if reps else 0.0
    while_playing = sum(1 for at, _ in reps if at < first_due + clip_s)
    offline = json.loads(subprocess.run([*command, "count", str(path), "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    latency = end["latency_s"]
    return LatencyRun(truth, clip_s, end["count"], offline["count"], latency["p50"], latency["p95"], latency["max"],
                      end["late_reps"], while_playing, wall)


def _at_live_rate(pose: Pose) -> Pose:
    step = max(1, round(pose.fps / LIVE_FPS))
    return Pose(joints=pose.joints[::step], valid=pose.valid[::step], fps=pose.fps / step, layout=pose.layout,
                source=pose.source)


def live_agreement(csv_path: Path, folder: Path, fps: float) -> AgreementRun:
    annotations, errors = load_annotations(csv_path)
    if errors:
        print(f"{csv_path}: {len(errors)} row(s) skipped ({errors[0]})", file=sys.stderr)
    if not annotations:
        raise SystemExit(f"live_bench: error: {csv_path}: no usable rows; pass a RepCountA-style CSV of pose files")
    live, running, offline, truths, delays = [], [], [], [], []
    for item in tqdm(annotations, desc="live vs offline", unit="clip"):
        pose = _at_live_rate(load_pose_file(folder / item.name, fps))
        counter = LiveCounter(LiveCounterConfig(fps=pose.fps))
        for i in range(len(pose)):
            t = i / pose.fps
            for event in counter.push(t, pose.joints[i] if pose.valid[i] else None):
                delays.append(t - event.end_s)
        counter.finish()  # the last cycles are said when the source ends: no delay to measure
        live.append(counter.session_count)
        running.append(counter.count)
        offline.append(PoseCounter().count(pose).count)
        truths.append(item.count)
    live_scores, off_scores = count_metrics(truths, live), count_metrics(truths, offline)
    diff = np.asarray(live) - np.asarray(offline)
    return AgreementRun(len(truths), live_scores["mae"], live_scores["obo"], off_scores["mae"], off_scores["obo"],
                        float(np.mean(np.abs(diff) <= 1)), float(np.mean(diff > 1)),
                        float(np.mean(np.asarray(running) > np.asarray(live) + 1)),
                        percentile(delays, 50), percentile(delays, 95))


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def format_report(latency: LatencyRun, agreement: AgreementRun | None, facts: dict[str, Any]) -> str:
    lines = [f"live latency: rendered squats ({latency.truth} reps with a rest, {latency.clip_s:.1f} s) played by "
             f"countllm live --realtime; {facts['cpus']} CPUs, load average before {facts['load_avg_1_5_15']}",
             f"  latency p50 {_s(latency.latency_p50_s)}, p95 {_s(latency.latency_p95_s)}, "
             f"max {_s(latency.latency_max_s)}; {latency.late_reps} rep(s) later than {LATE_S} s",
             f"  {latency.reps_while_playing} of {latency.live_count} reps reported while the clip was playing",
             f"  final count: live {latency.live_count}, countllm count {latency.offline_count}, "
             f"truth {latency.truth}"]
    if agreement is not None:
        a = agreement
        lines += [f"live vs offline on {a.items} real pose sequences at {LIVE_FPS:g} fps:",
                  f"  live    MAE {a.live_mae:.3f}  OBO {a.live_obo:.3f}",
                  f"  offline MAE {a.offline_mae:.3f}  OBO {a.offline_obo:.3f}",
                  f"  final count within ±1 of offline: {a.agree_within_1:.2f}; above offline + 1: "
                  f"{a.live_over_offline:.2f}",
                  f"  the count said during the session went above the final + 1 on {a.running_over_final:.2f} "
                  "(withdrawn at the end, said in the notes)",
                  f"  a repetition is said {_s(a.delay_p50_s)} (median), {_s(a.delay_p95_s)} (95th percentile) "
                  f"of video after its end"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m countllm.eval.live_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10, help="squats in the rendered clip (default 10)")
    parser.add_argument("--annotations", type=Path, help="RepCountA-style CSV of pose files (agreement part)")
    parser.add_argument("--media-dir", type=Path, help="folder of the pose files (default: the CSV's folder)")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the pose files (default 30)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    facts = machine()
    with tempfile.TemporaryDirectory(prefix="countllm_live_bench_") as tmp:
        print(f"rendering {args.reps} squats ...", file=sys.stderr)
        path, truth, clip_s = render_rest_clip(Path(tmp), args.reps)
        print("playing it through countllm live --realtime ...", file=sys.stderr)
        latency = time_live(path, truth, clip_s)
    agreement = (live_agreement(args.annotations, args.media_dir or args.annotations.parent, args.fps)
                 if args.annotations else None)
    if args.json:
        print(json.dumps({"machine": facts, "latency": asdict(latency),
                          "agreement": None if agreement is None else asdict(agreement)}))
    else:
        print(format_report(latency, agreement, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
