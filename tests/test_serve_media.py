"""Which video a chat message names, the --media-root check, and the agent's session cache (no HTTP)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from countllm.agents.serve_agent import SessionCache
from countllm.agents.serve_media import MediaRoots, video_question
from countllm.agents.serve_requests import MessageBody, RequestError
from countllm.errors import InputError


def _user(content: str | list) -> MessageBody:
    return MessageBody(role="user", content=content)


def _part(url: str) -> dict:
    return {"type": "video_url", "video_url": {"url": url}}


TEXTS = [  # (message text, video found, question left)
    ("how many squats in /data/x.mp4?", "/data/x.mp4", "how many squats?"),
    ("/data/x.mp4 how many squats", "/data/x.mp4", "how many squats"),
    ("How many reps after the first minute of clips/set_1.MOV.", "clips/set_1.MOV",
     "How many reps after the first minute."),
    ("when did I rest in 'my videos/day 1.mp4'?", "my videos/day 1.mp4", "when did I rest?"),
    ("count file:///data/a%20b.npz please", "/data/a b.npz", "count please"),
    ("was I slowing down (pose.npy)?", "pose.npy", "was I slowing down ()?"),
    ("how many squats?", None, None),
    ("how many in x.mp4s", None, None),
]


@pytest.mark.parametrize("text,video,question", TEXTS, ids=[t[0][:40] for t in TEXTS])
def test_paths_in_the_text(text, video, question):
    if video is None:
        with pytest.raises(RequestError, match="no video in the message.*video_url") as err:
            video_question([_user(text)])
        assert err.value.status == 400
        return
    asked = video_question([_user(text)])
    assert (asked.video, asked.question) == (video, question)


def test_video_url_parts_and_the_question():
    asked = video_question([_user([{"type": "text", "text": "how many squats?"}, _part("file:///abs/x.mp4")])])
    assert (asked.video, asked.question) == ("/abs/x.mp4", "how many squats?")
    assert video_question([_user([_part("/abs/y.npy")])]).video == "/abs/y.npy"  # a plain path as the url


def test_a_follow_up_uses_the_video_of_an_earlier_user_message():
    messages = [_user("how many squats in /v/a.mp4?"), MessageBody(role="assistant", content="6 squats."),
                _user("and how long was each rep?")]
    asked = video_question(messages)
    assert (asked.video, asked.question) == ("/v/a.mp4", "and how long was each rep?")


@pytest.mark.parametrize("content,words", [
    ([_part("https://example.com/x.mp4")], "only local files"),
    ([_part("file://otherhost/x.mp4")], "this machine"),
    ("compare /a.mp4 and /b.mp4", "one video per question, got 2"),
])
def test_unusable_video_references_are_400s(content, words):
    with pytest.raises(RequestError, match=words) as err:
        video_question([_user(content)])
    assert err.value.status == 400


def test_the_same_video_twice_is_one_video():
    assert video_question([_user([{"type": "text", "text": "squats in /a.mp4?"}, _part("file:///a.mp4")])]).video \
        == "/a.mp4"


# --- --media-root ---------------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "in.npy").write_bytes(b"x")
    (outside / "secret.npy").write_bytes(b"x")
    (root / "link.npy").symlink_to(outside / "secret.npy")
    (root / "dirlink").symlink_to(outside, target_is_directory=True)
    return {"root": root, "outside": outside}


def test_paths_inside_the_root_resolve(tree):
    roots = MediaRoots.of([tree["root"]])
    assert roots.resolve(str(tree["root"] / "sub" / "in.npy")) == (tree["root"] / "sub" / "in.npy").resolve()
    assert roots.resolve("sub/in.npy") == (tree["root"] / "sub" / "in.npy").resolve()  # relative: under the root
    assert roots.resolve(str(tree["root"] / "missing.mp4")).name == "missing.mp4"  # the agent says it is missing


@pytest.mark.parametrize("given", ["{outside}/secret.npy", "{root}/link.npy", "{root}/dirlink/secret.npy",
                                   "{root}/../outside/secret.npy", "../outside/secret.npy", "/etc/passwd.npy",
                                   "{outside}/does-not-exist.mp4"])
def test_paths_outside_the_root_are_403s(tree, given):
    path = given.format(**tree)
    with pytest.raises(RequestError, match=r"outside the folders this server reads \(--media-root\)") as err:
        MediaRoots.of([tree["root"]]).resolve(path)
    assert err.value.status == 403 and err.value.code == "media_outside_root"
    assert str(tree["outside"]) not in err.value.message or path.startswith(str(tree["outside"]))  # no target leak


def test_several_roots_and_a_bad_root(tree, tmp_path):
    roots = MediaRoots.of([tree["root"], tree["outside"]])
    assert roots.resolve(str(tree["root"] / "link.npy")) == (tree["outside"] / "secret.npy").resolve()
    with pytest.raises(InputError, match="--media-root .*not a directory"):
        MediaRoots.of([tmp_path / "nope"])
    assert MediaRoots.of([]).roots == (Path.cwd().resolve(),)


# --- the session cache ----------------------------------------------------------------------------

class Session:
    """Records its questions and whether two ever overlapped."""

    def __init__(self, path: Path) -> None:
        self.path, self.asked, self.busy, self.overlapped = path, [], False, False

    def ask(self, question: str) -> str:
        self.overlapped |= self.busy
        self.busy = True
        time.sleep(0.02)
        self.asked.append(question)
        self.busy = False
        return question


def _file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"x")
    return path


def test_a_follow_up_reuses_the_session_until_the_file_changes(tmp_path):
    opened: list[Session] = []
    cache = SessionCache(lambda p: opened.append(Session(p)) or opened[-1], size=2)
    a = _file(tmp_path, "a.npy")
    cache.ask(a, "q1")
    cache.ask(a, "q2")
    assert len(opened) == 1 and opened[0].asked == ["q1", "q2"] and (cache.opened, cache.hits) == (1, 1)
    os.utime(a, ns=(time.time_ns(), a.stat().st_mtime_ns + 10**9))  # rewritten in place
    cache.ask(a, "q3")
    assert len(opened) == 2 and opened[1].asked == ["q3"]


def test_least_recently_used_sessions_are_dropped(tmp_path):
    opened: list[Path] = []
    cache = SessionCache(lambda p: opened.append(p) or Session(p), size=2)
    a, b, c = (_file(tmp_path, f"{n}.npy") for n in "abc")
    for path in (a, b, a, c, a, b):
        cache.ask(path, "q")
    assert [p.name for p in opened] == ["a.npy", "b.npy", "c.npy", "b.npy"]  # b was the oldest when c came


def test_a_failed_open_is_not_cached_and_a_missing_file_reaches_the_factory(tmp_path):
    calls: list[Path] = []

    def factory(path: Path) -> Session:
        calls.append(path)
        raise InputError(str(path), "cannot read this")

    cache = SessionCache(factory)
    for path in (_file(tmp_path, "bad.npy"), _file(tmp_path, "bad.npy"), tmp_path / "missing.npy"):
        with pytest.raises(InputError, match="cannot read this"):
            cache.ask(path, "q")
    assert len(calls) == 3 and cache.opened == 0


def test_questions_about_one_video_are_serialised(tmp_path):
    sessions: list[Session] = []
    cache = SessionCache(lambda p: sessions.append(Session(p)) or sessions[-1])
    a = _file(tmp_path, "a.npy")
    threads = [threading.Thread(target=cache.ask, args=(a, f"q{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(sessions) == 1 and len(sessions[0].asked) == 4 and not sessions[0].overlapped
