"""`countllm app` started through the console script on a free loopback port, for the app's tests."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
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


class _Pipe(io.RawIOBase):
    """A write-only sink that cannot seek: the WebM muxer then writes no duration and no cues."""

    def __init__(self, file) -> None:
        self.file = file

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data) -> int:
        return self.file.write(data)


def webcam_like_webm(source: Path, target: Path, seconds: float, width: int = 240) -> Path:
    """The first `seconds` of `source` as VP8 WebM streamed the way a browser's MediaRecorder writes it
    (no duration, no frame count: decord refuses it), at `width` px wide to keep the test fast.

    Written by a fresh interpreter: once decord's own FFmpeg libraries are loaded in a process,
    PyAV's libvpx encoder no longer opens there (EINVAL)."""
    code = ("import sys; from pathlib import Path; from tests.app_server import _write_webm; "
            "_write_webm(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))")
    subprocess.run([sys.executable, "-c", code, str(source), str(target), str(seconds), str(width)], check=True,
                   cwd=Path(__file__).resolve().parents[1], timeout=120)
    return target


def _write_webm(source: Path, target: Path, seconds: float, width: int) -> None:
    import av

    with av.open(str(source)) as inp, target.open("wb") as sink, av.open(_Pipe(sink), mode="w", format="webm") as out:
        stream_in = inp.streams.video[0]
        stream = out.add_stream("libvpx", rate=round(float(stream_in.average_rate)))
        stream.width, stream.height = width, 2 * round(width * stream_in.height / stream_in.width / 2)
        stream.pix_fmt = "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8", "b": "400k"}
        for i, frame in enumerate(inp.decode(stream_in)):
            if float(frame.pts * frame.time_base) > seconds:
                break
            frame = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, stream.codec_context.framerate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
