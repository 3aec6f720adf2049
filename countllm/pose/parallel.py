"""Pose estimation of one video in several worker processes, each decoding its own span.

Why processes: BlazePose runs on one core (~28 ms a frame at 256 px), and two processes running
at once each keep that speed, so N workers give ~N× the throughput on N cores. Each worker gets
(path, span of sampled frames), decodes that span itself (decoding is parallel too and no frame
crosses a process boundary) and returns its (T_i, 33, 4) landmarks; the parent concatenates
them in order and builds the `Pose` exactly as `MediaPipePoseEstimator.to_pose` does.

Why a persistent pool: a worker pays starting Python, importing MediaPipe and building its graph
(~2 s) once; later videos counted in the same process (a server, the bench) reuse it.
`warm_pool()` pays that up front. Workers are spawned, never forked: the parent may already
hold torch or MediaPipe, which are not fork-safe.

Tracking restarts at each span boundary: the worker resets its graph per span, so nothing
carries over from the previous span or video, and MediaPipe re-detects the person.

When the pool is used: `ParallelPoseConfig.workers` > 1 (default min(2, usable CPUs); the
environment variable COUNTLLM_POSE_WORKERS overrides it; batch workers set it to 1) and the
video has at least `min_frames` sampled frames or the pool is already warm (for a short clip,
starting workers costs more than they save), unless the process runs a script whose top level
would run again in each spawned worker (`unguarded_main_script`). A pool that cannot start or
loses a worker is dropped and the video is estimated in this process, with a note saying so. An error a worker
meets in the input (a file corrupt midway) is raised here as the same `CountLLMError` the
in-process path raises, never as a worker traceback.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from countllm.errors import CountLLMError, InputError
from countllm.orphan_guard import guard_worker, spawning_without_sigint
from countllm.types import Frames, Pose

if TYPE_CHECKING:
    from countllm.pose.estimator import MediaPipePoseEstimator, PoseEstimatorConfig
    from countllm.video.decode import DecodeConfig

POSE_WORKERS_ENV = "COUNTLLM_POSE_WORKERS"
DEFAULT_MAX_WORKERS = 2
MIN_POOL_FRAMES = 150  # ~4 s of pose in one process: about what starting cold workers costs


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask), not all the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """COUNTLLM_POSE_WORKERS if set, else min(2, usable CPUs); 1 means in this process."""
    value = os.environ.get(POSE_WORKERS_ENV, "").strip()
    if not value:
        return min(DEFAULT_MAX_WORKERS, usable_cpus())
    if not value.isdigit() or int(value) < 1:
        raise InputError(POSE_WORKERS_ENV, f"must be a whole number >= 1 (1: pose in this process), got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ParallelPoseConfig:
    """How many processes estimate one video's pose, and from what length a cold pool is worth starting."""

    workers: int = field(default_factory=default_workers)
    min_frames: int = MIN_POOL_FRAMES  # fewer sampled frames: in this process unless the pool is warm

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


# --------------------------------------------------------------------------- inside a worker
@dataclass(frozen=True)
class SpanResult:
    """What a worker sends back for one span: landmarks, or the input error it met."""

    landmarks: np.ndarray | None  # (T_i, 33, 4) float32
    fps: float = 0.0
    notes: tuple[str, ...] = ()
    error: tuple[type[CountLLMError], str, str] | None = None  # (class, source, message)


_estimators: dict[tuple, MediaPipePoseEstimator] = {}  # this worker's models, one per config


def _estimator(config: PoseEstimatorConfig) -> MediaPipePoseEstimator:
    from countllm.pose.estimator import MediaPipePoseEstimator  # noqa: PLC0415 — MediaPipe in the worker only

    key = dataclasses.astuple(config)
    if key not in _estimators:
        _estimators[key] = MediaPipePoseEstimator(config)
    return _estimators[key]


def _warm_worker(config: PoseEstimatorConfig) -> int:
    """Build this worker's model and run it once (the first frame loads the TFLite models)."""
    _estimator(config).landmarks(np.zeros((1, 64, 64, 3), dtype=np.uint8))
    return os.getpid()


