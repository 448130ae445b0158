"""Counting on-time repayments on a credit line (pricing.count_on_time): a step-up every
``after`` repayments, each resting on repayments nobody counted before, never past the tier max."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from lendcore.decisioning.pricing import StepUpRule, count_on_time, step_up_limit

RULE = StepUpRule(3, Decimal("1.5"))


def test_fewer_than_after_repayments_only_count():
    progress = count_on_time(100_000, 1, 1, RULE, tier_max=200_000)
    assert (progress.limit, progress.on_time, progress.stepped_up) == (100_000, 2, False)


def test_the_repayment_that_reaches_after_steps_up_and_restarts_the_count():
    progress = count_on_time(100_000, 2, 1, RULE, tier_max=200_000)
    assert (progress.limit, progress.on_time, progress.stepped_up) == (150_000, 0, True)


def test_at_the_tier_max_the_count_turns_over_without_a_step_up():
    progress = count_on_time(200_000, 2, 1, RULE, tier_max=200_000)
    assert (progress.limit, progress.on_time, progress.stepped_up) == (200_000, 0, False)


@given(
    limit=st.integers(100, 10**8),
    payments=st.lists(st.integers(0, 4), max_size=30),
    after=st.integers(1, 12),
    factor=st.decimals("1", "3", places=2),
)
def test_counting_payment_by_payment_matches_the_step_up_rule_on_the_total(
    limit, payments, after, factor
):
    rule = StepUpRule(after, factor)
    tier_max = limit * 4
    current, on_time = limit, 0
    for paid in payments:
        progress = count_on_time(current, on_time, paid, rule, tier_max=tier_max)
        current, on_time = progress.limit, progress.on_time
    assert current == step_up_limit(limit, sum(payments), rule, tier_max=tier_max)
    assert on_time == sum(payments) % after
