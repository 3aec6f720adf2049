"""`countllm mine priors|cooccurrence` against a faulty OpenAI-compatible server, killed and resumed.

The server (`FaultServer`, http.server on loopback) answers /v1/chat/completions from the prompt
itself — a valid answer for each question — except where its script injects a fault for the
n-th request of one (action, question, round): HTTP 500, 429 with Retry-After, a stall past the
client's timeout, a 200 whose body is not JSON, 400, or garbage text. It logs every request by
the hash of its body, and whether the client got a valid answer to it.

Each test runs the installed console script (`.venv/bin/countllm`, as the README shows it) four
times over one cache: run A is stopped mid-way (SIGKILL, or Ctrl-C), B resumes and ends with
some questions failed, C (`--retry-failures`) asks exactly those again, D makes no call at all.
What must hold: no request body that got a valid answer is ever sent again, no garbage reaches
the mined values of an output file, every failure is recorded with every try's raw text, and
the exit codes are 0 / 3 / 130 / 2 as `countllm.errors` says.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from countllm.agents.batch import RETRY_SEED_STRIDE
from countllm.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE

pytest.importorskip("openai")
pytest.importorskip("pydantic")

REPO = Path(__file__).resolve().parents[1]
COUNTLLM = REPO / ".venv" / "bin" / "countllm"
GARBAGE = "zebra-7f3a! Sure, here is my answer, more or less"
TOKEN = "zebra-7f3a"  # what would show if garbage leaked into an output
TIMEOUT_S, STALL_S, RETRY_AFTER_S = 2.0, 3.0, 1.0
# Runs the console script with Ctrl-C as a terminal delivers it: a shell that starts jobs in
# the background makes them ignore SIGINT, children inherit that, and Python would then never
# raise KeyboardInterrupt.
SIGINT_DEFAULT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                  "os.execv(sys.argv[1], sys.argv[1:])")
PRIORS_WORDS = {"moving_parts": "body parts", "cycle_seconds": "How many seconds", "phases": "phases",
                "complete_when": "complete", "confusions": "mistaken"}
ANSWERED = ("ok", "held")  # faults after which the client holds a valid answer


# --------------------------------------------------------------------------- the faulty server


@dataclass
class Request:
    n: int  # 1-based, over the server's life
    run: str
    key: tuple
    body: str  # sha256 of the request body: the identity of a request, as the answer cache sees it
    fault: str
    at: float
    good: bool = False  # the client received a valid answer


@dataclass
class FaultServer:
    faults: dict[tuple, list[str]] = field(default_factory=dict)
    hold_at: int | None = None  # the request that waits for `release` (to stop the client mid-call)
    lost: int | None = None  # a held request whose client was killed: its answer never arrived
    run: str = ""
    log: list[Request] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def start(self) -> Iterator[FaultServer]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                script.handle(self, json.loads(body), hashlib.sha256(body).hexdigest())

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_port}/v1"
        try:
            yield self
        finally:
            self.release.set()
            server.shutdown()
            server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler, body: dict, digest: str) -> None:
        user = body["messages"][-1]["content"]
        key = request_key(user, body.get("seed"))
        with self.lock:
            n = len(self.log) + 1
            earlier = sum(r.key == key for r in self.log)
            script = self.faults.get(key, [])
            fault = script[earlier] if earlier < len(script) else "ok"
            fault = "held" if n == self.hold_at else fault
            request = Request(n, self.run, key, digest, fault, time.monotonic())
            self.log.append(request)
        if fault == "held":
            self.held.set()
            self.release.wait(20)
        try:
            self.respond(handler, fault, good_answer(key, user))
        except OSError:  # the client gave up (stall) or died (SIGKILL)
            return
        request.good = fault in ANSWERED and n != self.lost

    def respond(self, handler: BaseHTTPRequestHandler, fault: str, answer: str) -> None:
        if fault == "stall":
            time.sleep(STALL_S)
        if fault in ("500", "429", "400"):
            headers = {"Retry-After": str(RETRY_AFTER_S)} if fault == "429" else {}
            return send(handler, int(fault), json.dumps({"error": {"message": f"scripted {fault}"}}).encode(), headers)
        if fault == "notjson":
            return send(handler, 200, b"<html>502 bad gateway (but sent as 200)</html>")
        text = GARBAGE if fault == "garbage" else answer
        payload = {"id": "x", "object": "chat.completion", "created": 0, "model": "fault-model",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        send(handler, 200, json.dumps(payload).encode())

    def requests(self, run: str) -> list[Request]:
        return [r for r in self.log if r.run == run]


def send(handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


def request_key(user: str, seed: int | None) -> tuple:
    """(kind, action, question or category, round) of a request; retries of one question share it.

    The runner's retries add multiples of RETRY_SEED_STRIDE to the seed; priors' own attempts
    add 1 per attempt to 100 × round; co-occurrence round r samples with seed r.
    """
    base = 0 if seed is None else seed % RETRY_SEED_STRIDE
    if user.startswith("Exercise: "):
        action = user.split("\n", 1)[0].removeprefix("Exercise: ").rstrip(".")
        question = next(q for q, words in PRIORS_WORDS.items() if words in user)
        return ("priors", action, question, base // 100)
    match = re.search(r'simultaneously with "(.+?)" in (.+?)\.\s*\n', user)
    assert match, user
    return ("cooc", match.group(1), match.group(2), base)


def good_answer(key: tuple, user: str) -> str:
    """A valid answer to the question in `user`."""
    if key[0] == "cooc":
        return json.dumps(re.findall(r"^- (.+)$", user, re.MULTILINE)[:1])
    options = re.search(r"mistaken for it: (.+)\?", user)
    return {"moving_parts": '["knees", "hips"]', "cycle_seconds": "1-3 seconds", "phases": '["lower the body", "rise"]',
            "complete_when": "The person is back in the start position.",
            "confusions": json.dumps(options.group(1).split(", ")[:1] if options else [])}[key[2]]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    yield from FaultServer().start()


# --------------------------------------------------------------------------- running the CLI


def countllm(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SIGINT_DEFAULT, str(COUNTLLM), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def run(server: FaultServer, label: str, argv: list[str]) -> tuple[int, str, str]:
    server.run = label
    child = countllm(*argv)
    out, err = child.communicate(timeout=60)
    return child.returncode, out, err


def stop_mid_run(server: FaultServer, label: str, argv: list[str], sig: int) -> tuple[int, str, str]:
    """Start a run, wait until it is inside request `hold_at`, send `sig`, let the call end."""
    server.run = label
    child = countllm(*argv)
    assert server.held.wait(30), "the run never reached the held request"
    if sig == signal.SIGKILL:
        server.lost = server.hold_at
    child.send_signal(sig)
    time.sleep(0.3)
    server.release.set()  # Ctrl-C: the call in flight finishes and is saved; SIGKILL: nobody listens
    out, err = child.communicate(timeout=30)
    return child.returncode, out, err


def llm_options(server: FaultServer, cache: Path) -> list[str]:
    return ["--backend", "openai", "--base-url", server.url, "--model", "fault-model", "--timeout", str(TIMEOUT_S),
            "--concurrency", "1", "--retries", "1", "--cache", str(cache)]


def check_no_valid_answer_asked_twice(server: FaultServer) -> None:
    """The cache's promise, seen from the server: a request answered validly is never sent again."""
    first_good: dict[str, int] = {}
    for r in server.log:
        assert r.body not in first_good, f"request {r.n} ({r.key}, run {r.run}) was answered before"
        if r.good:
            first_good[r.body] = r.n


