"""The langchain planner: a tool-calling agent (langchain 1.x `create_agent`) over any chat model.

The chat model reads the question, calls the video tools (`lc_tools`) as it sees fit and ends
by calling `FinalAnswer` (langchain's `ToolStrategy` structured output) with the intent, the
exercise and one sentence. Everything numeric in the `AgentAnswer` is then taken from the tool
results recorded in `VideoTools.trace`, not from the model's text: the count is the last count
the model asked for, reconciled with a second counter exactly as the offline planner does; a
sentence that does not state that count is replaced by the standard one, with a note.

Connection settings follow `countllm mine` (`openai_backend.resolve_endpoint`: flags, then
COUNTLLM_LLM_BASE_URL / COUNTLLM_LLM_API_KEY / COUNTLLM_LLM_MODEL). Token counting is never
called (tiktoken would download its encodings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from countllm import labels
from countllm.errors import CountLLMError, ModelOutputError

from . import phrasing as say
from .answer import AgentAnswer, Intent, SetCount
from .reconcile import reconcile_count
from .tools import VideoTools

SYSTEM_PROMPT = """You answer questions about the repetitions in ONE workout video, using the tools.
Rules:
- Never guess a number: every count, time or exercise you state must come from a tool result.
- For a count, call `count` (method "auto" unless the user names another), with the exercise and the
  time range (start_s/end_s in seconds) the question gives.
- "when did I rest" -> `localize`; "what exercise" -> `recognize`; sets or several exercises ->
  `split_sets`; rep durations or slowing down -> `tempo`.
- If the exercise asked about is not in the video, say so ("I see no burpees; I see 12 squats").
- A question that is not about the repetitions in this video gets the intent "unsupported".
Finish by calling FinalAnswer with the intent, the exercise (or null) and one sentence."""

RECURSION_LIMIT = 16  # model turns + tool calls before the agent gives up


class FinalAnswer(BaseModel):
    """The final answer to the user's question about the video."""

    intent: Intent = Field(description="count, recognize, locate, tempo, sets, summary or unsupported")
    exercise: str | None = Field(default=None, description="the exercise the answer is about, if any")
    answer: str = Field(description="one sentence answering the question, stating the tool results it rests on")


@dataclass
class LangchainPlanner:
    """See the module doc. `model`: any langchain chat model that supports tool calling."""

    model: Any
    name: str = "langchain"
    endpoint: str = ""  # the server URL, named in connection errors

    @classmethod
    def from_options(cls, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                     timeout_s: float = 120.0) -> LangchainPlanner:
        """A ChatOpenAI client for an OpenAI-compatible server, configured as `countllm mine` is."""
        from langchain_openai import ChatOpenAI  # noqa: PLC0415 — langchain on demand

        from countllm.agents.llm.openai_backend import resolve_endpoint  # noqa: PLC0415

        try:
            endpoint = resolve_endpoint(model, base_url, api_key, timeout_s)
        except ValueError as exc:
            raise CountLLMError("options", str(exc)) from None
        chat = ChatOpenAI(model=endpoint.model, base_url=endpoint.base_url, api_key=endpoint.api_key,
                          timeout=endpoint.timeout_s, max_retries=1, temperature=0)
        return cls(model=chat, name=endpoint.model, endpoint=endpoint.base_url or "api.openai.com")

    def answer(self, tools: VideoTools, question: str) -> AgentAnswer:
        from langchain.agents import create_agent  # noqa: PLC0415
        from langchain.agents.structured_output import ToolStrategy  # noqa: PLC0415

        from .lc_tools import langchain_tools  # noqa: PLC0415

        tools.trace = []
        agent = create_agent(self.model, langchain_tools(tools), system_prompt=SYSTEM_PROMPT,
                             response_format=ToolStrategy(FinalAnswer))
        try:
            state = agent.invoke({"messages": [{"role": "user", "content": question}]},
                                 config={"recursion_limit": RECURSION_LIMIT})
        except CountLLMError:
            raise
        except Exception as exc:  # the chat client's and langgraph's own errors, made one line
            where = f"{self.name} at {self.endpoint}" if self.endpoint else self.name
            raise _one_line_error(exc, where) from None
        final = state.get("structured_response")
        if not isinstance(final, FinalAnswer):
            raise ModelOutputError(self.name, "the chat model ended without calling FinalAnswer; "
                                   "use a model with tool calling, or the offline planner (--backend local)")
        return self._fill(tools, question, final)

    def _fill(self, tools: VideoTools, question: str, final: FinalAnswer) -> AgentAnswer:
        """The answer schema from the model's verdict plus the recorded tool results."""
        calls = list(tools.trace)
        notes: list[str] = []
        exercise = labels.normalize(final.exercise) if final.exercise else None
        answer = AgentAnswer(answer=final.answer, intent=final.intent, exercise=exercise or final.exercise,
                             planner=self.name, question=question, input=tools.inputs.source)
        counts = [c for c in calls if c.name == "count"]
        if final.intent == "count" and counts:
            args = counts[-1].args
            rec = reconcile_count(tools, args.get("action"), args.get("start_s"), args.get("end_s"))
            answer.count, answer.confidence = rec.count, rec.confidence
            answer.cycles, answer.rests = rec.primary.cycles, rec.primary.rests
            if rec.primary.cycles:
                answer.counts = [SetCount(exercise=exercise, count=rec.count, start_s=rec.primary.cycles[0][0],
                                          end_s=rec.primary.cycles[-1][1])]
            notes += rec.notes
            if not re.search(rf"\b{rec.count}\b", final.answer):
                notes.append(f"the chat model's sentence did not state the counted {rec.count}: {final.answer!r}")
                answer.answer = (f"I counted {say.counted(rec.count, exercise)}"
                                 f"{say.range_phrase(args.get('start_s'), args.get('end_s'))}.")
            answer.answer += say.uncertainty(rec.confidence)
        elif final.intent == "count":
            notes.append("the chat model answered a count without calling the count tool; no count is reported")
            answer.answer = "I could not count that: the planner did not use the counting tool."
        sets = tools.result_of("split_sets")
        if sets is not None and sets.available and final.intent in ("sets", "summary"):
            answer.counts = [SetCount(exercise=s.exercise, count=s.count, start_s=s.start_s, end_s=s.end_s)
                             for s in sets.sets]
        spans = tools.result_of("localize")
        if final.intent == "locate" and spans is not None:
            answer.rests = spans.rests
        answer.tools = list(tools.trace)
        answer.notes = notes
        return answer


def _one_line_error(exc: Exception, model: str) -> CountLLMError:
    """A chat client or agent failure as our error type (openai's exceptions mapped as for mining)."""
    try:
        import openai  # noqa: PLC0415

        from countllm.agents.llm.openai_backend import translate_error  # noqa: PLC0415

        if isinstance(exc, openai.OpenAIError):
            return translate_error(exc, model)
    except ImportError:
        pass
    name = type(exc).__name__
    if isinstance(exc, ValueError) and name == "JSONDecodeError":
        return ModelOutputError(model, "the chat server answered a body that is not JSON; is --base-url an "
                                "OpenAI-compatible /v1 endpoint?")
    if name == "GraphRecursionError":
        return ModelOutputError(model, f"the chat model made more than {RECURSION_LIMIT} steps without a final "
                                "answer; ask a simpler question or use the offline planner")
    return ModelOutputError(model, f"the agent failed ({name}: {' '.join(str(exc).split())[:200]})")
