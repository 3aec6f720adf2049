"""`countllm bench`: how many seconds of video each stage gets through per wall second.

Why: the goal is a full pose count at ≥ 10× real time on 2 CPU cores, and a single
end-to-end number cannot say which stage to fix when it is missed. So one run times, on the
same file: decode at every native frame (the baseline), decode as the pipeline samples it,
decode + pose, decode + embeddings, and the full count with `auto` and with `similarity`.

What is and is not timed: importing MediaPipe/torch and building each model the first time
(seconds, paid once per process) is measured in a warm-up and reported on its own. Each stage
then calls the library exactly as `count_file` does, so it does include rebuilding its model
per call (tenths of a second, also reported) — that cost is real for every video counted.

`--json` prints the same run as one object (a contract, see `report_json`): each stage under a
fixed key (`STAGE_KEYS`) with its wall time, × real time, and its wall time as a multiple of
`decode_all` (decoding every frame). That ratio is the figure to compare across machines: a
slower CPU slows decoding and pose alike, so it moves far less than × real time does.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from countllm.batch.bench import busy_cpu_s
from countllm.counters.tempo import first_look
from countllm.errors import InputError, NoPersonError
from countllm.media import MediaInputs
from countllm.pipeline import CountOptions, count_file
from countllm.pose.parallel import ParallelPoseConfig, pool_cpu_s, warm_pool
from countllm.types import Frames
from countllm.video.decode import DecodeConfig, iter_chunks, probe

if TYPE_CHECKING:
    from countllm.synthetic import SyntheticConfig

GOAL_X_REALTIME = 10.0  # full pose count must run at least this many times faster than real time
GOAL_CORES = 2
SQUAT_PERIOD_S = 2.4  # the synthetic squat's period (skeleton.EXERCISES["squat"])
SYNTH_REST_S = 4.0  # one mid-set rest, so the clip is not a bare sinusoid
SYNTH_REST_MIN_S = 20.0  # shorter clips get no rest: it would leave too few reps
SYNTH_MIN_S = SQUAT_PERIOD_S / 0.8  # lead-in and lead-out take 10 % each; one rep must fit

T = TypeVar("T")

# The stages, in run order, by their key in `--json` (a contract: outside scripts read them).
STAGE_KEYS = ("decode_all", "decode_sampled", "decode_pose", "decode_embeddings", "first_look", "count_auto",
              "count_similarity")
JSON_SCHEMA_VERSION = 1

# (count, note) from one timed stage; count is None for stages that do not count
StageOutput = tuple[int | None, str]


@dataclass
class BenchClip:
    """The video being timed and what is known about it."""

    path: Path
    duration_s: float
    native_fps: float
    n_frames: int
    width: int
    height: int
    description: str  # where it came from, said in the report
    gt_count: int | None = None  # None: no ground truth known


@dataclass
class LoadTiming:
    """Model set-up cost: the first time in the process (excluded) and a later rebuild (in stages)."""

    name: str
    first_s: float
    again_s: float


@dataclass
class StageTiming:
    """One timed stage on the whole clip."""

    key: str  # one of STAGE_KEYS
    name: str  # the human label
    wall_s: float
    video_s: float
    cpu_s: float = 0.0  # this process (all threads) and its pose workers: cpu_s / wall_s ≈ cores kept busy
    others_cpu_s: float | None = None  # CPU time other processes took meanwhile (None: unknown)
    count: int | None = None
    note: str = ""

    @property
    def x_realtime(self) -> float:
        """Seconds of video processed per wall second."""
        return self.video_s / self.wall_s if self.wall_s > 0 else math.inf


@dataclass
class MachineFacts:
    cpu_count: int
    usable_cpus: int
    torch_threads: int
    opencv_threads: int
    cpu_model: str
    platform: str


@dataclass
class SpeedReport:
    clip: BenchClip
    machine: MachineFacts
    decode: DecodeConfig  # what the pipeline decodes with
    loads: list[LoadTiming] = field(default_factory=list)
    stages: list[StageTiming] = field(default_factory=list)

    def stage(self, key: str) -> StageTiming:
        return next(s for s in self.stages if s.key == key)


def _progress(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the clip
def synthetic_config(seconds: float) -> SyntheticConfig:
    """Squats filling `seconds`: a short lead-in, whole reps, one rest, the remainder as lead-out."""
    from countllm.synthetic import SyntheticConfig  # noqa: PLC0415 — av/cv2 only when rendering

    if not (math.isfinite(seconds) and seconds >= SYNTH_MIN_S):  # InputError: a ValueError
        raise InputError("--seconds", f"seconds must be a number >= {SYNTH_MIN_S:g} to hold one "
                         f"{SQUAT_PERIOD_S:g} s squat and its lead-in/out, got {seconds}")
    lead = min(1.0, 0.1 * seconds)
    rest = SYNTH_REST_S if seconds >= SYNTH_REST_MIN_S else 0.0
    n_reps = int(math.floor((seconds - 2 * lead - rest) / SQUAT_PERIOD_S + 1e-9))
    rests = [((n_reps - 1) // 2, rest)] if rest > 0 else []
    lead_out = seconds - lead - rest - n_reps * SQUAT_PERIOD_S
    return SyntheticConfig(exercise="squat", n_reps=n_reps, period_s=SQUAT_PERIOD_S, rests=rests,
                           lead_in_s=lead, lead_out_s=lead_out, seed=0)


def render_synthetic(seconds: float, folder: Path) -> BenchClip:
    """Render the synthetic squat clip into `folder` (rendering is not timed)."""
    from countllm.synthetic import RenderConfig, make_sequence, render_sequence  # noqa: PLC0415

    cfg = synthetic_config(seconds)
    _progress(f"rendering a {seconds:g} s synthetic squat clip ({cfg.n_reps} reps) ...")
    seq = make_sequence(cfg)
    path = render_sequence(seq, folder / f"synthetic_squat_{seconds:g}s.mp4", RenderConfig())
    rest = f", one {cfg.rests[0][1]:g} s rest" if cfg.rests else ""
    return _clip(path, f"synthetic squat clip ({seq.count} reps{rest}), rendered for this run",
                 seq.count)


def sibling_ground_truth(video: Path) -> int | None:
    """The count for `video` from a `gt.csv` (columns file,count) beside it, if there is one."""
    table = video.parent / "gt.csv"
    if not table.is_file():
        return None
    with table.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"file", "count"} <= set(reader.fieldnames or ()):
            return None
        counts = [row["count"] for row in reader if row["file"] == video.name]
    return int(counts[0]) if counts and counts[0].strip() else None


def _clip(path: Path, description: str, gt_count: int | None) -> BenchClip:
    info = probe(path)
    return BenchClip(path, info.duration_s, info.native_fps, info.n_frames, info.width, info.height,
                     description, gt_count)


def user_clip(video: Path) -> BenchClip:
    gt = sibling_ground_truth(video)
    where = "ground truth from gt.csv beside it" if gt is not None else "no ground truth known"
    return _clip(video, f"given video ({where})", gt)


# --------------------------------------------------------------------------- warm-up
def _pose_model_once(images: np.ndarray) -> None:
    from countllm.pose.estimator import MediaPipePoseEstimator  # noqa: PLC0415

    estimator = MediaPipePoseEstimator()
    try:
        estimator.landmarks(images)
    finally:
        estimator.close()


def _embedding_model_once(images: np.ndarray) -> None:
    from countllm.embeddings.frame_encoder import FrameEncoder  # noqa: PLC0415

    FrameEncoder().encode_images(images)


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    """(what fn returned, wall seconds it took)."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def warm_up(clip: BenchClip, decode: DecodeConfig) -> list[LoadTiming]:
    """Pay every one-time cost before timing: decoder, MediaPipe graph, torch + MobileNetV2.

    Each model is built twice on the clip's first frames: the first build is the one-time cost,
    the second is what every later call (and so every timed stage) pays again.
    """
    _progress("warm-up: loading the decoder and models (not counted in the stages) ...")
    first_chunk = lambda: next(iter_chunks(clip.path, decode))  # noqa: E731
    frames, decoder_s = _timed(first_chunk)
    images = frames.images[:2]  # (2, H, W, 3) uint8
    loads = [LoadTiming("decoder (open + first chunk)", decoder_s, _timed(first_chunk)[1])]
    for name, build in (("MediaPipe pose (import, graph, 1st frames)", _pose_model_once),
                        ("MobileNetV2 (import torch, weights, 1st batch)", _embedding_model_once)):
        first_s, again_s = _timed(lambda b=build: b(images))[1], _timed(lambda b=build: b(images))[1]
        loads.append(LoadTiming(name, first_s, again_s))
    workers = ParallelPoseConfig().workers
    if workers > 1:  # the pool persists, so later videos pay nothing again
        loads.append(LoadTiming(f"{workers} pose workers (spawn + MediaPipe each)",
                                _timed(lambda: warm_pool(workers))[1], 0.0))
    return loads


