"""The one error hierarchy: every failure a user can act on is a `CountLLMError`.

Why one root: the CLI and every loop over items (eval, mining, batch counting) catch exactly
this class — print one line, or record the item as failed and go on — while anything else is a
bug and keeps its traceback. The subclasses say whose move it is:

- `InputError`: the user's input is unusable (missing/corrupt video, no person, bad array,
  malformed CSV row, bad option value). Fix the input.
- `ModelUnavailable`: a checkpoint, weights file or model folder is missing or corrupt, or an
  LLM server cannot be reached. The message names the path and the command that makes it.
- `ModelOutputError`: an LLM or the video-LLM answered something that does not parse. The
  message quotes the answer; no number is ever guessed from it.

Exit codes of every `countllm` subcommand (a contract, see `EXIT_*`): 0 all done; 2 usage or
input error, nothing done; 3 finished, but some items failed (recorded in the output).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # also what argparse uses for a bad command line
EXIT_PARTIAL = 3  # the run finished; some items failed and were recorded


class CountLLMError(Exception):
    """Root of every user-actionable error; `source` names the input, path or model at fault.

    Called as `CountLLMError(source, message)` or `CountLLMError(message)` (no source).
    """

    def __init__(self, source: str, message: str | None = None) -> None:
        if message is None:
            source, message = "", source
        self.source = str(source)
        self.message = str(message)
        super().__init__(f"{self.source}: {self.message}" if self.source else self.message)

    def one_line(self) -> str:
        """The error as a single line (messages may quote multi-line model output)."""
        return " ".join(str(self).split())


class InputError(CountLLMError, ValueError):
    """The input named by `source` cannot be used; `message` says why and what to do."""


class NoPersonError(InputError):
    """The pose estimator found nobody (or too few frames with somebody) in the video."""


class ModelUnavailable(CountLLMError, RuntimeError):
    """A model, checkpoint or weights file (or an LLM server) is missing, corrupt or unreachable.

    The message names the path (or URL) and the command that makes or installs it.
    """


class ModelOutputError(CountLLMError, ValueError):
    """A model answered text that does not follow the required format (quoted in the message)."""
