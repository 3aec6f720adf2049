"""The one exercise vocabulary: canonical ids, display names, aliases and what each exercise moves.

Why one module: datasets, users and models spell the same exercise many ways — RepCountA writes
`bench_pressing`, `benchpressing`, `pullups`, `jump_jack` and even `squant`; people ask about
"press-ups", "RDLs" or "1-leg RDLs". Matching priors to questions, naming classes in the
finetune captions and scoring the video-LLM's exercise answers all need the same answer to
"which exercise is this?", so every spelling goes through `normalize` here and comes out as one
id (`push_up`). The table lives in `countllm/labels.yaml`, not in code, so adding an exercise
or a spelling is a data change.

The normaliser folds, in this order: case; `_`, `-` and spaces (push_up = push-up = push up =
pushup); abbreviations (`ABBREVIATIONS`: rdl, ohp, db, bb, kb, L/R, 1-leg → single leg); plurals
(squats → squat, presses → press) and verb forms (pressing → press, squatting → squat). What is
left must equal an id's name or alias folded the same way; otherwise side and equipment words
(left, single leg, dumbbell, ...) are dropped and it tries once more ("L lunge" → lunge).

**User labels** add exercises or spellings without a code change: the file named by
`$COUNTLLM_LABELS`, else `~/.config/countllm/labels.yaml` when it exists. Same format as the
shipped file::

    exercises:
      turkish_get_up:              # a new id: lower case letters, digits and _
        name: turkish get-up       # display name (required for a new id)
        aliases: [tgu, get-up]     # optional
        moves: hips and shoulders  # optional: for the stage-1 captions
      squat:                       # a shipped id: the aliases are added
        aliases: [sqaut]

A key may also be `placeholder: true` (a dataset class that names no exercise, RepCountA's
"others": it normalises, but `find_in_text` never answers it). A malformed file, or a spelling
that would name two different ids, is an `InputError` naming the file.

The LiFT word form (docs/design.md §2) is `words(id)`: lower case, singular, hyphens removed
(push-up → "pushup"); `from_words` is its inverse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from countllm.errors import InputError

USER_LABELS_ENV = "COUNTLLM_LABELS"
USER_LABELS_PATH = Path("~/.config/countllm/labels.yaml")

# Abbreviation (singular, lower case) → the words it stands for.
ABBREVIATIONS: dict[str, str] = {
    "rdl": "romanian deadlift", "ohp": "overhead press", "db": "dumbbell", "bb": "barbell",
    "kb": "kettlebell", "l": "left", "r": "right", "1-leg": "single leg", "1-arm": "single arm",
    "one-leg": "single leg", "one-arm": "single arm", "single-leg": "single leg", "single-arm": "single arm",
}  # fmt: skip
# Side and equipment words dropped on the second try of `normalize` ("L lunge" → lunge). Only
# on the second try, so names containing them ("kettlebell swing", "leg raise") match first.
MODIFIERS = ("single", "leg", "arm", "left", "right", "alternating", "dumbbell", "barbell", "kettlebell",
             "weighted", "bodyweight", "cable", "standing", "seated")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = {"name", "aliases", "moves", "placeholder"}


@dataclass(frozen=True)
class Label:
    """One exercise: `id` (push_up), `name` as people write it (push-up), other spellings, and
    the body parts that move, as the caption phrase ("elbows and shoulders"; None if unknown)."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    moves: str | None = None
    placeholder: bool = False


