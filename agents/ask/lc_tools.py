"""The video tools as langchain tools: the same functions, described by their own docstrings.

`StructuredTool.from_function(parse_docstring=True)` reads each method's Google-style docstring,
so the description and argument help a chat model sees are exactly what a Python user reads in
`agents/ask/tools.py`; nothing is written twice. A tool returns its report as JSON text (what a
chat model can read); a tool that fails returns the one-line error instead of raising, so the
model can correct its call (a bad method name) or tell the user (nobody in the video).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from countllm.errors import CountLLMError

from .tools import VideoTools, report_json


def _as_json_tool(method: Callable[..., Any]) -> Callable[..., str]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> str:
        try:
            return json.dumps(report_json(method(*args, **kwargs)))
        except (CountLLMError, ValueError) as exc:
            text = exc.one_line() if isinstance(exc, CountLLMError) else str(exc)
            return json.dumps({"error": text})

    call.__annotations__ = {**method.__annotations__, "return": str}
    return call


def langchain_tools(tools: VideoTools) -> list[Any]:
    """One `StructuredTool` per public tool of `tools` (bound to its video)."""
    from langchain_core.tools import StructuredTool  # noqa: PLC0415 — langchain on demand

    return [StructuredTool.from_function(_as_json_tool(method), name=method.__name__, parse_docstring=True)
            for method in tools.public_tools()]
