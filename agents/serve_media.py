"""Which video a chat message is about, and whether the server may read it (`--media-root`).

Why a root check at all: a served agent opens whatever path a request names, so without it
anyone who can reach the port can make the server read any file its user can. Every path —
from a `video_url` part or from the text — is resolved (`..` and every symlink, with
`Path.resolve()`) before it is compared with the resolved roots, and the session opens the
resolved path, so a symlink inside a root that points outside is refused as well. A path
outside is refused before anything about it is looked at, so the answer (403) says nothing
about whether it exists.

Where the video is: the `video_url` parts of the last user message (`file:///abs/path` or a
plain path), then local paths in its text ("how many squats in /data/x.mp4?"; a path with
spaces must be quoted). When the last user message names none, the most recent earlier user
message that does is used, so a chat client that resends the history can ask a follow-up ("and
how long was each rep?"). The question is the last user message's text with the path (and a
preposition just before it) taken out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from countllm.agents.serve_requests import MessageBody, RequestError
from countllm.errors import InputError
from countllm.pose.io import POSE_SUFFIXES

# What decord opens in practice, plus pose arrays (counted as videos here).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp")
_SUFFIX = "|".join(s.lstrip(".") for s in VIDEO_SUFFIXES + POSE_SUFFIXES)
_QUOTED = rf"(?P<quote>[\"'`])(?P<quoted>[^\"'`\n]+?\.(?:{_SUFFIX}))(?P=quote)"
_BARE = rf"(?P<bare>(?:file://)?[^\s\"'`<>()\[\]{{}},;]+?\.(?:{_SUFFIX}))(?=$|[\s\"'`<>()\[\]{{}},;:!?]|\.(?:\s|$))"
PATH_IN_TEXT = re.compile(f"{_QUOTED}|{_BARE}", re.IGNORECASE)
_LEADING_WORD = re.compile(r"(?:\b(?:in|of|from|on|for|about|at|with)\s+)?$", re.IGNORECASE)
HOW_TO_ATTACH = ("attach a video: a content part {\"type\": \"video_url\", \"video_url\": {\"url\": "
                 "\"file:///abs/path.mp4\"}}, or a local path in the text (e.g. 'how many squats in /data/x.mp4?'); "
                 f"videos or pose files ({', '.join(VIDEO_SUFFIXES + POSE_SUFFIXES)})")


@dataclass(frozen=True)
class VideoQuestion:
    """The question of the last user message and the video it is about (as the client wrote it)."""

    question: str
    video: str


@dataclass(frozen=True)
class MediaRoots:
    """The directories a request may read; resolved once, at start."""

    roots: tuple[Path, ...]

    @classmethod
    def of(cls, dirs: Sequence[str | Path]) -> MediaRoots:
        """Resolved roots; InputError naming --media-root for one that is not a directory."""
        resolved = []
        for d in dirs or (Path.cwd(),):
            path = Path(d).expanduser().resolve()
            if not path.is_dir():
                raise InputError(f"--media-root {d}", "not a directory; pass a folder the served videos are in")
            resolved.append(path)
        return cls(tuple(dict.fromkeys(resolved)))

    def resolve(self, given: str) -> Path:
        """The resolved path of a video named in a request; RequestError 403 when outside every root.

        A relative path is taken under the first root where it exists (else under the first root).
        """
        path = Path(given).expanduser()
        if not path.is_absolute():
            path = next((r / path for r in self.roots if (r / path).exists()), self.roots[0] / path)
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in self.roots):
            raise RequestError(403, f"{given}: outside the folders this server reads (--media-root); "
                               "move the file under one, or restart the server with another --media-root",
                               "messages", "media_outside_root")
        return resolved


def _url_path(url: str) -> str:
    """A video_url's local path: file:// URLs and plain paths; any other scheme is a 400."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise RequestError(400, f"video_url {url!r}: a file URL must name this machine (file:///abs/path)",
                               "messages")
        return unquote(parts.path)
    if parts.scheme and len(parts.scheme) > 1:  # one letter would be a Windows drive
        raise RequestError(400, f"video_url {url[:80]!r}: only local files are read (file:///abs/path.mp4 "
                           "under --media-root); http(s) and data URLs are not fetched", "messages")
    return url


def _paths_in_text(text: str) -> tuple[list[str], str]:
    """(paths named in the text, the text without them)."""
    paths, kept, last = [], [], 0
    for match in PATH_IN_TEXT.finditer(text):
        found = match.group("quoted") or match.group("bare")
        paths.append(_url_path(found) if found.lower().startswith("file://") else found)
        before = text[last:match.start()]
        kept.append(before[:_LEADING_WORD.search(before).start()])
        last = match.end()
    kept.append(text[last:])
    question = re.sub(r"\s+([?.!,])", r"\1", " ".join("".join(kept).split()))
    return paths, question


def _videos(message: MessageBody) -> tuple[list[str], str]:
    in_text, question = _paths_in_text(message.text())
    return [_url_path(u) for u in message.video_urls()] + in_text, question


def video_question(messages: Sequence[MessageBody]) -> VideoQuestion:
    """The last user message's question and its video; RequestError 400 when none or several."""
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise RequestError(400, f"no user message; {HOW_TO_ATTACH}", "messages")
    videos, question = _videos(users[-1])
    for earlier in reversed(users[:-1]):
        if videos:
            break
        videos = _videos(earlier)[0]
    distinct = list(dict.fromkeys(videos))
    if not distinct:
        raise RequestError(400, f"no video in the message; {HOW_TO_ATTACH}", "messages")
    if len(distinct) > 1:
        raise RequestError(400, f"one video per question, got {len(distinct)}: {', '.join(distinct)[:200]}",
                           "messages")
    return VideoQuestion(question, distinct[0])
