"""The batch runner: retries, the failure record, the cache, resume, concurrency, rate limit, Batch API files.

Two scripted models answer: `ScriptedBackend` (in-process, for precise timing and counting) and
`ScriptedServer`, an OpenAI-compatible HTTP endpoint on loopback reached through the real
`openai` client via `OpenAIBackend`. Both decide what to do per request from the item key in
the prompt and a script of actions per key ("ok", "garbage", "500", "429", "timeout", ...), and
both count calls and answers per key — which is how "every item done exactly once" is checked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from countllm.agents.batch import (
    BatchConfig,
    BatchInterrupted,
    BatchItem,
    BatchRunner,
    ResponseCache,
    cache_key,
    retry_config,
)
from countllm.agents.batch_api import export_batch_jsonl, import_batch_jsonl
from countllm.agents.llm.base import (
    ChatMessage,
    Completion,
    GenerationConfig,
    LLMBadRequest,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
)
from countllm.agents.llm.openai_backend import OpenAIBackend
from countllm.errors import ModelOutputError

REPO = Path(__file__).resolve().parents[1]
GARBAGE = "Sure! The answer is probably forty-two, give or take."
FAST = dict(backoff_s=0.01, progress=False)
DEFAULT_CONFIG = GenerationConfig()  # fakes take the same default as LLMBackend.complete


def make_items(n: int, prefix: str = "k") -> list[BatchItem]:
    """n items whose prompt names their key, so scripted models know which item they answer."""
    system = ChatMessage("system", "Reply in JSON.")
    return [BatchItem(f"{prefix}{i}", [system, ChatMessage("user", f"item {prefix}{i}")]) for i in range(n)]


def key_of(messages: list[dict] | list[ChatMessage]) -> str:
    last = messages[-1]
    content = last["content"] if isinstance(last, dict) else last.content
    match = re.search(r"item (\S+)", content)
    assert match, content
    return match.group(1)


def answer_text(key: str) -> str:
    return json.dumps({"key": key, "answer": len(key)})


def parse_answer(text: str) -> dict:
    """Strict: a JSON object with a "key" field, else ValueError (which the runner retries)."""
    data = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(data, dict) or "key" not in data:
        raise ValueError(f"not an answer object: {text[:40]!r}")
    return data


# --------------------------------------------------------------------------- in-process fake


class ScriptedBackend:
    """An `LLMBackend` that plays a script per item key; the last action of a script repeats.

    Actions: "ok", "garbage", "sleep:<s>" (then ok), an `LLMError` instance (raised), or
    "interrupt" (KeyboardInterrupt, as Ctrl-C would land). Counts calls, answers, in-flight.
    """

    def __init__(self, scripts: dict[str, list[Any]] | None = None, delay_s: float = 0.0,
                 model: str = "fake-model", interrupt_after: int | None = None) -> None:
        self.scripts, self.delay_s, self._model = scripts or {}, delay_s, model
        self.interrupt_after = interrupt_after
        self.calls: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.starts: list[float] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model

    def complete(self, messages: list[ChatMessage], config: GenerationConfig = DEFAULT_CONFIG) -> Completion:
        key = key_of(messages)
        with self._lock:
            if self.interrupt_after is not None and sum(self.calls.values()) >= self.interrupt_after:
                raise KeyboardInterrupt
            script = self.scripts.get(key, ["ok"])
            action = script[min(self.calls[key], len(script) - 1)]
            self.calls[key] += 1
            self.starts.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._play(key, action)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _play(self, key: str, action: Any) -> Completion:
        time.sleep(self.delay_s)
        if isinstance(action, BaseException):
            raise action
        if isinstance(action, str) and action.startswith("sleep:"):
            time.sleep(float(action.split(":")[1]))
        if action == "garbage":
            return Completion(GARBAGE, self._model)
        with self._lock:
            self.answered[key] += 1
        return Completion(answer_text(key), self._model, 5, 7)


# --------------------------------------------------------------------------- scripted HTTP endpoint


@dataclass
class ServerScript:
    """What the scripted endpoint does; shared with its handler threads."""

    scripts: dict[str, list[str]] = field(default_factory=dict)
    timeout_sleep_s: float = 2.0  # "timeout": sleep this long (past the client's timeout), then hang up
    answer_limit: int | None = None  # after this many answers, hold requests until `release`
    answer_held: bool = False  # on release: answer held requests (True) or drop them (False)
    release: threading.Event = field(default_factory=threading.Event)
    requests: Counter = field(default_factory=Counter)
    answered: Counter = field(default_factory=Counter)
    granted: int = 0
    held: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body, written apart, wait out a 40 ms delayed ACK
    server: ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return  # quiet: pytest shows failures, not access logs

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        script = self.server.script
        key = key_of(body["messages"])
        with script.lock:
            plan = script.scripts.get(key, ["ok"])
            action = plan[min(script.requests[key], len(plan) - 1)]
            script.requests[key] += 1
            script.in_flight += 1
            script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            self._act(key, action, body["model"])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout, or it was killed): nothing was delivered
        finally:
            with script.lock:
                script.in_flight -= 1

    def _act(self, key: str, action: str, model: str) -> None:
        if action in ("500", "429", "400"):
            headers = {"retry-after": "0.05"} if action == "429" else {}
            self._send(int(action), {"error": {"message": f"scripted {action}", "type": "server_error"}}, headers)
            return
        if action == "timeout":  # the client gives up first; answering then would be counted falsely
            time.sleep(self.server.script.timeout_sleep_s)
            self.close_connection = True
            return
        if action != "garbage" and not self._may_answer():
            self.close_connection = True
            return
        content = GARBAGE if action == "garbage" else answer_text(key)
        self._send(200, chat_completion(content, model))
        if action != "garbage":
            with self.server.script.lock:
                self.server.script.answered[key] += 1

    def _may_answer(self) -> bool:
        """Below the answer limit: yes. Beyond it: hold the request until `release`, then answer
        it or drop it as `answer_held` says."""
        script = self.server.script
        with script.lock:
            if script.answer_limit is None or script.granted < script.answer_limit:
                script.granted += 1
                return True
            script.held += 1
        script.release.wait(30)
        return script.answer_held

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class ScriptedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: ServerScript) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = script

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def chat_completion(content: str, model: str) -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


@pytest.fixture
def server() -> Iterator[ScriptedHTTPServer]:
    srv = ScriptedHTTPServer(ServerScript())
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.script.release.set()
    srv.shutdown()
    srv.server_close()


def http_backend(srv: ScriptedHTTPServer, timeout_s: float = 1.0) -> OpenAIBackend:
    """The real `openai` client, with its own retries off (the runner retries)."""
    return OpenAIBackend("scripted-model", base_url=srv.base_url, api_key="test", timeout_s=timeout_s)


# --------------------------------------------------------------------------- cache and keys


def test_cache_key_is_stable_and_covers_model_prompt_and_config() -> None:
    msgs = [ChatMessage("user", "hi")]
    base = cache_key("m", msgs, GenerationConfig())
    assert base == cache_key("m", [ChatMessage("user", "hi")], GenerationConfig())
    assert len(base) == 64
    variants = [cache_key("m2", msgs, GenerationConfig()),
                cache_key("m", [ChatMessage("user", "hi!")], GenerationConfig()),
                cache_key("m", [ChatMessage("system", "hi")], GenerationConfig()),
                cache_key("m", msgs, GenerationConfig(temperature=0.7)),
                cache_key("m", msgs, GenerationConfig(seed=1)),
                cache_key("m", msgs, GenerationConfig(json_mode=True))]
    assert len({base, *variants}) == 7


def test_cache_hits_make_zero_calls(tmp_path: Path) -> None:
    items = make_items(12)
    backend = ScriptedBackend()
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        first = BatchRunner(backend, cache, BatchConfig(**FAST)).run(items, parse_answer)
        assert first.calls_made == 12 and first.cache_hits == 0 and not first.failures
        second = BatchRunner(backend, cache, BatchConfig(**FAST)).run(items, parse_answer)
    assert second.calls_made == 0 and second.cache_hits == 12
    assert sum(backend.calls.values()) == 12
    assert all(o.cached and o.status == "ok" for o in second.outcomes.values())
    assert {k: o.parsed for k, o in second.outcomes.items()} == {k: o.parsed for k, o in first.outcomes.items()}
    assert list(second.outcomes) == [i.key for i in items]


def test_cache_keeps_raw_text_parsed_json_model_and_time(tmp_path: Path) -> None:
    items = make_items(1)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        BatchRunner(ScriptedBackend(), cache, BatchConfig(**FAST)).run(items, parse_answer)
        row = cache.get(cache_key("fake-model", items[0].messages, items[0].config))
    assert row is not None and row.item_key == "k0" and row.model == "fake-model"
    assert row.text == answer_text("k0") and row.parsed == json.loads(answer_text("k0"))
    assert abs(row.created_at - time.time()) < 60


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    items = make_items(3) + make_items(1)
    with ResponseCache(tmp_path / "c.sqlite") as cache, pytest.raises(ValueError, match="duplicate item keys.*k0"):
        BatchRunner(ScriptedBackend(), cache, BatchConfig(**FAST)).run(items)


def test_identical_requests_under_two_keys_make_one_call(tmp_path: Path) -> None:
    msgs = [ChatMessage("user", "item same")]
    items = [BatchItem("a", msgs), BatchItem("b", msgs)]
    backend = ScriptedBackend()
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(**FAST)).run(items, parse_answer)
    assert report.calls_made == 1 and sum(backend.calls.values()) == 1
    assert report.outcomes["a"].parsed == report.outcomes["b"].parsed
    assert [report.outcomes[k].cached for k in "ab"] == [False, True]


# --------------------------------------------------------------------------- retries and failures


def test_retryable_errors_are_retried_until_they_succeed(tmp_path: Path) -> None:
    scripts = {"k0": [LLMTimeout("slow"), LLMServerError("500"), "ok"], "k1": ["garbage", "ok"]}
    backend = ScriptedBackend(scripts)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(retries=3, **FAST)).run(make_items(3), parse_answer)
        assert cache.failures() == []
    assert [report.outcomes[k].attempts for k in ("k0", "k1", "k2")] == [3, 2, 1]
    assert all(o.status == "ok" for o in report.outcomes.values())
    assert report.calls_made == 6 == sum(backend.calls.values())


def test_garbage_is_retried_then_failed_with_the_raw_text(tmp_path: Path) -> None:
    backend = ScriptedBackend({"k0": ["garbage"]})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(retries=2, **FAST)).run(make_items(2), parse_answer)
        (record,) = cache.failures()
    outcome = report.outcomes["k0"]
    assert outcome.status == "failed" and outcome.parsed is None
    assert outcome.text == GARBAGE and outcome.attempts == 3 and "unparseable" in outcome.error
    assert backend.calls["k0"] == 3
    assert (record.item_key, record.text, record.attempts) == ("k0", GARBAGE, 3)
    assert report.outcomes["k1"].status == "ok"


def test_a_failure_keeps_every_try_across_runs(tmp_path: Path) -> None:
    backend = ScriptedBackend({"k0": [LLMServerError("boom"), "garbage"]})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(retries=1, **FAST)).run(make_items(1), parse_answer)
        assert [(t["error"].split(":")[0], t["text"]) for t in report.outcomes["k0"].tries] == [
            ("LLMServerError", None), ("unparseable answer", GARBAGE)]
        again = BatchConfig(retries=1, retry_failures=True, **FAST)
        BatchRunner(backend, cache, again).run(make_items(1), parse_answer)
        (record,) = cache.failures()
    assert record.attempts == 4 and len(record.tries) == 4  # the first run's tries are not overwritten
    assert record.tries[0]["error"].startswith("LLMServerError") and record.text == GARBAGE


def test_reject_turns_a_cached_answer_into_a_failure_that_retry_failures_asks_again(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    items = make_items(2)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        runner = BatchRunner(backend, cache, BatchConfig(**FAST))
        runner.run(items)  # no parse: the caller validates afterwards
        record = runner.reject(items[0], "invalid answer: wrong field")
        assert record is not None and record.text == answer_text("k0") and runner.key_of(items[0]) not in cache
        rerun = runner.run(items)
        assert rerun.calls_made == 0 and rerun.outcomes["k0"].status == "failed"
        assert "--retry-failures" in rerun.outcomes["k0"].error and "retry_failures" not in rerun.outcomes["k0"].error
        again = BatchRunner(backend, cache, BatchConfig(retry_failures=True, **FAST)).run(items)
    assert again.calls_made == 1 and backend.calls["k0"] == 2 and backend.calls["k1"] == 1
    assert again.outcomes["k0"].status == "ok"


def test_a_cache_written_before_tries_were_kept_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE failures (cache_key TEXT PRIMARY KEY, item_key TEXT NOT NULL, model TEXT NOT NULL, "
                     "error TEXT NOT NULL, text TEXT, attempts INTEGER NOT NULL, first_failed_at REAL NOT NULL, "
                     "failed_at REAL NOT NULL)")
        conn.execute("INSERT INTO failures VALUES ('h', 'k0', 'm', 'old error', 'old text', 2, 0, 0)")
    conn.close()
    with ResponseCache(path) as cache:
        assert cache.failure("h").tries == ({"error": "old error", "text": "old text"},)
        cache.record_failure("h", "k0", "m", "new error", None, 1)
        assert [t["error"] for t in cache.failure("h").tries] == ["old error", "new error"]


def test_ctrl_c_says_what_was_saved_and_where(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        runner = BatchRunner(ScriptedBackend(interrupt_after=3), cache, BatchConfig(concurrency=1, **FAST))
        with pytest.raises(BatchInterrupted, match=r"3 of 6 items answered and saved in .*c\.sqlite"):
            runner.run(make_items(6), parse_answer)


def test_any_count_llm_error_of_a_call_fails_only_its_item(tmp_path: Path) -> None:
    backend = ScriptedBackend({"k0": [ModelOutputError("fake-model", "answer is not a count")]})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(retries=3, **FAST)).run(make_items(3), parse_answer)
    assert report.outcomes["k0"].status == "failed" and "answer is not a count" in report.outcomes["k0"].error
    assert backend.calls["k0"] == 1  # not an LLMError: nothing says another try could help
    assert [report.outcomes[k].status for k in ("k1", "k2")] == ["ok", "ok"]


def test_non_retryable_errors_fail_at_once(tmp_path: Path) -> None:
    backend = ScriptedBackend({"k0": [LLMBadRequest("context too long")]})
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(retries=5, **FAST)).run(make_items(2), parse_answer)
    assert backend.calls["k0"] == 1
    assert report.outcomes["k0"].attempts == 1 and "LLMBadRequest" in report.outcomes["k0"].error


def test_unavailable_backend_stops_the_job_and_keeps_what_was_answered(tmp_path: Path) -> None:
    backend = ScriptedBackend({"k3": [LLMUnavailable("connection refused")]})
    items = make_items(6)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(LLMUnavailable):
            BatchRunner(backend, cache, BatchConfig(concurrency=1, **FAST)).run(items, parse_answer)
        assert len(cache) == 3 and cache.failures() == []  # not the item's fault: nothing recorded


def test_failure_record_lists_each_failed_key_and_a_later_success_clears_it(tmp_path: Path) -> None:
    scripts = {"k1": [LLMBadRequest("bad")], "k4": ["garbage"], "k6": [LLMServerError("down")]}
    items = make_items(8)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(ScriptedBackend(scripts), cache, BatchConfig(retries=1, **FAST)).run(items, parse_answer)
        assert sorted(o.key for o in report.failures) == ["k1", "k4", "k6"]
        assert sorted(r.item_key for r in cache.failures()) == ["k1", "k4", "k6"]
        summary = report.summary()
        assert all(f"FAILED {k}" in summary for k in ("k1", "k4", "k6")) and "5 ok" in summary
        rerun_backend = ScriptedBackend()
        config = BatchConfig(retry_failures=True, **FAST)
        rerun = BatchRunner(rerun_backend, cache, config).run(items, parse_answer)
        assert sorted(rerun_backend.calls) == ["k1", "k4", "k6"]  # only the failures are asked again
        assert rerun.cache_hits == 5 and not rerun.failures and cache.failures() == []


def test_a_rerun_reports_recorded_failures_without_asking_again(tmp_path: Path) -> None:
    scripts = {"k1": [LLMBadRequest("bad")], "k4": ["garbage"]}
    items = make_items(6)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        first = BatchRunner(ScriptedBackend(scripts), cache, BatchConfig(retries=1, **FAST)).run(items, parse_answer)
        rerun_backend = ScriptedBackend()
        rerun = BatchRunner(rerun_backend, cache, BatchConfig(**FAST)).run(items, parse_answer)
        assert not rerun_backend.calls and rerun.calls_made == 0  # rebuilt from the cache alone
        assert rerun.cache_hits == 4 and rerun.known_failures == 2
        assert sorted(o.key for o in rerun.failures) == ["k1", "k4"]
        assert rerun.outcomes["k4"].text == first.outcomes["k4"].text == GARBAGE  # the raw answer is kept
        assert "recorded earlier" in rerun.outcomes["k1"].error and "2 recorded earlier" in rerun.summary()
        assert [r.attempts for r in cache.failures()] == [1, 2]  # not asked, so not counted again


def test_retries_of_unparseable_answers_change_the_seed(tmp_path: Path) -> None:
    seen: list[int | None] = []

    class SeedEcho(ScriptedBackend):
        def complete(self, messages, config=DEFAULT_CONFIG):
            seen.append(config.seed)
            return Completion(GARBAGE, self.model_id)

    item = BatchItem("k0", make_items(1)[0].messages, GenerationConfig(temperature=0.7, seed=5))
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(SeedEcho(), cache, BatchConfig(retries=3, **FAST)).run([item], parse_answer)
    assert report.failures and len(seen) == 4 and seen[0] == 5 and len(set(seen)) == 4
    assert seen == [retry_config(item.config, a).seed for a in range(4)]  # reproducible across reruns


def test_failure_attempts_add_up_over_runs(tmp_path: Path) -> None:
    items = make_items(1)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        for _ in range(2):
            config = BatchConfig(retries=1, retry_failures=True, **FAST)
            runner = BatchRunner(ScriptedBackend({"k0": ["garbage"]}), cache, config)
            runner.run(items, parse_answer)
        (record,) = cache.failures()
    assert record.attempts == 4


# --------------------------------------------------------------------------- concurrency, rate, deadline


def test_concurrency_bound_is_respected(tmp_path: Path) -> None:
    backend = ScriptedBackend(delay_s=0.05)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, BatchConfig(concurrency=3, **FAST)).run(make_items(24), parse_answer)
    assert not report.failures
    assert backend.max_in_flight == 3  # reached (it is concurrent) and never exceeded


@pytest.mark.parametrize("burst", [1, 3])
def test_rate_limit_spaces_request_starts(tmp_path: Path, burst: int) -> None:
    rate, n = 25.0, 12
    backend = ScriptedBackend()
    config = BatchConfig(concurrency=4, rate_per_s=rate, burst=burst, **FAST)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        BatchRunner(backend, cache, config).run(make_items(n), parse_answer)
    starts = sorted(backend.starts)
    for i, start in enumerate(starts):  # the i-th start may come no earlier than the bucket allows
        assert start - starts[0] >= max(0, i - burst + 1) / rate - 0.02, (i, start - starts[0])
    window = 0.2  # and in any 200 ms there are at most rate * 0.2 + burst starts (+1: thread start jitter)
    assert max(sum(s0 <= s < s0 + window for s in starts) for s0 in starts) <= rate * window + burst + 1


def test_runner_deadline_times_out_a_hung_backend_without_exceeding_concurrency(tmp_path: Path) -> None:
    backend = ScriptedBackend({"k0": ["sleep:0.9", "ok"]})
    config = BatchConfig(concurrency=1, timeout_s=0.3, retries=1, **FAST)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(backend, cache, config).run(make_items(2), parse_answer)
    assert report.outcomes["k0"].status == "ok" and report.outcomes["k0"].attempts == 2
    assert backend.max_in_flight == 1  # the retry waited for the abandoned call's slot


class LockedBackend(ScriptedBackend):
    """Like the local model: one call at a time behind a lock, and it says so."""

    max_concurrent_calls = 1

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_lock = threading.Lock()

    def complete(self, messages, config=DEFAULT_CONFIG):
        with self.model_lock:
            return super().complete(messages, config)


def test_waiting_for_a_serial_backend_does_not_count_against_the_timeout(tmp_path: Path) -> None:
    backend = LockedBackend(delay_s=0.25)  # each call 0.25 s; 4 queued calls would wait up to 0.75 s
    config = BatchConfig(concurrency=4, timeout_s=0.5, retries=0, **FAST)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        runner = BatchRunner(backend, cache, config)
        report = runner.run(make_items(4), parse_answer)
    assert runner.slots == 1 and not report.failures and backend.max_in_flight == 1


# --------------------------------------------------------------------------- resume


def test_keyboard_interrupt_then_rerun_does_every_item_exactly_once(tmp_path: Path) -> None:
    items = make_items(30)
    first = ScriptedBackend(delay_s=0.01, interrupt_after=10)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(KeyboardInterrupt):
            BatchRunner(first, cache, BatchConfig(concurrency=3, **FAST)).run(items, parse_answer)
        assert 8 <= sum(first.answered.values()) <= 10  # stopped submitting; in-flight calls finished
        assert len(cache) == sum(first.answered.values())  # every answer that arrived was saved
        second = ScriptedBackend(delay_s=0.01)
        report = BatchRunner(second, cache, BatchConfig(concurrency=3, **FAST)).run(items, parse_answer)
    assert set(first.answered).isdisjoint(second.answered)
    total = first.answered + second.answered
    assert total == Counter({item.key: 1 for item in items})
    assert report.cache_hits == sum(first.answered.values())
    assert all(o.status == "ok" for o in report.outcomes.values()) and len(report.outcomes) == 30


# --------------------------------------------------------------------------- the real openai client over HTTP


def test_http_endpoint_faults_through_the_openai_client(tmp_path: Path, server: ScriptedHTTPServer) -> None:
    server.script.scripts = {
        "k1": ["500", "ok"], "k2": ["429", "429", "ok"], "k3": ["timeout", "ok"], "k4": ["garbage"],
        "k5": ["400"], "k6": ["garbage", "ok"], "k7": ["500"],
    }
    items = make_items(10)
    config = BatchConfig(concurrency=4, retries=3, **FAST)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        report = BatchRunner(http_backend(server), cache, config).run(items, parse_answer)
        failed = {r.item_key: r for r in cache.failures()}
        rerun = BatchRunner(http_backend(server), cache, config).run(items, parse_answer)
    got = {k: (o.status, o.attempts) for k, o in report.outcomes.items()}
    assert got == {"k0": ("ok", 1), "k1": ("ok", 2), "k2": ("ok", 3), "k3": ("ok", 2), "k4": ("failed", 4),
                   "k5": ("failed", 1), "k6": ("ok", 2), "k7": ("failed", 4), "k8": ("ok", 1), "k9": ("ok", 1)}
    assert server.script.requests["k3"] == 2  # one timed out, the retry was answered
    assert report.outcomes["k4"].text == GARBAGE and failed["k4"].text == GARBAGE
    assert "LLMBadRequest" in failed["k5"].error and "LLMServerError" in failed["k7"].error
    assert sorted(failed) == ["k4", "k5", "k7"]
    assert server.script.max_in_flight <= 4
    assert report.outcomes["k0"].parsed == {"key": "k0", "answer": 2}
    # the rerun asks only the three failures again (each fails again, as scripted)
    assert rerun.cache_hits == 7 and sorted(o.key for o in rerun.failures) == ["k4", "k5", "k7"]
    assert all(server.script.answered[k] == 1 for k in got if got[k][0] == "ok")


CHILD = """
import signal
import sys
# A shell that starts jobs in the background makes them ignore SIGINT, and children inherit
# that; this child must take Ctrl-C as a user's terminal would.
signal.signal(signal.SIGINT, signal.default_int_handler)
from countllm.agents.batch import BatchConfig, BatchRunner, ResponseCache
from countllm.agents.llm.openai_backend import OpenAIBackend
from tests.test_batch import make_items, parse_answer

