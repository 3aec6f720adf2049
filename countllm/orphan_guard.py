"""Worker processes that end when the process that started them is gone, and leave Ctrl-C to it.

A SIGKILL of a batch (or of anything holding a pose pool) gives it no chance to stop its
workers, and nothing else tells them: a pool worker waits on a queue whose pipe it holds both
ends of, so it never sees end-of-file. Each worker therefore watches its parent on a daemon
thread and exits once it has been reparented.

Why the parent's pid is passed in rather than read with `os.getppid()` in the worker: a spawned
worker runs its initializer only after importing the project, seconds on a loaded machine. A
parent killed during those seconds has already been replaced by init (or a subreaper) when the
worker first asks, and a worker that took *that* as its parent would wait forever.

Ctrl-C: a terminal sends SIGINT to the whole foreground group, workers included, but only the
parent should act on it (it saves, then stops the pool). A worker ignores SIGINT from its
initializer on, but one still importing when Ctrl-C comes would die with a KeyboardInterrupt
traceback on the user's terminal. So pools start workers inside `spawning_without_sigint()`:
an ignored signal stays ignored across fork and exec, and Python keeps a SIGINT that was
ignored at start-up ignored, so such a worker never sees Ctrl-C at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

POLL_S = 0.5


def _exit_when_orphaned(parent_pid: int, interval_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os._exit(1)


def guard_worker(parent_pid: int, interval_s: float = POLL_S) -> None:
    """Initializer body for a pool worker whose parent is `parent_pid` (the parent's `os.getpid()`).

    Ctrl-C is ignored here, since a terminal sends it to the whole foreground group and the
    parent alone decides how to stop (it saves first, then ends the pool). A worker whose parent
    is already gone exits at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid, interval_s), daemon=True,
                     name="exit-with-parent").start()


@contextlib.contextmanager
def spawning_without_sigint() -> Iterator[None]:
    """Ignore SIGINT in this process while worker processes are started in the block (see the
    module docstring); a Ctrl-C within the block is lost, so keep it to the submissions. Outside
    the main thread signal dispositions cannot be changed and the block runs as it is (the
    workers' initializer still ignores SIGINT once they are up)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
