"""Bad input through the installed console script, the way a user types it: one row per failure.

Each row runs `countllm ...` in a subprocess and asserts the exit code (2: usage or input
error, nothing done), exactly one line on stderr, that line naming the input at fault, and no
traceback. Every subcommand adds its rows here.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from countllm.synthetic import SyntheticConfig, make_sequence

COUNTLLM = str(Path(sys.executable).with_name("countllm"))


@dataclass(frozen=True)
class Row:
    """`make(tmp)` writes whatever the case needs and returns (argv after `countllm`, the text
    the error line must contain)."""

    id: str
    make: Callable[[Path], tuple[list[str], str]]
    exit_code: int = 2


def run(argv: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([COUNTLLM, *argv], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _pose_file(tmp: Path) -> Path:
    path = tmp / "squat.npy"
    np.save(path, make_sequence(SyntheticConfig(exercise="squat", n_reps=4, seed=1)).pose.joints)
    return path


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _corrupt_checkpoint(tmp: Path, name: str = "ckpt") -> Path:
    folder = tmp / name
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    return folder


def _checkpoint_with_broken_weights(tmp: Path) -> Path:
    """The shipped default, copied, with its periodicity weights truncated."""
    from countllm.videollm.counter import default_checkpoint  # noqa: PLC0415 — fixtures only

    folder = tmp / "broken_ckpt"
    shutil.copytree(default_checkpoint(), folder)
    (folder / "periodicity.safetensors").write_bytes(b"garbage")
    return folder


def _csv(tmp: Path) -> Path:
    return _file(tmp, "ann.csv", b"type,name,count\nsquat,a.mp4,3\n")


def _occupied_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, sock.getsockname()[1]


ROWS = [
    Row("count-missing-video", lambda t: (["count", str(t / "nope.mp4")], "nope.mp4")),
    Row("count-empty-video", lambda t: (["count", str(_file(t, "empty.mp4", b""))], "empty.mp4")),
    Row("count-corrupt-video", lambda t: (["count", str(_file(t, "junk.mp4", bytes(range(256)) * 64))], "junk.mp4")),
    Row("count-directory", lambda t: (["count", str(t)], str(t))),
    Row("count-broken-pose-array", lambda t: (["count", str(_npy(t, np.ones((3, 4))))], "bad.npy")),
    Row("count-nan-pose-array", lambda t: (["count", str(_npy(t, np.full((50, 17, 3), np.nan)))], "bad.npy")),
    Row("count-corrupt-npz", lambda t: (["count", str(_file(t, "bad.npz", b"PK\x03\x04garbage"))], "bad.npz")),
    Row("count-videollm-model-nowhere",
        lambda t: (["count", str(_pose_file(t)), "--method", "videollm", "--model", "/no/such/dir"], "/no/such/dir")),
    Row("count-videollm-corrupt-checkpoint",
        lambda t: (["count", str(_pose_file(t)), "--method", "videollm", "--model", str(_corrupt_checkpoint(t))],
                   "ckpt")),
    Row("count-videollm-broken-weights",
        lambda t: (["count", str(_pose_file(t)), "--method", "videollm", "--model",
                    str(_checkpoint_with_broken_weights(t))], "periodicity.safetensors")),
    Row("count-time-range-past-the-end", lambda t: (["count", str(_pose_file(t)), "--start", "500"], "squat.npy")),
    Row("count-time-range-reversed",
        lambda t: (["count", str(_pose_file(t)), "--start", "5", "--end", "2"], "--start")),
    Row("eval-missing-media-dir",
        lambda t: (["eval", "--annotations", str(_csv(t)), "--media-dir", str(t / "media")], "media")),
    Row("eval-missing-csv", lambda t: (["eval", "--annotations", str(t / "no.csv"), "--media-dir", str(t)], "no.csv")),
    Row("eval-unreadable-csv",
        lambda t: (["eval", "--annotations", str(_file(t, "bin.csv", b"\xff\xfe\x00\x81" * 100)),
                    "--media-dir", str(t)], "bin.csv")),
    Row("eval-csv-is-directory", lambda t: (["eval", "--annotations", str(t), "--media-dir", str(t)], str(t))),
    Row("mine-priors-missing-actions",
        lambda t: (["mine", "priors", "--actions", str(t / "none.txt"), "--out", str(t / "p.json")], "none.txt")),
    Row("mine-cooccurrence-missing-actions",
        lambda t: (["mine", "cooccurrence", "--actions", str(t / "none.csv"), "--out", str(t / "co")], "none.csv")),
    Row("finetune-missing-config", lambda t: (["finetune", "--config", str(t / "none.yaml")], "none.yaml")),
    Row("finetune-unknown-key",
        lambda t: (["finetune", "--config", "finetune/recipes/default/stage3_instruct.yaml", "no_such_key=1"],
                   "no_such_key")),
    Row("serve-model-nowhere", lambda t: (["serve", "--model", "/no/such/model", "--port", "0"], "/no/such/model")),
    Row("count-videollm-corrupt-checkpoint-names-the-recipe",
        lambda t: (_count_videollm(t, _corrupt_checkpoint(t)),
                   "countllm finetune --config finetune/recipes/default/stage3_instruct.yaml")),
    Row("count-videollm-checkpoint-without-config",
        lambda t: (_count_videollm(t, _mkdir(t / "empty_ckpt")), "empty_ckpt")),
    Row("count-videollm-missing-weights",
        lambda t: (_count_videollm(t, _broken(t, lambda f: (f / "projector.safetensors").unlink())),
                   "projector.safetensors")),
    Row("count-videollm-missing-adapter",
        lambda t: (_count_videollm(t, _broken(t, lambda f: shutil.rmtree(f / "adapter"))), "adapter")),
    Row("count-videollm-corrupt-adapter",
        lambda t: (_count_videollm(t, _broken(t, lambda f: (f / "adapter" / "adapter_model.safetensors")
                                              .write_bytes(b"garbage"))), "adapter")),
    Row("count-videollm-template-mismatch",
        lambda t: (_count_videollm(t, _broken(t, lambda f: (f / "template.yaml").write_text(
            (f / "template.yaml").read_text() + "\n# edited\n"))), "template.yaml")),
    Row("count-videollm-corrupt-template",
        lambda t: (_count_videollm(t, _broken(t, lambda f: (f / "template.yaml").write_text("a: [b"))),
                   "template.yaml")),
    Row("count-videollm-backbone-nowhere",
        lambda t: (_count_videollm(t, _broken(t, lambda f: _set_backbone(f, t / "no_lm"))), "no_lm")),
    Row("count-videollm-corrupt-backbone",
        lambda t: (_count_videollm(t, _broken(t, lambda f: _set_backbone(f, _corrupt_checkpoint(t, "bad_lm")))),
                   "bad_lm")),
    Row("count-lift-model-nowhere",
        lambda t: (["count", str(_pose_file(t)), "--method", "lift", "--model", "/no/such/lift"], "/no/such/lift")),
    Row("ask-missing-video", lambda t: (["ask", str(t / "nope.mp4"), "how many squats?"], "nope.mp4")),
    Row("ask-corrupt-video", lambda t: (["ask", str(_file(t, "junk.mp4", bytes(range(256)) * 64)), "how many?",
                                         "--rules-only"], "junk.mp4")),
    Row("ask-directory", lambda t: (["ask", str(t), "how many squats?"], str(t))),
    Row("ask-broken-pose-array", lambda t: (["ask", str(_npy(t, np.ones((3, 4)))), "how many?", "--rules-only"],
                                            "bad.npy")),
    Row("ask-base-url-without-openai-backend",
        lambda t: (["ask", str(_pose_file(t)), "how many?", "--base-url", "http://127.0.0.1:9/v1"], "--base-url")),
    Row("ask-openai-without-model-name",
        lambda t: (["ask", str(_pose_file(t)), "how many?", "--backend", "openai", "--base-url",
                    "http://127.0.0.1:9/v1"], "COUNTLLM_LLM_MODEL")),
    Row("ask-openai-server-down",
        lambda t: (["ask", str(_pose_file(t)), "how many?", "--backend", "openai", "--base-url",
                    "http://127.0.0.1:9/v1", "--model", "m"], "127.0.0.1:9")),
    Row("ask-plot-unwritable",
        lambda t: (["ask", str(_pose_file(t)), "how many?", "--rules-only", "--plot",
                    str(_file(t, "f", b"x") / "p.png")], "p.png")),
]


def _count_videollm(tmp: Path, checkpoint: Path) -> list[str]:
    return ["count", str(_pose_file(tmp)), "--method", "videollm", "--model", str(checkpoint)]


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _broken(tmp: Path, breaker: Callable[[Path], object]) -> Path:
    """The shipped default checkpoint, copied, then broken by `breaker(folder)`."""
    from countllm.videollm.counter import default_checkpoint  # noqa: PLC0415 — fixtures only

    folder = tmp / "broken_ckpt"
    shutil.copytree(default_checkpoint(), folder)
    breaker(folder)
    return folder


def _set_backbone(checkpoint: Path, backbone: Path) -> None:
    """Point a checkpoint's config.json at another language-model folder."""
    config = json.loads((checkpoint / "config.json").read_text())
    config["model"]["backbone"]["path"] = str(backbone)
    (checkpoint / "config.json").write_text(json.dumps(config))


