"""The agent: answers natural-language questions about one video by calling counters, the recognizer
and mined knowledge as tools (docs/design.md §9).

    from countllm.agents.ask import AgentSession
    AgentSession.open("workout.mp4").ask("how many squats after the first minute?")
"""

from .answer import INTENTS, AgentAnswer, SetCount, ToolCall
from .session import AgentSession, Planner
from .tools import VideoTools

__all__ = ["INTENTS", "AgentAnswer", "AgentSession", "Planner", "SetCount", "ToolCall", "VideoTools"]