def check_retry_after_honoured(server: FaultServer) -> None:
    """The try after a 429 came no sooner than its Retry-After."""
    for r in (r for r in server.log if r.fault == "429"):
        following = next(x for x in server.log if x.key == r.key and x.n > r.n)
        assert following.at - r.at >= RETRY_AFTER_S - 0.05


# --------------------------------------------------------------------------- mine priors


PRIORS_FAULTS = {
    ("priors", "squat", "moving_parts", 0): ["500"],  # the runner retries: ok
    ("priors", "squat", "cycle_seconds", 0): ["429"],  # retried after Retry-After: ok
    ("priors", "squat", "phases", 0): ["stall"],  # client timeout, retried: ok
    ("priors", "squat", "complete_when", 0): ["garbage"],  # invalid; the next attempt (new seed) is ok
    ("priors", "curl", "moving_parts", 1): ["notjson"],  # a 200 that is not JSON, retried: ok
    ("priors", "curl", "phases", 0): ["garbage", "garbage"],  # both attempts invalid: failed in run B
    ("priors", "curl", "confusions", 1): ["400", "400"],  # not retryable: failed in run B, run goes on
}


def test_mine_priors_survives_faults_a_kill_and_resumes(server: FaultServer, tmp_path: Path) -> None:
    actions, out, cache = tmp_path / "actions.txt", tmp_path / "priors.json", tmp_path / "priors.sqlite"
    actions.write_text("squat\ncurl\n")
    argv = ["mine", "priors", "--actions", str(actions), "--out", str(out), "--rounds", "2",
            *llm_options(server, cache)]
    server.faults, server.hold_at = PRIORS_FAULTS, 14  # request 14: curl's first question

    code, _, _ = stop_mid_run(server, "A", argv, signal.SIGKILL)
    assert code == -signal.SIGKILL and not out.exists()

    code, text, err = run(server, "B", argv)
    assert code == EXIT_PARTIAL, err
    document = json.loads(out.read_text())
    assert document["schema_version"] == 1 and TOKEN not in json.dumps(document["priors"])
    failed = {(f["action"], f["question"], f["round"]): f for f in document["failures"] if f["kind"] == "answer"}
    assert set(failed) == {("curl", "phases", 0), ("curl", "confusions", 1)}
    assert [t["answer"] for t in failed[("curl", "phases", 0)]["tries"]] == [GARBAGE, GARBAGE]  # every try kept
    assert all("LLMBadRequest" in t["error"] for t in failed[("curl", "confusions", 1)]["tries"])
    assert "FAILED curl phases round 0 (2 tries): invalid answer" in text and "--retry-failures" in text
    assert "FAILED squat" not in text  # what a retry or a later attempt answered is not a failure
    assert document["priors"]["squat"]["complete_when"] == "The person is back in the start position."

    code, text, err = run(server, "C", [*argv, "--retry-failures"])
    assert code == EXIT_OK, text + err
    asked_again = {r.key for r in server.requests("C")}
    assert asked_again == {("priors", "curl", "phases", 0), ("priors", "curl", "confusions", 1)}
    assert len(server.requests("C")) == 2
    final = out.read_text()
    assert TOKEN not in final and json.loads(final)["failures"] == []

    code, text, err = run(server, "D", argv)
    assert code == EXIT_OK and server.requests("D") == [], text + err
    assert json.loads(out.read_text())["priors"] == json.loads(final)["priors"]
    check_no_valid_answer_asked_twice(server)
    check_retry_after_honoured(server)


