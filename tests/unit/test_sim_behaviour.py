"""Synthetic borrowers' payment plans and the amounts they pay — pure."""

import random
from datetime import date, timedelta

import pytest

from lendcore.products.loader import load_products
from lendcore.products.quote import quote
from lendcore.sim.behaviour import Payment, Profile, amount_due, plan_payments
from lendcore.sim.portfolio import draw_borrower, draw_terms

START = date(2026, 1, 10)
MONTHLY = [date(2026 + m // 12, m % 12 + 1, 10) for m in range(1, 13)]  # 2026-02-10 ...
SEEDS = range(200)


def plans(profile, due_dates=MONTHLY):
    return [plan_payments(profile, START, due_dates, random.Random(seed)) for seed in SEEDS]


@pytest.mark.parametrize("profile", list(Profile))
def test_payments_are_dated_after_the_start_and_strictly_in_order(profile):
    for plan in plans(profile):
        days = [p.day for p in plan]
        assert all(d > START for d in days)
        assert days == sorted(set(days))


def test_on_time_borrowers_never_pay_after_the_due_date():
    for plan in plans(Profile.ON_TIME):
        for payment in plan:
            assert payment.day <= MONTHLY[payment.through_seq - 1]


def test_on_time_borrowers_who_prepay_stop_after_the_payoff():
    payoffs = [plan for plan in plans(Profile.ON_TIME) if any(p.payoff for p in plan)]
    assert payoffs  # about 8% of them
    for plan in payoffs:
        assert plan[-1].payoff and sum(p.payoff for p in plan) == 1


def test_late_borrowers_pay_every_instalment_one_to_twenty_days_late():
    for plan in plans(Profile.LATE):
        assert [p.through_seq for p in plan] == list(range(1, len(MONTHLY) + 1))
        for payment in plan:
            assert 1 <= (payment.day - MONTHLY[payment.through_seq - 1]).days <= 20


def _lateness(plan):
    """Days between each payment and the due date of the oldest instalment it settles."""
    oldest = [1] + [p.through_seq + 1 for p in plan[:-1]]
    return [(p.day - MONTHLY[seq - 1]).days for p, seq in zip(plan, oldest, strict=True)]


def test_cured_borrowers_fall_30_to_60_days_behind_once_then_pay_everything_due():
    for plan in plans(Profile.CURED):
        lateness = _lateness(plan)
        behind = [days for days in lateness if days > 0]
        assert len(behind) == 1 and 30 <= behind[0] <= 60
        catch_up = plan[lateness.index(behind[0])]
        assert catch_up.through_seq == sum(d <= catch_up.day for d in MONTHLY)
        assert plan[-1].through_seq == len(MONTHLY)


def test_defaulters_pay_at_most_three_instalments_and_never_the_last():
    for plan in plans(Profile.DEFAULTER):
        assert len(plan) <= 3
        assert all(p.through_seq < len(MONTHLY) for p in plan)


def test_a_bullet_defaulter_never_pays():
    bullet = [START + timedelta(days=14)]
    assert all(plan == [] for plan in plans(Profile.DEFAULTER, bullet))


def _row(seq, due, principal, interest, fee=0, paid=(0, 0, 0)):
    return {
        "seq": seq,
        "due_date": due,
        "principal_due": principal,
        "interest_due": interest,
        "fee_due": fee,
        "principal_paid": paid[0],
        "interest_paid": paid[1],
        "fee_paid": paid[2],
    }


ROWS = [
    _row(1, date(2026, 2, 10), 1000, 100, 10, paid=(1000, 100, 10)),
    _row(2, date(2026, 3, 10), 1000, 90, 10),
    _row(3, date(2026, 4, 10), 1000, 80, 10),
    _row(4, date(2026, 5, 10), 1000, 70, 10),
]


def test_an_instalment_paid_on_time_costs_what_it_still_owes():
    assert amount_due(Payment(date(2026, 3, 10), 2), ROWS, 0) == 1100


def test_a_late_payment_adds_the_penalty_and_everything_overdue():
    assert amount_due(Payment(date(2026, 4, 15), 2), ROWS, 37) == 37 + 1100 + 1090


def test_a_payoff_pays_the_current_instalment_in_full_and_only_principal_after_it():
    assert amount_due(Payment(date(2026, 3, 1), 2, payoff=True), ROWS, 0) == 1100 + 1000 + 1000


def test_synthetic_loans_are_within_their_products_and_quotable():
    products = load_products()
    rng = random.Random(1)
    for _ in range(200):
        for loaded in products.values():
            product = loaded.product
            terms = draw_terms(product, rng)
            assert product.amount.min <= terms.principal <= product.amount.max
            assert terms.principal % 10_000 == 0
            quote(product, terms.principal, terms.term, START, method=terms.method, rate=terms.rate)


def test_borrowers_are_masked_and_mostly_on_beijing_time():
    borrowers = [draw_borrower(i, random.Random(i)) for i in range(1, 1001)]
    assert all(len(b.display_name) == 2 and b.display_name.endswith("*") for b in borrowers)
    shanghai = sum(b.timezone == "Asia/Shanghai" for b in borrowers)
    assert shanghai > 900
    on_time = sum(b.profile is Profile.ON_TIME for b in borrowers)
    assert 620 < on_time < 780
