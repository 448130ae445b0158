"""Whether a simulated borrower keeps a hardship plan comes from their own cash, month by month,
never from the engine's success estimate."""

import random
from datetime import date

import pytest

from lendcore.sim import hardship_behaviour as hb
from lendcore.sim.hardship_behaviour import Household, plan_payments

SCHEDULE = [(7 + k, date(2026, 7 + k, 1), 100_000) for k in range(6)]  # 6 x 1,000 yuan


@pytest.fixture
def no_shocks(monkeypatch):
    for name in ("JOB_LOSS_MONTHLY", "PAY_CUT_MONTHLY", "MEDICAL_MONTHLY", "NOISE"):
        monkeypatch.setattr(hb, name, 0)


def test_a_household_with_room_pays_every_instalment_on_its_due_date(no_shocks):
    household = Household(income=800_000, spending=300_000, savings=0)
    payments = plan_payments(household, 0, SCHEDULE, random.Random(1))
    assert [(p.day, p.through_seq) for p in payments] == [(d, s) for s, d, _ in SCHEDULE]


def test_a_household_spending_all_its_income_pays_nothing(no_shocks):
    household = Household(income=500_000, spending=500_000, savings=0)
    assert plan_payments(household, 0, SCHEDULE, random.Random(1)) == []


def test_a_missed_month_is_caught_up_when_the_cash_allows(no_shocks):
    # 1,500 a month spare, but the down payment was borrowed: 1,000 short at the start.
    household = Household(income=450_000, spending=300_000, savings=0)
    payments = plan_payments(household, 100_000, SCHEDULE, random.Random(1))
    assert [p.through_seq for p in payments] == [8, 9, 10, 11, 12]  # the 7th paid with the 8th


def test_a_down_payment_comes_out_of_the_savings(no_shocks):
    household = Household(income=300_000, spending=300_000, savings=600_000)
    assert len(plan_payments(household, 0, SCHEDULE, random.Random(1))) == 6
    assert len(plan_payments(household, 300_000, SCHEDULE, random.Random(1))) == 3


def test_shocks_break_some_plans_that_would_otherwise_be_kept():
    household = Household(income=800_000, spending=500_000, savings=0)
    kept = [
        len(plan_payments(household, 0, SCHEDULE * 4, random.Random(seed))) for seed in range(200)
    ]
    assert max(kept) == 24 and min(kept) < 24
