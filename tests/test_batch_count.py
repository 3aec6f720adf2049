"""`countllm batch` through the console script: the JSONL contract, failures, resume, kill, Ctrl-C.

Inputs are synthetic pose files (counted in well under a second each). The kill and Ctrl-C tests
count long ones with the `similarity` counter (~0.5 s each) so that a run can be stopped after
its first result and before its last; "loses nothing and repeats nothing" is checked as: every
input exactly once in the results file, and the lines written before the kill unchanged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from countllm.batch.inputs import expand_inputs
from countllm.batch.records import InputKey, ResultsFile
from countllm.batch.resume import plan_resume
from countllm.errors import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, InputError
from countllm.pipeline import CountOptions, count_file
from countllm.synthetic import SyntheticConfig, make_sequence

REPO = Path(__file__).resolve().parents[1]
COUNTLLM = REPO / ".venv" / "bin" / "countllm"
# Ctrl-C as a terminal delivers it: a shell that starts jobs in the background makes them ignore
# SIGINT, children inherit that, and Python would then never raise KeyboardInterrupt.
SIGINT_DEFAULT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                  "os.execv(sys.argv[1], sys.argv[1:])")
COUNT_KEYS = {"schema_version", "count", "cycles", "confidence", "method", "signal", "period_s", "fps", "duration_s",
              "rests", "notes"}  # CountResult.to_json, the `count --json` object with `input` and `question`
OK_KEYS = COUNT_KEYS | {"input", "question", "status", "resume_key"}
FAILED_KEYS = {"input", "status", "error", "resume_key"}


def batch(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(COUNTLLM), "batch", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_input(path: Path) -> dict[str, dict]:
    records = lines(path)
    inputs = [r["input"] for r in records]
    assert len(inputs) == len(set(inputs)), f"an input appears twice: {sorted(inputs)}"
    return {r["input"]: r for r in records}


def save_pose(path: Path, n_reps: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, make_sequence(SyntheticConfig(exercise="squat", n_reps=n_reps, seed=seed)).pose.joints)
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Three good pose files (one in a subfolder), a broken one, and files a folder search skips."""
    root = tmp_path_factory.mktemp("library")
    for i, reps in enumerate((4, 5, 6)):
        save_pose(root / ("sub" if i == 2 else "") / f"squats{reps}.npy", reps, seed=i)
    np.save(root / "broken.npy", np.ones((3, 4)))
    (root / "notes.txt").write_text("not a video")
    (root / ".hidden").mkdir()
    save_pose(root / ".hidden" / "skipped.npy", 3, seed=9)
    return root


def copy_library(library: Path, dest: Path) -> Path:
    for src in library.rglob("*"):
        if src.is_file():
            target = dest / src.relative_to(library)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
            os.utime(target, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns))
    return dest


# --------------------------------------------------------------------------- inputs and the record


def test_folders_globs_and_files_expand_once_each(library: Path, monkeypatch) -> None:
    good = sorted(str(p) for p in library.rglob("squats*.npy"))
    assert expand_inputs([library]) == sorted([*good, str(library / "broken.npy")])
    monkeypatch.chdir(library)
    # a quoted glob is expanded by countllm (** recurses); a file named twice counts once; a file
    # named on the command line is taken whatever its suffix
    assert expand_inputs(["**/squats*.npy", "squats4.npy", "notes.txt"]) == [*good, str(library / "notes.txt")]
    assert expand_inputs(["sub"]) == [str(library / "sub" / "squats6.npy")]
    with pytest.raises(InputError, match="no such file or folder"):
        expand_inputs(["absent.mp4"])
    with pytest.raises(InputError, match="matches no file"):
        expand_inputs(["*.webm"])
    (library / "empty").mkdir(exist_ok=True)
    with pytest.raises(InputError, match="no video or pose file found"):
        expand_inputs(["empty"])


