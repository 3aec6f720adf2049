"""The rate limit of batch jobs: a token bucket on request starts."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Limits request *starts* to `rate` per second, with up to `burst` back to back.

    Why starts and not completions: providers count requests as they arrive, and a retry is a
    request too. `acquire` returns False if `stop` is set while waiting, so Ctrl-C is prompt.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate, self.capacity = rate, float(burst)
        self._tokens, self._last = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> bool:
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return True
                wait = (1.0 - self._tokens) / self.rate
            if stop.wait(wait):
                return False