url, db, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
backend = OpenAIBackend("scripted-model", base_url=url, api_key="test", timeout_s=20)
BatchRunner(backend, ResponseCache(db), BatchConfig(concurrency=3, progress=False)).run(make_items(n), parse_answer)
print("finished")
"""


def _wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_killed_mid_run_then_rerun_answers_every_item_exactly_once(tmp_path: Path, server: ScriptedHTTPServer,
                                                                   sig: signal.Signals) -> None:
    """A real process, a real kill: answers committed before the kill survive it, the rerun asks
    only the rest, and the server answered each key once over both runs."""
    n, done_before_kill = 24, 9
    server.script.answer_limit = done_before_kill
    server.script.answer_held = sig == signal.SIGINT  # Ctrl-C lets in-flight calls finish and be saved
    db = tmp_path / "c.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, server.base_url, str(db), str(n)], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: db.exists() and _rows(db) == done_before_kill and server.script.held >= 1)
        child.send_signal(sig)
        if sig == signal.SIGKILL:
            child.wait(10)
        else:  # give the child's main thread time to take the interrupt before held calls return
            time.sleep(1.0)
        server.script.release.set()
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert "finished" not in out and child.returncode != 0, err
    first_requests = Counter(server.script.requests)
    saved = _rows(db)
    assert saved == sum(server.script.answered.values())  # nothing answered was lost
    if sig == signal.SIGINT:  # Ctrl-C: the calls in flight were let finish, and saved
        assert saved > done_before_kill
    else:
        assert saved == done_before_kill
    server.script.answer_limit = None
    with ResponseCache(db) as cache:
        rerun = BatchRunner(http_backend(server, timeout_s=5), cache, BatchConfig(**FAST))
        report = rerun.run(make_items(n), parse_answer)
    second_requests = server.script.requests - first_requests
    assert server.script.answered == Counter({f"k{i}": 1 for i in range(n)})
    assert sum(second_requests.values()) == n - saved  # zero calls for the items already done
    assert report.cache_hits == saved and all(o.status == "ok" for o in report.outcomes.values())


def _rows(db: Path) -> int:
    with ResponseCache(db) as cache:
        return len(cache)


# --------------------------------------------------------------------------- OpenAI Batch API files


def batch_service(request_lines: list[dict], behaviour: dict[str, str]) -> list[dict]:
    """What the Batch API would write back for these requests: per custom_id "ok", "garbage",
    "500", "expired" (an error object, no response) or "missing" (no line at all)."""
    out = []
    for n, req in enumerate(request_lines):
        cid, how = req["custom_id"], behaviour.get(req["custom_id"], "ok")
        line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": cid, "response": None, "error": None}
        if how == "missing":
            continue
        if how == "expired":
            line["error"] = {"code": "batch_expired", "message": "not executed before the completion window expired"}
        elif how == "500":
            body = {"error": {"message": "overloaded"}}
            line["response"] = {"status_code": 500, "request_id": f"req_{n}", "body": body}
        else:
            content = GARBAGE if how == "garbage" else answer_text(key_of(req["body"]["messages"]))
            body = chat_completion(content, req["body"]["model"] + "-2024-07-18")  # a dated snapshot name
            line["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": body}
        out.append(line)
    return out


def test_batch_jsonl_export_import_round_trip(tmp_path: Path) -> None:
    items = make_items(7)
    items[6] = BatchItem("k6", items[6].messages, GenerationConfig(json_mode=True, seed=3))
    model = "gpt-test"
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        BatchRunner(ScriptedBackend(model=model), cache, BatchConfig(**FAST)).run(items[:1], parse_answer)
        assert export_batch_jsonl(items, tmp_path / "in.jsonl", model, cache=cache) == 6  # k0 is answered
        requests = [json.loads(line) for line in (tmp_path / "in.jsonl").read_text().splitlines()]
        assert [r["custom_id"] for r in requests] == [f"k{i}" for i in range(1, 7)]
        assert all(r["method"] == "POST" and r["url"] == "/v1/chat/completions" for r in requests)
        assert requests[0]["body"] == {"model": model, "messages": [{"role": "system", "content": "Reply in JSON."},
                                       {"role": "user", "content": "item k1"}], "temperature": 0.0, "max_tokens": 256}
        assert requests[-1]["body"]["response_format"] == {"type": "json_object"} and requests[-1]["body"]["seed"] == 3
        behaviour = {"k2": "garbage", "k3": "500", "k4": "expired", "k5": "missing"}
        lines = batch_service(requests, behaviour)
        (tmp_path / "out.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines[::-1]))  # any order
        report = import_batch_jsonl(tmp_path / "out.jsonl", cache, items, parse_answer)
        rerun_backend = ScriptedBackend(model=model)
        assert BatchRunner(rerun_backend, cache, BatchConfig(**FAST)).run(items, parse_answer).known_failures == 4
        assert not rerun_backend.calls  # the batch's failures are recorded: not asked unless asked for
        rerun = BatchRunner(rerun_backend, cache, BatchConfig(retry_failures=True, **FAST)).run(items, parse_answer)
    status = {k: (o.status, o.cached) for k, o in report.outcomes.items()}
    assert status == {"k0": ("ok", True), "k1": ("ok", False), "k2": ("failed", False), "k3": ("failed", False),
                      "k4": ("failed", False), "k5": ("failed", False), "k6": ("ok", False)}
    assert report.outcomes["k1"].parsed == {"key": "k1", "answer": 2} and report.calls_made == 0
    assert report.outcomes["k2"].text == GARBAGE and "HTTP 500" in report.outcomes["k3"].error
    assert "batch_expired" in report.outcomes["k4"].error and "no line" in report.outcomes["k5"].error
    # the imported answers count as done under the model name that was asked (not the snapshot name)
    assert sorted(rerun_backend.calls) == ["k2", "k3", "k4", "k5"] and rerun.cache_hits == 3


def test_batch_import_needs_to_know_the_model(tmp_path: Path) -> None:
    items = make_items(2)
    export_batch_jsonl(items, tmp_path / "in.jsonl", "gpt-test")  # no cache: nothing recorded
    requests = [json.loads(line) for line in (tmp_path / "in.jsonl").read_text().splitlines()]
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(x) + "\n" for x in batch_service(requests, {})))
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        with pytest.raises(ValueError, match="model="):
            import_batch_jsonl(tmp_path / "out.jsonl", cache, items, parse_answer)
        report = import_batch_jsonl(tmp_path / "out.jsonl", cache, items, parse_answer, model="gpt-test")
        assert not report.failures
        with pytest.raises(ValueError, match="not one of the given items"):
            import_batch_jsonl(tmp_path / "out.jsonl", cache, items[:1], parse_answer, model="gpt-test")


def test_a_cached_answer_the_current_parser_rejects_is_asked_again(tmp_path: Path) -> None:
    """A changed schema must not hand back old answers unvalidated."""
    items = make_items(2)

    def strict(text: str) -> dict:
        data = parse_answer(text)
        if "verified" not in data:
            raise ValueError("missing 'verified'")
        return data

    with ResponseCache(tmp_path / "c.sqlite") as cache:
        BatchRunner(ScriptedBackend(), cache, BatchConfig(**FAST)).run(items, parse_answer)
        backend = ScriptedBackend()
        report = BatchRunner(backend, cache, BatchConfig(retries=0, **FAST)).run(items, strict)
    assert report.cache_hits == 0 and sum(backend.calls.values()) == 2
    assert all(o.status == "failed" and "verified" in o.error for o in report.outcomes.values())


def test_benchmark_runs_end_to_end_on_the_scripted_backend(capsys: pytest.CaptureFixture) -> None:
    from countllm.agents.batch_bench import main  # noqa: PLC0415 — the benchmark only for this test

    assert main(["--backend", "scripted", "--calls", "12", "--latency-ms", "1", "--concurrency", "1,3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["backend"].startswith("scripted backend")
    assert [r["calls"] for r in payload["runs"]] == [12, 12] and payload["cached"]["calls"] == 0
    assert payload["cached"]["cache_hits"] == 12 and payload["cache_speedup_vs_first"] > 1
