"""Confidence scores (countllm.benchmarks.confidence) against values worked out by hand."""

from __future__ import annotations

import pytest

from countllm.benchmarks.confidence import (
    auroc,
    brier,
    confidence_metrics,
    expected_calibration_error,
    obo_at_coverage,
    reliability_bins,
    within_one,
)


def test_within_one_is_the_obo_event():
    assert within_one([10, 10, 10, 0], [9, 11, 12, 1]).tolist() == [True, True, False, True]


def test_auroc_perfect_reversed_and_chance():
    assert auroc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]) == 0.5


def test_auroc_by_hand_with_a_tie():
    # hits 0.9, 0.6, 0.4; misses 0.6, 0.3. Pairs (hit, miss): (0.9,0.6) 1, (0.9,0.3) 1, (0.6,0.6) ½,
    # (0.6,0.3) 1, (0.4,0.6) 0, (0.4,0.3) 1 → 4.5 of 6.
    assert auroc([0.9, 0.6, 0.4, 0.6, 0.3], [1, 1, 1, 0, 0]) == pytest.approx(4.5 / 6)


def test_auroc_ignores_monotone_remapping():
    conf, hits = [0.9, 0.6, 0.4, 0.6, 0.3], [1, 1, 1, 0, 0]
    assert auroc([c**3 for c in conf], hits) == auroc(conf, hits)


def test_auroc_undefined_with_one_class():
    assert auroc([0.2, 0.9], [1, 1]) is None
    assert auroc([0.2, 0.9], [0, 0]) is None


def test_obo_at_coverage_keeps_the_most_confident():
    # 10 items, most confident first; the 2 least confident are the misses plus one more miss at 0.7.
    conf = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.2, 0.1]
    hits = [1, 1, 1, 1, 1, 1, 0, 1, 0, 0]
    assert obo_at_coverage(conf, hits, 0.8) == pytest.approx(7 / 8)  # top 8: one miss
    assert obo_at_coverage(conf, hits, 0.9) == pytest.approx(7 / 9)  # top 9: two misses
    assert obo_at_coverage(conf, hits, 1.0) == pytest.approx(7 / 10)  # everything: plain OBO
    assert obo_at_coverage(conf, hits, 0.5) == 1.0


def test_obo_at_coverage_splits_a_tie_at_the_cut():
    # top 4 of 5 = the 0.9 hit plus 3 of the four tied at 0.5 (two hits, two misses): 1 + 3·½ = 2.5 of 4.
    conf, hits = [0.9, 0.5, 0.5, 0.5, 0.5], [1, 1, 0, 1, 0]
    assert obo_at_coverage(conf, hits, 0.8) == pytest.approx(2.5 / 4)
    assert obo_at_coverage(conf, [1, 0, 0, 1, 1], 0.8) == pytest.approx(2.5 / 4)  # listing order does not matter


def test_obo_at_coverage_rounds_up_to_whole_items():
    # 0.9 of 5 items = 4.5 → the 5 most confident, i.e. all of them
    assert obo_at_coverage([0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 1, 1, 0], 0.9) == pytest.approx(4 / 5)


def test_obo_at_coverage_rejects_bad_coverage():
    with pytest.raises(ValueError, match="coverage"):
        obo_at_coverage([0.5], [1], 0.0)


def test_reliability_bins_and_ece_by_hand():
    # bin [0.2, 0.3): 0.2, 0.25 (one hit) → mean 0.225, rate 0.5; bin [0.8, 0.9): 0.8, 0.85, 0.85 (all hits)
    # → mean 0.8333, rate 1; bin [0.9, 1.0]: 1.0 (a miss) → mean 1, rate 0.
    conf = [0.2, 0.25, 0.8, 0.85, 0.85, 1.0]
    hits = [0, 1, 1, 1, 1, 0]
    bins = reliability_bins(conf, hits, n_bins=10)
    assert [(b.lo, b.n) for b in bins] == [(0.2, 2), (0.8, 3), (0.9, 1)]
    assert bins[0].mean_confidence == pytest.approx(0.225) and bins[0].hit_rate == 0.5
    assert bins[1].mean_confidence == pytest.approx(2.5 / 3) and bins[1].hit_rate == 1.0
    expected = 2 / 6 * 0.275 + 3 / 6 * (1 - 2.5 / 3) + 1 / 6 * 1.0
    assert expected_calibration_error(conf, hits, n_bins=10) == pytest.approx(expected)


def test_a_calibrated_confidence_has_no_ece():
    conf = [0.25] * 4 + [0.75] * 4
    hits = [1, 0, 0, 0, 1, 1, 1, 0]
    assert expected_calibration_error(conf, hits) == pytest.approx(0.0)


def test_brier_by_hand():
    assert brier([1.0, 0.0, 0.5, 0.8], [1, 0, 1, 0]) == pytest.approx((0 + 0 + 0.25 + 0.64) / 4)


def test_confidence_metrics_keys_and_values():
    gt, pred = [10, 10, 10, 10], [10, 11, 13, 5]
    out = confidence_metrics(gt, pred, [0.9, 0.7, 0.6, 0.1])
    assert out["confidence_auroc"] == 1.0
    assert out["obo@0.8"] == pytest.approx(2 / 4)  # ⌈3.2⌉ = 4 items: all, two hits
    assert out["obo@0.9"] == pytest.approx(2 / 4)
    assert out["brier"] == pytest.approx((0.01 + 0.09 + 0.36 + 0.01) / 4)
    assert out["mean_confidence"] == pytest.approx(0.575)
    assert [b["n"] for b in out["reliability"]] == [1, 1, 1, 1]


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        auroc([0.5, 0.4], [1])
    with pytest.raises(ValueError, match="no items"):
        brier([], [])