def _npy(tmp: Path, array: np.ndarray) -> Path:
    path = tmp / "bad.npy"
    np.save(path, array)
    return path


def assert_one_line_error(out: subprocess.CompletedProcess, names: str, exit_code: int = 2) -> None:
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == exit_code, (out.returncode, out.stderr)
    assert len(lines) == 1, out.stderr
    assert names in lines[0] and "error" in lines[0], lines[0]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_is_one_line(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the README's commands run from the checkout
    argv, names = row.make(tmp_path)
    assert_one_line_error(run(argv), names, row.exit_code)


def test_serve_port_in_use_is_one_line(tmp_path: Path) -> None:
    sock, port = _occupied_port()
    try:
        out = run(["serve", "--port", str(port)])
    finally:
        sock.close()
    assert_one_line_error(out, str(port))


def test_help_states_the_exit_codes() -> None:
    for argv in (["--help"], ["count", "--help"], ["eval", "--help"], ["mine", "priors", "--help"]):
        out = run(argv)
        assert out.returncode == 0 and "exit codes: 0 all done; 2 usage or input error" in " ".join(out.stdout.split())


def test_count_json_has_schema_version(tmp_path: Path) -> None:
    out = run(["count", str(_pose_file(tmp_path)), "--json"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["schema_version"] == 1


def test_serve_with_no_flags_answers_an_openai_client() -> None:
    """`countllm serve` exactly as the README shows it (default model), asked by the openai client."""
    import openai  # noqa: PLC0415 — the llm extra; only this test needs it

    sock, port = _occupied_port()
    sock.close()  # a port that was free a moment ago
    server = subprocess.Popen([COUNTLLM, "serve", "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0, timeout=60)
        deadline = time.monotonic() + 240
        while True:
            try:
                model = client.models.list().data[0].id
                break
            except openai.APIConnectionError:
                alive = server.poll() is None
                assert alive and time.monotonic() < deadline, "" if alive else server.stderr.read()
                time.sleep(0.5)
        reply = client.chat.completions.create(model=model, max_tokens=8,
                                               messages=[{"role": "user", "content": "Say hello."}])
        assert model == "SmolLM2-135M-Instruct" and reply.choices[0].message.content.strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
