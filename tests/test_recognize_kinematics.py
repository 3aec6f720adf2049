"""The recognizer's posture-and-motion head (countllm/recognize/kinematics.py) and its fusion with
the transformer."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from countllm.recognize.checkpoint import Calibration, CheckpointError, save_checkpoint
from countllm.recognize.kinematics import (
    EXAMPLES_FILE,
    HEAD_FILE,
    Examples,
    KinematicHeadConfig,
    clip_features,
    clip_windows,
    examples_of,
    fit_head,
    load_examples,
    load_head,
    window_features,
)
from countllm.recognize.motion_image import MotionImageConfig, prepare_joints
from countllm.recognize.recognizer import Recognizer, load_recognizer
from countllm.synthetic import SyntheticConfig, make_sequence

from .test_recognize import TRAINED, tiny_model

MIRROR = ["root", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "spine", "thorax", "neck", "head",
          "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist"]


def prepared(exercise: str, seed: int, n_reps: int = 6) -> np.ndarray:
    seq = make_sequence(SyntheticConfig(exercise=exercise, n_reps=n_reps, seed=seed))
    return prepare_joints(seq.pose, MotionImageConfig())


def test_features_do_not_change_when_the_clip_is_filmed_from_the_other_side():
    from countllm.pose.layouts import H36M

    joints = prepared("lunge", 3)
    mirrored = joints[:, [H36M[n] for n in MIRROR]].copy()
    mirrored[..., 0] = -mirrored[..., 0]
    assert window_features(mirrored) == pytest.approx(window_features(joints), abs=1e-9)
    assert not np.allclose(window_features(joints), window_features(prepared("squat", 3)))


def test_windows_cover_the_clip_and_a_short_clip_is_one_window():
    cfg = KinematicHeadConfig(window_s=4.0, hop_s=2.0)
    joints = np.zeros((125, 17, 3))  # 10 s at 12.5 fps: windows of 50 frames every 25
    windows = clip_windows(joints, 12.5, cfg)
    assert [len(w) for w in windows] == [50] * 4
    assert len(clip_windows(joints[:30], 12.5, cfg)) == 1
    with pytest.raises(ValueError, match="2 frames"):
        clip_features(joints[:1], 12.5, cfg)


def test_examples_weigh_every_exercise_the_same_whatever_its_number_of_clips():
    cfg = KinematicHeadConfig()
    clips = [(prepared("squat", s), "squat") for s in range(3)] + [(prepared("push_up", 9), "push_up")]
    ex = examples_of(clips, 12.5, cfg, total_weight=0.8)
    per = {lab: ex.weights[[lab_ == lab for lab_ in ex.labels]].sum() for lab in ("squat", "push_up")}
    assert per["squat"] == pytest.approx(0.4) and per["push_up"] == pytest.approx(0.4)


def test_a_fitted_head_names_unseen_clips_and_reads_back(tmp_path):
    cfg = KinematicHeadConfig()
    exercises = ["squat", "push_up", "front_raise"]
    train = [(prepared(e, seed), e) for e in exercises for seed in range(3)]
    head = fit_head(examples_of(train, 12.5, cfg), exercises, {e: e for e in exercises}, cfg)
    for e in exercises:
        assert head.exercises[int(np.argmax(head.log_probs(prepared(e, 50), 12.5)))] == e
    head.save(tmp_path)
    again = load_head(tmp_path)
    clip = prepared("squat", 51)
    assert again.log_probs(clip, 12.5) == pytest.approx(head.log_probs(clip, 12.5))
    assert load_head(tmp_path / "nowhere") is None
    with pytest.raises(ValueError, match="not asked to know"):
        fit_head(examples_of(train, 12.5, cfg), ["squat"], {"squat": "squat"}, cfg)


def test_examples_round_trip_and_can_leave_one_exercise_out(tmp_path):
    ex = Examples(np.arange(12.0).reshape(4, 3), ["a", "b", "a", "c"], np.full(4, 0.25))
    ex.save(tmp_path)
    back = load_examples(tmp_path)
    assert back.labels == ex.labels and back.features == pytest.approx(ex.features)
    assert back.without("a").labels == ["b", "c"]
    assert len(back.plus(ex).labels) == 8


def _head_folder(tmp_path, weight: float):
    model = tiny_model().eval()
    cfg = KinematicHeadConfig()
    clips = [(prepared(e, s), e) for e in ("squat", "push_up") for s in range(2)]
    head = fit_head(examples_of(clips, 12.5, cfg), ["squat", "push_up"], {"squat": "squat", "push_up": "push-up"},
                    cfg)
    folder = save_checkpoint(model, tmp_path / "ckpt", Calibration(1.0, 0.0, weight))
    head.save(folder)
    return model, head, folder


def test_a_zero_head_weight_is_the_transformer_alone_and_a_positive_one_moves_the_answer(tmp_path):
    model, head, _ = _head_folder(tmp_path, 0.0)
    joints = prepared("push_up", 21)
    alone = Recognizer(model, Calibration(1.0, 0.0)).recognize_prepared(joints).scores
    zero = Recognizer(model, Calibration(1.0, 0.0, 0.0), None, head).recognize_prepared(joints).scores
    assert zero == pytest.approx(alone)
    fused = Recognizer(model, Calibration(1.0, 0.0, 5.0), None, head).recognize_prepared(joints)
    assert fused.scores["push_up"] > alone["push_up"]  # the head knows push-ups from squats; the tiny model does not
    assert sum(fused.scores.values()) == pytest.approx(1.0)


def test_an_exercise_only_the_head_knows_is_scored_and_neutral_for_the_transformer():
    model = tiny_model().eval()
    cfg = KinematicHeadConfig()
    clips = [(prepared("squat", s), "squat") for s in range(2)] + [(prepared("jumping_jack", s), "star_hop")
                                                                   for s in range(2)]
    head = fit_head(examples_of(clips, 12.5, cfg), ["squat", "star_hop"], {"squat": "squat", "star_hop": "star hop"},
                    cfg)
    rec = Recognizer(model, Calibration(1.0, 0.0, 1.0), None, head)
    assert rec.exercises == [*TRAINED, "star_hop"]
    word_probs = np.full((1, rec.n_words), 0.3)
    plain = rec.exercise_scores(word_probs)[0]  # no head evidence given
    assert plain[-1] == pytest.approx(plain[:-1].mean())  # "star hop" has no transformer words: no evidence
    result = rec.recognize_prepared(prepared("jumping_jack", 40))
    assert result.exercise == "star_hop"


def test_a_corrupt_head_file_is_a_one_line_checkpoint_error(tmp_path):
    _, _, folder = _head_folder(tmp_path, 1.0)
    (folder / HEAD_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="kinematic head"):
        load_recognizer(folder)
    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=3, seed=1))
    np.save(tmp_path / "squat.npy", seq.pose.joints.astype(np.float32))
    out = subprocess.run([sys.executable, "-m", "countllm", "recognize", "squat.npy", "--model", str(folder)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "kinematic head" in out.stderr, out.stderr


def test_the_shipped_recognizer_carries_its_head_and_stays_small():
    from countllm.recognize.checkpoint import DEFAULT_FOLDER

    rec = load_recognizer()
    assert rec.head is not None and rec.calibration.kinematic_weight > 0
    assert rec.head.exercises == list(rec.cfg.exercises)
    assert load_examples(DEFAULT_FOLDER) is not None
    sizes = {p.name: p.stat().st_size for p in DEFAULT_FOLDER.iterdir()}
    assert EXAMPLES_FILE in sizes and max(sizes.values()) <= 5_000_000 and sum(sizes.values()) < 50_000_000
    training = json.loads((DEFAULT_FOLDER / "training.json").read_text())
    assert training["kinematic_head"]["calibration"]["kinematic_weight"] == rec.calibration.kinematic_weight


def test_adding_an_exercise_from_a_few_clips_through_the_console_script(tmp_path):
    """`countllm finetune --config finetune/recipes/lift/add_exercise.yaml examples=DIR name=...`,
    as the README shows it: the name enters the labels file, the new folder names a held-out
    clip of the new exercise, and a folder with an unreadable clip still works (it is reported)."""
    from pathlib import Path

    import countllm

    model, head, folder = _head_folder(tmp_path, 1.0)
    clips = [(prepared(e, s), e) for e in ("squat", "push_up") for s in range(2)]
    examples_of(clips, 12.5, head.cfg).save(folder)
    examples = tmp_path / "hops"
    examples.mkdir()
    for seed in range(3):
        seq = make_sequence(SyntheticConfig(exercise="jumping_jack", n_reps=6, seed=seed))
        np.save(examples / f"hop{seed}.npy", seq.pose.joints.astype(np.float32))
    (examples / "broken.npy").write_bytes(b"not an array")
    labels_file = tmp_path / "labels.yaml"
    recipe = Path(countllm.__file__).parents[1] / "finetune" / "recipes" / "lift" / "add_exercise.yaml"
    env = {**__import__("os").environ, "COUNTLLM_LABELS": str(labels_file)}
    labels_file.write_text("exercises: {}\n")
    out = subprocess.run([sys.executable, "-m", "countllm", "finetune", "--config", str(recipe),
                          f"examples={examples}", "name=star hop", f"base={folder}",
                          f"output_dir={tmp_path / 'out'}"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "added star_hop (star hop) from 3 clip(s)" in out.stdout and "skipped:" in out.stderr
    assert "star_hop" in labels_file.read_text()
    held_out = make_sequence(SyntheticConfig(exercise="jumping_jack", n_reps=6, seed=77))
    np.save(tmp_path / "held_out.npy", held_out.pose.joints.astype(np.float32))
    out = subprocess.run([sys.executable, "-m", "countllm", "recognize", "held_out.npy", "--json", "--model",
                          str(tmp_path / "out")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["exercise"] == "star_hop", payload
    bad = subprocess.run([sys.executable, "-m", "countllm", "finetune", "--config", str(recipe), "name=star hop"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "examples=DIR" in bad.stderr


def test_the_head_learns_from_dev_after_dev_has_chosen_the_calibration():
    """with_head: the calibration comes from the head fitted on train alone; with
    refit_with_dev the shipped head (and its stored examples) also holds the dev clips."""
    from finetune.lift_data import Item
    from finetune.lift_head import TEMPERATURES, calibrate, head_examples, head_for, with_head

    def items(exercises: list[str], seeds: range) -> list[Item]:
        return [Item(prepared(e, s), e, 6, None, f"real:{e}:{s}") for e in exercises for s in seeds]

    model = tiny_model().eval()
    train, dev = items(["squat", "push_up"], range(2)), items(["squat", "push_up", "lunge"], range(10, 12))
    cfg = KinematicHeadConfig()
    train_only = head_for(list(model.cfg.exercises), head_examples(train, 12.5, cfg), cfg)
    expected, _ = calibrate(Recognizer(model, Calibration(), None, train_only), dev, TEMPERATURES)

    refit, examples, report = with_head(model, train, dev, cfg, TEMPERATURES)
    assert refit.calibration == expected and report["examples"]["refit_with_dev"]
    assert "lunge" in examples.labels and len(examples.labels) > len(head_examples(train, 12.5, cfg).labels)
    lunge = refit.head.exercises.index("lunge")
    assert int(np.argmax(refit.head.log_probs(prepared("lunge", 50), 12.5))) == lunge

    kept, kept_examples, report = with_head(model, train, dev, KinematicHeadConfig(refit_with_dev=False),
                                            TEMPERATURES)
    assert "lunge" not in kept_examples.labels and not report["examples"]["refit_with_dev"]
    assert kept.calibration == expected