# --------------------------------------------------------------------------- folding text
def singular(word: str) -> str:
    """A plural noun's singular by the regular English rules (squats → squat, presses → press,
    crunches → crunch, burpees → burpee); words ending in ss, us or is (press, this) stay."""
    if len(word) <= 2 or word.endswith(("ss", "us", "is")) or not word.endswith("s"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    return word[:-1]


def word_form(text: str) -> str:
    """LiFT's label normalisation of free text (docs/design.md §2): lower case, abbreviations
    written out, hyphens removed (push-up → pushup), underscores as spaces, punctuation dropped,
    nouns singular ("1-leg RDLs" → "single leg romanian deadlift")."""
    tokens = re.findall(r"[a-z0-9\-]+", text.lower().replace("_", " "))
    expanded = " ".join(ABBREVIATIONS.get(singular(t), singular(t)) for t in tokens)
    return " ".join(expanded.replace("-", "").split())


def _stem(word: str) -> str:
    """Verb forms onto one key: pressing → press, squatting → squat, raise/raising → rais.
    Applied to both sides of a match, so it only has to be consistent, not linguistic."""
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "sl":
            word = word[:-1]
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def fold(text: str) -> list[str]:
    """The matching keys of `text`'s words: word form, then verb forms stemmed."""
    return [_stem(w) for w in word_form(text).split()]


_MODIFIER_KEYS = frozenset(k for word in MODIFIERS for k in fold(word))


# --------------------------------------------------------------------------- the vocabulary
class Vocabulary:
    """Labels by id plus the folded spelling → id table all look-ups go through."""

    def __init__(self, labels: Iterable[Label]) -> None:
        self.labels: dict[str, Label] = {}
        self._keys: dict[str, str] = {}
        self._words: dict[str, str] = {}
        for label in labels:
            self.add(label)

    def add(self, label: Label) -> None:
        """Add `label` (a known id gains the new aliases); ValueError when a spelling already
        names another id."""
        old = self.labels.get(label.id)
        if old is not None:
            aliases = old.aliases + tuple(a for a in label.aliases if a not in old.aliases)
            label = Label(label.id, label.name or old.name, aliases, label.moves or old.moves,
                          label.placeholder or old.placeholder)
        for spelling in (label.id, label.name, *label.aliases):
            key = "".join(fold(spelling))
            if not key:
                raise ValueError(f"{label.id}: spelling {spelling!r} has no letters")
            owner = self._keys.get(key)
            if owner is not None and owner != label.id:
                raise ValueError(f"{spelling!r} of {label.id!r} reads the same as {owner!r}")
            self._keys[key] = label.id
        self.labels[label.id] = label
        self._words[word_form(label.name)] = label.id

    def normalize(self, text: str) -> str | None:
        """The id `text` names as a whole ("Push-Ups", "bench_pressing", "squant", "1-leg RDL"),
        or None. Side/equipment words are dropped only if the whole text matches nothing
        ("left leg raise" → leg_raise, not a "raise")."""
        keys = fold(text)
        tries = ["".join(keys)]  # as it is, then without leading side/equipment words, then without any
        tries += ["".join(keys[i:]) for i in range(1, len(keys)) if keys[i - 1] in _MODIFIER_KEYS]
        tries.append("".join(k for k in keys if k not in _MODIFIER_KEYS))
        return next((self._keys[t] for t in tries if t in self._keys), None)

    def find_in_text(self, text: str) -> str | None:
        """The id whose spelling appears in `text` (a question), the longest match winning
        ("romanian deadlift" over "deadlift"); None if none does. The words after the last
        "how many" are searched first ("Good morning! How many squats?" → squat). Placeholder
        ids ("other") are never found in text."""
        targets = {k: i for k, i in self._keys.items() if not self.labels[i].placeholder}
        return _find(fold(text), targets)

    def get(self, label_id: str) -> Label:
        """The label of a canonical id; KeyError lists the known ids."""
        try:
            return self.labels[label_id]
        except KeyError:
            raise KeyError(f"unknown exercise id {label_id!r}; known: {', '.join(sorted(self.labels))}") from None

    def from_words(self, text: str) -> str | None:
        """Inverse of `words`: the id of a LiFT word form ("pushup" → push_up), else `normalize`."""
        return self._words.get(" ".join(text.split())) or self.normalize(text)


def longest_match(text: str, names: Mapping[str, Iterable[str]]) -> str | None:
    """The key of `names` one of whose spellings occurs in `text` as a run of whole words
    (spaces ignored: "pull ups" matches "pull-up"), the longest spelling winning, the words
    after the last "how many" first; None if none."""
    targets: dict[str, str] = {}
    for key, spellings in names.items():
        for spelling in spellings:
            targets.setdefault("".join(fold(spelling)), key)
    return _find(fold(text), targets)


def _find(tokens: list[str], targets: Mapping[str, str]) -> str | None:
    return _longest(_after_how_many(tokens), targets) or _longest(tokens, targets)


def _after_how_many(tokens: list[str]) -> list[str]:
    starts = [i + 2 for i in range(len(tokens) - 1) if tokens[i:i + 2] == ["how", "many"]]
    return tokens[starts[-1]:] if starts else []


def _longest(tokens: list[str], targets: Mapping[str, str]) -> str | None:
    """The target value of the longest run of `tokens` (joined without spaces) in `targets`."""
    best, best_len = None, 0
    for i in range(len(tokens)):
        joined = ""
        for token in tokens[i:]:
            joined += token
            if joined in targets and len(joined) > best_len:
                best, best_len = targets[joined], len(joined)
    return best


# --------------------------------------------------------------------------- files
def _label(label_id: Any, record: Any, known: set[str]) -> Label:
    if not isinstance(label_id, str) or not _ID.match(label_id):
        raise ValueError(f"id {label_id!r} must be lower case letters, digits and _ (e.g. push_up)")
    if record is None:
        record = {}
    if not isinstance(record, dict) or set(record) - _FIELDS:
        extra = sorted(set(record) - _FIELDS) if isinstance(record, dict) else record
        raise ValueError(f"{label_id}: expected a mapping with {', '.join(sorted(_FIELDS))}, got {extra!r}")
    name, moves, aliases = record.get("name"), record.get("moves"), record.get("aliases", [])
    if name is None and label_id not in known:
        raise ValueError(f"{label_id}: a new exercise needs a 'name'")
    if not all(v is None or isinstance(v, str) and v.strip() for v in (name, moves)):
        raise ValueError(f"{label_id}: 'name' and 'moves' must be non-empty strings")
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise ValueError(f"{label_id}: 'aliases' must be a list of strings, got {aliases!r}")
    if not isinstance(record.get("placeholder", False), bool):
        raise ValueError(f"{label_id}: 'placeholder' must be true or false")
    return Label(label_id, name or "", tuple(aliases), moves, record.get("placeholder", False))


def read_labels(path: Path, vocabulary: Vocabulary) -> None:
    """Add the labels of one file to `vocabulary`; InputError (one line, naming the file)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(str(path), f"cannot read the labels file ({reason})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise InputError(str(path), f"not valid YAML{line}; see the format in countllm/labels.py") from None
    if not isinstance(data, dict) or not isinstance(data.get("exercises"), dict):
        raise InputError(str(path), "expected a mapping 'exercises: {id: {name, aliases, moves}}'")
    try:
        for label_id, record in data["exercises"].items():
            vocabulary.add(_label(label_id, record, set(vocabulary.labels)))
    except ValueError as exc:
        raise InputError(str(path), " ".join(str(exc).split())) from None


def shipped_labels_path() -> Path:
    return Path(str(resources.files("countllm"))) / "labels.yaml"


def user_labels_path() -> Path | None:
    """`$COUNTLLM_LABELS` (which must exist), else ~/.config/countllm/labels.yaml if it exists."""
    named = os.environ.get(USER_LABELS_ENV)
    if named:
        return Path(named).expanduser()
    default = USER_LABELS_PATH.expanduser()
    return default if default.is_file() else None


@lru_cache(maxsize=8)
def _load(user: str | None, stamp: int | None) -> Vocabulary:
    vocabulary = Vocabulary([])
    read_labels(shipped_labels_path(), vocabulary)
    if user is not None:
        read_labels(Path(user), vocabulary)
    return vocabulary


def vocabulary() -> Vocabulary:
    """The shipped labels plus the user's; reread when the user file or its path changes."""
    user = user_labels_path()
    if user is None:
        return _load(None, None)
    try:
        stamp = user.stat().st_mtime_ns
    except OSError as exc:
        raise InputError(str(user), f"cannot read the labels file named by ${USER_LABELS_ENV} "
                                    f"({exc.strerror or exc})") from None
    return _load(str(user), stamp)


# --------------------------------------------------------------------------- the short API
def normalize(text: str) -> str | None:
    """The canonical id a label names ("Push-Ups" → push_up, "squant" → squat), or None."""
    return vocabulary().normalize(text)


def find_in_text(question: str) -> str | None:
    """The id an exercise question is about ("how many press-ups did I do?" → push_up), or None."""
    return vocabulary().find_in_text(question)


def display_name(label_id: str) -> str:
    """How people write the exercise (push_up → "push-up"); KeyError for an unknown id."""
    return vocabulary().get(label_id).name


def spoken_name(kind: str | None) -> str | None:
    """A dataset class or synthetic exercise as people say it ("pull_ups" → "pull-up"): the
    display name of the id it normalises to. A class the vocabulary does not know keeps its own
    words ("cartwheel_kick" → "cartwheel kick"); one that names no exercise (RepCountA's
    "others") and an empty cell are None. The video-LLM is taught and scored on these names."""
    if not kind:
        return None
    label = normalize(kind)
    if label is None:
        return kind.replace("_", " ").strip()
    return None if is_placeholder(label) else display_name(label)


def moves(label_id: str) -> str | None:
    """What the exercise moves, as a caption phrase ("elbows and shoulders"), or None if unknown."""
    return vocabulary().get(label_id).moves


def is_placeholder(label_id: str) -> bool:
    """Whether the id is a dataset class naming no exercise (RepCountA's "others")."""
    return vocabulary().get(label_id).placeholder


def aliases(label_id: str) -> tuple[str, ...]:
    """Every spelling of the id the vocabulary lists: its name first, then its aliases."""
    label = vocabulary().get(label_id)
    return (label.name, *label.aliases)


def words(label_id: str) -> str:
    """The LiFT word form of an id: lower case, singular, hyphens removed (push_up → "pushup")."""
    return word_form(display_name(label_id))


def from_words(text: str) -> str | None:
    """Inverse of `words` ("pushup" → push_up, "bench press" → bench_press), or None."""
    return vocabulary().from_words(text)


def known_ids() -> list[str]:
    """Every id, shipped and user-added, in file order."""
    return list(vocabulary().labels)
