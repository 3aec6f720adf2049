"""The one exercise vocabulary (countllm/labels.py): real-world labels, questions, user files.

The normaliser table holds every class name RepCountA and Countix-Fitness actually use (their
spellings and typos included), the synthetic generator's exercises, and the abbreviations people
type; the development CSVs are also read directly when present, so a new class there fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from countllm import labels
from countllm.errors import InputError
from countllm.synthetic.skeleton import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DATASET_CSVS = [DATA / "annotations" / "repcount_a_train.csv", DATA / "annotations" / "repcount_a_valid.csv",
                DATA / "countix_fitness_pose" / "gt.csv"]


@pytest.fixture(autouse=True)
def no_user_labels(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests see the shipped labels only, unless they write a user file themselves."""
    monkeypatch.delenv(labels.USER_LABELS_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


NORMALIZE_CASES = [
    # RepCountA `type` column (train + valid), every spelling it uses
    ("situp", "sit_up"), ("squat", "squat"), ("bench_pressing", "bench_press"), ("pull_up", "pull_up"),
    ("push_up", "push_up"), ("pommelhorse", "pommel_horse"), ("front_raise", "front_raise"),
    ("jump_jack", "jumping_jack"), ("others", "other"), ("frontraise", "front_raise"), ("squant", "squat"),
    ("pullups", "pull_up"), ("benchpressing", "bench_press"), ("pushups", "push_up"),
    ("jumpjacks", "jumping_jack"), ("battle_rope", "battle_rope"),
    # Countix-Fitness gt.csv
    ("lunge", "lunge"), ("rope_pushdown", "rope_pushdown"), ("sit_up", "sit_up"), ("pull_ups", "pull_up"),
    # the synthetic generator's exercises
    ("jumping_jack", "jumping_jack"), ("bicep_curl", "bicep_curl"),
    # how people write them: case, plural, hyphen/space/underscore, verb forms
    ("Push-Ups", "push_up"), ("push ups", "push_up"), ("PUSH_UP", "push_up"), ("press-ups", "push_up"),
    ("Pull-up", "pull_up"), ("sit ups", "sit_up"), ("Squats", "squat"), ("squatting", "squat"),
    ("bench presses", "bench_press"), ("Bench Press", "bench_press"), ("front raises", "front_raise"),
    ("Jumping Jacks", "jumping_jack"), ("star jumps", "jumping_jack"), ("biceps curls", "bicep_curl"),
    ("triceps pushdowns", "rope_pushdown"), ("bent over rows", "bent_over_row"), ("chinups", "chin_up"),
    ("high knees", "high_knees"), ("skull crushers", "tricep_extension"), ("Crunches", "crunch"),
    ("Burpees", "burpee"), ("pommel horse", "pommel_horse"), ("battle ropes", "battle_rope"),
    # abbreviations, sides and equipment
    ("RDL", "romanian_deadlift"), ("1-leg RDLs", "romanian_deadlift"), ("OHP", "shoulder_press"),
    ("db curls", "bicep_curl"), ("bb rows", "bent_over_row"), ("KB swings", "kettlebell_swing"),
    ("L lunge", "lunge"), ("left leg raises", "leg_raise"), ("single-leg glute bridge", "glute_bridge"),
    ("one-arm dumbbell rows", "bent_over_row"), ("seated calf raises", "calf_raise"),
    # not exercises, or only part of a name
    ("presses", None), ("raise", None), ("left", None), ("dog barking", None), ("", None),
]  # fmt: skip


@pytest.mark.parametrize("text,expected", NORMALIZE_CASES)
def test_normalize_real_world_labels(text: str, expected: str | None) -> None:
    assert labels.normalize(text) == expected


@pytest.mark.parametrize("path", DATASET_CSVS, ids=lambda p: p.name)
def test_every_dataset_class_normalises(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"development data not present: {path}")
    with path.open(newline="") as handle:
        types = {row["type"] for row in csv.DictReader(handle)}
    assert types and {t: labels.normalize(t) for t in types if labels.normalize(t) is None} == {}


def test_shipped_exercise_list_and_synthetic_exercises_are_labels() -> None:
    names = [line.split(":")[0].strip() for line in (ROOT / "knowledge" / "exercises.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(names) >= 30
    assert {n: labels.normalize(n) for n in names if labels.normalize(n) is None} == {}
    assert all(labels.normalize(e) == e for e in EXERCISES)


QUESTION_CASES = [
    ("how many press-ups did I do?", "push_up"),
    ("How many push-ups did he do?", "push_up"),
    ("Count the pull ups", "pull_up"),
    ("how many times is she squatting", "squat"),
    ("how many front squats", "squat"),
    ("How many RDLs?", "romanian_deadlift"),
    ("how many Romanian deadlifts", "romanian_deadlift"),  # longest match wins over "deadlift"
    ("how many deadlifts", "deadlift"),
    ("how many kb swings", "kettlebell_swing"),
    ("Star jumps: how many?", "jumping_jack"),
    ("Good morning! How many squats today?", "squat"),  # the words after "how many" first
    ("how many good mornings", "good_morning"),
    ("How many times did the dog bark?", None),
    ("how many presses", None),
    ("how many others", None),  # a placeholder class is never found in text
]


@pytest.mark.parametrize("question,expected", QUESTION_CASES)
def test_find_in_text(question: str, expected: str | None) -> None:
    assert labels.find_in_text(question) == expected


def test_display_names_and_word_forms() -> None:
    assert labels.display_name("push_up") == "push-up" and labels.display_name("bench_press") == "bench press"
    assert labels.words("push_up") == "pushup" and labels.words("high_knees") == "high knee"
    assert labels.word_form("1-leg RDLs") == "single leg romanian deadlift"
    forms = [labels.word_form(t) for t in ("Push-Ups", "bench_presses", "Crunches")]
    assert forms == ["pushup", "bench press", "crunch"]
    assert labels.from_words("pushup") == "push_up" and labels.from_words("bentover row") == "bent_over_row"
    assert all(labels.from_words(labels.words(i)) == i for i in labels.known_ids())
    with pytest.raises(KeyError, match="unknown exercise id 'pushup'"):
        labels.display_name("pushup")


def test_spoken_names_keep_the_trained_caption_vocabulary() -> None:
    """The shipped video-LLM was taught these exact names and moving parts."""
    trained = {"bench_pressing": ("bench press", "elbows and shoulders"),
               "front_raise": ("front raise", "shoulders and arms"), "lunge": ("lunge", "knees and hips"),
               "pull_ups": ("pull-up", "elbows and shoulders"),
               "pull_up": ("pull-up", "elbows and shoulders"), "push_up": ("push-up", "elbows and shoulders"),
               "rope_pushdown": ("rope pushdown", "elbows"), "sit_up": ("sit-up", "hips and trunk"),
               "squat": ("squat", "knees and hips"), "jumping_jack": ("jumping jack", "arms and legs"),
               "bicep_curl": ("bicep curl", "elbows")}  # fmt: skip
    for kind, (name, parts) in trained.items():
        assert labels.spoken_name(kind) == name and labels.moves(labels.normalize(kind)) == parts, kind
    assert labels.spoken_name("others") is None and labels.spoken_name("cartwheel_kick") == "cartwheel kick"


def test_shipped_spellings_are_unambiguous() -> None:
    """Every id, name and alias reads as exactly one id (Vocabulary.add refuses a clash)."""
    for label_id in labels.known_ids():
        for spelling in (label_id, *labels.aliases(label_id)):
            assert labels.normalize(spelling) == label_id, spelling


# ----------------------------------------------------------------------------- user labels file
USER_FILE = """
exercises:
  turkish_get_up:
    name: Turkish get-up
    aliases: [TGU]
    moves: hips and shoulders
  squat:
    aliases: [sqaut]
"""


def test_user_labels_file_adds_an_exercise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text(USER_FILE)
    assert labels.normalize("turkish get-ups") is None
    monkeypatch.setenv(labels.USER_LABELS_ENV, str(path))
    assert labels.normalize("Turkish Get-Ups") == "turkish_get_up" and labels.normalize("tgu") == "turkish_get_up"
    assert labels.find_in_text("how many Turkish get-ups did she do?") == "turkish_get_up"
    assert labels.display_name("turkish_get_up") == "Turkish get-up"
    assert labels.moves("turkish_get_up") == "hips and shoulders"
    assert labels.normalize("sqauts") == "squat" and labels.display_name("squat") == "squat"  # alias added


def test_user_labels_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "home" / ".config" / "countllm" / "labels.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(USER_FILE)
    assert labels.normalize("TGU") == "turkish_get_up"


MALFORMED = [
    ("not_yaml", "exercises: [unclosed", "not valid YAML"),
    ("no_exercises", "squat: {}", "expected a mapping 'exercises"),
    ("bad_id", "exercises:\n  Turkish Get-Up: {name: tgu}", "must be lower case"),
    ("new_without_name", "exercises:\n  turkish_get_up: {aliases: [tgu]}", "needs a 'name'"),
    ("unknown_field", "exercises:\n  squat: {nmae: squat}", "nmae"),
    ("aliases_not_list", "exercises:\n  squat: {aliases: sqaut}", "'aliases' must be a list"),
    ("clash", "exercises:\n  dip: {name: dip, aliases: [press-up]}", "reads the same as 'push_up'"),
]


@pytest.mark.parametrize("case,text,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_user_file_is_one_line_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     case: str, text: str, words: str) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    monkeypatch.setenv(labels.USER_LABELS_ENV, str(path))
    with pytest.raises(InputError) as info:
        labels.normalize("squat")
    assert info.value.source == str(path) and words in info.value.message
    assert "\n" not in str(info.value)


def test_missing_named_user_file_is_an_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(labels.USER_LABELS_ENV, str(tmp_path / "absent.yaml"))
    with pytest.raises(InputError, match=labels.USER_LABELS_ENV):
        labels.find_in_text("how many squats")
