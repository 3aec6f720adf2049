"""Set segmentation and the `countllm recognize` command, with the shipped recognizer."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from countllm import labels
from countllm.finetune.data import split_of
from countllm.media import MediaInputs
from countllm.pose.io import load_pose_file, pose_from_array
from countllm.recognize import load_recognizer, split_sets
from countllm.recognize.sets import SetsConfig, merge_touching, rest_mask, viterbi_labels
from countllm.synthetic import SyntheticConfig, make_sequence
from countllm.types import Pose

from .conftest import shared_data

COUNTLLM = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "countllm"
def workout(parts: list[tuple[str, int, int]]) -> tuple[Pose, list[float], list[int]]:
    """Generated sets one after another: the pose, the true boundaries (s) and the counts."""
    seqs = [make_sequence(SyntheticConfig(exercise=e, n_reps=n, seed=s, lead_in_s=1.5, lead_out_s=1.5))
            for e, n, s in parts]
    joints = np.concatenate([s.pose.joints for s in seqs])
    valid = np.concatenate([s.pose.valid for s in seqs])
    bounds = list(np.cumsum([len(s.pose) / 30.0 for s in seqs])[:-1])
    return Pose(joints, valid, 30.0, "h36m17", "synthetic:workout"), bounds, [s.count for s in seqs]


@pytest.mark.parametrize("parts", [
    [("squat", 6, 1), ("jumping_jack", 10, 2)],
    [("bicep_curl", 6, 3), ("squat", 5, 4), ("jumping_jack", 8, 5)],
])
def test_sets_contract(parts):
    pose, _, _ = workout(parts)
    result = split_sets(MediaInputs.from_pose(pose))
    payload = result.to_json()
    assert set(payload) == {"sets", "rests", "schema_version"} and payload["sets"]
    assert set(payload["sets"][0]) == {"exercise", "start_s", "end_s", "count", "confidence"}
    assert all(0 <= s.confidence <= 1 and s.start_s < s.end_s for s in result.sets)
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(result.sets, result.sets[1:], strict=False))


@pytest.mark.parametrize("parts", [
    [("squat", 6, 1), ("jumping_jack", 10, 2)],
    pytest.param([("bicep_curl", 6, 3), ("squat", 5, 4), ("jumping_jack", 8, 5)], marks=pytest.mark.xfail(
        strict=True, reason="the shipped recognizer answers unknown on generated bicep curls (see "
                            "test_recognize.CLEAN_CASES); the boundaries and the other two sets are right")),
])
def test_sets_of_a_synthetic_workout(parts):
    pose, bounds, counts = workout(parts)
    result = split_sets(MediaInputs.from_pose(pose))
    assert [s.exercise for s in result.sets] == [p[0] for p in parts], result.to_json()
    for left, right, bound in zip(result.sets, result.sets[1:], bounds, strict=False):
        assert abs(left.end_s - bound) < 2.5 and abs(right.start_s - bound) < 2.5
    assert all(abs(s.count - c) <= 1 for s, c in zip(result.sets, counts, strict=True)), result.to_json()


def test_sets_of_concatenated_real_val_clips():
    """Two val clips of different exercises (never trained on) that the recognizer names right
    alone: the split finds both, in order, with the boundary where the clips meet."""
    folder = shared_data("countix_fitness_pose")
    with open(folder / "gt.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if split_of(r["name"] + ".npy", 1 / 3) == "val"]
    recognizer = load_recognizer()
    bundle = np.load(folder / "poses_mediapipe33_f16.npz")
    chosen: dict[str, Pose] = {}
    for row in rows:
        pose = pose_from_array(bundle[row["name"]].astype(np.float32), 30.0, row["name"])
        rec = recognizer.recognize(pose)
        if rec.exercise not in chosen and rec.exercise != "unknown" and 12 < len(pose) / 30 < 45 and \
                rec.exercise == labels.normalize(row["type"]):
            chosen[rec.exercise] = pose
        if len(chosen) == 2:
            break
    assert len(chosen) == 2
    (a_id, a), (b_id, b) = chosen.items()
    pose = Pose(np.concatenate([a.joints, b.joints]), np.concatenate([a.valid, b.valid]), 30.0, "h36m17", "val2")
    result = split_sets(MediaInputs.from_pose(pose))
    names = [s.exercise for s in result.sets]
    assert a_id in names and b_id in names and names.index(a_id) < len(names) - 1 - names[::-1].index(b_id)
    bound = len(a) / 30.0
    assert min(abs(s.end_s - bound) for s in result.sets) < 4.0


# --------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def two_sets_file(tmp_path_factory) -> Path:
    pose, _, _ = workout([("squat", 6, 1), ("jumping_jack", 10, 2)])
    path = tmp_path_factory.mktemp("recognize") / "workout.npy"
    np.save(path, pose.joints)
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(COUNTLLM), "recognize", *args], capture_output=True, text=True, timeout=300)


def test_cli_recognize_json(squat_h36m_file):
    result = cli(str(squat_h36m_file), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"exercise", "confidence", "words", "alternatives", "schema_version"}
    assert 0 <= payload["confidence"] <= 1 and len(payload["alternatives"]) == 3
    assert all(p >= 0.05 for _, p in payload["words"])
    assert payload["exercise"] == "unknown" or payload["exercise"] in load_recognizer().exercises


def test_cli_recognizes_a_squat(squat_h36m_file):
    assert json.loads(cli(str(squat_h36m_file), "--json", "--fps", "30").stdout)["exercise"] == "squat"


def test_cli_recognize_summary_and_mediapipe_input(squat_mediapipe_file):
    result = cli(str(squat_mediapipe_file), "--fps", "30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("squat_mp33.npz: ") and "words:" in result.stdout


def test_cli_sets(two_sets_file):
    result = cli(str(two_sets_file), "--sets", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"sets", "rests", "schema_version"} and payload["sets"]
    human = cli(str(two_sets_file), "--sets")
    assert human.returncode == 0 and "set 1: " in human.stdout


@pytest.mark.parametrize("make", ["missing", "text", "bad_shape", "bad_model"])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, make, squat_h36m_file):
    args = {"missing": [str(tmp_path / "nope.npy")]}.get(make)
    if make == "text":
        (tmp_path / "notes.npy").write_text("not an array")
        args = [str(tmp_path / "notes.npy")]
    elif make == "bad_shape":
        np.save(tmp_path / "flat.npy", np.zeros((10, 5)))
        args = [str(tmp_path / "flat.npy")]
    elif make == "bad_model":
        args = [str(squat_h36m_file), "--model", str(tmp_path)]
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("countllm recognize: error:")
    assert "Traceback" not in result.stderr


def test_pose_file_fixture_loads(squat_h36m_file):
    assert len(load_pose_file(squat_h36m_file, 30.0)) > 0


# --------------------------------------------------------------------------- the pieces of the split
def test_the_exercise_path_ignores_a_window_that_costs_less_than_a_switch():
    lp = np.log(np.array([[0.9, 0.1]] * 4 + [[0.3, 0.7]] + [[0.9, 0.1]] * 4))
    assert list(viterbi_labels(lp, 0.0)) == [0] * 4 + [1] + [0] * 4  # cost 0: the argmax of every window
    # the odd window prefers label 1 by log(0.7 / 0.3) = 0.847 nats; following it takes two switches
    assert list(viterbi_labels(lp, 0.40)) == [0] * 4 + [1] + [0] * 4  # 2 x 0.40 < 0.847
    assert list(viterbi_labels(lp, 0.45)) == [0] * 9  # 2 x 0.45 > 0.847


def test_the_exercise_path_follows_a_change_that_lasts():
    lp = np.log(np.array([[0.8, 0.2]] * 6 + [[0.2, 0.8]] * 4))
    # staying on 0 loses 4 x log(0.8 / 0.2) = 5.55 nats over the last four windows
    assert list(viterbi_labels(lp, 4.0)) == [0] * 6 + [1] * 4
    assert list(viterbi_labels(lp, 6.0)) == [0] * 10


def _quiet_then_vigorous(fps: float) -> tuple[np.ndarray, np.ndarray]:
    """20 s of small motion (amplitude 0.02), 20 s of large (0.3), a label per frame for each."""
    t = np.arange(int(40 * fps)) / fps
    amplitude = np.where(t < 20, 0.02, 0.3)
    joints = np.zeros((len(t), 17, 3))
    joints[:, :, 1] = (amplitude * np.sin(2 * np.pi * t / 2.0))[:, None]
    return joints, (t >= 20).astype(int)


def test_a_quiet_exercise_beside_a_vigorous_one_is_not_a_rest():
    fps = 12.5
    joints, exercise_runs = _quiet_then_vigorous(fps)
    cfg = SetsConfig()
    assert rest_mask(joints, fps, cfg)[: int(15 * fps)].all()  # against the whole video: "still"
    assert not rest_mask(joints, fps, cfg, exercise_runs).any()  # against its own run: moving


def test_a_pause_is_a_rest_only_when_it_lasts():
    fps = 12.5
    t = np.arange(int(40 * fps)) / fps
    paused = ((t > 10) & (t < 13)) | ((t > 22) & (t < 31))  # 3 s: a breath; 9 s: a rest
    joints = np.zeros((len(t), 17, 3))
    joints[:, :, 1] = np.where(paused, 0.0, 0.3 * np.sin(2 * np.pi * t / 2.0))[:, None]
    rest = rest_mask(joints, fps, SetsConfig())
    assert not rest[(t > 10.5) & (t < 12.5)].any()
    assert rest[(t > 24) & (t < 29)].all()


def test_touching_runs_of_one_name_are_one_set():
    named = [(0.0, 5.0, "unknown"), (5.0, 9.0, "unknown"), (9.0, 20.0, "squat"), (26.0, 30.0, "squat")]
    assert merge_touching(named) == [(0.0, 9.0, "unknown"), (9.0, 20.0, "squat"), (26.0, 30.0, "squat")]


# --------------------------------------------------------------------------- workouts joined from real clips
REAL_WORKOUTS = [str(COUNTLLM.parent / "python"), "-m", "countllm.eval.real_workouts"]


def _val_annotations(tmp_path: Path) -> Path:
    folder = shared_data("countix_fitness_pose")
    bundle = np.load(folder / "poses_mediapipe33_f16.npz")
    with open(folder / "gt.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if split_of(r["name"] + ".npy", 1 / 3) == "val"]
    with open(tmp_path / "val.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "name", "count"])
        for row in rows:
            np.save(tmp_path / f"{row['name']}.npy", bundle[row["name"]])
            writer.writerow([row["type"], f"{row['name']}.npy", row["count"]])
    return tmp_path / "val.csv"


@pytest.mark.slow
def test_real_workouts_benchmark_through_its_command(tmp_path):
    """Joined val clips: the report's fields, and a split that neither merges nor shatters sets."""
    annotations = _val_annotations(tmp_path)
    result = subprocess.run([*REAL_WORKOUTS, "--annotations", str(annotations), "--workouts", "6", "--json",
                             str(tmp_path / "report.json")], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    m = report["metrics"]
    assert m["workouts"] == 6 and m["true_sets"] == len(report["sets"]) >= 12
    assert 0.8 <= m["sets_found_per_true"] <= 1.8, m
    assert m["boundary_within_4s"] >= 0.6 and m["exercise_right"] >= 0.5, m


def test_real_workouts_bad_annotations_is_one_line(tmp_path):
    result = subprocess.run([*REAL_WORKOUTS, "--annotations", str(tmp_path / "none.csv")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "none.csv" in result.stderr, result.stderr
