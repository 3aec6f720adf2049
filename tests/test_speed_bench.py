"""`countllm bench` on a 6 s synthetic clip: every stage is timed and reported.

No timing thresholds: CI machines vary too much. Only that each stage ran, took time, and is
in the text and in the `--json` contract, and that the synthetic clip is as long as asked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from countllm.eval.speed import (
    SQUAT_PERIOD_S,
    STAGE_KEYS,
    SpeedReport,
    format_report,
    measure_speed,
    others_cpu_share,
    report_json,
    sibling_ground_truth,
    synthetic_config,
)
from countllm.pose.parallel import ParallelPoseConfig

COUNTLLM = str(Path(sys.executable).with_name("countllm"))

STAGE_PREFIXES = ("decode every frame", "decode @ 10 fps", "decode + pose", "decode + embeddings",
                  "tempo first look", "full count, method auto", "full count, method similarity")


@pytest.fixture(scope="module")
def report() -> SpeedReport:
    return measure_speed(None, 6.0)


def test_every_stage_is_timed(report: SpeedReport) -> None:
    assert [s.name.startswith(p) for s, p in zip(report.stages, STAGE_PREFIXES)] == [True] * 7
    assert len(report.stages) == len(STAGE_PREFIXES)
    for stage in report.stages:
        assert stage.wall_s > 0 and stage.cpu_s > 0 and stage.x_realtime > 0
        assert stage.video_s == pytest.approx(6.0, abs=0.1)
        assert stage.others_cpu_s is None or stage.others_cpu_s >= 0
    assert [s.count is not None for s in report.stages] == [False] * 5 + [True] * 2
    models = [ld for ld in report.loads if "pose workers" not in ld.name]
    assert all(ld.first_s > 0 and ld.again_s > 0 for ld in models)
    workers = [ld for ld in report.loads if "pose workers" in ld.name]  # a pool persists: nothing to rebuild
    assert all(ld.first_s > 0 and ld.again_s == 0 for ld in workers)
    assert len(workers) == (ParallelPoseConfig().workers > 1)
    assert report.clip.gt_count == synthetic_config(6.0).n_reps
    assert report.machine.cpu_count > 0 and report.machine.torch_threads > 0


def test_report_text(report: SpeedReport) -> None:
    text = format_report(report)
    for prefix in STAGE_PREFIXES:
        assert prefix in text
    assert "synthetic" in text and f"ground-truth count: {report.clip.gt_count}" in text
    assert "torch threads" in text and "MediaPipe" in text and "MobileNetV2" in text
    assert "goal: full pose count ≥ 10× real time on 2 CPU cores — " in text
    look = report.stage("first_look")
    assert look.note.endswith("not fast: the 10 fps analysis counts")  # a squat is slow
    assert f"the tempo first look took {look.wall_s:.2f} s" in text


def test_json_contract(report: SpeedReport) -> None:
    payload = json.loads(json.dumps(report_json(report)))
    assert set(payload) == {"schema_version", "video", "machine", "stages"}
    assert set(payload["video"]) == {"path", "duration_s", "fps", "frames"}
    assert set(payload["machine"]) == {"cpus", "others_cpu_share"}
    assert list(payload["stages"]) == list(STAGE_KEYS)
    stages = payload["stages"]
    for key in STAGE_KEYS:
        assert set(stages[key]) == {"wall_s", "x_real_time", "ratio_to_decode_all"}
        assert stages[key]["x_real_time"] == pytest.approx(6.0 / stages[key]["wall_s"], rel=0.02)
        assert stages[key]["ratio_to_decode_all"] == pytest.approx(
            stages[key]["wall_s"] / stages["decode_all"]["wall_s"], rel=0.02)
    assert stages["decode_all"]["ratio_to_decode_all"] == 1.0
    assert payload["video"]["frames"] == report.clip.n_frames and payload["video"]["fps"] == pytest.approx(30.0)


def test_others_cpu_share_is_the_busy_time_of_others_over_capacity(report: SpeedReport) -> None:
    if any(s.others_cpu_s is None for s in report.stages):
        assert others_cpu_share(report) is None
        return
    total_wall = sum(s.wall_s for s in report.stages)
    expected = sum(s.others_cpu_s for s in report.stages) / (report.machine.usable_cpus * total_wall)
    assert others_cpu_share(report) == pytest.approx(expected, abs=1e-4)
    assert 0.0 <= others_cpu_share(report) <= 1.0


@pytest.mark.slow  # a whole benchmark run (~20 s); the default suite times one in-process (`report`)
def test_bench_json_through_the_console_script(tmp_path: Path) -> None:
    """The way the README shows it: a real video given with --video, one JSON object on stdout."""
    from countllm.synthetic import RenderConfig, SyntheticConfig, make_sequence, render_sequence

    video = render_sequence(make_sequence(SyntheticConfig(exercise="squat", n_reps=2, seed=1)),
                            tmp_path / "clip.mp4", RenderConfig())
    done = subprocess.run([COUNTLLM, "bench", "--video", str(video), "--json"], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["video"]["path"] == str(video) and list(payload["stages"]) == list(STAGE_KEYS)
    assert payload["machine"]["cpus"] >= 1


def test_bench_missing_video_is_one_line() -> None:
    done = subprocess.run([COUNTLLM, "bench", "--video", "/nowhere/clip.mp4", "--json"], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "/nowhere/clip.mp4" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("seconds", [3.0, 6.0, 19.0, 25.0, 60.0, 600.0])
def test_synthetic_clip_lasts_as_asked(seconds: float) -> None:
    cfg = synthetic_config(seconds)
    length = cfg.lead_in_s + cfg.lead_out_s + sum(d for _, d in cfg.rests) + cfg.n_reps * SQUAT_PERIOD_S
    assert length == pytest.approx(seconds)
    assert cfg.n_reps >= 1 and cfg.lead_out_s >= cfg.lead_in_s - 1e-9
    assert bool(cfg.rests) == (seconds >= 20)


@pytest.mark.parametrize("seconds", [2.9, 0.0, -5.0, float("nan"), float("inf")])
def test_synthetic_clip_bad_length(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds must be a number"):
        synthetic_config(seconds)


def test_sibling_ground_truth(tmp_path: Path) -> None:
    (tmp_path / "gt.csv").write_text("file,exercise,count\na.mp4,squat,7\nb.mp4,squat,\n")
    assert sibling_ground_truth(tmp_path / "a.mp4") == 7
    assert sibling_ground_truth(tmp_path / "b.mp4") is None  # listed, count left blank
    assert sibling_ground_truth(tmp_path / "c.mp4") is None
    assert sibling_ground_truth(tmp_path / "sub" / "a.mp4") is None  # no gt.csv there
