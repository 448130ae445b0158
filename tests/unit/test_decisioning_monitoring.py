"""Monitoring math: PSI, KS, AUC, and the drift verdict on a shifted population."""

import math
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from lendcore.decisioning.artifacts import load_model
from lendcore.decisioning.data import load_german_credit, split_rows
from lendcore.decisioning.monitoring import (
    auc,
    bin_counts,
    ks,
    monitor,
    psi,
    psi_alert,
    quantile_edges,
)
from lendcore.kernel.errors import LendcoreError

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def card():
    return load_model(kind="scorecard", directory=MODELS)


@pytest.fixture(scope="module")
def test_set():
    data = load_german_credit()
    split = split_rows(data.bad)
    return data.profiles(split.test), [int(b) for b in data.bad[split.test]]


def test_psi_known_answer():
    expected = [0.25, 0.25, 0.5]
    actual = [0.5, 0.25, 0.25]
    by_hand = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)
    assert psi([10, 10, 20], [20, 10, 10]) == pytest.approx(by_hand)  # counts work too


def test_psi_of_a_distribution_with_itself_is_zero():
    assert psi([3, 5, 7], [30, 50, 70]) == pytest.approx(0.0)


def test_an_empty_bin_costs_a_finite_amount():
    value = psi([50, 50, 0], [40, 40, 20])
    assert math.isfinite(value) and value > 0.25


def test_psi_needs_matching_non_empty_distributions():
    with pytest.raises(LendcoreError):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(LendcoreError):
        psi([0, 0], [1, 1])


@pytest.mark.parametrize(
    ("value", "level", "alert"),
    [
        (0.01, "stable", False),
        (0.1, "watch", False),
        (0.2499, "watch", False),
        (0.25, "alert", True),
    ],
)
def test_psi_verdict_levels(value, level, alert):
    verdict = psi_alert(value)
    assert (verdict.level, verdict.alert) == (level, alert)
    assert psi_alert(0.15, threshold=0.1).alert


def test_auc_and_ks_agree_with_sklearn_including_ties():
    rng = np.random.default_rng(7)
    bads = rng.integers(0, 2, 2000)
    scores = np.round(600 - 40 * bads + rng.normal(0, 40, 2000) / 5) * 5  # many ties
    ours = auc(scores.tolist(), bads.tolist())
    assert ours == pytest.approx(roc_auc_score(bads, -scores), abs=1e-12)
    fpr, tpr, _ = roc_curve(bads, -scores)
    assert ks(scores.tolist(), bads.tolist()) == pytest.approx(max(tpr - fpr), abs=1e-12)


def test_auc_of_a_perfect_and_a_useless_score():
    assert auc([700, 650, 500, 450], [0, 0, 1, 1]) == 1.0
    assert auc([600, 600, 600, 600], [0, 1, 0, 1]) == 0.5
    assert ks([700, 650, 500, 450], [0, 0, 1, 1]) == 1.0


def test_quantile_bins_split_the_development_sample_evenly():
    scores = list(range(1000))
    edges = quantile_edges(scores, 10)
    assert edges == [100, 200, 300, 400, 500, 600, 700, 800, 900]
    assert bin_counts(edges, scores) == [100] * 10
    assert bin_counts(edges, [99, 100, 1e9]) == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]


def _shift(profile, duration_factor=2, age_shift=-15):
    shifted = dict(profile)
    shifted["duration_months"] = profile["duration_months"] * duration_factor
    shifted["age_years"] = profile["age_years"] + age_shift
    return shifted


def test_a_shifted_population_trips_the_alert(card, test_set):
    profiles = [_shift(p) for p in test_set[0]]
    scores = [card.score(p).score for p in profiles]
    report = monitor(card.dev_distribution, scores, profiles)
    assert report["alert"]
    assert {"duration_months", "age_years"} <= set(report["alerts"])
    assert report["score"]["alert"]
    assert not report["characteristics"]["checking_status"]["alert"]


def test_an_unshifted_resample_of_the_test_set_does_not(card, test_set):
    rng = random.Random(11)
    profiles = [rng.choice(test_set[0]) for _ in range(1000)]
    scores = [card.score(p).score for p in profiles]
    report = monitor(card.dev_distribution, scores, profiles)
    assert not report["alert"], report["alerts"]
    assert report["score"]["level"] == "stable"


def test_outcomes_give_performance_and_unknown_outcomes_are_skipped(card, test_set):
    profiles, bads = test_set
    scores = [card.score(p).score for p in profiles]
    outcomes = [*bads[:-10], *([None] * 10)]
    report = monitor(card.dev_distribution, scores, profiles, outcomes)
    performance = report["performance"]
    assert performance["n"] == len(scores) - 10
    assert performance["auc"] >= 0.75
    assert performance["gini"] == pytest.approx(2 * performance["auc"] - 1, abs=3e-6)


def test_a_bad_row_is_counted_not_fatal(card, test_set):
    profiles = [*test_set[0][:50], {"duration_months": "long"}]
    scores = [card.score(p).score for p in test_set[0][:50]] + [500]
    report = monitor(card.dev_distribution, scores, profiles)
    assert report["characteristics"]["duration_months"]["invalid"] == 1


def test_no_recent_data_is_no_alert(card):
    report = monitor(card.dev_distribution, [], [])
    assert report["score"]["level"] == "no_data"
    assert report["alert"] is False and report["performance"] is None
