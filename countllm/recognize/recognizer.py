"""Name the exercise in a pose sequence: `load_recognizer().recognize(pose)`.

The model answers "What exercise is being performed?" with a probability per exercise *word*
(`words.OutputVocabulary`). An exercise id is scored by how well its weighted word vector
explains those probabilities — the log-likelihood Σ_w t_w log p_w + (1 − t_w) log(1 − p_w) of
its target t under independent words — and the scores of every exercise the model knows go
through a softmax whose temperature was fitted on held-out clips, so `confidence` is a
calibrated probability that the named exercise is right. Below the checkpoint's confidence
floor the answer is "unknown", with the best guesses still listed.

A checkpoint may also carry a posture-and-motion head (`kinematics.py`): its per-window
log-probabilities, averaged over the clip, are added to the transformer's scores with the weight
`Calibration.kinematic_weight` fitted on the same held-out clips. An exercise the head learned
from a few user clips (finetune/lift_add_exercise.py) and the transformer never saw is scored by
the transformer through the words of its name, or, when none of them is a word the transformer
answers, by the mean of the transformer's scores — no evidence either way.

A clip longer than one motion image (the checkpoint's `image.max_frames`: 25.6 s for the
shipped model, at most 51.2 s) is cut into windows with half a window of overlap; the word
probabilities are averaged over windows, weighted by their length. Training crops are no
longer than one image either, so the model sees at inference what it was trained on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from countllm.recognize.checkpoint import DEFAULT_FOLDER, MAKE_ONE, Calibration, CheckpointError, load_checkpoint
from countllm.recognize.kinematics import HEAD_FILE, KinematicHead, clip_features, load_head
from countllm.recognize.model import LiftModel
from countllm.recognize.motion_image import image_from_joints, pad_image, prepare_joints, window_starts
from countllm.recognize.questions import question
from countllm.recognize.words import MAX_COUNT, WORD_THRESHOLD, text_words, word_table
from countllm.types import JSON_SCHEMA_VERSION, Pose

UNKNOWN = "unknown"
BATCH = 32


@dataclass
class Recognition:
    """What exercise a clip shows, and how sure the recognizer is."""

    exercise: str  # a label id of countllm.labels (e.g. "squat"), or "unknown"
    confidence: float  # calibrated P(exercise is right), in [0, 1]
    words: list[tuple[str, float]]  # words with p >= 0.05, most likely first
    alternatives: list[tuple[str, float]]  # the next 3 exercises (id, p)
    scores: dict[str, float]  # every exercise id the model knows -> probability
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "confidence": round(float(self.confidence), 3),
                "words": [[w, round(float(p), 3)] for w, p in self.words],
                "alternatives": [[e, round(float(p), 3)] for e, p in self.alternatives],
                "schema_version": JSON_SCHEMA_VERSION}


def exercise_log_likelihood(word_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N, W) word probabilities, (E, W) exercise targets → (N, E) log-likelihoods (see module doc)."""
    p = np.clip(word_probs.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) @ targets.T + np.log1p(-p) @ (1.0 - targets).T


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / max(temperature, 1e-6)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Recognizer:
    """A loaded recognizer checkpoint (see `load_recognizer`)."""

    def __init__(self, model: LiftModel, calibration: Calibration, folder: Path | None = None,
                 head: KinematicHead | None = None) -> None:
        self.model = model
        self.calibration = calibration
        self.folder = folder
        self.cfg = model.cfg
        self.head = head
        vocab = self.cfg.vocabulary
        self.n_words = len(vocab.words)
        self.word_names = list(vocab.words)
        lift = list(self.cfg.exercises)
        extra = [e for e in head.exercises if e not in lift] if head is not None else []
        self.exercises = lift + extra
        rows = [vocab.word_target(e) for e in lift] + [self._name_target(head.names[e]) for e in extra]
        self.targets = np.stack(rows) if rows else None
        self._wordless = self.targets.sum(axis=1) == 0 if rows else None
        self._head_columns = ([head.exercises.index(e) if e in head.exercises else -1 for e in self.exercises]
                              if head is not None else None)

    def _name_target(self, name: str) -> np.ndarray:
        """The word target of an exercise known only by its display name (a user-added one)."""
        table = word_table()
        target = np.zeros(self.n_words, dtype=np.float32)
        for word in text_words(name):
            if word in self.word_names and table.weight(word) > 0:
                target[self.word_names.index(word)] = table.weight(word)
        return target

    # ------------------------------------------------------------------ the model on images
    def predict(self, images: np.ndarray, masks: np.ndarray, texts: list[str]) -> np.ndarray:
        """(N, 3, R, F) images, (N, R, F) masks, N questions → (N, V) sigmoid probabilities."""
        import torch  # noqa: PLC0415

        tokenizer = self.cfg.tokenizer
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), BATCH):
                ids, att = tokenizer.encode_batch(texts[i:i + BATCH])
                logits = self.model(torch.from_numpy(images[i:i + BATCH]), torch.from_numpy(masks[i:i + BATCH]),
                                    torch.from_numpy(ids), torch.from_numpy(att))
                out.append(torch.sigmoid(logits).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.cfg.vocabulary)), np.float32)

    def exercise_scores(self, word_probs: np.ndarray, head_log_probs: np.ndarray | None = None) -> np.ndarray:
        """(N, W) word probabilities [and (N, head exercises) head log-probabilities] → (N, E)
        scores whose softmax is the calibrated probability (see the module doc)."""
        ll = exercise_log_likelihood(word_probs, self.targets)
        if self._wordless.any() and not self._wordless.all():
            ll[:, self._wordless] = ll[:, ~self._wordless].mean(axis=1, keepdims=True)
        scores = ll / max(self.calibration.temperature, 1e-6)
        if head_log_probs is not None and self.head is not None and self.calibration.kinematic_weight > 0:
            head_log_probs = np.asarray(head_log_probs, dtype=np.float64)
            neutral = head_log_probs.mean(axis=1, keepdims=True)
            aligned = np.concatenate([head_log_probs, neutral], axis=1)[:, self._head_columns]
            scores = scores + self.calibration.kinematic_weight * aligned
        return scores

    def exercise_probs(self, word_probs: np.ndarray, head_log_probs: np.ndarray | None = None) -> np.ndarray:
        """(N, W) word probabilities [and head log-probabilities] → (N, E) calibrated exercise probabilities."""
        return softmax(self.exercise_scores(word_probs, head_log_probs), 1.0)

    def head_log_probs(self, joints: np.ndarray) -> np.ndarray | None:
        """(head exercises,) the head's clip log-probabilities of prepared joints; None without a head."""
        if self.head is None or len(joints) < 2:
            return None
        return self.head.log_probs(joints, self.cfg.image.fps)

    def window_exercise_probs(self, joints: np.ndarray, window_s: float, hop_s: float
                              ) -> tuple[np.ndarray, np.ndarray]:
        """(centres s, (W, E) calibrated exercise probabilities) of windows of prepared joints."""
        centres, probs, lengths = self.window_word_probs(joints, window_s, hop_s)
        head = None
        if self.head is not None:
            img = self.cfg.image
            window = max(2, min(int(round(window_s * img.fps)), img.max_frames))
            starts = window_starts(len(joints), window, max(1, int(round(hop_s * img.fps))))
            head = np.stack([self.head.window_log_probs(clip_features(joints[a:a + window], img.fps,
                                                                      self.head.cfg)).mean(axis=0)
                             for a in starts])
        return centres, self.exercise_probs(probs[:, : self.n_words], head)

    def windows(self, joints: np.ndarray, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray]:
        """Motion images of windows of `window_s` (≤ one image) every `hop_s` of prepared joints
        (`motion_image.prepare_joints`): (centres s, images, masks)."""
        img_cfg = self.cfg.image
        window = max(2, min(int(round(window_s * img_cfg.fps)), img_cfg.max_frames))
        starts = window_starts(len(joints), window, max(1, int(round(hop_s * img_cfg.fps))))
        images, masks, centres = [], [], []
        for a in starts:
            part = joints[a:a + window]
            image, mask = pad_image(image_from_joints(part, img_cfg.points_per_chain), img_cfg.max_frames)
            images.append(image)
            masks.append(mask)
            centres.append((a + (len(part) - 1) / 2) / img_cfg.fps)
        return np.array(centres), np.stack(images), np.stack(masks)

    # ------------------------------------------------------------------ the API
    def window_word_probs(self, joints: np.ndarray, window_s: float, hop_s: float, task: str = "recognize",
                          exercise: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prepared joints → (centres s, (W, V) probabilities of the `task` question, (W,) window frames)."""
        centres, images, masks = self.windows(joints, window_s, hop_s)
        probs = self.predict(images, masks, [question(task, exercise)] * len(images))
        return centres, probs, masks[:, 0].sum(axis=1).astype(np.float64)

    def prepare(self, pose: Pose) -> np.ndarray:
        """The pose as the model's prepared joints (smoothed, normalised, 12.5 fps)."""
        return prepare_joints(pose, self.cfg.image)

    def window_scores(self, pose: Pose, window_s: float, hop_s: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(window centres s, (W, n_exercises) probabilities, the exercise ids of the columns)."""
        centres, probs = self.window_exercise_probs(self.prepare(pose), window_s, hop_s)
        return centres, probs, list(self.exercises)

    def recognize(self, pose: Pose) -> Recognition:
        """The exercise of the whole clip (windows of one image, their word probabilities averaged)."""
        return self.recognize_prepared(self.prepare(pose))

    def recognize_prepared(self, joints: np.ndarray) -> Recognition:
        """`recognize` on prepared joints (training and evaluation prepare clips once)."""
        window_s = self.cfg.image.max_seconds
        centres, probs, lengths = self.window_word_probs(joints, window_s, window_s / 2)
        mean = (probs[:, : self.n_words] * lengths[:, None]).sum(axis=0) / lengths.sum()
        notes = [] if len(centres) == 1 else [f"averaged over {len(centres)} windows of {window_s:g} s"]
        return self.from_word_probs(mean, notes, self.head_log_probs(joints))

    def count_heads(self, joints: np.ndarray, exercise: str | None = None) -> np.ndarray:
        """The integer head's probabilities (W, MAX_COUNT) for consecutive images of `joints`
        (windows side by side, not overlapping, so their counts add up)."""
        img_cfg = self.cfg.image
        chunks = [joints[a:a + img_cfg.max_frames] for a in range(0, len(joints), img_cfg.max_frames)]
        pairs = [pad_image(image_from_joints(c, img_cfg.points_per_chain), img_cfg.max_frames)
                 for c in chunks if len(c) >= 2]
        probs = self.predict(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]),
                             [question("count", exercise)] * len(pairs))
        return probs[:, self.n_words:]

    def count_prepared(self, joints: np.ndarray, exercise: str | None = None) -> tuple[int, list[int], bool]:
        """LiFT's count: the most confident integer per window, summed (see `counts_from_heads`)."""
        return counts_from_heads(self.count_heads(joints, exercise))

    def from_word_probs(self, word_probs: np.ndarray, notes: list[str] | None = None,
                        head_log_probs: np.ndarray | None = None) -> Recognition:
        """The Recognition of one (n_words,) word-probability vector [and the head's clip log-probabilities]."""
        probs = self.exercise_probs(word_probs[None], None if head_log_probs is None else head_log_probs[None])[0]
        order = np.argsort(-probs)
        best, confidence = self.exercises[order[0]], float(probs[order[0]])
        notes = list(notes or [])
        words = sorted(((w, float(p)) for w, p in zip(self.word_names, word_probs, strict=True)
                        if p >= WORD_THRESHOLD), key=lambda wp: -wp[1])
        if confidence < self.calibration.confidence_floor:
            notes.append(f"best guess {best} at {confidence:.2f} is below the confidence floor "
                         f"{self.calibration.confidence_floor:.2f}: answered unknown")
            best, alternatives = UNKNOWN, [(self.exercises[i], float(probs[i])) for i in order[:3]]
        else:
            alternatives = [(self.exercises[i], float(probs[i])) for i in order[1:4]]
        return Recognition(best, confidence, words, alternatives,
                           {e: float(p) for e, p in zip(self.exercises, probs, strict=True)}, notes)


def counts_from_heads(heads: np.ndarray) -> tuple[int, list[int], bool]:
    """(total, per-window counts, saturated: some window answered the maximum) of integer-head
    probabilities (W, MAX_COUNT); a window whose best integer is below p 0.05 counts 0."""
    counts = [int(np.argmax(p)) + 1 if p.max() >= WORD_THRESHOLD else 0 for p in heads]
    return sum(counts), counts, any(c >= MAX_COUNT for c in counts)


@lru_cache(maxsize=4)
def _load(folder: str, stamp: int) -> Recognizer:
    model, calibration = load_checkpoint(folder)
    try:
        head = load_head(Path(folder))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(str(Path(folder) / HEAD_FILE), f"not a readable kinematic head "
                              f"({' '.join(str(exc).split())[:200]}); {MAKE_ONE}") from None
    return Recognizer(model, calibration, Path(folder), head)


def load_recognizer(model: str | Path | None = None) -> Recognizer:
    """The recognizer in folder `model` (None: the shipped default), loaded once and cached.

    A missing or corrupt folder is a `CheckpointError` (a ModelUnavailable) naming it."""
    folder = Path(model) if model is not None else DEFAULT_FOLDER
    config = folder / "config.json"
    stamp = config.stat().st_mtime_ns if config.is_file() else 0
    if stamp == 0:
        load_checkpoint(folder)  # raises the one-line error naming what is missing
    head = folder / HEAD_FILE
    stamp += head.stat().st_mtime_ns if head.is_file() else 0
    return _load(str(folder.resolve()), stamp)