# --------------------------------------------------------------------------- the stages
def _drain(chunks: Iterable[Frames]) -> int:
    """Decode everything and keep nothing; returns the frame count."""
    return sum(len(frames) for frames in chunks)


def _decode_stage(path: Path, cfg: DecodeConfig) -> StageOutput:
    return None, f"{_drain(iter_chunks(path, cfg))} frames"


def _pose_stage(path: Path, options: CountOptions) -> StageOutput:
    try:
        pose = MediaInputs.open(path, options.decode_options()).pose()
    except NoPersonError:
        return None, "no person found (pose counter would fall back)"
    return None, f"{len(pose)} frames, person in {pose.detected_fraction:.0%}"


def _embed_stage(path: Path, options: CountOptions) -> StageOutput:
    features = MediaInputs.open(path, options.decode_options()).frame_features()
    return None, f"{len(features)} × {features.vectors.shape[1]} vectors"


def _first_look_stage(path: Path, options: CountOptions) -> StageOutput:
    """The tempo first look alone (`counters/tempo.py`): what `auto` pays on every video before
    it knows whether the repetition is too fast for the 10 fps analysis."""
    inputs = MediaInputs.open(path, options.decode_options())
    look = first_look(options.request(inputs), inputs.duration_s())
    verdict = "fast: counted at the native rate" if look.is_fast else "not fast: the 10 fps analysis counts"
    return None, f"{look.describe()}; {verdict}"


