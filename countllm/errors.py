"""Errors a user can act on.

Raised for bad input (a file that cannot be read, a video with no person, an array of the
wrong shape). The CLI prints them as one line and exits non-zero; anything else is a bug and
is allowed to show its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """The input named by `source` cannot be used; `message` says why and what to do."""

    def __init__(self, source: str, message: str) -> None:
        self.source = str(source)
        self.message = message
        super().__init__(f"{self.source}: {message}")


class NoPersonError(InputError):
    """The pose estimator found nobody (or too few frames with somebody) in the video."""
