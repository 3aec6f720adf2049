"""Scores for counting and for cycle localization, as the field reports them.

Counting (one number per video) follows the RepCount papers: normalized MAE, OBO, plus exact
match and RMSE; these are fractions (RepCountA results read "MAE 0.443 / OBO 0.291").

Localization follows the action-segmentation literature (Lea et al. 2017; MS-TCN): frame
accuracy, Edit and F1@{0.1, 0.25, 0.5}, all in percent (0–100). The unit being localized
is a cycle. Cycles are given as (start, end) frame pairs, half-open [start, end), and
*segment lists are the primary representation*: RepCountA cycles usually touch (one ends on
the frame the next starts), so a per-frame label track would merge a whole bout into one run
and Edit/F1 would stop seeing individual repetitions. Hence:

- frame accuracy uses binary labels, 0 = background (rest, set-up) and 1 = inside some cycle;
  it says whether the repetitive span was found, not where one cycle ends;
- Edit and F1 take the cycle lists directly, so every cycle is its own segment, all of one
  class ("repetition"), and boundaries between touching cycles are respected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from countllm.types import Segment

Cycles = Sequence[tuple[float, float]]  # [(start_frame, end_frame)], half-open
DEFAULT_THRESHOLDS = (0.1, 0.25, 0.5)


def count_metrics(gt: Sequence[int], pred: Sequence[int]) -> dict[str, float]:
    """Counting errors over a set of videos, one true and one predicted count per video.

    With g the true and p the predicted count of each of n videos:
        mae   = mean(|p − g| / max(g, 1))   normalized MAE of the RepCount papers
        obo   = mean(|p − g| ≤ 1)           "off by one" accuracy
        exact = mean(p == g)
        rmse  = sqrt(mean((p − g)²))        in repetitions, not normalized
    The papers define MAE as |p − g| / g; a video with g = 0 (RepCountA has one) would make
    that infinite, so the denominator is max(g, 1): for g = 0 the error is |p|, counted as if
    the truth were a single repetition. Dropping such videos instead would quietly reward a
    counter that always finds something.

    Raises:
        ValueError: the lists differ in length, are empty, or a true count is negative.
    """
    g, p = np.asarray(gt, dtype=float), np.asarray(pred, dtype=float)
    if g.shape != p.shape or g.ndim != 1:
        raise ValueError(
            f"gt and pred must be flat lists of equal length, got {g.shape} and {p.shape}"
        )
    if g.size == 0:
        raise ValueError("no videos to score: gt and pred are empty")
    if (g < 0).any():
        raise ValueError("true counts must be non-negative")
    err = np.abs(p - g)
    return {
        "mae": float(np.mean(err / np.maximum(g, 1.0))),
        "obo": float(np.mean(err <= 1)),
        "exact": float(np.mean(err == 0)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "n": int(g.size),
    }


def segments_to_frames(segments: Iterable[Segment], fps: float) -> list[tuple[float, float]]:
    """Cycles in seconds (a counter's `CountResult.cycles`) → (start, end) frames at `fps`."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return [(s.start * fps, s.end * fps) for s in segments]


def cycles_to_frame_labels(cycles_frames: Cycles, n_frames: int) -> np.ndarray:
    """Per-frame labels on a grid of `n_frames`: 1 inside any cycle, 0 elsewhere.

    A cycle [s, e) covers the frames t with s ≤ t < e, clipped to the grid, so a zero-length
    cycle covers nothing and touching cycles do not double-count their shared frame.
    Labels are binary on purpose (see the module docstring): per-cycle identities live in
    the segment lists that `edit_score` and `f1_at_overlap` take.
    """
    if n_frames < 0:
        raise ValueError(f"n_frames must be non-negative, got {n_frames}")
    labels = np.zeros(n_frames, dtype=np.int8)  # (T,)
    for start, end in _checked(cycles_frames):
        first = min(max(math.ceil(start), 0), n_frames)
        stop = min(max(math.ceil(end), 0), n_frames)
        labels[first:stop] = 1
    return labels


def frame_accuracy(pred_labels: np.ndarray, gt_labels: np.ndarray) -> float:
    """Percentage of frames whose predicted label equals the true one: 100·mean(p_t == g_t)."""
    if pred_labels.shape != gt_labels.shape:
        raise ValueError(f"label tracks differ in shape: {pred_labels.shape} vs {gt_labels.shape}")
    if pred_labels.size == 0:
        raise ValueError("no frames to score")
    return float(100.0 * np.mean(pred_labels == gt_labels))


def levenshtein(a: Sequence[object], b: Sequence[object]) -> int:
    """Edit distance: the fewest insertions, deletions and substitutions turning a into b."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def edit_score(pred_segments: Cycles, gt_segments: Cycles) -> float:
    """Segmental edit score: 100·(1 − Levenshtein(P, G) / max(|P|, |G|)).

    P and G are the sequences of segment labels in time order, background excluded as in
    MS-TCN. Every cycle has the one label "repetition", so the distance reduces to the
    difference in the number of cycles and Edit = 100·min(|P|, |G|) / max(|P|, |G|): it
    punishes over- and under-segmentation, and F1@k judges where the cycles are. Two empty
    lists agree perfectly (100).
    """
    pred = ["repetition"] * len(_checked(pred_segments))
    gt = ["repetition"] * len(_checked(gt_segments))
    longest = max(len(pred), len(gt))
    if longest == 0:
        return 100.0
    return 100.0 * (1.0 - levenshtein(pred, gt) / longest)


def segment_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Temporal IoU of two [start, end) spans; two identical zero-length spans have IoU 1."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    if union <= 0:
        return 1.0 if tuple(a) == tuple(b) else 0.0
    return inter / union


def match_segments(pred: Cycles, gt: Cycles, threshold: float) -> tuple[int, int, int]:
    """(tp, fp, fn) at one IoU threshold, matched as in MS-TCN.

    Predictions are taken in time order; each is compared with the true segment it overlaps
    most. It is a true positive if that IoU ≥ threshold and that true segment is still free
    (each is matched at most once), a false positive otherwise. Unmatched true segments are
    false negatives. Return counts, not F1, so a benchmark can pool them over videos.
    """
    pred, gt = sorted(_checked(pred)), list(_checked(gt))
    used = [False] * len(gt)
    tp = 0
    for p in pred:
        ious = [segment_iou(p, g) for g in gt]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= threshold and not used[best]:
            used[best] = True
            tp += 1
    return tp, len(pred) - tp, len(gt) - tp


def f1_score(tp: int, fp: int, fn: int) -> float:
    """F1 in percent, 100·2PR/(P+R) with P = tp/(tp+fp), R = tp/(tp+fn).

    Nothing predicted and nothing true is a perfect 100; otherwise no true positive gives 0.
    """
    if tp + fp + fn == 0:
        return 100.0
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 100.0 * 2 * precision * recall / (precision + recall)


def f1_at_overlap(
    pred_segments: Cycles, gt_segments: Cycles, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> dict[float, float]:
    """F1@k for each IoU threshold k of one video, in percent: {k: F1}."""
    return {k: f1_score(*match_segments(pred_segments, gt_segments, k)) for k in thresholds}


def localization_metrics(
    pred_cycles: Cycles,
    gt_cycles: Cycles,
    n_frames: int,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> dict[str, float]:
    """Frame accuracy, Edit and F1@k (percent) of one video's predicted cycles, in frames.

    Keys: "frame_acc", "edit", "f1@0.1", "f1@0.25", "f1@0.5" (one per threshold, written
    with :g), plus "n_pred" and "n_gt", the numbers of cycles compared.
    """
    pred_labels = cycles_to_frame_labels(pred_cycles, n_frames)
    gt_labels = cycles_to_frame_labels(gt_cycles, n_frames)
    scores: dict[str, float] = {
        "frame_acc": frame_accuracy(pred_labels, gt_labels),
        "edit": edit_score(pred_cycles, gt_cycles),
    }
    for k, f1 in f1_at_overlap(pred_cycles, gt_cycles, thresholds).items():
        scores[f"f1@{k:g}"] = f1
    scores["n_pred"], scores["n_gt"] = len(pred_cycles), len(gt_cycles)
    return scores


def _checked(cycles: Cycles) -> list[tuple[float, float]]:
    """The cycles as float pairs; ValueError if one ends before it starts."""
    pairs = [(float(s), float(e)) for s, e in cycles]
    for s, e in pairs:
        if e < s:
            raise ValueError(f"cycle ({s:g}, {e:g}) ends before it starts")
    return pairs