# --------------------------------------------------------------------------- mine cooccurrence


COOC_CSV = ("name,category\nwalk,person_movement\nsit,person_movement\n"
            "drink,object_manipulation\neat,object_manipulation\n")
COOC_FAULTS = {
    ("cooc", "walk", "person movement", 1): ["500"],
    ("cooc", "walk", "object manipulation", 1): ["429"],
    ("cooc", "sit", "person movement", 1): ["stall"],
    ("cooc", "sit", "object manipulation", 1): ["garbage"],  # unparseable: retried with a new seed, ok
    ("cooc", "drink", "person movement", 1): ["garbage", "garbage"],  # failed in run B
    ("cooc", "drink", "object manipulation", 2): ["400"],  # failed at once in run B
    ("cooc", "eat", "person movement", 1): ["notjson"],
}


@pytest.mark.slow  # ~22 s; the priors run above keeps fault, kill and resume coverage in the default suite
def test_mine_cooccurrence_survives_faults_ctrl_c_and_resumes(server: FaultServer, tmp_path: Path) -> None:
    actions, out, cache = tmp_path / "actions.csv", tmp_path / "cooc", tmp_path / "cooc.sqlite"
    actions.write_text(COOC_CSV)
    argv = ["mine", "cooccurrence", "--actions", str(actions), "--out", str(out), "--rounds", "2", "--num", "1",
            *llm_options(server, cache)]
    server.faults, server.hold_at = COOC_FAULTS, 9  # request 9: sit / person movement, round 2

    code, _, err = stop_mid_run(server, "A", argv, signal.SIGINT)
    assert code == 130 and "Traceback" not in err, err
    (line,) = err.strip().splitlines()  # one line: what was saved, and that a rerun resumes
    assert "interrupted" in line and "rerun the same command to resume" in line and str(cache) in line
    assert not (out / "cooccurrence.json").exists()
    assert next(r for r in server.log if r.fault == "held").good  # the call in flight at Ctrl-C finished, saved

    code, text, err = run(server, "B", argv)
    assert code == EXIT_PARTIAL, err
    record = json.loads((out / "cooccurrence.json").read_text())
    assert record["schema_version"] == 1
    failures = {f["key"]: f for f in record["failures"]}
    assert set(failures) == {"cooc|drink|person_movement|r1", "cooc|drink|object_manipulation|r2"}
    assert [t["text"] for t in failures["cooc|drink|person_movement|r1"]["tries"]] == [GARBAGE, GARBAGE]
    assert "LLMBadRequest" in failures["cooc|drink|object_manipulation|r2"]["error"]
    assert "FAILED cooc|drink|person_movement|r1" in text and "--retry-failures" in text
    kept = {k: record[k] for k in ("matrix_rows", "pair_votes", "answer_mapping", "unmatched")}
    assert TOKEN not in json.dumps(kept)

    code, text, err = run(server, "C", [*argv, "--retry-failures"])
    assert code == EXIT_OK, text + err
    assert {r.key for r in server.requests("C")} == {("cooc", "drink", "person movement", 1),
                                                     ("cooc", "drink", "object manipulation", 2)}
    assert len(server.requests("C")) == 2
    final = (out / "cooccurrence.json").read_text()
    assert TOKEN not in final and json.loads(final)["failures"] == []
    assert json.loads(final)["matrix_rows"] == {"walk": ["sit", "drink"], "sit": ["walk", "drink"],
                                                "drink": ["walk", "eat"], "eat": ["walk", "drink"]}

    code, text, err = run(server, "D", argv)
    assert code == EXIT_OK and server.requests("D") == [], text + err
    assert json.loads((out / "cooccurrence.json").read_text())["pair_votes"] == json.loads(final)["pair_votes"]
    check_no_valid_answer_asked_twice(server)
    check_retry_after_honoured(server)


# --------------------------------------------------------------------------- unusable input


@pytest.mark.parametrize("kind", ["priors", "cooccurrence"])
def test_a_missing_action_list_is_one_line_and_exit_2(kind: str, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such_actions.csv"
    result = subprocess.run([str(COUNTLLM), "mine", kind, "--actions", str(missing), "--out", str(tmp_path / "x"),
                             "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == EXIT_USAGE and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert str(missing) in line and line.startswith(f"countllm mine: error: {missing}")
    assert not (tmp_path / "x").exists()
