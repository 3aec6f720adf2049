"""`countllm live`: a rendered clip played in real time through the console script, the counter
fed one skeleton at a time, and sources that cannot be opened or drop mid-session.

The real-time test reads the events as the process prints them, so "events arrive while the
source is still playing" is checked against the wall clock, not assumed. Latency goals are not
asserted (CI machines vary); that each repetition carries a measured latency is.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from countllm.counters.pose_counter import PoseCounter
from countllm.live.counter import LiveCounter, LiveCounterConfig
from countllm.live.sources import source_kind
from countllm.synthetic.render import RenderConfig, render_sequence
from countllm.synthetic.skeleton import SyntheticConfig, make_sequence
from countllm.types import Pose

COUNTLLM = str(Path(sys.executable).with_name("countllm"))


@pytest.fixture(scope="module")
def rest_clip(tmp_path_factory) -> tuple[Path, int, float]:
    """Six rendered squats with a rest after the third: (path, true count, duration s)."""
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=6, rests=[(2, 3.0)], seed=5,
                                        lead_in_s=0.8, lead_out_s=0.8))
    path = render_sequence(seq, tmp_path_factory.mktemp("live") / "squats_rest.mp4", RenderConfig())
    return path, seq.count, len(seq.pose) / seq.pose.fps


def _read_events(cmd: list[str]) -> tuple[list[tuple[float, dict]], int, str, float]:
    """Run `cmd`, timestamp each stdout line as it is printed: ([(seconds since start, event)], rc, stderr)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    events = [(time.perf_counter() - started, json.loads(line)) for line in proc.stdout]
    stderr = proc.stderr.read()
    rc = proc.wait(timeout=120)
    return events, rc, stderr, time.perf_counter() - started


@pytest.mark.slow  # it plays the clip at its own speed (~30 s); the default suite keeps the non-realtime runs
def test_realtime_file_reports_each_rep_while_playing(rest_clip) -> None:
    path, truth, duration = rest_clip
    events, rc, stderr, wall = _read_events([COUNTLLM, "live", str(path), "--realtime", "--json",
                                             "--exercise", "squat"])
    assert rc == 0, stderr
    reps = [(at, e) for at, e in events if e["event"] == "rep"]
    end = events[-1][1]
    assert end["event"] == "end" and [e["event"] for _, e in events[:-1]] == ["rep"] * len(reps)
    assert wall >= duration * 0.95  # it really played at the clip's own speed
    # a running count: 1, 2, 3, ... each once, in video order, each with a measured latency
    assert [e["count"] for _, e in reps] == list(range(1, len(reps) + 1))
    assert all(e["exercise"] == "squat" for _, e in events)
    times = [e["t_video_s"] for _, e in reps]
    assert times == sorted(times) and all(0 < t < duration for t in times)
    assert all(isinstance(e["latency_s"], float) and e["latency_s"] >= 0 for _, e in reps)
    # events arrive while the source is still playing, not all at the end
    assert reps[0][0] < wall - duration / 3
    assert end["count"] == len(reps) and abs(end["count"] - truth) <= 1
    assert len(end["cycles"]) == end["count"] and end["lost"] is False
    assert end["latency_s"]["reps_timed"] == len(reps)
    assert end["latency_s"]["p50"] <= end["latency_s"]["p95"] <= end["latency_s"]["max"]
    # the final count agrees with `countllm count` on the same file
    offline = json.loads(subprocess.run([COUNTLLM, "count", str(path), "--json"], capture_output=True,
                                        text=True, check=True).stdout)
    assert abs(end["count"] - offline["count"]) <= 1
    assert end["offline_count"] == offline["count"]


def test_human_output_names_the_exercise(rest_clip) -> None:
    path, truth, _ = rest_clip
    out = subprocess.run([COUNTLLM, "live", str(path), "--exercise", "squat"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines[0].lstrip().startswith("1  squat ended at 0:")
    assert "squat(s) counted live" in lines[-1] and "an offline count of the same frames gives" in lines[-1]


def _squat_pose(n_reps: int, seed: int, noise: float, **extra) -> tuple[Pose, int]:
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=n_reps, seed=seed, noise_std=noise, **extra))
    pose = seq.pose
    step = round(pose.fps / 10.0)
    return Pose(joints=pose.joints[::step], valid=pose.valid[::step], fps=pose.fps / step, layout=pose.layout), \
        seq.count


def _push_all(counter: LiveCounter, pose: Pose) -> list:
    events = []
    for i in range(len(pose)):
        events += counter.push(i / pose.fps, pose.joints[i] if pose.valid[i] else None)
    return events + counter.finish()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jittery_skeleton_pushed_frame_by_frame_counts_each_rep_once(seed: int) -> None:
    pose, truth = _squat_pose(7, seed, noise=0.02, amplitude_jitter=0.3, missing_fraction=0.05)
    counter = LiveCounter(LiveCounterConfig(fps=pose.fps))
    events = _push_all(counter, pose)
    assert [e.count for e in events] == list(range(1, len(events) + 1))  # never twice, never backwards
    assert abs(len(events) - truth) <= 1
    assert abs(len(events) - PoseCounter().count(pose).count) <= 1
    ends = [e.end_s for e in events]
    assert ends == sorted(ends)


