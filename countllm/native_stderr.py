"""Capture what native libraries print straight to file descriptor 2.

decord's C++ logger and MediaPipe's absl/TFLite logs bypass `sys.stderr` (and ignore the
usual environment switches), so redirecting Python's stream is not enough. Inside
`capture_native_stderr`, fd 2 goes to a temp file; on exit, lines matching `known_noise`
(messages we have read and know to be harmless) are dropped and everything else is written
back, so nothing unexpected is ever swallowed. On an exception nothing is written back: the
caller turns the captured text into its error message.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def capture_native_stderr(known_noise: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """Yield a list that holds the captured text (one string) after the block ends."""
    captured: list[str] = []
    sys.stderr.flush()
    ok = False
    with _LOCK, tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
            ok = True
        finally:
            sys.stderr.flush()  # Python-level writes still buffered belong to the captured block
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", "replace"))
            if ok:
                kept = [line for line in captured[0].splitlines(keepends=True)
                        if not any(noise in line for noise in known_noise)]
                sys.stderr.write("".join(kept))
