"""The recognizer's parts: motion images, words and targets, questions, the model, the checkpoint."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from countllm import labels
from countllm.pose.layouts import H36M
from countllm.recognize.checkpoint import Calibration, CheckpointError, load_checkpoint, save_checkpoint
from countllm.recognize.motion_image import (
    MotionImageConfig,
    bbox_normalise,
    chain_matrix,
    image_from_joints,
    motion_image,
    pad_image,
    prepare_joints,
    resample_time,
    smooth_joints,
    window_starts,
)
from countllm.recognize.questions import QuestionTokenizer, paraphrases, plural, question
from countllm.recognize.recognizer import Recognizer, exercise_log_likelihood
from countllm.recognize.words import OutputVocabulary, partial_credit, weighted_words, word_table
from countllm.types import Pose

from .conftest import shared_data

CLEAN_CONFIDENCE = 0.5  # the shipped model on clean synthetic clips (its training.json: clean_synthetic)
TRAINED = ["squat", "push_up", "pull_up", "lunge", "sit_up", "bench_press", "front_raise", "rope_pushdown",
           "jumping_jack", "bicep_curl"]


# --------------------------------------------------------------------------- motion images
def test_smoothing_is_a_centred_window_of_three_with_repeated_edges():
    x = np.array([0.0, 3.0, 6.0, 0.0], dtype=np.float32).reshape(4, 1, 1)
    # edges repeat: (0+0+3)/3, (0+3+6)/3, (3+6+0)/3, (6+0+0)/3
    assert smooth_joints(x, 3).ravel() == pytest.approx([1.0, 3.0, 3.0, 2.0])
    assert smooth_joints(x, 1).ravel() == pytest.approx([0.0, 3.0, 6.0, 0.0])


def test_bbox_normalisation_per_frame_and_axis():
    j = np.array([[[0.0, 10.0, 5.0], [2.0, 20.0, 5.0], [1.0, 15.0, 5.0]]], dtype=np.float32)  # 1 frame, 3 joints
    out = bbox_normalise(j)
    assert out[0, :, 0] == pytest.approx([-0.5, 0.5, 0.0])  # x: min 0, max 2
    assert out[0, :, 1] == pytest.approx([-0.5, 0.5, 0.0])
    assert out[0, :, 2] == pytest.approx([0.0, 0.0, 0.0])  # no extent: the centre


def test_resampling_25_to_12_5_fps_keeps_every_other_frame():
    x = np.arange(7, dtype=np.float32).reshape(7, 1, 1)
    assert resample_time(x, 25.0, 12.5).ravel() == pytest.approx([0, 2, 4, 6])
    assert resample_time(x, 10.0, 12.5).ravel() == pytest.approx([0, 0.8, 1.6, 2.4, 3.2, 4.0, 4.8, 5.6])


def test_chain_matrix_interpolates_along_each_chain():
    m = chain_matrix(3)  # 3 points per chain: the first joint, the middle of the chain, the last joint
    assert m.shape == (15, 17)
    assert m.sum(axis=1) == pytest.approx(np.ones(15))
    # chain 0: root, spine, thorax, neck, head → point 1 sits at joint index 2 (thorax) exactly
    assert m[0, H36M["root"]] == 1 and m[1, H36M["thorax"]] == 1 and m[2, H36M["head"]] == 1
    # chain 1: root, l_hip, l_knee, l_ankle → point 1 at index 1.5: half l_hip, half l_knee
    assert m[4, H36M["l_hip"]] == pytest.approx(0.5) and m[4, H36M["l_knee"]] == pytest.approx(0.5)


def test_motion_image_of_a_hand_built_pose():
    t = 4
    joints = np.zeros((t, 17, 3), dtype=np.float32)
    joints[:, :, 0] = np.arange(17)[None, :]  # x = joint index, every frame
    joints[:, :, 1] = np.arange(t)[:, None]  # y = frame index
    image = image_from_joints(joints, points_per_chain=4)
    assert image.shape == (3, 20, t)
    # left arm chain (rows 12..15): thorax, l_shoulder, l_elbow, l_wrist at M = 4: exactly the joints
    assert image[0, 12:16, 0] == pytest.approx([H36M["thorax"], H36M["l_shoulder"], H36M["l_elbow"],
                                                H36M["l_wrist"]])
    assert image[1, :, 2] == pytest.approx(np.full(20, 2.0))  # y of every row in frame 2
    padded, mask = pad_image(image, 6)
    assert padded.shape == (3, 20, 6) and mask[:, :t].all() and not mask[:, t:].any()
    assert not padded[:, :, t:].any()


def test_full_size_image_and_mediapipe_input_match():
    from countllm.synthetic import SyntheticConfig, make_sequence, to_mediapipe33

    seq = make_sequence(SyntheticConfig(exercise="squat", n_reps=3, seed=1, fps=25.0))
    image, mask = motion_image(seq.pose)
    assert image.shape == (3, 320, 640) and mask.shape == (320, 640)
    assert mask[0].sum() == len(prepare_joints(seq.pose)) == int((len(seq.pose) - 1) / 2) + 1  # 25 → 12.5 fps
    assert np.abs(image).max() <= 0.5 + 1e-6  # bbox-normalised and centred
    mp = Pose(to_mediapipe33(seq.pose.joints).astype(np.float32), seq.pose.valid, 25.0, "mediapipe33")
    assert prepare_joints(mp).shape == prepare_joints(seq.pose).shape
    raw = prepare_joints(seq.pose, MotionImageConfig(normalise="none"))
    assert np.abs(raw).max() > 0.5  # metres, not normalised


def test_window_starts_cover_the_clip():
    assert window_starts(100, 640, 320) == [0]
    assert window_starts(1000, 640, 320) == [0, 320, 360]
    assert window_starts(640, 640, 320) == [0]


# --------------------------------------------------------------------------- words and targets
REAL_LABELS = {  # as datasets write them → the id, and its LiFT words
    "squant": ("squat", "squat"), "squat": ("squat", "squat"),
    "bench_pressing": ("bench_press", "bench press"), "benchpressing": ("bench_press", "bench press"),
    "frontraise": ("front_raise", "front raise"), "front_raise": ("front_raise", "front raise"),
    "jump_jack": ("jumping_jack", "jumping jack"), "jumpjacks": ("jumping_jack", "jumping jack"),
    "pull_up": ("pull_up", "pullup"), "pullups": ("pull_up", "pullup"), "pull_ups": ("pull_up", "pullup"),
    "push_up": ("push_up", "pushup"), "pushups": ("push_up", "pushup"), "situp": ("sit_up", "situp"),
    "sit_up": ("sit_up", "situp"), "lunge": ("lunge", "lunge"), "rope_pushdown": ("rope_pushdown", "rope pushdown"),
    "pommelhorse": ("pommel_horse", "pommel horse"), "battle_rope": ("battle_rope", "battle rope"),
    "Push-Ups": ("push_up", "pushup"), "1-leg RDLs": ("romanian_deadlift", "romanian deadlift"),
}


@pytest.mark.parametrize("text", sorted(REAL_LABELS))
def test_normaliser_on_real_labels(text):
    from countllm.recognize.words import normalise_label

    label_id, words = REAL_LABELS[text]
    assert normalise_label(text) == label_id
    assert labels.words(label_id) == words
    assert labels.from_words(words) == label_id


def test_normaliser_covers_every_class_of_the_real_annotation_files():
    types = set()
    for path in shared_data("annotations").glob("*.csv"):
        with open(path, newline="") as handle:
            types |= {row["type"] for row in csv.DictReader(handle)}
    with open(shared_data("countix_fitness_pose", "gt.csv"), newline="") as handle:
        types |= {row["type"] for row in csv.DictReader(handle)}
    ids = {t: labels.normalize(t) for t in types}
    assert all(ids.values()), ids
    assert {i for i in ids.values() if not labels.is_placeholder(i)} >= {"squat", "push_up", "bench_press"}


def test_word_weights_follow_lift_categories():
    table = word_table()
    assert table.weight("squat") == 1.0 and table.weight("front") == 1.0 and table.weight("jack") == 1.0
    assert table.weight("bicep") == 1.0 and table.weight("12") == 1.0 and table.weight("and") == 0.5
    assert table.weight("alternating") == 0.4 and table.weight("bench") == 0.1 and table.weight("other") == 0.0
    assert table.weight("31") == 0.0  # beyond the integer head


def test_every_shipped_exercise_word_has_a_category():
    table = word_table()
    for label_id in labels.known_ids():
        if not labels.is_placeholder(label_id):
            assert all(table.category(w) != "uncategorized" for w in labels.words(label_id).split()), label_id


def test_weighted_multi_hot_targets():
    vocab = OutputVocabulary.for_exercises(TRAINED)
    assert weighted_words("bench_press") == {"bench": 0.1, "press": 1.0}
    target = vocab.target(label_id="bench_press")
    assert target[vocab.index("bench")] == pytest.approx(0.1) and target[vocab.index("press")] == 1.0
    assert target.sum() == pytest.approx(1.1)
    count = vocab.target(count=7)
    assert count[vocab.index("7")] == 1.0 and count.sum() == 1.0
    assert vocab.target(count=0).sum() == 0 and vocab.target(count=31).sum() == 0
    assert len(vocab) == len(vocab.words) + 30


def test_partial_credit():
    assert partial_credit({"front": 0.9, "raise": 0.02}, "front_raise") == 0.5
    assert partial_credit({"front": 0.9, "raise": 0.06}, "front_raise") == 1.0
    assert partial_credit({"squat": 0.9}, "front_raise") == 0.0


# --------------------------------------------------------------------------- questions, model, checkpoint
def test_questions_and_tokenizer():
    assert question("recognize") == paraphrases("recognize")[0] == "What exercise is being performed?"
    assert question("count", "squat") == "How many squats were done?"
    assert plural("bench press") == "bench presses" and plural("push-up") == "push-ups"
    tok = QuestionTokenizer.build(TRAINED)
    ids, mask = tok.encode("How many Push-Ups were done?")
    assert tok.words[ids[0]] == "[CLS]" and [tok.words[i] for i in ids[1:6]] == ["how", "many", "pushup", "were",
                                                                                   "done"]
    assert mask.sum() == 6
    assert tok.words[tok.encode("How many burpees?")[0][3]] == "[UNK]"


def tiny_model():
    from countllm.recognize.model import LiftConfig, LiftModel

    tok, vocab = QuestionTokenizer.build(TRAINED), OutputVocabulary.for_exercises(TRAINED)
    cfg = LiftConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, question_words=tok.words,
                     output_words=vocab.words, output_weights=vocab.weights, exercises=tuple(TRAINED))
    return LiftModel(cfg)


def test_model_forward_shapes_and_checkpoint_round_trip(tmp_path, squat_sequence):
    import torch

    model = tiny_model().eval()
    rec = Recognizer(model, Calibration(1.0, 0.3))
    result = rec.recognize(squat_sequence.pose)
    assert set(result.scores) == set(TRAINED) and sum(result.scores.values()) == pytest.approx(1.0)
    assert set(result.to_json()) == {"exercise", "confidence", "words", "alternatives", "schema_version"}
    centres, probs, ids = rec.window_scores(squat_sequence.pose, 6.0, 2.0)
    assert probs.shape == (len(centres), len(TRAINED)) and ids == TRAINED
    save_checkpoint(model, tmp_path / "ckpt", Calibration(2.0, 0.4))
    loaded, calibration = load_checkpoint(tmp_path / "ckpt")
    assert calibration == Calibration(2.0, 0.4)
    x = torch.zeros(1, 3, 320, 640)
    mask = torch.ones(1, 320, 640, dtype=torch.long)
    ids_, att = model.cfg.tokenizer.encode_batch(["What exercise is this?"])
    with torch.no_grad():
        a = model(x, mask, torch.from_numpy(ids_), torch.from_numpy(att))
        b = loaded(x, mask, torch.from_numpy(ids_), torch.from_numpy(att))
    assert a.shape == (1, len(model.cfg.vocabulary)) and torch.allclose(a, b, atol=2e-2)  # fp16 weights


def test_bad_checkpoint_folders_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        load_checkpoint(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="config.json missing"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 1, "kind": "lift", "model": {}}))
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path)


def test_exercise_scores_prefer_the_matching_word_set():
    vocab = OutputVocabulary.for_exercises(TRAINED)
    targets = np.stack([vocab.word_target(e) for e in TRAINED])
    p = np.full((1, len(vocab.words)), 0.02)
    p[0, vocab.words.index("front")] = p[0, vocab.words.index("raise")] = 0.9
    assert TRAINED[int(exercise_log_likelihood(p, targets).argmax())] == "front_raise"
    p = np.full((1, len(vocab.words)), 0.02)
    p[0, vocab.words.index("press")], p[0, vocab.words.index("bench")] = 0.9, 0.1
    assert TRAINED[int(exercise_log_likelihood(p, targets).argmax())] == "bench_press"


CLEAN_CASES = [pytest.param(e, layout, marks=[pytest.mark.xfail(
    reason="bicep curls exist only as generated clips: the kinematic head is unsure of them, so the shipped "
           "recognizer's best guess (bicep curl, p ~0.5) is under its 0.6 floor and it answers unknown "
           "(training.json: clean_synthetic)",
    strict=True)] if e == "bicep_curl" else [])
    for e in ("bicep_curl", "front_raise", "jumping_jack", "lunge", "pull_up", "push_up", "sit_up", "squat")
    for layout in ("h36m17", "mediapipe33")]


@pytest.mark.parametrize(("exercise", "layout"), CLEAN_CASES)
def test_shipped_recognizer_is_sure_of_clean_synthetic_exercises(exercise, layout):
    """The generator's default clip of every exercise (the agent relies on these answers: a
    squat-then-push-up workout splits into two sets; "how many burpees?" on a squat clip is
    answered "none" because the recognizer is sure it is a squat)."""
    from countllm.recognize import load_recognizer
    from countllm.synthetic import SyntheticConfig, make_sequence, to_mediapipe33

    seq = make_sequence(SyntheticConfig(exercise=exercise, n_reps=8, seed=7))
    joints = seq.pose.joints if layout == "h36m17" else to_mediapipe33(seq.pose.joints)
    result = load_recognizer().recognize(Pose(joints.astype(np.float32), seq.pose.valid, 30.0, layout, exercise))
    assert result.exercise == exercise and result.confidence >= CLEAN_CONFIDENCE, result.to_json()
