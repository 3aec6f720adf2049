"""The `countllm` command as users and scripts call it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from countllm import cli
from countllm.counters.registry import method_names
from countllm.synthetic import render_object_video


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "countllm", *args], capture_output=True, text=True, timeout=300)


def _choices(parser, *path: str) -> tuple:
    for name in path:
        parser = next(a for a in parser._actions if a.dest == "command").choices[name]
    return tuple(next(a for a in parser._actions if a.dest == "method").choices)


def test_method_choices_come_from_the_registry() -> None:
    parser = cli.build_parser()
    assert _choices(parser, "count") == method_names() == _choices(parser, "eval")


def test_count_pose_file_json(squat_h36m_file: Path, squat_sequence) -> None:
    out = run_cli("count", str(squat_h36m_file), "--fps", "30", "--json", "--question", "how many squats?")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["count"] == squat_sequence.count
    assert len(payload["cycles"]) == payload["count"]
    assert all(a < b for a, b in payload["cycles"])
    assert payload["method"] == "pose" and 0 <= payload["confidence"] <= 1
    assert payload["question"] == "how many squats?"


def test_count_human_output_and_plot(squat_h36m_file: Path, tmp_path: Path) -> None:
    plot = tmp_path / "count.png"
    out = run_cli("count", str(squat_h36m_file), "--plot", str(plot))
    assert out.returncode == 0, out.stderr
    assert "repetitions" in out.stdout and "assumed 30 fps" in out.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_count_video_auto_uses_pose_and_counts(squat_video) -> None:
    path, truth = squat_video
    out = run_cli("count", str(path), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["method"] == "pose" and any("auto" in n for n in payload["notes"])
    assert abs(payload["count"] - truth) <= 1


BAD_INPUTS = [
    ("missing", lambda d: d / "nope.mp4", "file not found"),
    ("empty_video", lambda d: _write(d / "empty.mp4", b""), "empty"),
    ("text_as_video", lambda d: _write(d / "text.mp4", b"this is not a video" * 50), ""),
    ("directory", lambda d: d, ""),
    ("bad_pose_shape", lambda d: _save(d / "bad.npy", np.ones((10, 5))), "shape"),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


@pytest.mark.parametrize("case,make,words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str, make, words: str) -> None:
    path = make(tmp_path)
    out = run_cli("count", str(path))
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.startswith("countllm")]
    assert len(lines) == 1 and str(path) in lines[0] and words in lines[0].lower(), out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_no_person_video_falls_back_and_says_so(tmp_path: Path) -> None:
    video = render_object_video(tmp_path / "pendulum.mp4", n_reps=6, period_s=1.0, fps=20.0)
    out = run_cli("count", str(video.path), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["method"] == "similarity"
    assert any("self-similarity" in n for n in payload["notes"])
    assert abs(payload["count"] - video.count) <= 1


def test_pose_method_on_video_without_person_is_a_clear_error(tmp_path: Path) -> None:
    video = render_object_video(tmp_path / "pendulum.mp4", n_reps=4, period_s=1.0, fps=20.0)
    out = run_cli("count", str(video.path), "--method", "pose")
    assert out.returncode == 2 and "no person" in out.stderr and "Traceback" not in out.stderr


def test_eval_records_a_bad_item_and_goes_on(tmp_path: Path, squat_sequence) -> None:
    media = tmp_path / "media"
    media.mkdir()
    np.save(media / "good.npy", squat_sequence.pose.joints)
    np.save(media / "broken.npy", np.ones((3, 4)))
    cycles = [f for c in squat_sequence.cycle_frames for f in c]
    header = "type,name,count,fps," + ",".join(f"L{i + 1}" for i in range(len(cycles)))
    rows = [header,
            f"squat,good.mp4,{squat_sequence.count},30," + ",".join(str(f) for f in cycles),
            "squat,broken.mp4,3,30" + "," * len(cycles),
            "squat,absent.mp4,4,30" + "," * len(cycles),
            "squat,malformed.mp4,x,30" + "," * len(cycles)]
    csv = tmp_path / "ann.csv"
    csv.write_text("\n".join(rows) + "\n")
    report_path = tmp_path / "report.json"
    out = run_cli("eval", "--annotations", str(csv), "--media-dir", str(media), "--json", str(report_path))
    assert out.returncode == 3, out.stderr  # finished, some items failed (the exit-code contract)
    report = json.loads(report_path.read_text())
    assert report["schema_version"] == 1
    items = {i["name"]: i for i in report["items"]}
    assert items["good.mp4"]["pred_count"] == squat_sequence.count
    assert "error" in items["broken.mp4"] and "error" in items["absent.mp4"]
    assert report["metrics"]["n_failed"] == 2 and report["metrics"]["n_malformed_rows"] == 1
    assert report["metrics"]["obo"] == 1.0 and report["metrics"]["f1@0.5"] > 50


@pytest.mark.parametrize("flags", [["--fps", "-5"], ["--sample-fps", "0"], ["--method", "magic"]])
def test_bad_options_are_usage_errors(squat_h36m_file: Path, flags: list[str]) -> None:
    out = run_cli("count", str(squat_h36m_file), *flags)
    assert out.returncode == 2 and "error: argument" in out.stderr and "Traceback" not in out.stderr


def test_unwritable_plot_path_is_a_clear_error(squat_h36m_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = run_cli("count", str(squat_h36m_file), "--plot", str(blocker / "sub" / "plot.png"))
    assert out.returncode == 2 and "cannot write the plot" in out.stderr and "Traceback" not in out.stderr
