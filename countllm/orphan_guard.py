"""Worker processes that end when the process that started them is gone.

A SIGKILL of a batch (or of anything holding a pose pool) gives it no chance to stop its
workers, and nothing else tells them: a pool worker waits on a queue whose pipe it holds both
ends of, so it never sees end-of-file. Each worker therefore watches its parent on a daemon
thread and exits once it has been reparented.

Why the parent's pid is passed in rather than read with `os.getppid()` in the worker: a spawned
worker runs its initializer only after importing the project, seconds on a loaded machine. A
parent killed during those seconds has already been replaced by init (or a subreaper) when the
worker first asks, and a worker that took *that* as its parent would wait forever.
"""

from __future__ import annotations

import os
import signal
import threading
import time

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