def _span_landmarks(path: str, decode: DecodeConfig, config: PoseEstimatorConfig) -> SpanResult:
    """Decode `decode.sample_range` of `path` and run the (reset) model over it."""
    from countllm.video.decode import iter_chunks  # noqa: PLC0415 — decord in the worker only

    estimator = _estimator(config)
    try:
        estimator.reset()
        parts, fps, notes = [], 0.0, []
        for frames in iter_chunks(path, decode):
            parts.append(estimator.landmarks(frames.images))
            fps = frames.fps
            notes.extend(n for n in frames.notes if n not in notes)
    except CountLLMError as exc:  # sent as data: CountLLMError(source, message) does not unpickle
        return SpanResult(None, error=(type(exc), exc.source, exc.message))
    landmarks = np.concatenate(parts) if parts else np.zeros((0, 33, 4), dtype=np.float32)
    return SpanResult(landmarks, fps, tuple(notes))


# --------------------------------------------------------------------------- the pool
class PoolFailed(Exception):
    """The pool could not start or lost a worker; the caller estimates in-process and says so."""


def split_spans(n_frames: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous [start, stop) spans covering range(n_frames), sizes differing by at most 1."""
    parts = max(1, min(parts, n_frames))
    edges = np.linspace(0, n_frames, parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


class PosePool:
    """`workers` spawned processes, each holding its own MediaPipe model (see the module docstring)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.warm = False  # every worker has built its model
        self.closed = False  # stopped (failed, interrupted or shut down): `_get_pool` starts another
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=guard_worker, initargs=(os.getpid(),))

    def warm_up(self, config: PoseEstimatorConfig, attempts: int = 4) -> None:
        """Start every worker and build its model; a worker that is still starting misses a round,
        so rounds repeat until each process has answered once."""
        pids: set[int] = set()
        for _ in range(attempts):
            with spawning_without_sigint():  # submitting is what starts the workers
                futures = [self._executor.submit(_warm_worker, config) for _ in range(self.workers)]
            pids.update(self._results(futures))
            if len(pids) >= self.workers:
                break
        self.warm = True

    def landmarks(self, path: str, decode: DecodeConfig, config: PoseEstimatorConfig,
                  n_frames: int) -> tuple[np.ndarray, float, list[str]]:
        """(T, 33, 4) landmarks of all `n_frames` sampled frames, the sampled rate, decoder notes."""
        spans = split_spans(n_frames, self.workers)
        with spawning_without_sigint():
            futures = [self._executor.submit(_span_landmarks, path, dataclasses.replace(decode, sample_range=span),
                                             config) for span in spans]
        results = self._results(futures)
        for result in results:  # the first span's error in video order, as one process would meet it
            if result.error is not None:
                cls, source, message = result.error
                raise cls(source, message)
        notes: list[str] = []
        for result in results:
            notes.extend(n for n in result.notes if n not in notes)
        self.warm = True
        return np.concatenate([r.landmarks for r in results]), results[0].fps, notes

    def _results(self, futures: list[Future]) -> list:
        try:
            return [future.result() for future in futures]
        except (BrokenProcessPool, OSError) as exc:  # a worker died, or none could be started
            self.close()
            raise PoolFailed(" ".join(str(exc).split()) or type(exc).__name__) from exc
        except BaseException:  # Ctrl-C: stop the workers now rather than wait for their spans
            self.close()
            raise

    def cpu_s(self) -> float:
        """CPU seconds the live workers have used so far (Linux /proc; 0.0 elsewhere)."""
        total = 0.0
        for process in list((getattr(self._executor, "_processes", None) or {}).values()):
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        return total

    def close(self) -> None:
        """Stop the workers, also busy ones (no public API for that before Python 3.14)."""
        self.closed = True
        processes = list((getattr(self._executor, "_processes", None) or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)


_pool: PosePool | None = None
_pool_lock = threading.Lock()


@functools.cache
def unguarded_main_script() -> str | None:
    """The path of the script this process runs, when spawning workers would run it again.

    Why: a spawned worker imports the parent's main script (as `__mp_main__`) before it can run
    anything, so a script that calls `count_file` at top level, without an
    `if __name__ == "__main__":` guard, would start a count in every worker, which fails in a
    wall of multiprocessing tracebacks. Such a script gets pose in one process and a note saying
    how to get the workers. None when it is safe: `python -m`, an interactive session, a
    console script, or a script with the guard at top level.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:
        return None
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None  # not a Python file we can read (a frozen or generated entry point)
    for node in tree.body:
        test = ast.unparse(node.test) if isinstance(node, ast.If) else ""
        if "__name__" in test and "__main__" in test:
            return None
    return path


def _get_pool(workers: int) -> PosePool:
    """This process's pool with `workers` workers, started (not warmed) if there is none."""
    global _pool
    with _pool_lock:
        if _pool is not None and not _pool.closed and _pool.workers != workers:
            _pool.close()
        if _pool is None or _pool.closed:
            _pool = PosePool(workers)
        return _pool


def warm_pool(workers: int | None = None) -> None:
    """Start the pose workers (default: `ParallelPoseConfig().workers`) and build their models now,
    so the first video does not pay it. With 1 worker there is no pool: nothing happens.
    A pool that cannot start raises `CountLLMError`."""
    from countllm.pose.estimator import PoseEstimatorConfig  # noqa: PLC0415

    workers = ParallelPoseConfig().workers if workers is None else workers
    if workers < 2 or unguarded_main_script() is not None:
        return
    pool = _get_pool(workers)
    try:
        pool.warm_up(PoseEstimatorConfig())
    except PoolFailed as exc:
        raise CountLLMError("pose workers", f"could not start {workers} pose worker processes ({exc})") from None


def shutdown_pool() -> None:
    """Stop this process's pose workers, if any (a later video starts a new pool)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def pool_cpu_s() -> float:
    """CPU seconds this process's pose workers have used so far (0.0 with no pool): a benchmark
    adds it to its own CPU time, which does not include them."""
    pool = _pool
    return pool.cpu_s() if pool is not None and not pool.closed else 0.0


def pool_is_warm() -> bool:
    pool = _pool
    return pool is not None and pool.warm and not pool.closed


# --------------------------------------------------------------------------- one video
def _noting(chunks: Iterable[Frames], notes: list[str]) -> Iterator[Frames]:
    for frames in chunks:
        notes.extend(n for n in frames.notes if n not in notes)
        yield frames


def _in_process(path: Path, decode: DecodeConfig, config: PoseEstimatorConfig, notes: list[str]) -> Pose:
    from countllm.pose.estimator import MediaPipePoseEstimator  # noqa: PLC0415 — MediaPipe on demand
    from countllm.video.decode import iter_chunks  # noqa: PLC0415 — decord on demand

    estimator = MediaPipePoseEstimator(config)
    try:
        return estimator.estimate(_noting(iter_chunks(path, decode), notes))
    finally:
        estimator.close()


def _sampled_frames(path: Path, decode: DecodeConfig) -> int:
    from countllm.video.decode import probe, sampled_indices  # noqa: PLC0415 — decord on demand

    return len(sampled_indices(probe(path, decode.override_fps), decode.target_fps))


def estimate_video_pose(path: str | Path, decode: DecodeConfig, config: ParallelPoseConfig | None = None,
                        estimator: PoseEstimatorConfig | None = None) -> tuple[Pose, list[str]]:
    """The video's `Pose` and the notes to tell the user (decoder repairs, a pool fallback).

    In `config.workers` processes when that pays (see the module docstring), else in this one;
    the same errors either way (InputError for a bad file, NoPersonError when nobody is seen).
    """
    from countllm.pose.estimator import MediaPipePoseEstimator, PoseEstimatorConfig  # noqa: PLC0415

    config = config or ParallelPoseConfig()
    estimator = estimator or PoseEstimatorConfig()
    path, notes = Path(path), []
    if config.workers > 1:
        n_frames = _sampled_frames(path, decode)  # a bad file raises here, as in-process
        script = unguarded_main_script()
        if script is not None and n_frames >= config.min_frames:
            notes = [f"pose ran in one process: {script} has no `if __name__ == \"__main__\":` guard, and each "
                     f"pose worker process would run its top-level code again; put the counting under that "
                     f"guard to use {config.workers} workers"]
        elif script is None and (n_frames >= config.min_frames or pool_is_warm()):
            pool = _get_pool(config.workers)
            try:
                landmarks, fps, notes = pool.landmarks(str(path), decode, estimator, n_frames)
            except PoolFailed as exc:  # the pool is closed; the next video starts a new one
                notes = [f"pose ran in one process: the {config.workers} pose worker processes failed ({exc})"]
            else:
                return MediaPipePoseEstimator(estimator).to_pose(landmarks, fps, str(path)), notes
    return _in_process(path, decode, estimator, notes), notes


__all__ = ["POSE_WORKERS_ENV", "ParallelPoseConfig", "PosePool", "default_workers", "estimate_video_pose",
           "pool_cpu_s", "shutdown_pool", "split_spans", "warm_pool"]
