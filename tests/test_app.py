"""`countllm app`: `/count` and `/ask` through gradio_client against a server started here, bad uploads,
the page's handlers, the per-upload session cache, and the CLI's one-line errors.

The media are a synthetic 6-squat pose file (no decoding, so the suite stays fast) and three bad
uploads. These tests fail, not skip, without Gradio: the set-up installs it. The page in a real
browser is tests/test_app_browser.py (`bash scripts/test.sh -m browser`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from countllm.agents.app.service import AppService, open_session
from countllm.pipeline import count_file
from countllm.synthetic.skeleton import SyntheticConfig, make_sequence
from tests.app_server import COUNTLLM, require_gradio_client, running_app, webcam_like_webm

ROOT = Path(__file__).resolve().parents[1]
BAD = {"fake.mp4": b"this is not a video", "notes.txt": b"hello", "empty.mp4": b""}
BAD_WORDS = {"fake.mp4": "cannot be decoded as a video", "notes.txt": "cannot be decoded as a video",
             "empty.mp4": "is empty (0 bytes)"}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("app_media")
    np.save(folder / "squats.npy", make_sequence(SyntheticConfig(exercise="squat", n_reps=6)).pose.joints)
    for name, data in BAD.items():
        (folder / name).write_bytes(data)
    # The sample's first 9 s (3 squats) as a browser's webcam recording: WebM with no duration.
    webcam_like_webm(ROOT / "samples" / "squats.mp4", folder / "webcam.webm", seconds=9.0)
    return folder


@pytest.fixture(scope="module")
def gradio_client():
    return require_gradio_client()


@pytest.fixture(scope="module")
def client(gradio_client, tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("app_server")) as url:
        yield gradio_client.Client(url, verbose=False)


def _upload(gradio_client, path: Path):
    return gradio_client.handle_file(str(path))


# ------------------------------------------------------------------ through gradio_client
def test_the_api_is_count_and_ask(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/count", "/ask"}
    assert [p["parameter_name"] for p in endpoints["/ask"]["parameters"]] == ["video", "question"]


def test_count_is_the_count_json_object(client, gradio_client, media):
    got = client.predict(_upload(gradio_client, media / "squats.npy"), api_name="/count")
    want = count_file(media / "squats.npy").to_json()
    want.update(input="squats.npy", question=None)
    assert got == want
    assert got["count"] == 6 and len(got["cycles"]) == 6


def test_ask_answers_with_the_agent_json_and_follow_ups_are_fast(client, gradio_client, media):
    from countllm.agents.ask import AgentAnswer

    video = _upload(gradio_client, media / "squats.npy")
    answer = client.predict(video, "How many squats?", api_name="/ask")
    assert set(answer) == set(AgentAnswer.model_fields)
    AgentAnswer.model_validate(answer)
    assert answer["count"] == 6 and answer["intent"] == "count" and answer["input"] == "squats.npy"
    t0 = time.perf_counter()
    later = client.predict(video, "How many squats after 0:05?", api_name="/ask")
    assert later["count"] < 6 and later["question"] == "How many squats after 0:05?"
    assert time.perf_counter() - t0 < 5.0  # sent again, the same bytes: the session (counts and all) is reused


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_upload_is_a_one_line_message(client, gradio_client, media, name):
    for endpoint, args in (("/count", ()), ("/ask", ("How many squats?",))):
        with pytest.raises(gradio_client.exceptions.AppError) as raised:
            client.predict(_upload(gradio_client, media / name), *args, api_name=endpoint)
        message = str(raised.value)
        assert BAD_WORDS[name] in message and message.startswith(name), message
        assert "\n" not in message and "Traceback" not in message and "gradio" not in message.lower()


def test_a_webcam_recording_is_reencoded_and_counted(client, gradio_client, media):
    from countllm.errors import InputError
    from countllm.video.decode import probe

    with pytest.raises(InputError, match="broken metadata"):  # what decord alone says of it
        probe(media / "webcam.webm")
    got = client.predict(_upload(gradio_client, media / "webcam.webm"), api_name="/count")
    assert got["count"] == 3 and got["input"] == "webcam.webm" and 8.5 < got["duration_s"] < 9.5
    assert got["notes"][0].startswith("webcam.webm could not be indexed as it was") and "re-encoded" in got["notes"][0]
    answer = client.predict(_upload(gradio_client, media / "webcam.webm"), "How many squats?", api_name="/ask")
    assert answer["count"] == 3 and answer["notes"][0] == got["notes"][0]


def test_ask_without_a_question_says_so(client, gradio_client, media):
    with pytest.raises(gradio_client.exceptions.AppError, match="no question given"):
        client.predict(_upload(gradio_client, media / "squats.npy"), "  ", api_name="/ask")


# ------------------------------------------------------------------ the page's handlers, in process
def test_the_page_shows_a_count_its_plot_sets_rests_and_json(gradio_client, media, tmp_path):
    from countllm.agents.app.page import page_ask, page_count

    service = AppService(tmp_path / "work")
    summary, plot, sets, download, payload = page_count(service, str(media / "squats.npy"))
    assert summary.startswith("## 6 repetitions") and "squats.npy" in summary
    assert Path(plot).stat().st_size > 10_000 and plot.endswith(".png")
    assert "### Sets" in sets and "### Rests" in sets
    assert json.loads(Path(download).read_text()) == payload and payload["count"] == 6
    answer, answer_plot, answer_download, answer_json = page_ask(service, str(media / "squats.npy"), "When did I rest?")
    assert answer.startswith("**") and Path(answer_plot).is_file()
    assert json.loads(Path(answer_download).read_text()) == answer_json and answer_json["intent"] == "locate"


@pytest.mark.parametrize("name", sorted(BAD))
def test_the_page_shows_a_bad_upload_as_a_message(gradio_client, media, tmp_path, name):
    from countllm.agents.app.page import page_ask, page_count

    service = AppService(tmp_path / "work")
    summary, *rest = page_count(service, str(media / name))
    assert summary.startswith("⚠️ **Cannot use this upload:** " + name) and BAD_WORDS[name] in summary
    assert rest == [None, "", None, None] and "\n" not in summary and str(media) not in summary
    answer, *rest = page_ask(service, str(media / name), "How many?")
    assert BAD_WORDS[name] in answer and rest == [None, None, None]


def test_one_session_per_upload_keyed_by_path_and_bytes(media, tmp_path):
    opened: list[Path] = []

    def opener(path: Path):
        opened.append(path)
        return open_session(path)

    video = tmp_path / "squats.npy"
    video.write_bytes((media / "squats.npy").read_bytes())
    service = AppService(tmp_path / "work", size=1, opener=opener)
    first = service.count(video)[0]
    service.ask(video, "How many squats?")
    assert service.count(video)[0] is first  # the count is made once per upload, and shared with /ask
    assert opened == [video.resolve()] and service.hits == 2
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # sent again: Gradio rewrites the file
    assert service.count(video)[0] is first and len(opened) == 1
    short = make_sequence(SyntheticConfig(exercise="squat", n_reps=4)).pose.joints
    np.save(video, short)  # the same path, other bytes: opened afresh
    assert service.count(video)[0].count == 4 and len(opened) == 2
    other = tmp_path / "other.npy"
    other.write_bytes((media / "squats.npy").read_bytes())
    service.count(other)  # size=1: evicts the first upload
    service.count(video)
    assert opened == [video.resolve(), video.resolve(), other.resolve(), video.resolve()]


def test_gradio_is_quietened_before_import(monkeypatch, gradio_client):
    from countllm.agents.app import QUIET_ENV, quiet_gradio

    for key in QUIET_ENV:
        monkeypatch.delenv(key, raising=False)
    quiet_gradio()
    from gradio import analytics

    assert not analytics.analytics_enabled() and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"


# ------------------------------------------------------------------ the console script's errors
def _run_app(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([COUNTLLM, "app", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_without_gradio_the_app_is_a_one_line_install_hint(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['gradio'] = None  # as if not installed\n")
    done = _run_app(env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("countllm app: error: gradio: the web page needs")
    assert "pip install" in done.stderr and "countllm[app]" in done.stderr


def test_a_taken_port_or_a_bad_one_is_one_line(gradio_client):
    done = _run_app("--port", "0")
    assert done.returncode == 2 and done.stderr.strip() == ("countllm app: error: --port: must be a port number "
                                                           "1-65535, got 0")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_app("--port", str(port))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr == (f"countllm app: error: 127.0.0.1:{port}: cannot serve the page there: port {port} "
                           "is in use; pick another with --port\n")