def _count_stage(path: Path, method: str) -> StageOutput:
    result = count_file(path, CountOptions(method=method))
    return result.count, f"used the {result.method} counter"


def _fps_label(fps: float | None, max_side: int | None) -> str:
    rate = "every frame" if fps is None else f"@ {fps:g} fps"
    return f"{rate}, ≤{max_side} px" if max_side else f"{rate}, native size"


def stage_plan(clip: BenchClip, decode: DecodeConfig) -> list[tuple[str, str, Callable[[], StageOutput]]]:
    """Every stage, in run order, as (key, label, call); labels are the report's row names."""
    every = dataclasses.replace(decode, target_fps=None)
    options = CountOptions(method="auto")
    p = clip.path
    plan = [
        (f"decode {_fps_label(None, every.max_side)} (baseline)", lambda: _decode_stage(p, every)),
        (f"decode {_fps_label(decode.target_fps, decode.max_side)}", lambda: _decode_stage(p, decode)),
        ("decode + pose", lambda: _pose_stage(p, options)),
        ("decode + embeddings", lambda: _embed_stage(p, options)),
        ("tempo first look (part of auto)", lambda: _first_look_stage(p, options)),
        ("full count, method auto", lambda: _count_stage(p, "auto")),
        ("full count, method similarity", lambda: _count_stage(p, "similarity")),
    ]
    return [(key, label, call) for key, (label, call) in zip(STAGE_KEYS, plan, strict=True)]


