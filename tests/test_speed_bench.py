"""`countllm bench` on a 6 s synthetic clip: every stage is timed and reported.

No timing thresholds: CI machines vary too much. Only that each stage ran, took time, and is
in the text, and that the synthetic clip is as long as asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from countllm.eval.speed import (
    SQUAT_PERIOD_S,
    SpeedReport,
    format_report,
    measure_speed,
    sibling_ground_truth,
    synthetic_config,
)

STAGE_PREFIXES = ("decode every frame", "decode @ 10 fps", "decode + pose", "decode + embeddings",
                  "full count, method auto", "full count, method similarity")


@pytest.fixture(scope="module")
def report() -> SpeedReport:
    return measure_speed(None, 6.0)


def test_every_stage_is_timed(report: SpeedReport) -> None:
    assert [s.name.startswith(p) for s, p in zip(report.stages, STAGE_PREFIXES)] == [True] * 6
    assert len(report.stages) == len(STAGE_PREFIXES)
    for stage in report.stages:
        assert stage.wall_s > 0 and stage.cpu_s > 0 and stage.x_realtime > 0
        assert stage.video_s == pytest.approx(6.0, abs=0.1)
        assert stage.others_cpu_s is None or stage.others_cpu_s >= 0
    assert [s.count is not None for s in report.stages] == [False] * 4 + [True] * 2
    assert all(ld.first_s > 0 and ld.again_s > 0 for ld in report.loads)
    assert report.clip.gt_count == synthetic_config(6.0).n_reps
    assert report.machine.cpu_count > 0 and report.machine.torch_threads > 0


def test_report_text(report: SpeedReport) -> None:
    text = format_report(report)
    for prefix in STAGE_PREFIXES:
        assert prefix in text
    assert "synthetic" in text and f"ground-truth count: {report.clip.gt_count}" in text
    assert "torch threads" in text and "MediaPipe" in text and "MobileNetV2" in text
    assert "goal: full pose count ≥ 3× real time on 2 CPU cores — " in text


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
