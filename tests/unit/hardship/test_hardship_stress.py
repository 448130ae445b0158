"""The stress test is reproducible, monotone, and levels follow the policy's thresholds."""

from fractions import Fraction

import numpy as np
from hardship_builders import make_policy

from lendcore.hardship.stress import StressInputs, breach_table, level, run, simulate_cash

POLICY = make_policy()
INPUTS = StressInputs(
    monthly_net_income=800_000, monthly_living_costs=261_000, other_debt_payments=0, liquid_funds=0
)
DOWN = (0, 100_000, 300_000)


def _table(seed=7, inputs=INPUTS, misses=1, paths=2000):
    return run(
        inputs, POLICY.stress, down_payments=DOWN, misses_allowed=misses, seed=seed, paths=paths
    )


def test_the_same_seed_gives_the_same_result():
    a, b = _table(seed=11), _table(seed=11)
    assert np.array_equal(a.thresholds, b.thresholds)
    assert a.probability(300_000, 0, 24) == b.probability(300_000, 0, 24)


def test_a_different_seed_gives_a_different_draw():
    assert not np.array_equal(_table(seed=1).thresholds, _table(seed=2).thresholds)


def test_a_higher_instalment_never_breaks_less_often():
    table = _table()
    probabilities = [table.probability(x, 0, 24) for x in range(50_000, 700_001, 50_000)]
    assert probabilities == sorted(probabilities)
    assert probabilities[0] < probabilities[-1]


def test_a_down_payment_without_savings_raises_the_breach_probability():
    # Paid from nothing, the down payment is a hole the first months' surplus must fill before
    # any instalment is covered: strictly more paths break, and a larger one breaks more.
    table = _table()
    none, some, more = (table.probability(300_000, down, 24) for down in DOWN)
    assert none < some < more


def test_savings_lower_the_breach_probability():
    rich = StressInputs(800_000, 261_000, 0, liquid_funds=2_000_000)
    assert _table(inputs=rich).probability(400_000, 0, 24) < _table().probability(400_000, 0, 24)


def test_allowing_a_miss_lowers_the_breach_probability():
    assert _table(misses=1).probability(450_000, 0, 24) < _table(misses=0).probability(
        450_000, 0, 24
    )


def test_a_plan_shorter_than_the_allowed_misses_cannot_break():
    assert _table(misses=1).probability(10**9, 0, 1) == 0


def test_a_borrower_spending_more_than_income_breaks_almost_surely():
    broke = StressInputs(300_000, 400_000, 0, 0)
    assert _table(inputs=broke).probability(10_000, 0, 12) > Fraction(95, 100)


def test_breaking_instalment_matches_a_direct_walk_through_the_months():
    cash = simulate_cash(INPUTS, POLICY.stress.shocks, horizon=12, paths=300, seed=5)
    table = breach_table(cash, liquid_funds=50_000, down_payments=[20_000], misses_allowed=1)
    for x in (150_000, 350_000, 500_000):
        direct = 0
        for path in cash:
            funds, broken = 50_000 - 20_000, False
            for t, month in enumerate(path, start=1):
                funds += month
                if t > 1 and x * (t - 1) > funds:
                    broken = True
            direct += broken
        assert table.breaches(x, 20_000, 12) == direct


def test_levels_follow_the_policy_thresholds():
    rules = POLICY.stress  # yellow from 0.20, red from 0.50
    assert level(Fraction(19, 100), rules) == "green"
    assert level(Fraction(20, 100), rules) == "yellow"
    assert level(Fraction(49, 100), rules) == "yellow"
    assert level(Fraction(50, 100), rules) == "red"
