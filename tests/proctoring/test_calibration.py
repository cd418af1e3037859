"""Thresholds from a target false-accept rate: confidence bounds and known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from proctoring import calibration as cal


def test_rule_of_three_with_no_accepts():
    # (1 - p)^n = 0.05  →  p ≈ 3/n
    assert cal.far_upper_bound(0, 3000) == pytest.approx(3 / 3000, rel=0.01)
    assert cal.pairs_needed(0.001) == 2995
    assert cal.pairs_needed(0.01) == 299
    assert cal.far_upper_bound(0, 2995) <= 0.001 < cal.far_upper_bound(0, 2994)


def test_clopper_pearson_upper_bound_matches_known_values():
    # Exact one-sided 95 % bounds (beta quantiles): k=1,n=100 → 0.04656; k=10,n=100 → 0.16372
    assert cal.far_upper_bound(1, 100) == pytest.approx(0.04656, abs=1e-4)
    assert cal.far_upper_bound(10, 100) == pytest.approx(0.16372, abs=1e-4)
    assert cal.far_upper_bound(5, 5) == 1.0
    # More accepts, a higher bound; more pairs, a lower one
    assert cal.far_upper_bound(3, 1000) < cal.far_upper_bound(4, 1000)
    assert cal.far_upper_bound(3, 2000) < cal.far_upper_bound(3, 1000)


def test_pairs_needed_with_accepts_is_the_smallest_sufficient_sample():
    n = cal.pairs_needed(0.01, accepts=5)
    assert cal.far_upper_bound(5, n) <= 0.01 < cal.far_upper_bound(5, n - 1)


def test_threshold_on_a_uniform_distribution_sits_below_the_target_quantile():
    """Uniform(0.3, 1.3) impostor distances: the true FAR at t is (t - 0.3)."""
    rng = np.random.default_rng(7)
    impostor = rng.uniform(0.3, 1.3, 200_000)
    result = cal.threshold_for_far(impostor, 0.001)
    true_far = result.distance - 0.3
    assert true_far <= 0.001  # the claim holds for the real distribution
    assert true_far > 0.0007  # and is not wastefully strict with 200,000 pairs
    assert result.far_upper <= 0.001 and result.accepts == int((impostor <= result.distance).sum())
    assert result.quantile == pytest.approx(0.301, abs=0.0002)


def test_threshold_with_the_minimum_sample_accepts_nobody():
    impostor = np.linspace(0.5, 1.0, 2995)
    result = cal.threshold_for_far(impostor, 0.001)
    assert result.accepts == 0 and result.distance < 0.5


def test_too_few_pairs_are_refused_with_the_number_needed():
    with pytest.raises(cal.NotEnoughPairs) as refused:
        cal.threshold_for_far(np.linspace(0.5, 1.0, 1000), 0.001)
    assert refused.value.needed == 2995


def test_held_out_far_stays_within_the_bound():
    """Normal impostor distances (mean 0.8, sd 0.1): calibrate on one sample, measure on
    another; the held-out FAR stays within the stated upper bound."""
    rng = np.random.default_rng(3)
    calibrated = cal.threshold_for_far(rng.normal(0.8, 0.1, 50_000), 0.01)
    held_out = rng.normal(0.8, 0.1, 500_000)
    far = float((held_out <= calibrated.distance).mean())
    assert far <= calibrated.far_upper <= 0.01
    true = 0.5 * math.erfc(-(calibrated.distance - 0.8) / (0.1 * math.sqrt(2)))
    assert true <= 0.01


def test_sample_pairs_all_when_few_else_distinct_random():
    i, j = cal.sample_pairs(5)
    assert len(i) == 10 and all(a < b for a, b in zip(i, j, strict=True))
    i, j = cal.sample_pairs(1000, max_pairs=5000, rng=np.random.default_rng(1))
    assert len(i) == 5000 and (i < j).all() and (j < 1000).all()
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == 5000


def test_pair_distances_are_euclidean():
    encodings = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    i, j = cal.sample_pairs(3)
    assert cal.pair_distances(encodings, i, j, chunk=2).tolist() == [5.0, 10.0, 5.0]


def test_calibrate_a_synthetic_roster():
    """Random unit-ish vectors: every pair is an impostor pair; the thresholds are ordered
    and continuity (closest of 5 enrolled frames) is tighter than entry."""
    rng = np.random.default_rng(11)
    roster = rng.normal(0, 0.06, (600, 128))
    result = cal.calibrate(roster, rng=rng)
    assert result.people == 600 and result.pairs == 600 * 599 // 2 and result.all_pairs
    assert result.entry_accept.distance <= result.entry_reject.distance
    assert result.continuity_accept is not None and result.continuity_reject is not None
    assert result.continuity_accept.distance <= result.entry_accept.distance
    assert result.continuity_reject.distance <= result.entry_reject.distance
    assert result.entry_accept.far_upper <= 0.001 and result.entry_reject.far_upper <= 0.05
    assert result.impostor["count"] == result.pairs


def test_calibrate_leaves_continuity_out_when_the_sample_is_too_small():
    rng = np.random.default_rng(2)
    result = cal.calibrate(rng.normal(0, 0.06, (40, 128)), strict_far=0.01, loose_far=0.05)
    # 780 pairs: 1 % needs 299 (entry), 1 %/5 frames needs 1,497 (continuity strict)
    assert result.pairs == 780 and result.continuity_accept is None
    assert result.continuity_reject is not None  # 5 %/5 frames needs 299


def test_calibrate_samples_a_large_roster():
    rng = np.random.default_rng(5)
    result = cal.calibrate(rng.normal(0, 0.06, (1000, 128)), max_pairs=50_000, rng=rng)
    assert result.pairs == 50_000 and not result.all_pairs


def test_genuine_rates():
    rates = cal.genuine_rates([0.3, 0.42, 0.45, 0.6], accept=0.4, reject=0.5)
    assert rates == {"count": 4, "frr_strict": 0.75, "frr_loose": 0.25}
    assert cal.genuine_rates([], 0.4, 0.5)["frr_strict"] is None