def test_long_session_is_analysed_in_segments_without_double_counts() -> None:
    pose, truth = _squat_pose(16, 3, noise=0.01, period_s=2.0)
    counter = LiveCounter(LiveCounterConfig(fps=pose.fps, window_s=12.0))
    events = _push_all(counter, pose)
    assert counter._segment > 0  # the window closed at least once
    assert abs(len(events) - truth) <= 1
    starts = [c.start for c in counter.cycles]
    assert starts == sorted(starts) and len(counter.cycles) == len(events)


def test_final_look_withdraws_what_early_looks_took_for_repetitions(monkeypatch) -> None:
    """Early looks see a few seconds and may count noise; the end stands by the whole session."""
    from countllm.types import CountResult, Segment

    def scripted(self, pose, prior=None):  # 5 short cycles while the session is young, 3 at the end
        n = 5 if len(pose) < 60 else 3
        period = len(pose) / pose.fps / (n + 1)
        return CountResult(count=n, cycles=[Segment(i * period, (i + 1) * period) for i in range(n)],
                           period_s=period, confidence=0.5, method="pose")

    monkeypatch.setattr(PoseCounter, "count", scripted)
    counter = LiveCounter(LiveCounterConfig(fps=10.0))
    events = _push_all(counter, Pose(joints=np.zeros((70, 17, 3), np.float32), valid=np.ones(70, bool), fps=10.0,
                                     layout="h36m17"))
    assert [e.count for e in events] == [1, 2, 3, 4, 5]  # the running count never went down
    assert counter.count == 5 and counter.session_count == 3 and len(counter.cycles) == 3
    assert any("2 repetition(s) reported live were withdrawn" in note for note in counter.notes)


def test_nobody_in_view_reports_nothing() -> None:
    counter = LiveCounter(LiveCounterConfig(fps=10.0))
    events = [e for i in range(60) for e in counter.push(i / 10, None)] + counter.finish()
    assert events == [] and counter.count == 0


def test_source_kinds() -> None:
    assert [source_kind(s) for s in ("0", "rtsp://cam/1", "HTTP://x/y.mjpg", "clip.mp4")] == \
        ["camera", "stream", "stream", "file"]


@pytest.mark.parametrize(("source", "expected"), [
    ("/nowhere/clip.mp4", "countllm live: error: /nowhere/clip.mp4: no such file"),
    ("97", "countllm live: error: 97: camera index 97: no such camera"),
    ("http://127.0.0.1:9/cam.mjpg", "countllm live: error: http://127.0.0.1:9/cam.mjpg: cannot open the stream"),
])
def test_a_source_that_cannot_be_opened_is_one_line(source: str, expected: str) -> None:
    out = subprocess.run([COUNTLLM, "live", source, "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and out.stderr.startswith(expected)


def test_unknown_exercise_is_one_line(rest_clip) -> None:
    out = subprocess.run([COUNTLLM, "live", str(rest_clip[0]), "--exercise", "underwater basket weaving"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "--exercise: 'underwater basket weaving' is not an exercise" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


class _CutStream(http.server.BaseHTTPRequestHandler):
    """An MJPEG camera that sends 1.5 s of frames and then drops the connection."""

    def do_GET(self) -> None:  # noqa: N802 — the http.server API
        import cv2  # noqa: PLC0415

        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for i in range(15):
            _, jpg = cv2.imencode(".jpg", np.full((96, 128, 3), 20 * i % 255, np.uint8))
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg))
            self.wfile.write(jpg.tobytes() + b"\r\n")
            time.sleep(0.1)

    def log_message(self, *args) -> None:
        pass


def test_a_stream_that_drops_gives_a_lost_event_then_the_end() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cam.mjpg"
        events, rc, stderr, _ = _read_events([COUNTLLM, "live", url, "--json"])
    finally:
        server.shutdown()
    assert rc == 3, stderr
    assert [e["event"] for _, e in events] == ["lost", "end"]
    lost, end = events[0][1], events[1][1]
    assert lost["t_video_s"] >= 0 and url in lost["error"]
    assert end["lost"] is True and end["count"] == 0 and end["cycles"] == []


@pytest.mark.slow
def test_live_bench_runs_and_reports_latency_and_the_offline_baseline(tmp_path) -> None:
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=4, seed=3))
    np.save(tmp_path / "a.npy", seq.pose.joints)
    (tmp_path / "ann.csv").write_text(f"type,name,count\nsquat,a.npy,{seq.count}\n")
    out = subprocess.run([sys.executable, "-m", "countllm.eval.live_bench", "--reps", "4", "--annotations",
                          str(tmp_path / "ann.csv"), "--fps", str(seq.pose.fps), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    latency, agreement = report["latency"], report["agreement"]
    assert latency["truth"] == 4 and abs(latency["live_count"] - latency["offline_count"]) <= 1
    assert latency["latency_p50_s"] is not None and latency["reps_while_playing"] >= 1
    assert agreement["items"] == 1 and 0.0 <= agreement["agree_within_1"] <= 1.0