def test_the_resume_rule() -> None:
    done, failed = {"a": "A"}, {"b": "B"}
    plan = plan_resume("abc", done.get, failed.get)
    assert (plan.done, plan.known_failures, plan.todo) == ([("a", "A")], [("b", "B")], ["c"])
    plan = plan_resume("abc", done.get, failed.get, retry_failures=True)
    assert (plan.done, plan.known_failures, plan.todo) == ([("a", "A")], [], ["b", "c"])


def test_a_torn_last_line_is_dropped_and_a_foreign_file_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    key = InputKey("/x.npy", 10, 20, "auto")
    with ResultsFile(out) as results:
        results.append(key, {"input": "/x.npy", "status": "failed", "error": "e"})
    whole = out.read_text()
    out.write_text(whole + '{"input": "/y.npy", "sta')  # a kill in the middle of a write
    with ResultsFile(out) as results:
        assert [r["input"] for r in results.records()] == ["/x.npy"]
        assert results.record(key)["status"] == "failed"
        assert results.record(InputKey("/x.npy", 11, 20, "auto")) is None  # the file changed since
        results.drop([])
    assert out.read_text() == whole
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"some": "thing"}\n')
    with pytest.raises(InputError, match="line 1 is not a countllm batch result"):
        ResultsFile(foreign).open()
    assert foreign.read_text() == '{"some": "thing"}\n'


def test_a_second_run_on_the_same_out_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with ResultsFile(out), pytest.raises(InputError, match="another countllm batch is writing"):
        ResultsFile(out).open()


# --------------------------------------------------------------------------- the command


