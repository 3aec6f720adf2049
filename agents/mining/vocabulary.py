"""The action vocabulary that mining asks about, and the multi-label files that override it.

An action list is a CSV with a `name` column and, optionally, a `category` column (AVA's
`id,name,category`: person_movement / object_manipulation / person_interaction). Without a
category every action is in one category, "all". LLMs never repeat a class name such as
"ride (e.g., a bike, a car, a horse)" verbatim, so each action also carries *aliases* — the
name without its parenthesised examples, each slash alternative, each example spelled out —
which the matcher compares answers against, exactly and by embedding.

Label file (`--labels`), one documented format: a CSV with a header that has an `actions`
column holding the `;`-separated action names of one clip per row (other columns, e.g.
`clip_id`, are ignored). Names must be vocabulary names (case and spacing do not matter):
labels are ground truth, so an unknown name is an error, not something to guess.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from countllm.errors import InputError

DEFAULT_CATEGORY = "all"
_SPACES = re.compile(r"\s+")
_PARENS = re.compile(r"\(([^()]*)\)")
_EDGE_PUNCT = " \t\"'`.,;:!?-*•[]{}"


def normalize_name(text: str) -> str:
    """Lower-case, NFKC, single spaces, no surrounding quotes/bullets — the form exact matches use."""
    text = unicodedata.normalize("NFKC", str(text)).lower().replace("_", " ")
    text = _SPACES.sub(" ", text).strip(_EDGE_PUNCT)
    return re.sub(r"^\d+[.)]\s*", "", text).strip(_EDGE_PUNCT)


def _example_forms(name: str) -> list[str]:
    """'ride (e.g., a bike, a car)' → ['ride a bike', 'ride a car'], since answers name the example."""
    forms = []
    core = _SPACES.sub(" ", _PARENS.sub(" ", name)).strip()
    for inner in _PARENS.findall(name):
        if inner.strip().startswith("e.g."):
            examples = inner.strip()[len("e.g."):].split(",")
            forms += [f"{core} {ex.strip()}" for ex in examples if ex.strip()]
    return forms


def action_aliases(name: str) -> tuple[str, ...]:
    """Normalised spellings an answer may use for `name`, the full name first."""
    unwrapped = _PARENS.sub(lambda m: "" if m.group(1).strip().startswith("e.g.") else m.group(1), name)
    core = _PARENS.sub(" ", name)
    forms = [name, unwrapped, core, *_example_forms(name)]
    for form in (unwrapped, core):
        forms += form.split("/") if "/" in form else []
    seen: dict[str, None] = {}
    for form in forms:
        alias = normalize_name(form)
        if alias:
            seen.setdefault(alias, None)
    return tuple(seen)


@dataclass(frozen=True)
class Action:
    name: str  # as written in the action file
    category: str
    aliases: tuple[str, ...]  # normalised; aliases[0] is the normalised name


@dataclass(frozen=True)
class Vocabulary:
    """Actions in file order; categories in order of first appearance."""

    actions: tuple[Action, ...]
    source: str = ""

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.actions]

    @cached_property
    def categories(self) -> list[str]:
        return list(dict.fromkeys(a.category for a in self.actions))

    def members(self, category: str) -> list[int]:
        """Indices of the actions in `category`, in file order."""
        return [i for i, a in enumerate(self.actions) if a.category == category]

    def category_index(self, i: int) -> int:
        return self.categories.index(self.actions[i].category)

    @cached_property
    def _by_name(self) -> dict[str, int]:
        return {a.aliases[0]: i for i, a in enumerate(self.actions)}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalize_name(name) in self._by_name

    def index(self, name: str) -> int:
        """Index of a vocabulary name (normalised comparison); KeyError when absent."""
        return self._by_name[normalize_name(name)]

    def to_json(self) -> list[dict[str, str | int]]:
        return [{"index": i, "name": a.name, "category": a.category} for i, a in enumerate(self.actions)]


def _read_csv(path: Path) -> list[dict[str, str]]:
    """Rows keyed by lower-cased, stripped header names; [] for a file with no header."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(str(path), f"cannot read the CSV ({exc})") from None
    return [{k.strip().lower(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}
            for row in rows]


def load_vocabulary(path: Path) -> Vocabulary:
    """Read an action list CSV (`name[,category]`); InputError says what is wrong with it."""
    rows = _read_csv(Path(path))
    if not rows or "name" not in rows[0]:
        raise InputError(str(path), "expected a CSV with a header row and a 'name' column "
                         "(optionally 'category'), one action per row, e.g. id,name,category")
    actions, seen = [], set()
    for line, row in enumerate(rows, start=2):
        name = row["name"]
        if not name:
            raise InputError(str(path), f"line {line}: empty action name")
        if normalize_name(name) in seen:
            raise InputError(str(path), f"line {line}: duplicate action {name!r}")
        seen.add(normalize_name(name))
        actions.append(Action(name, row.get("category") or DEFAULT_CATEGORY, action_aliases(name)))
    return Vocabulary(tuple(actions), source=str(path))


def load_label_sets(path: Path, vocab: Vocabulary) -> list[list[int]]:
    """One list of action indices per clip, from a CSV with a `;`-separated `actions` column."""
    rows = _read_csv(Path(path))
    if not rows or "actions" not in rows[0]:
        raise InputError(str(path), "expected a CSV with a header and an 'actions' column of "
                         "';'-separated action names per clip (e.g. clip_id,actions)")
    clips = []
    for line, row in enumerate(rows, start=2):
        names = [n for n in (s.strip() for s in row["actions"].split(";")) if n]
        unknown = [n for n in names if n not in vocab]
        if unknown:
            raise InputError(str(path), f"line {line}: not in the action list: {unknown}")
        clips.append(sorted({vocab.index(n) for n in names}))
    return clips


def label_topk(clips: list[list[int]], n_actions: int, k: int) -> dict[int, list[int]]:
    """For every labelled action, its k most frequent co-labelled actions (ties: file order).

    Why counts and not a threshold: docs/design.md §3 uses the top-k (k = 10) from training labels
    for seen classes, so every seen row gets at most k ones whatever the label density.
    """
    counts = np.zeros((n_actions, n_actions), dtype=np.int64)  # (N, N) clips with both
    for clip in clips:
        idx = np.asarray(clip, dtype=np.int64)
        counts[np.ix_(idx, idx)] += 1
    seen = np.flatnonzero(np.diag(counts) > 0)
    np.fill_diagonal(counts, 0)
    rows = {}
    for i in seen:
        order = np.argsort(-counts[i], kind="stable")[:k]
        rows[int(i)] = [int(j) for j in order if counts[i, j] > 0]
    return rows
