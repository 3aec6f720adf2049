"""Where batch work runs: in this process, on a pool of local processes, or on a Ray cluster.

One interface, `Engine.map_unordered(fn, items)`: it yields `(index, fn(items[index]))` as each
finishes, so the caller can save every result the moment it exists (what makes a killed run
lose nothing). `countllm batch` and `countllm eval --workers` both run through it.

Why these engines and no scheduler of our own:
- `serial` (one worker): no process start-up, nothing to pickle; what `eval` has always done.
- `local`: `concurrent.futures.ProcessPoolExecutor` with the `spawn` start method (MediaPipe
  and torch are not fork-safe once initialised). Each worker limits torch, OpenCV and the BLAS
  pools to one thread, since N workers on N cores each spawning N threads only thrash, runs
  pose estimation in-process for the same reason (`pin_pose_workers`), and ignores SIGINT, so
  Ctrl-C reaches the parent alone, which stops the workers and saves; a worker whose parent was
  killed (SIGKILL: no chance to stop it) exits by itself.
- `ray`: the same function as Ray tasks (`num_cpus=1`) on an existing cluster (`--ray-address`)
  or on a local Ray instance started for the run; Ray does the scheduling. The inputs' paths
  must be readable on every node (a shared filesystem), and countllm installed there.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from countllm.errors import CountLLMError, InputError
from countllm.orphan_guard import guard_worker, spawning_without_sigint
from countllm.pose.parallel import POSE_WORKERS_ENV

T = TypeVar("T")
R = TypeVar("R")
ENGINES = ("local", "ray")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "OPENCV_FOR_THREADS_NUM")
RAY_INSTALL_HINT = "pip install 'countllm[ray]' (scripts/setup.sh installs it)"

_threads_limited = False


def limit_threads() -> None:
    """Make this worker process use one thread for torch, OpenCV and BLAS (see the module docstring).

    The environment variables take effect for libraries imported afterwards (a fresh worker
    imports them after this); a library already imported is set directly.
    """
    global _threads_limited
    if _threads_limited:
        return
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        import cv2  # noqa: PLC0415 — a worker of a pose-file batch may never need more

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a core dependency
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    _threads_limited = True


def pin_pose_workers() -> None:
    """Make pose estimation in this batch worker run in-process (COUNTLLM_POSE_WORKERS=1).

    Why: the batch already runs one input per core; each worker starting its own pose worker
    processes too would put N×2 processes on N cores. The serial engine (one input at a time,
    in the parent) keeps the pose pool, which is then the only parallel part.
    """
    os.environ[POSE_WORKERS_ENV] = "1"


def _pool_worker_init(parent_pid: int) -> None:
    guard_worker(parent_pid)
    limit_threads()
    pin_pose_workers()


@dataclass(frozen=True)
class EngineConfig:
    """Which engine, and how many inputs run at once (`workers`; None: Ray's cluster CPUs, else 1)."""

    name: str = "local"
    workers: int | None = None
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise InputError("--engine", f"unknown engine {self.name!r}; choose from {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise InputError("--workers", f"must be at least 1, got {self.workers}")
        if self.ray_address is not None and self.name != "ray":
            raise InputError("--ray-address", "only the ray engine connects to a cluster; add --engine ray")


class Engine:
    """Runs `fn` over items; a context manager that starts and stops its workers."""

    name = "serial"
    workers = 1

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (also those still busy: their results are not waited for)."""

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """`(i, fn(items[i]))` for every item, as each finishes (here: in order)."""
        for i, item in enumerate(items):
            yield i, fn(item)


class LocalPoolEngine(Engine):
    """`workers` spawned processes on this machine (see the module docstring)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalPoolEngine:
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_pool_worker_init, initargs=(os.getpid(),))
        return self

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        if self._pool is None:
            raise RuntimeError("use the engine as a context manager")
        with spawning_without_sigint():  # submitting is what starts the workers
            futures: dict[Future, int] = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=futures.__getitem__):
                yield futures[future], future.result()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # Busy workers are stopped, not waited for: an interrupted run must end now, and what they
        # were counting is simply counted again by the next run. (No public API for this before
        # Python 3.14's terminate_workers.)
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of "host:port" or "ray://host:port"; None for "auto" and other forms Ray resolves."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds on a cluster address nobody listens on: Ray itself retries its GCS
    connection for minutes, which looks like a hang."""
    target = _host_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=timeout_s).close()
    except OSError as exc:
        raise CountLLMError(address, f"cannot reach the Ray cluster ({exc.strerror or exc}); is `ray start --head` "
                            "running there, and is the port right?") from None


def _ray_call(fn: Callable[[Any], Any], item: Any) -> Any:
    """Body of a Ray task: one thread per task and pose in-process, as on the local pool."""
    limit_threads()
    pin_pose_workers()
    return fn(item)


class RayEngine(Engine):
    """Ray tasks on a cluster (`address`) or on a local instance started for this run."""

    name = "ray"

    def __init__(self, address: str | None, workers: int | None) -> None:
        self.address = address
        self.requested_workers = workers
        self.workers = workers or 1
        self._ray: Any = None
        self._started = False
        self._remote: Any = None

    def __enter__(self) -> RayEngine:
        try:
            import ray  # noqa: PLC0415 — an extra: only this engine needs it
        except ImportError:
            raise CountLLMError("--engine ray", f"Ray is not installed: {RAY_INSTALL_HINT}") from None
        self._ray = ray
        if not ray.is_initialized():
            self._init(ray)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = self.requested_workers or max(1, cpus)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_ray_call)
        return self

    def _init(self, ray: Any) -> None:
        quiet = {"include_dashboard": False, "configure_logging": True, "logging_level": logging.ERROR,
                 "log_to_driver": False}
        try:
            if self.address:
                check_reachable(self.address)
                ray.init(address=self.address, **quiet)
            else:  # a local instance for this run only, sized to the workers asked for
                ray.init(address="local", num_cpus=self.requested_workers or os.cpu_count() or 1, **quiet)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = self.address or "a local Ray instance"
            raise CountLLMError(where, f"cannot start or reach Ray: {' '.join(str(exc).split())}") from None
        self._started = True

    def map_unordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """At most `workers` tasks submitted at a time (Ray's pattern for bounding pending tasks),
        so an interruption has little to cancel and results stream back in completion order."""
        ray = self._ray
        if ray is None:
            raise RuntimeError("use the engine as a context manager")
        fn_ref = ray.put(fn)
        queue = iter(enumerate(items))
        pending: dict[Any, int] = {}

        def submit_next() -> None:
            for i, item in queue:
                pending[self._remote.remote(fn_ref, item)] = i
                return

        try:
            for _ in range(self.workers):
                submit_next()
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i = pending.pop(ref)
                    result = ray.get(ref)
                    submit_next()
                    yield i, result
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False


def make_engine(config: EngineConfig) -> Engine:
    """The engine `config` names; one local worker runs in this process."""
    if config.name == "ray":
        return RayEngine(config.ray_address, config.workers)
    workers = config.workers or 1
    return Engine() if workers == 1 else LocalPoolEngine(workers)


__all__ = ["ENGINES", "Engine", "EngineConfig", "LocalPoolEngine", "RayEngine", "limit_threads", "make_engine",
           "pin_pose_workers"]