def _own_cpu_s() -> float:
    """CPU time of this process and its pose workers (theirs is ours, not "other processes")."""
    return time.process_time() + pool_cpu_s()


def time_stages(clip: BenchClip, decode: DecodeConfig) -> list[StageTiming]:
    timings = []
    for key, name, call in stage_plan(clip, decode):
        _progress(f"timing: {name} ...")
        start, cpu_start, busy_start = time.perf_counter(), _own_cpu_s(), busy_cpu_s()
        count, note = call()
        wall, cpu, busy_end = time.perf_counter() - start, _own_cpu_s() - cpu_start, busy_cpu_s()
        others = None if busy_start is None or busy_end is None else max(0.0, busy_end - busy_start - cpu)
        timings.append(StageTiming(key, name, wall, clip.duration_s, cpu, others, count, note))
        _progress(f"  {wall:.2f} s ({timings[-1].x_realtime:.1f}× real time)")
    return timings


# --------------------------------------------------------------------------- machine and report
def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_facts() -> MachineFacts:
    """Read after the warm-up so torch's thread count is the one the stages ran with."""
    import cv2  # noqa: PLC0415
    import torch  # noqa: PLC0415

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return MachineFacts(os.cpu_count() or 0, usable or 0, torch.get_num_threads(),
                        cv2.getNumThreads(), _cpu_model(),
                        f"{platform.system()} {platform.machine()}, Python {platform.python_version()}")


def measure_speed(video: Path | None, seconds: float) -> SpeedReport:
    """Render (if no video is given), warm up, and time every stage on one clip."""
    decode = _pipeline_decode_config()
    with tempfile.TemporaryDirectory(prefix="countllm-bench-") as tmp:
        clip = user_clip(video) if video is not None else render_synthetic(seconds, Path(tmp))
        loads = warm_up(clip, decode)
        stages = time_stages(clip, decode)
    return SpeedReport(clip, machine_facts(), decode, loads, stages)


def _pipeline_decode_config() -> DecodeConfig:
    """The decoding `count_file` uses by default (same rate, size and override)."""
    return CountOptions(method="auto").decode_options().decode_config()


def _header_lines(r: SpeedReport) -> list[str]:
    c, m = r.clip, r.machine
    gt = "unknown" if c.gt_count is None else str(c.gt_count)
    return [
        "countllm speed benchmark",
        f"video:    {c.path.name} — {c.description}; ground-truth count: {gt}",
        f"          {c.duration_s:.1f} s, {c.native_fps:.2f} fps native, {c.n_frames} frames, "
        f"{c.width}×{c.height}",
        f"machine:  {m.cpu_count} CPUs ({m.usable_cpus} usable), torch threads {m.torch_threads}, "
        f"OpenCV threads {m.opencv_threads}; {m.cpu_model}; {m.platform}",
        f"pipeline: decode @ {r.decode.target_fps:g} fps, longer side ≤ {r.decode.max_side} px, "
        f"{r.decode.num_threads} decoder thread(s)",
        "",
        f"{'one-time loading (excluded from stages)':<48} {'first use':>9}  {'rebuild (in stages)':>19}",
        *[f"  {ld.name:<46} {ld.first_s:>8.2f}s  {ld.again_s:>18.2f}s" for ld in r.loads],
        "",
    ]


