"""Real development data (../shared/data): the issue's acceptance checks. Marked slow.

Run with `bash scripts/test.sh -m slow`. Skipped, with the reason, where the data is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from countllm.eval.prepare_countix_pose import prepare
from countllm.eval.run import evaluate
from countllm.pipeline import CountOptions, count_file
from tests.conftest import shared_data

pytestmark = pytest.mark.slow


def test_countix_fitness_poses_beat_the_baseline(tmp_path: Path) -> None:
    csv_path = prepare(shared_data("countix_fitness_pose"), tmp_path)
    ours = evaluate(csv_path, tmp_path, CountOptions(method="auto"), progress=False)["metrics"]
    naive = evaluate(csv_path, tmp_path, CountOptions(method="baseline"), progress=False)["metrics"]
    print(f"auto MAE {ours['mae']:.3f} OBO {ours['obo']:.3f} | baseline MAE {naive['mae']:.3f} OBO {naive['obo']:.3f}")
    assert ours["n_failed"] == 0
    assert ours["mae"] < naive["mae"] and ours["obo"] > naive["obo"]


def _real_clips() -> list[tuple[str, int]]:
    gt = shared_data("real_videos", "gt.csv")
    with open(gt, newline="") as handle:
        return [(row["file"], int(row["count"])) for row in csv.DictReader(handle)]


@pytest.mark.parametrize("index", range(4))
def test_real_clip_counted_within_one(index: int) -> None:
    clips = _real_clips()
    name, truth = clips[index]
    result = count_file(shared_data("real_videos", name), CountOptions(method="auto"))
    print(name, truth, result.count, result.method, result.notes)
    assert abs(result.count - truth) <= 1, (name, truth, result.count, result.notes)
