"""Hand-checked and textbook answers for each method."""

import itertools
from datetime import date
from decimal import Decimal

import pytest

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.schedule import DayCount, Method, PeriodUnit, ScheduleTerms, build_schedule, disclose

START = date(2026, 1, 15)


def terms(**overrides):
    values = dict(
        principal=100_000_000,
        annual_rate=Decimal("0.049"),
        periods=360,
        method=Method.EQUAL_INSTALLMENT,
        start=START,
    )
    values.update(overrides)
    return ScheduleTerms(**values)


def test_mortgage_equal_installment_pays_5307_27_a_month():
    schedule = build_schedule(terms())
    assert {i.total for i in schedule.installments[:-1]} == {530727}
    # The last instalment absorbs 359 roundings of the level payment: within a few yuan.
    assert abs(schedule.installments[-1].total - 530727) < 500
    assert schedule.total_principal == 100_000_000


def test_mortgage_equal_principal_starts_at_6861_11_and_falls_11_34_a_month():
    schedule = build_schedule(terms(method=Method.EQUAL_PRINCIPAL))
    totals = [i.total for i in schedule.installments]
    assert totals[0] == 686111
    assert all(a - b in (1133, 1134, 1135) for a, b in itertools.pairwise(totals[:-1]))
    assert totals[0] - totals[1] == 1134


def test_interest_first_pays_interest_only_until_the_last_period():
    schedule = build_schedule(
        terms(
            principal=1_200_000,
            annual_rate=Decimal("0.12"),
            periods=12,
            method=Method.INTEREST_FIRST,
        )
    )
    assert [i.principal for i in schedule.installments[:-1]] == [0] * 11
    assert all(i.interest == 12_000 for i in schedule.installments)
    assert schedule.installments[-1].total == 1_212_000


def test_bullet_over_14_days_on_act365_charges_14_days_of_interest():
    schedule = build_schedule(
        terms(
            principal=100_000,
            annual_rate=Decimal("0.18"),
            periods=14,
            method=Method.BULLET,
            period_unit=PeriodUnit.DAY,
            day_count=DayCount.ACT_365F,
        )
    )
    (only,) = schedule.installments
    assert only.due_date == date(2026, 1, 29)
    assert only.interest == 690  # 1000 × 18% × 14/365 = 6.9041 → 6.90
    assert only.total == 100_690


def test_weekly_equal_installment_falls_due_every_seven_days():
    schedule = build_schedule(
        terms(
            principal=520_000, annual_rate=Decimal("0.10"), periods=4, period_unit=PeriodUnit.WEEK
        )
    )
    assert [i.due_date for i in schedule.installments] == [
        date(2026, 1, 22),
        date(2026, 1, 29),
        date(2026, 2, 5),
        date(2026, 2, 12),
    ]


def test_month_end_start_keeps_its_anchor_after_february():
    schedule = build_schedule(
        terms(principal=300_000, periods=3, start=date(2026, 1, 31), annual_rate=Decimal("0.12"))
    )
    assert [i.due_date for i in schedule.installments] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


def test_long_broken_first_period_charges_the_extra_days_and_keeps_later_instalments_level():
    regular = build_schedule(terms(principal=1_200_000, annual_rate=Decimal("0.12"), periods=12))
    broken = build_schedule(
        terms(
            principal=1_200_000, annual_rate=Decimal("0.12"), periods=12, first_due=date(2026, 3, 1)
        )
    )
    assert broken.broken_first_period and not regular.broken_first_period
    # 30/360 from Jan 15 to Mar 1 is 46 days: interest 12,000 × 12% × 46/360 = 184.00.
    assert broken.installments[0].interest == 18_400
    assert broken.installments[0].principal == regular.installments[0].principal
    assert [i.total for i in broken.installments[1:-1]] == [
        i.total for i in regular.installments[1:-1]
    ]
    assert broken.installments[1].due_date == date(2026, 4, 1)


def test_short_broken_first_period_charges_fewer_days():
    broken = build_schedule(
        terms(
            principal=1_200_000, annual_rate=Decimal("0.12"), periods=12, first_due=date(2026, 2, 1)
        )
    )
    assert broken.installments[0].interest == 12_000 * 16 // 30  # 16 days of 30


def test_actual_365_charges_interest_on_calendar_days():
    schedule = build_schedule(
        terms(
            principal=1_000_000,
            annual_rate=Decimal("0.12"),
            periods=3,
            day_count=DayCount.ACT_365F,
            start=date(2026, 1, 31),
        )
    )
    feb, mar = schedule.installments[0], schedule.installments[1]
    assert (feb.due_date - feb.start).days == 28 and (mar.due_date - mar.start).days == 31
    assert feb.interest == 9205  # 10,000.00 × 12% × 28/365 = 92.05
    assert mar.interest == 6828  # 6,699.78 × 12% × 31/365 = 68.28


def test_zero_rate_loan_repays_principal_only():
    schedule = build_schedule(terms(principal=1000, annual_rate=Decimal(0), periods=3))
    assert [i.total for i in schedule.installments] == [333, 333, 334]
    assert disclose(schedule).apr_irr == 0


def test_fees_add_to_every_instalment_and_upfront_fee_reduces_cash_received():
    schedule = build_schedule(
        terms(
            principal=1_000_000,
            annual_rate=Decimal("0.12"),
            periods=12,
            upfront_fee=30_000,
            fee_per_period=2_000,
        )
    )
    assert all(i.fee == 2_000 for i in schedule.installments)
    assert schedule.amount_received == 970_000
    assert schedule.total_fees == 30_000 + 12 * 2_000


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"principal": 0}, ErrorCode.INVALID_AMOUNT),
        ({"periods": 0}, ErrorCode.INVALID_TERM),
        ({"annual_rate": Decimal("-0.01")}, ErrorCode.INVALID_RATE),
        ({"upfront_fee": 100_000_000}, ErrorCode.INVALID_AMOUNT),
        ({"first_due": START}, ErrorCode.INVALID_DATE),
    ],
)
def test_impossible_terms_are_refused_with_a_code(overrides, code):
    with pytest.raises(ValidationError) as info:
        terms(**overrides)
    assert info.value.code is code


def test_thirty_360_never_counts_a_real_day_as_zero():
    from lendcore.schedule.calendar import thirty_360_days

    assert thirty_360_days(date(2026, 1, 30), date(2026, 1, 31)) == 1
    assert thirty_360_days(date(2026, 1, 31), date(2026, 2, 28)) == 30
    assert thirty_360_days(date(2026, 1, 15), date(2026, 3, 1)) == 46
