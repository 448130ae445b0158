"""Properties every schedule keeps, over random terms."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from lendcore.kernel.money import Rounding
from lendcore.schedule import DayCount, Method, PeriodUnit, ScheduleTerms, build_schedule, disclose
from lendcore.schedule.calendar import add_periods


@st.composite
def loan_terms(draw, fees=True, methods=tuple(Method), min_principal=100, min_rate_bp=0):
    unit = draw(st.sampled_from(list(PeriodUnit)))
    max_periods = {PeriodUnit.MONTH: 360, PeriodUnit.WEEK: 104, PeriodUnit.DAY: 60}[unit]
    start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
    broken = draw(st.booleans())
    first_due = None
    if broken:
        regular = add_periods(start, 1, unit)
        shift = draw(st.integers(min_value=-((regular - start).days - 1), max_value=25))
        first_due = regular + timedelta(days=shift)
    principal = draw(st.integers(min_value=min_principal, max_value=500_000_000))
    return ScheduleTerms(
        principal=principal,
        annual_rate=Decimal(draw(st.integers(min_value=min_rate_bp, max_value=3600))) / 10_000,
        periods=draw(st.integers(min_value=1, max_value=max_periods)),
        method=draw(st.sampled_from(list(methods))),
        start=start,
        period_unit=unit,
        first_due=first_due,
        day_count=draw(st.sampled_from(list(DayCount))),
        upfront_fee=draw(st.integers(0, principal // 10)) if fees else 0,
        fee_per_period=draw(st.integers(0, principal // 100)) if fees else 0,
        rounding=draw(st.sampled_from(list(Rounding))),
    )


@given(loan_terms())
def test_principal_parts_sum_exactly_to_the_principal(terms):
    assert build_schedule(terms).total_principal == terms.principal


@given(loan_terms())
def test_no_amount_is_ever_negative(terms):
    for i in build_schedule(terms).installments:
        assert min(i.principal, i.interest, i.fee, i.remaining_principal) >= 0


@given(loan_terms())
def test_balance_falls_monotonically_to_zero(terms):
    remaining = [i.remaining_principal for i in build_schedule(terms).installments]
    assert remaining[-1] == 0
    assert all(a >= b for a, b in itertools.pairwise(remaining))


@given(loan_terms())
def test_due_dates_strictly_increase(terms):
    schedule = build_schedule(terms)
    dates = [terms.start] + [i.due_date for i in schedule.installments]
    assert all(a < b for a, b in itertools.pairwise(dates))


@given(
    loan_terms(
        fees=False, methods=(Method.EQUAL_INSTALLMENT,), min_principal=10_000_000, min_rate_bp=100
    )
)
def test_fee_free_equal_installment_irr_equals_nominal_rate(terms):
    # Each period's interest is rounded by at most one fen, which moves the IRR by about
    # n·R / total_interest: judge only loans where that is below the 4th decimal.
    assume(terms.annual_rate > 0)
    schedule = build_schedule(terms)
    n = len(schedule.installments)
    assume(schedule.total_interest > 0)
    assume(n * terms.annual_rate / schedule.total_interest < Decimal("0.00004"))
    apr = disclose(schedule).apr_irr
    assert abs(apr - terms.annual_rate) < Decimal("0.00005")


@given(loan_terms())
def test_fees_never_lower_the_disclosed_rate_below_the_fee_free_one(terms):
    schedule = build_schedule(terms)
    assume(schedule.total_fees > 0)
    fee_free = ScheduleTerms(
        **{**{f: getattr(terms, f) for f in terms.__slots__}, "upfront_fee": 0, "fee_per_period": 0}
    )
    assert disclose(schedule).apr_irr >= disclose(build_schedule(fee_free)).apr_irr


@given(loan_terms(fees=False, min_principal=1_000_000))
def test_disclosed_rate_is_at_least_nominal_when_fees_exist(terms):
    with_fee = ScheduleTerms(
        **{**{f: getattr(terms, f) for f in terms.__slots__}, "upfront_fee": terms.principal // 50}
    )
    apr = disclose(build_schedule(with_fee)).apr_irr
    assert apr >= terms.annual_rate - Decimal("0.00005")
