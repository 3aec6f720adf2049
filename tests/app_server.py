"""`countllm app` started through the console script on a free loopback port, for the app's tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

COUNTLLM = str(Path(sys.executable).with_name("countllm"))
INSTALL = "bash scripts/setup.sh installs the app extra (gradio)"


def require_gradio_client():
    """gradio_client, or a test failure (not a skip): the set-up installs the app extra."""
    try:
        import gradio_client
    except ImportError:
        pytest.fail(f"gradio is not installed; {INSTALL}", pytrace=False)
    return gradio_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(tmp: Path, timeout_s: float = 120.0) -> Iterator[str]:
    """Serve the page until the block ends; yields its URL. Gradio's uploads go under `tmp`."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tmp / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen([COUNTLLM, "app", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                pytest.fail(f"countllm app exited with {proc.returncode}: {log.read_text()[-2000:]}", pytrace=False)
            try:
                with urllib.request.urlopen(url + "config", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"countllm app did not answer within {timeout_s:.0f} s: {log.read_text()[-2000:]}",
                            pytrace=False)
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
