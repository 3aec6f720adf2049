"""One conversation about one video: `AgentSession` keeps the decoded inputs and every tool result.

Why a session: the first question about a video pays for decoding, pose estimation and the
counters; a follow-up ("and after the first minute?", "was I slowing down?") reuses all of it —
the tools memoise their results and time ranges filter cycles already found — so it is answered
in milliseconds. The HTTP server keeps a few sessions keyed by path and modification time for
the same reason.

    session = AgentSession.open("workout.mp4")
    session.ask("how many squats?").count
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from countllm.media import DecodeOptions, MediaInputs

from .answer import AgentAnswer
from .planner_rules import RulesPlanner
from .tools import VideoTools


class Planner(Protocol):
    """Anything that answers a question with the tools of one video."""

    name: str

    def answer(self, tools: VideoTools, question: str) -> AgentAnswer: ...


@dataclass
class AgentSession:
    """A video, its tools (with their memo) and the planner that answers (default: the offline rules)."""

    tools: VideoTools
    planner: Planner = field(default_factory=RulesPlanner)
    history: list[AgentAnswer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: str | Path, options: DecodeOptions | None = None, planner: Planner | None = None,
             **tool_options: Any) -> AgentSession:
        """Check that `path` exists (InputError otherwise); nothing is decoded before the first question."""
        tools = VideoTools(MediaInputs.open(path, options), **tool_options)
        return cls(tools=tools, planner=planner or RulesPlanner())

    @property
    def inputs(self) -> MediaInputs:
        return self.tools.inputs

    def ask(self, question: str) -> AgentAnswer:
        """Answer one question (thread-safe: one question at a time per session)."""
        with self._lock:
            answer = self.planner.answer(self.tools, question.strip())
            self.history.append(answer)
            return answer