def _stage_lines(r: SpeedReport) -> list[str]:
    gt = "-" if r.clip.gt_count is None else str(r.clip.gt_count)
    lines = [f"{'stage':<38} {'wall s':>7} {'cpu s':>6} {'others':>6} {'× real time':>11} {'count':>5} "
             f"{'gt':>4}  note"]
    for s in r.stages:
        count = "" if s.count is None else str(s.count)
        truth = gt if s.count is not None else ""
        others = "?" if s.others_cpu_s is None else f"{s.others_cpu_s:.2f}"
        lines.append(f"{s.name:<38} {s.wall_s:>7.2f} {s.cpu_s:>6.2f} {others:>6} {s.x_realtime:>10.1f}× "
                     f"{count:>5} {truth:>4}  {s.note}")
    return lines


def _summary_lines(r: SpeedReport) -> list[str]:
    every, sampled = r.stages[0], r.stages[1]
    auto = r.stage("count_auto")
    cores = r.machine.usable_cpus
    where = "" if cores == GOAL_CORES else f" (this run had {cores} usable CPUs, not {GOAL_CORES})"
    verdict = "met" if auto.x_realtime >= GOAL_X_REALTIME else "not met"
    look = r.stage("first_look")
    if auto.note == "used the motion counter":
        where += "; the first look found a fast tempo, so auto counted motion profiles at the native rate, not pose"
    elif auto.note != "used the pose counter":
        where += "; auto fell back from the pose counter, so its time covers pose and embeddings"
    return [
        f"(cpu s: this process (all threads) and its pose workers; others: CPU time other processes took "
        f"meanwhile, out of {r.machine.usable_cpus} × wall s — where it is large the stage was slowed)",
        "",
        f"sampling @ {r.decode.target_fps:g} fps decodes {every.wall_s / sampled.wall_s:.1f}× faster "
        f"than every frame ({every.x_realtime:.1f}× → {sampled.x_realtime:.1f}× real time)",
        f"the tempo first look took {look.wall_s:.2f} s, {look.wall_s / max(auto.wall_s, 1e-9):.0%} of the auto "
        f"count ({look.note.rsplit('; ', 1)[-1]})",
        f"goal: full pose count ≥ {GOAL_X_REALTIME:g}× real time on {GOAL_CORES} CPU cores — {verdict} "
        f"(method auto, {auto.note.removeprefix('used the ')}: {auto.x_realtime:.1f}×){where}",
    ]


def format_report(report: SpeedReport) -> str:
    return "\n".join(_header_lines(report) + _stage_lines(report) + _summary_lines(report))


def others_cpu_share(r: SpeedReport) -> float | None:
    """CPU time other processes took during the stages, as a share of all the machine had then
    (usable CPUs × wall time): 0 on a quiet machine; None where the OS does not say."""
    if any(s.others_cpu_s is None for s in r.stages):
        return None
    capacity = r.machine.usable_cpus * sum(s.wall_s for s in r.stages)
    return round(sum(s.others_cpu_s or 0.0 for s in r.stages) / capacity, 4) if capacity > 0 else None


def report_json(r: SpeedReport) -> dict:
    """The `bench --json` object. Keys are a contract; `ratio_to_decode_all` is the stage's wall
    time divided by `decode_all`'s (how many full decodes the stage costs)."""
    baseline = r.stage("decode_all").wall_s
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "video": {"path": str(r.clip.path), "duration_s": round(r.clip.duration_s, 3),
                  "fps": round(r.clip.native_fps, 3), "frames": r.clip.n_frames},
        "machine": {"cpus": r.machine.usable_cpus, "others_cpu_share": others_cpu_share(r)},
        "stages": {s.key: {"wall_s": round(s.wall_s, 3), "x_real_time": round(s.x_realtime, 2),
                           "ratio_to_decode_all": round(s.wall_s / baseline, 3) if baseline > 0 else None}
                   for s in r.stages},
    }


def run_speed_benchmark(video: Path | None, seconds: float) -> SpeedReport:
    """Time every stage on `video` (or a rendered synthetic clip of `seconds`)."""
    return measure_speed(video, seconds)
