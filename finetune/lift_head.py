"""Fit the recognizer's posture-and-motion head (countllm/recognize/kinematics.py) and calibrate it
together with the transformer, on a checkpoint that already has a trained transformer.

    python -m countllm.finetune.lift_refit --config finetune/recipes/lift/default.yaml \\
        --checkpoint countllm/recognize/default [--out DIR] [key=value ...]

The recipe's data section says where the clips are and how they split (finetune/lift_data.py):
the head is fitted on the `train` clips (real and generated, the generated ones carrying
`head.synthetic_share` of the weight), the fusion weight, temperature and confidence floor are
chosen on `dev`, and `val` is scored once at the end. `lift_train` runs the same step after
training the transformer; this entry point exists so that the head can be refitted (a new
feature, other data) without training the transformer again.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from countllm import labels
from countllm.recognize.checkpoint import Calibration, save_checkpoint
from countllm.recognize.kinematics import Examples, KinematicHead, KinematicHeadConfig, examples_of, fit_head
from countllm.recognize.model import LiftModel
from countllm.recognize.recognizer import Recognizer, softmax

from .lift_data import Item

TEMPERATURES = np.exp(np.linspace(math.log(0.05), math.log(20.0), 61))
KINEMATIC_WEIGHTS = np.concatenate([[0.0], np.exp(np.linspace(math.log(0.05), math.log(8.0), 41))])


def head_examples(items: list[Item], fps: float, cfg: KinematicHeadConfig) -> Examples:
    """Window features of training items. Every exercise weighs the same; within an exercise
    that has both, generated clips carry `synthetic_share` of its weight and real ones the rest,
    and an exercise known only from generated clips (no real examples) gets its whole weight
    from them — otherwise the head would barely know it."""
    by_class: dict[str, dict[bool, list[tuple[np.ndarray, str]]]] = {}
    for it in items:
        if len(it.joints) >= 2:
            by_class.setdefault(it.label, {True: [], False: []})[it.cycles is not None].append((it.joints, it.label))
    out: Examples | None = None
    for _, sources in sorted(by_class.items()):
        for synthetic, clips in sources.items():
            if not clips:
                continue
            share = cfg.synthetic_share if synthetic else 1.0 - cfg.synthetic_share
            part = examples_of(clips, fps, cfg, (share if sources[not synthetic] else 1.0) / len(by_class))
            out = part if out is None else out.plus(part)
    if out is None:
        raise ValueError("no training clips of 2 frames or more for the kinematic head")
    return out


def head_for(exercises: list[str], examples: Examples, cfg: KinematicHeadConfig,
             names: dict[str, str] | None = None) -> KinematicHead:
    names = dict(names or {})
    for e in exercises:
        names.setdefault(e, labels.display_name(e))
    return fit_head(examples, exercises, names, cfg)


def clip_scores(recognizer: Recognizer, items: list[Item]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(N, E) transformer log-likelihoods at temperature 1, (N, E) aligned head log-probabilities
    (None without a head), (N,) true indices — for items of exercises the recognizer knows."""
    plain = Recognizer(recognizer.model, Calibration(1.0, 0.0, 1.0), recognizer.folder, recognizer.head)
    known = [it for it in items if it.label in plain.exercises]
    window_s = plain.cfg.image.max_seconds
    ll, head = [], []
    for item in known:
        _, probs, lengths = plain.window_word_probs(item.joints, window_s, window_s / 2)
        mean = (probs[:, : plain.n_words] * lengths[:, None]).sum(0) / lengths.sum()
        ll.append(plain.exercise_scores(mean[None])[0])
        if plain.head is not None:
            head.append(plain.exercise_scores(mean[None], plain.head_log_probs(item.joints)[None])[0] - ll[-1])
    truth = np.array([plain.exercises.index(it.label) for it in known])
    return np.stack(ll), (np.stack(head) if head else None), truth


def fit_fusion(ll: np.ndarray, head: np.ndarray | None, truth: np.ndarray,
               temperatures: np.ndarray) -> tuple[float, float, float]:
    """(temperature, kinematic weight, NLL) minimising the NLL of the true exercises on a grid."""
    best = (1.0, 0.0, float("inf"))
    for weight in KINEMATIC_WEIGHTS if head is not None else [0.0]:
        for t in temperatures:
            scores = ll / t + (weight * head if head is not None else 0.0)
            nll = float(-np.log(np.maximum(softmax(scores, 1.0)[np.arange(len(truth)), truth], 1e-12)).mean())
            if nll < best[2]:
                best = (float(t), float(weight), nll)
    return best


def calibrate(recognizer: Recognizer, dev: list[Item], temperatures: np.ndarray
              ) -> tuple[Calibration, dict[str, float]]:
    """Temperature and head weight by dev NLL; the floor keeps 95 % of the correct dev answers
    (5th percentile of their confidence, rounded down to 0.05, within [0.2, 0.6]; 0.3 when dev
    has under 10 correct answers)."""
    ll, head, truth = clip_scores(recognizer, dev)
    temperature, weight, nll = fit_fusion(ll, head, truth, temperatures)
    probs = softmax(ll / temperature + (weight * head if head is not None else 0.0), 1.0)
    correct = probs.argmax(1) == truth
    conf = probs.max(1)[correct]
    floor = 0.3 if len(conf) < 10 else float(np.clip(math.floor(np.percentile(conf, 5) * 20) / 20, 0.2, 0.6))
    metrics = {"dev_nll": nll, "dev_accuracy": float(correct.mean()), "dev_items": len(truth)}
    if head is not None:
        metrics["dev_accuracy_transformer_alone"] = float((ll.argmax(1) == truth).mean())
        metrics["dev_accuracy_head_alone"] = float((head.argmax(1) == truth).mean())
    return Calibration(temperature, floor, weight), metrics


def with_head(model: LiftModel, train: list[Item], dev: list[Item], cfg: KinematicHeadConfig,
              temperatures: np.ndarray) -> tuple[Recognizer, Examples, dict[str, Any]]:
    """The transformer `model` with a head fitted on `train` and everything calibrated on `dev`."""
    examples = head_examples(train, model.cfg.image.fps, cfg)
    head = head_for(list(model.cfg.exercises), examples, cfg)
    calibration, metrics = calibrate(Recognizer(model, Calibration(), None, head), dev, temperatures)
    if cfg.refit_with_dev and dev:
        # The dev clips have done their job (the weight, temperature and floor above, and the dev
        # metrics, all come from the head that never saw them); the shipped head learns from them
        # too, because real clips are what it is short of (26 more, 8 of them front raises).
        examples = head_examples(train + dev, model.cfg.image.fps, cfg)
        head = head_for(list(model.cfg.exercises), examples, cfg)
    report = {"config": asdict(cfg), "calibration": asdict(calibration), "dev": metrics,
              "examples": {"windows": len(examples.labels), "features": int(examples.features.shape[1]),
                           "refit_with_dev": bool(cfg.refit_with_dev and dev)}}
    return Recognizer(model, calibration, None, head), examples, report


def write_folder(recognizer: Recognizer, examples: Examples, folder: Path, training: dict[str, Any]) -> Path:
    """A checkpoint folder: transformer, head, the head's examples, calibration, training.json."""
    if folder.exists():
        shutil.rmtree(folder)
    save_checkpoint(recognizer.model, folder, recognizer.calibration, training)
    recognizer.head.save(folder)
    examples.save(folder)
    return folder