def test_batch_writes_the_contract_records_a_failure_and_resumes(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    first = batch(str(library), "--out", str(out))
    assert first.returncode == EXIT_PARTIAL, first.stderr
    assert "Traceback" not in first.stderr
    assert "1 input(s) failed" in first.stderr and "--retry-failures" in first.stderr
    records = by_input(out)
    assert len(records) == 4
    broken = records.pop(str(library / "broken.npy"))
    assert set(broken) == FAILED_KEYS and broken["status"] == "failed" and "\n" not in broken["error"]
    for path, record in records.items():
        assert set(record) == OK_KEYS and record["status"] == "ok" and Path(path).is_absolute()
        expected = count_file(path, CountOptions()).to_json()
        assert {k: record[k] for k in COUNT_KEYS} == json.loads(json.dumps(expected))
        assert record["resume_key"]["method"] == "auto"
    assert sorted(r["count"] for r in records.values()) == [4, 5, 6]

    before = out.read_bytes()
    again = batch(str(library), "--out", str(out))
    assert again.returncode == EXIT_PARTIAL  # the recorded failure still counts as failed
    assert "from earlier runs: 3 ok, 1 failed" in again.stdout and "this run: nothing left to count" in again.stdout
    assert out.read_bytes() == before  # nothing counted again, nothing appended

    retried = batch(str(library), "--out", str(out), "--retry-failures")
    assert retried.returncode == EXIT_PARTIAL and "this run: 1 counted" in retried.stdout
    assert len(by_input(out)) == 4  # the retried failure replaced its line


def test_retry_failures_recounts_a_failed_input_and_a_changed_file_is_recounted(library: Path,
                                                                                 tmp_path: Path) -> None:
    media = copy_library(library, tmp_path / "media")
    good = save_pose(tmp_path / "spare" / "good.npy", 7, seed=4)
    fixed = media / "fixable.npy"
    fixed.write_bytes(b"\0" * good.stat().st_size)  # unreadable now, the same size as the repaired file
    out = tmp_path / "results.jsonl"
    assert batch(str(media), "--out", str(out)).returncode == EXIT_PARTIAL
    assert by_input(out)[str(fixed)]["status"] == "failed"

    # Repaired in place with the same size and modification time: the key still matches, so only
    # --retry-failures counts it again.
    stamp = fixed.stat()
    fixed.write_bytes(good.read_bytes())
    os.utime(fixed, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    (media / "broken.npy").unlink()
    skipped = batch(str(media), "--out", str(out))
    assert skipped.returncode == EXIT_PARTIAL and by_input(out)[str(fixed)]["status"] == "failed"
    retried = batch(str(media), "--out", str(out), "--retry-failures")
    assert retried.returncode == EXIT_OK, retried.stderr
    assert by_input(out)[str(fixed)]["count"] == 7

    # A file that changed since its line was written is counted again, its line replaced.
    save_pose(media / "squats4.npy", 8, seed=5)
    changed = batch(str(media), "--out", str(out))
    assert changed.returncode == EXIT_OK and "this run: 1 counted" in changed.stdout
    records = by_input(out)
    assert records[str(media / "squats4.npy")]["count"] == 8
    assert str(media / "broken.npy") in records  # lines of inputs not named this time are kept


def test_another_method_gets_its_own_lines(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    good = str(library / "squats4.npy")
    assert batch(good, "--out", str(out)).returncode == EXIT_OK
    assert batch(good, "--out", str(out), "--method", "baseline").returncode == EXIT_OK
    methods = sorted(r["resume_key"]["method"] for r in lines(out))
    assert methods == ["auto", "baseline"]


def test_two_workers_count_the_same(library: Path, tmp_path: Path) -> None:
    serial, pooled = tmp_path / "serial.jsonl", tmp_path / "pooled.jsonl"
    assert batch(str(library), "--out", str(serial)).returncode == EXIT_PARTIAL
    run = batch(str(library), "--out", str(pooled), "--workers", "2")
    assert run.returncode == EXIT_PARTIAL, run.stderr
    assert "on local x2" in run.stdout
    assert by_input(serial) == by_input(pooled)


@pytest.mark.parametrize("argv, message", [
    (["absent_dir"], "absent_dir: no such file or folder"),
    (["*.nothing"], "the pattern matches no file"),
    (["{library}", "--ray-address", "auto"], "add --engine ray"),
    (["{library}", "--workers", "0"], "--workers: must be at least 1"),
])
def test_usage_errors_are_one_line_and_write_nothing(library: Path, tmp_path: Path, argv: list[str],
                                                     message: str) -> None:
    out = tmp_path / "results.jsonl"
    run = batch(*(a.format(library=library) for a in argv), "--out", str(out))
    assert run.returncode == EXIT_USAGE
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and message in run.stderr
    assert run.stderr.startswith("countllm batch: error: ")
    assert not out.exists() or out.read_text() == ""


def test_a_foreign_out_file_is_refused_untouched(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "notes.jsonl"
    out.write_text("my own notes\n")
    run = batch(str(library), "--out", str(out))
    assert run.returncode == EXIT_USAGE and "is not a countllm batch result" in run.stderr
    assert out.read_text() == "my own notes\n"


# --------------------------------------------------------------------------- kill and Ctrl-C


@pytest.fixture(scope="module")
def long_poses(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("long")
    for i in range(6):
        save_pose(root / f"long{i}.npy", 30, seed=20 + i)
    return root


def _start(argv: list[str], sigint: bool = False) -> subprocess.Popen:
    prefix = [sys.executable, "-c", SIGINT_DEFAULT] if sigint else []
    return subprocess.Popen([*prefix, str(COUNTLLM), "batch", *argv], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_first_line(child: subprocess.Popen, out: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not (out.exists() and out.read_text().count("\n") >= 1):
        assert child.poll() is None, f"the batch ended before its first result: {child.communicate()}"
        assert time.monotonic() < deadline, "no result within the deadline"
        time.sleep(0.01)


def _live_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that have not exited (a zombie has: whoever adopted it reaps it later)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _session_gone(pgid: int, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _live_members(pgid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_killed_batch_loses_nothing_and_repeats_nothing(long_poses: Path, tmp_path: Path, workers: str) -> None:
    out = tmp_path / "results.jsonl"
    argv = [str(long_poses), "--out", str(out), "--method", "similarity", "--workers", workers]
    child = _start(argv)
    _wait_for_first_line(child, out)
    child.kill()  # SIGKILL of the batch process alone, as `kill -9 PID` does
    child.wait(timeout=30)  # not communicate(): a worker still finishing holds the inherited pipes open
    survivors = out.read_text().splitlines()
    assert 1 <= len(survivors) < 6, "the kill should land between the first and the last result"
    try:  # generous: on a loaded 2-core CI machine a worker may take a while to notice
        assert _session_gone(child.pid, timeout_s=90), "worker processes outlived the killed batch"
        child.communicate(timeout=30)
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    rerun = batch(*argv[:-1], "1")  # the resume is the same whatever the engine; one worker starts fastest
    assert rerun.returncode == EXIT_OK, rerun.stderr
    records = by_input(out)  # asserts: no input twice
    assert sorted(records) == sorted(str(p) for p in long_poses.glob("*.npy"))
    assert out.read_text().splitlines()[:len(survivors)] == survivors  # earlier lines kept, not recounted
    assert f"from earlier runs: {len(survivors)} ok" in rerun.stdout
    assert f"this run: {6 - len(survivors)} counted" in rerun.stdout
    assert all(r["status"] == "ok" for r in records.values())


def test_ctrl_c_saves_what_is_done_and_exits_130(long_poses: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    argv = [str(long_poses), "--out", str(out), "--method", "similarity", "--workers", "2"]
    child = _start(argv, sigint=True)
    _wait_for_first_line(child, out)
    os.killpg(child.pid, signal.SIGINT)  # the whole foreground job, as a terminal's Ctrl-C
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("countllm batch: interrupted: ") and "inputs done and saved in" in last
    done = int(last.split("interrupted: ")[1].split(" of ")[0])
    assert done == len(lines(out)) and 1 <= done < 6
    assert _session_gone(child.pid), "worker processes outlived the interrupted batch"
    rerun = batch(*argv[:-1], "1")
    assert rerun.returncode == EXIT_OK and len(by_input(out)) == 6


# --------------------------------------------------------------------------- eval on the same engine


def test_eval_with_two_workers_reports_the_same(tmp_path: Path) -> None:
    media = tmp_path / "media"
    rows = ["type,name,count,fps"]
    for i, reps in enumerate((3, 4, 5)):
        save_pose(media / f"clip{i}.npy", reps, seed=30 + i)
        rows.append(f"squat,clip{i}.mp4,{reps},30")
    rows.append("squat,absent.mp4,4,30")
    csv = tmp_path / "ann.csv"
    csv.write_text("\n".join(rows) + "\n")
    reports = {}
    for workers in ("1", "2"):
        path = tmp_path / f"report{workers}.json"
        run = subprocess.run([str(COUNTLLM), "eval", "--annotations", str(csv), "--media-dir", str(media),
                              "--json", str(path), "--workers", workers], capture_output=True, text=True, timeout=240)
        assert run.returncode == EXIT_PARTIAL, run.stderr  # absent.mp4 failed, recorded
        reports[workers] = json.loads(path.read_text())
    assert reports["1"] == reports["2"]
    assert [i["name"] for i in reports["2"]["items"]] == ["clip0.mp4", "clip1.mp4", "clip2.mp4", "absent.mp4"]


# --------------------------------------------------------------------------- the throughput benchmark


def test_the_benchmark_times_a_real_batch_and_reports_the_load(library: Path, tmp_path: Path) -> None:
    from countllm.batch.bench import BenchRun, format_runs, time_batch

    clips = sorted(library.glob("squats*.npy"))
    run = time_batch(clips, 1, tmp_path / "bench.jsonl")
    assert (run.videos, run.ok, run.exit_code) == (2, 2, EXIT_OK)
    assert run.wall_s > 0 and run.batch_cpu_s > 0 and run.video_s == pytest.approx(
        sum(count_file(c).duration_s for c in clips), abs=0.01)
    two = BenchRun(2, run.wall_s / 2, 2, 2, run.video_s, run.batch_cpu_s, 1.0, 2, 0)
    table = format_runs([run, two], run.video_s, {"cpus": 2, "load_avg_1_5_15": [1.0, 1.0, 1.0]})
    assert "videos/s" in table and "video s/s" in table and "speed-up of 2 workers over 1: 2.00x" in table
    assert two.to_json()["video_s_per_s"] == round(2 * run.video_s / run.wall_s, 2)
