"""Pool workers end once their parent is gone, also when it died before they were set up, and a
worker still starting never sees Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from countllm.orphan_guard import spawning_without_sigint

REPO = Path(__file__).resolve().parents[1]
WORKER = ("import os, sys, time; from countllm.orphan_guard import guard_worker; "
          "guard_worker(int(sys.argv[1]), interval_s=0.05); print(os.getpid(), flush=True); time.sleep(60)")
# The middle process starts a guarded worker, passes its pid up, and waits to be killed.
MIDDLE = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())]); "
          "import time; time.sleep(60)")


def process_ended(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it has exited: init reaps it when it gets to it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def wait_ended(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process_ended(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_worker_whose_parent_already_died_exits_at_once() -> None:
    """The race a loaded machine hits: the parent is killed while the worker is still importing.

    The worker's real parent is this test process; telling it another pid stands for "the parent
    you were started by is not your parent any more".
    """
    not_my_parent = os.getpid() + 1_000_000
    run = subprocess.run([sys.executable, "-c", WORKER, str(not_my_parent)], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert run.returncode == 1 and run.stdout == "", run.stderr


def test_a_worker_exits_soon_after_its_parent_is_killed() -> None:
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, WORKER], stdout=subprocess.PIPE, text=True, cwd=REPO,
                              start_new_session=True)
    try:
        worker_pid = int(middle.stdout.readline())
        assert not process_ended(worker_pid)
        middle.kill()
        middle.wait(timeout=30)
        assert wait_ended(worker_pid, timeout_s=30), "the worker outlived its killed parent"
    finally:
        try:
            os.killpg(middle.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_process_started_in_the_block_ignores_ctrl_c_from_its_first_instruction() -> None:
    """Why not rely on the initializer: a worker still importing when Ctrl-C comes would print a
    KeyboardInterrupt traceback (seen under load in the batch Ctrl-C test)."""
    # A test run started in the background of a shell without job control inherits an ignored
    # SIGINT, and so would every child: give this process Python's usual Ctrl-C handler first.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        before = signal.getsignal(signal.SIGINT)
        probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
        with spawning_without_sigint():
            inside = subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True)
        outside = subprocess.Popen([sys.executable, "-c", probe], stdout=subprocess.PIPE, text=True)
        assert inside.communicate(timeout=30)[0].strip() == "True"
        assert outside.communicate(timeout=30)[0].strip() == "False"
        assert signal.getsignal(signal.SIGINT) is before  # this process's Ctrl-C is back as it was
    finally:
        signal.signal(signal.SIGINT, inherited)
