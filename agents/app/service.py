"""What the web page and its API do, with no Gradio in sight: count a video, answer a question about it.

Why a session per upload: the first look at a video pays for decoding and pose estimation; the
page then draws, lists sets and answers follow-up questions about the same file. So the service
keeps one `AgentSession` per uploaded file and the whole-video count beside it: `/count`, the
page and the agent all read the same decoded inputs, and a second question costs milliseconds.
The key is the resolved path and a digest of the bytes, the digest remembered per (path, size,
modification time): Gradio rewrites an upload's file each time a client sends it again (same
folder, new mtime), so a key of path and mtime alone would open every API call afresh, while a
file rewritten with other bytes is still opened anew. One lock per file serialises the work on
it (a session's memo is not built for concurrent fills); different files are served in parallel.

Gradio hands an upload over as a path in its own cache folder. The JSON and messages name the
file as uploaded (its base name), not that folder.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from countllm.errors import CountLLMError, InputError
from countllm.types import CountResult

SETS_QUESTION = "What sets did I do?"


@dataclass
class Entry:
    """One uploaded file: its agent session, the whole-video count once made, and the lock over both."""

    session: Any  # countllm.agents.ask.AgentSession (imported lazily: it pulls in the counters)
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: CountResult | None = None
    notes: list[str] = field(default_factory=list)  # what was done to the upload (a re-encoding), said in the JSON


def open_session(path: Path) -> Any:
    """The agent's session on `path`, its header read now so a bad upload fails here (InputError)."""
    from countllm.agents.ask import AgentSession  # noqa: PLC0415 — counters and models on demand
    from countllm.agents.serve_agent import readable  # noqa: PLC0415

    session = AgentSession.open(path)
    readable(session.inputs)
    return session


REENCODED = ("{name} could not be indexed as it was (a webcam recording carries no duration); it was "
             "re-encoded with PyAV at {fps:g} fps and that copy was counted")


def open_upload(path: Path, workdir: Path) -> tuple[Any, list[str]]:
    """`open_session`, or, for a video decord cannot index but FFmpeg decodes (a browser's webcam
    recording), a session on an H.264 copy (see uploads.py) and the note that says so."""
    try:
        return open_session(path), []
    except InputError as exc:
        if path.suffix.lower() in (".npy", ".npz") or path.stat().st_size == 0:
            raise
        from .uploads import output_fps_of, reencode  # noqa: PLC0415 — PyAV on demand

        try:
            copy = reencode(path, workdir / "reencoded" / path.parent.name / f"{path.stem}.mp4")
        except Exception:  # PyAV cannot read it either: decord's error is the one to show
            raise exc from None
        return open_session(copy), [REENCODED.format(name=path.name, fps=output_fps_of(copy))]


def display_name(path: str | Path) -> str:
    return Path(path).name


def error_message(exc: CountLLMError, path: str | Path | None) -> str:
    """The error as one line naming the upload by its own name rather than Gradio's cache path."""
    text = exc.one_line()
    if path is not None:
        text = text.replace(str(path), display_name(path))
    return text


class AppService:
    """Counts and answers for the page and its API; `size` sessions kept, least recently used dropped."""

    def __init__(self, workdir: Path, size: int = 4, opener: Callable[[Path], Any] | None = None) -> None:
        """`opener(path)` makes a session (default: `open_upload`, which re-encodes webcam recordings)."""
        if size < 1:
            raise ValueError(f"the session cache needs size >= 1, got {size}")
        self.workdir, self.size, self.opener = Path(workdir), size, opener
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._digests: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()
        self.opened = self.hits = 0

    # -- sessions
    @staticmethod
    def _path(video: str | Path | None) -> Path:
        if video is None or not str(video).strip():
            raise InputError("video", "no video given: upload a video file or record one with the webcam")
        path = Path(video).resolve()
        if not path.is_file():
            raise InputError(display_name(path), "the upload is missing on the server; upload it again")
        return path

    @contextmanager
    def entry(self, video: str | Path | None) -> Iterator[Entry]:
        """The cached entry of this file (opened first if new), held under its lock."""
        path = self._path(video)
        key = (str(path), self._digest(path))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if entry is None:
            if self.opener is None:  # outside the cache lock: a bad file fails alone
                session, notes = open_upload(path, self.workdir)
            else:
                session, notes = self.opener(path), []
            entry = Entry(session=session, notes=notes)
            with self._lock:
                entry = self._entries.setdefault(key, entry)
                self._entries.move_to_end(key)
                self.opened += 1
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)  # an entry in use stays alive through its caller
        with entry.lock:
            yield entry

    def _digest(self, path: Path) -> str:
        """The file's SHA-256, computed once per (path, size, mtime); about 1 s a GB, once per upload."""
        stat = path.stat()
        stamp = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            known = self._digests.get(stamp)
        if known is None:
            sha = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    sha.update(block)
            known = sha.hexdigest()
            with self._lock:
                self._digests[stamp] = known
                while len(self._digests) > 64 * self.size:
                    self._digests.pop(next(iter(self._digests)))
        return known

    # -- the API's two functions
    def count(self, video: str | Path | None) -> tuple[CountResult, dict[str, Any]]:
        """The whole-video count and its `countllm count --json` object."""
        with self.entry(video) as entry:
            if entry.count is None:
                from countllm.pipeline import CountOptions, count_inputs  # noqa: PLC0415

                entry.count = count_inputs(entry.session.inputs, CountOptions())
            result, notes = entry.count, entry.notes
        payload = result.to_json()
        payload.update(input=display_name(video), question=None)
        payload["notes"] = notes + payload["notes"]
        return result, payload

    def ask(self, video: str | Path | None, question: str | None) -> tuple[Any, dict[str, Any]]:
        """The agent's answer (an AgentAnswer) and its JSON object (`countllm ask --json`)."""
        question = (question or "").strip()
        if not question:
            raise InputError("question", "no question given: type one, e.g. 'how many squats after 0:10?'")
        with self.entry(video) as entry:
            answer, notes = entry.session.ask(question), entry.notes
        payload = answer.model_dump(mode="json")
        payload.update(input=display_name(video), notes=notes + payload["notes"])
        return answer, payload

    # -- what only the page shows
    def sets(self, video: str | Path | None) -> Any:
        """The agent's split of the workout into sets (its answer to SETS_QUESTION)."""
        with self.entry(video) as entry:
            return entry.session.ask(SETS_QUESTION)

    def count_plot(self, video: str | Path, result: CountResult) -> Path:
        from countllm.plot import plot_count  # noqa: PLC0415

        out = self._out_path(video, "count.png")
        return plot_count(result, out, title=f"{display_name(video)}: {result.count} repetitions")

    def answer_plot(self, video: str | Path, answer: Any) -> Path:
        from countllm.agents.ask.plot import plot_answer  # noqa: PLC0415

        with self.entry(video) as entry:
            signal = entry.session.tools.signal_result() or entry.count
        return plot_answer(answer, signal, self._out_path(video, "answer.png"))

    def write_json(self, video: str | Path, payload: dict[str, Any], kind: str) -> Path:
        """The JSON as a file to download, named after the upload (`squats.count.json`)."""
        out = self._out_path(video, f"{kind}.json")
        out.write_text(json.dumps(payload, indent=2) + "\n")
        return out

    def _out_path(self, video: str | Path, suffix: str) -> Path:
        """A fresh file per upload and kind: the folder is the upload's own cache folder name, so two
        uploads with the same name do not overwrite each other's downloads."""
        path = Path(video)
        folder = self.workdir / (path.parent.name or "upload")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{path.stem}.{suffix}"
