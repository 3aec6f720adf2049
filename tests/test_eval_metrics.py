"""Counting and localization metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from countllm.benchmarks.metrics import (
    count_metrics,
    cycles_to_frame_labels,
    edit_score,
    f1_at_overlap,
    frame_accuracy,
    levenshtein,
    localization_metrics,
    match_segments,
    segment_iou,
    segments_to_frames,
)
from countllm.types import Segment

# (gt, pred, mae, obo, exact, rmse)
COUNT_CASES = [
    pytest.param([10, 5, 2], [9, 5, 4], (0.1 + 0 + 1) / 3, 2 / 3, 1 / 3, math.sqrt(5 / 3),
                 id="mixed"),
    pytest.param([3, 0, 7], [3, 0, 7], 0.0, 1.0, 1.0, 0.0, id="perfect"),
    pytest.param([0], [2], 2.0, 0.0, 0.0, 2.0, id="zero-truth-normalised-by-1"),
    pytest.param([4, 4], [0, 0], 1.0, 0.0, 0.0, 4.0, id="found-nothing"),
    pytest.param([1, 2], [2, 1], (1 + 0.5) / 2, 1.0, 0.0, 1.0, id="all-off-by-one"),
]


@pytest.mark.parametrize("gt, pred, mae, obo, exact, rmse", COUNT_CASES)
def test_count_metrics_table(gt, pred, mae, obo, exact, rmse):
    m = count_metrics(gt, pred)
    assert m["mae"] == pytest.approx(mae)
    assert m["obo"] == pytest.approx(obo)
    assert m["exact"] == pytest.approx(exact)
    assert m["rmse"] == pytest.approx(rmse)
    assert m["n"] == len(gt)


@pytest.mark.parametrize(
    "gt, pred, fragment",
    [([1, 2], [1], "equal length"), ([], [], "empty"), ([-1], [0], "non-negative")],
)
def test_count_metrics_rejects_bad_input(gt, pred, fragment):
    with pytest.raises(ValueError, match=fragment):
        count_metrics(gt, pred)


@pytest.mark.parametrize(
    "cycles, n_frames, expected",
    [
        pytest.param([(2, 5), (5, 7)], 10, [0, 0, 1, 1, 1, 1, 1, 0, 0, 0], id="touching-cycles"),
        pytest.param([(1.5, 3.2)], 6, [0, 0, 1, 1, 0, 0], id="float-bounds"),
        pytest.param([(-3, 2), (8, 20)], 10, [1, 1, 0, 0, 0, 0, 0, 0, 1, 1], id="clipped"),
        pytest.param([(4, 4)], 6, [0] * 6, id="zero-length"),
        pytest.param([], 3, [0, 0, 0], id="none"),
    ],
)
def test_cycles_to_frame_labels(cycles, n_frames, expected):
    np.testing.assert_array_equal(cycles_to_frame_labels(cycles, n_frames), expected)


def test_frame_accuracy_half_found():
    pred = cycles_to_frame_labels([(0, 5)], 10)
    gt = cycles_to_frame_labels([(0, 10)], 10)
    assert frame_accuracy(pred, gt) == pytest.approx(50.0)


def test_levenshtein_classic():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3


@pytest.mark.parametrize(
    "a, b, iou",
    [((0, 10), (5, 15), 1 / 3), ((0, 10), (2, 12), 8 / 12), ((0, 10), (10, 20), 0.0),
     ((4, 4), (4, 4), 1.0), ((4, 4), (0, 10), 0.0)],
)
def test_segment_iou(a, b, iou):
    assert segment_iou(a, b) == pytest.approx(iou)


THREE = [(0, 10), (10, 20), (20, 30)]

# (pred, gt, edit, {threshold: F1}) — F1 worked out from tp/fp/fn by hand
LOCALIZATION_CASES = [
    pytest.param(THREE, THREE, 100.0, {0.1: 100.0, 0.25: 100.0, 0.5: 100.0}, id="perfect"),
    pytest.param([], THREE, 0.0, {0.1: 0.0, 0.25: 0.0, 0.5: 0.0}, id="empty-prediction"),
    pytest.param([], [], 100.0, {0.1: 100.0, 0.25: 100.0, 0.5: 100.0}, id="both-empty"),
    # one segment shifted by half its length: IoU 5/15 = 1/3
    pytest.param([(5, 15)], [(0, 10)], 100.0, {0.1: 100.0, 0.25: 100.0, 0.5: 0.0},
                 id="shift-iou-1/3"),
    # an extra fourth cycle: Edit 1 − 1/4; tp 3, fp 1 → P 3/4, R 1, F1 6/7
    pytest.param(THREE + [(30, 40)], THREE, 75.0, {0.1: 600 / 7, 0.25: 600 / 7, 0.5: 600 / 7},
                 id="extra-segment"),
    # one cycle split in two: the first half has IoU 0.5, the second finds its truth used
    pytest.param([(0, 5), (5, 10)], [(0, 10)], 50.0, {0.1: 200 / 3, 0.25: 200 / 3, 0.5: 200 / 3},
                 id="split-cycle"),
    # two touching cycles merged into one: IoU 1/2 with the first, the second is missed
    pytest.param([(0, 20)], [(0, 10), (10, 20)], 50.0, {0.1: 200 / 3, 0.25: 200 / 3, 0.5: 200 / 3},
                 id="merged-cycles"),
]


@pytest.mark.parametrize("pred, gt, edit, f1", LOCALIZATION_CASES)
def test_edit_and_f1_table(pred, gt, edit, f1):
    assert edit_score(pred, gt) == pytest.approx(edit)
    got = f1_at_overlap(pred, gt)
    assert got.keys() == f1.keys()
    for k in f1:
        assert got[k] == pytest.approx(f1[k]), f"F1@{k}"


def test_touching_cycles_shifted_stay_separate_segments():
    # both cycles shifted by 5 frames: each overlaps its own truth with IoU 1/3
    gt, pred = [(0, 10), (10, 20)], [(5, 15), (15, 25)]
    assert match_segments(pred, gt, 0.25) == (2, 0, 0)
    assert match_segments(pred, gt, 0.5) == (0, 2, 2)


def test_localization_metrics_perfect_and_empty():
    perfect = localization_metrics(THREE, THREE, n_frames=40)
    assert perfect == {"frame_acc": 100.0, "edit": 100.0, "f1@0.1": 100.0, "f1@0.25": 100.0,
                       "f1@0.5": 100.0, "n_pred": 3, "n_gt": 3}
    empty = localization_metrics([], THREE, n_frames=40)
    assert empty["frame_acc"] == pytest.approx(25.0)  # the 10 background frames agree
    assert (empty["edit"], empty["f1@0.5"], empty["n_pred"]) == (0.0, 0.0, 0)


def test_segments_to_frames_and_reversed_cycle():
    assert segments_to_frames([Segment(1.0, 2.0)], fps=30) == [(30.0, 60.0)]
    with pytest.raises(ValueError, match="ends before it starts"):
        edit_score([(5, 1)], [])
