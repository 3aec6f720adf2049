"""The agent as the served model `countllm-agent`: a chat message about a video, answered by a session.

Why a session cache: opening a video (decode, pose) is most of an answer's cost and a
follow-up question reuses it, so the server keeps the last few `AgentSession`s keyed by
(resolved path, modification time): the same file asked about again is fast, a file rewritten
in place is opened afresh. Agent calls are CPU-bound and blocking, so the route runs in a
worker thread; one lock per session serialises the questions about one video (a session's
caches are not built for concurrent fills) while different videos are answered in parallel.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from countllm.agents.llm.base import Completion
from countllm.agents.serve_media import MediaRoots, video_question
from countllm.agents.serve_requests import ChatBody, check_n
from countllm.media import MediaInputs

AGENT_MODEL = "countllm-agent"
DEFAULT_QUESTION = "How many repetitions are in this video?"


class AnswerLike(Protocol):
    """What the route reads of `countllm.agents.ask.AgentAnswer`."""

    answer: str

    def model_dump_json(self) -> str: ...


class SessionLike(Protocol):
    def ask(self, question: str) -> AnswerLike: ...


AgentFactory = Callable[[Path], SessionLike]  # opens a session; InputError on a bad video


def default_agent_factory() -> AgentFactory:
    """`AgentSession.open` of the real agent, which also reads the file's header once (see `readable`)."""
    from countllm.agents.ask import AgentSession  # noqa: PLC0415 — pulls in the counters and models

    def open_checked(path: Path) -> SessionLike:
        session = AgentSession.open(path)
        readable(session.inputs)
        return session

    return open_checked


def readable(inputs: MediaInputs) -> None:
    """InputError now if the file cannot be read at all, so a bad video is a 400, not an answer.

    Why here: a corrupt upload is then refused when its session opens, before any question is
    planned, and a failed open is not cached. A pose file is loaded (the session keeps it); a
    video's header is probed (one decoded frame). Errors found later (nobody in the video) are
    InputErrors from `ask` and become 400s the same way.
    """
    if inputs.is_pose_file:
        inputs.pose()
    else:
        from countllm.video.decode import probe  # noqa: PLC0415 — decord on demand

        probe(inputs.path, inputs.options.fps)


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    session: SessionLike | None = None


class SessionCache:
    """An LRU of agent sessions keyed by (resolved path, mtime); counts hits and opens for tests and logs."""

    def __init__(self, factory: AgentFactory, size: int = 8) -> None:
        if size < 1:
            raise ValueError(f"the session cache needs size >= 1, got {size}")
        self.factory, self.size = factory, size
        self._slots: OrderedDict[tuple[str, int], _Slot] = OrderedDict()
        self._lock = threading.Lock()
        self.opened = self.hits = 0

    def _slot(self, key: tuple[str, int]) -> _Slot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
                while len(self._slots) > self.size:
                    self._slots.popitem(last=False)  # a session in use stays alive through its caller
            self._slots.move_to_end(key)
            return slot

    def _forget(self, key: tuple[str, int], slot: _Slot) -> None:
        with self._lock:
            if self._slots.get(key) is slot:
                del self._slots[key]

    def ask(self, path: Path, question: str) -> AnswerLike:
        """Answer with the cached session of this file, opening it first if needed."""
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:  # missing or unreadable: the agent's own open says so in its words
            return self.factory(path).ask(question)
        slot = self._slot(key)
        with slot.lock:
            if slot.session is None:
                try:
                    slot.session = self.factory(path)
                except BaseException:
                    self._forget(key, slot)
                    raise
                self.opened += 1
            else:
                self.hits += 1
            return slot.session.ask(question)


@dataclass
class AgentRoute:
    """Answers a chat body addressed to `countllm-agent`."""

    sessions: SessionCache
    roots: MediaRoots
    name: str = AGENT_MODEL

    def complete(self, body: ChatBody) -> Completion:
        """The answer as a Completion: the answer JSON with json_object, else its one sentence.

        RequestError 400/403 for a message without a usable video; InputError for a bad video.
        """
        check_n(body)
        asked = video_question(body.messages)
        path = self.roots.resolve(asked.video)
        answer = self.sessions.ask(path, asked.question or DEFAULT_QUESTION)
        text = answer.model_dump_json() if body.json_mode else answer.answer
        return Completion(text, self.name, None, None, {"finish_reason": "stop"})
