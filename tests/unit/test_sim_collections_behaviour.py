"""How synthetic borrowers respond to collection calls — pure."""

import random
from datetime import date, timedelta

import pytest

from lendcore.sim.behaviour import (
    KEEP_RATES,
    PROMISE_DAYS,
    Profile,
    payment_after_call,
    promise_to_pay,
)

DAY = date(2026, 3, 2)
SEEDS = range(4000)


@pytest.mark.parametrize("profile", list(Profile))
def test_a_promise_names_a_day_from_today_to_three_days_on(profile):
    days = {promise_to_pay(profile, DAY, random.Random(seed)) for seed in SEEDS} - {None}
    assert days == {DAY + timedelta(days=n) for n in range(PROMISE_DAYS[0], PROMISE_DAYS[1] + 1)}


@pytest.mark.parametrize("profile", list(Profile))
def test_a_kept_promise_pays_everything_overdue_on_the_day_promised(profile):
    for seed in SEEDS:
        promised = DAY + timedelta(days=2)
        payment = payment_after_call(profile, promised, DAY, random.Random(seed))
        if payment is not None:
            assert (payment.day, payment.through_seq, payment.payoff) == (promised, 0, False)
            return
    pytest.fail("no promise was ever kept")


@pytest.mark.parametrize("profile", list(Profile))
def test_a_promise_raises_the_chance_of_paying_but_never_to_certainty(profile):
    kept = sum(
        payment_after_call(profile, DAY, DAY, random.Random(seed)) is not None for seed in SEEDS
    )
    without = sum(
        payment_after_call(profile, None, DAY, random.Random(seed)) is not None for seed in SEEDS
    )
    assert 0 < without < kept < len(SEEDS)
    assert kept / len(SEEDS) == pytest.approx(KEEP_RATES[profile], abs=0.03)


def test_defaulters_keep_promises_least_and_on_time_borrowers_most():
    rates = [KEEP_RATES[p] for p in (Profile.DEFAULTER, Profile.CURED, Profile.LATE)]
    assert rates == sorted(rates) and max(rates) < KEEP_RATES[Profile.ON_TIME]


def test_the_same_draws_give_the_same_answers():
    first = [payment_after_call(Profile.LATE, None, DAY, random.Random(s)) for s in range(50)]
    again = [payment_after_call(Profile.LATE, None, DAY, random.Random(s)) for s in range(50)]
    assert first == again
