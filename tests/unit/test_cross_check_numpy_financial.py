"""An independent implementation (numpy-financial) agrees with ours."""

from datetime import date
from decimal import Decimal

import numpy_financial as npf
from hypothesis import given
from hypothesis import strategies as st

from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose


@given(
    principal=st.integers(min_value=100_000, max_value=500_000_000),
    rate_bp=st.integers(min_value=1, max_value=3600),
    periods=st.integers(min_value=1, max_value=360),
)
def test_level_payment_matches_numpy_financial_pmt(principal, rate_bp, periods):
    rate = Decimal(rate_bp) / 10_000
    schedule = build_schedule(
        ScheduleTerms(
            principal=principal,
            annual_rate=rate,
            periods=periods,
            method=Method.EQUAL_INSTALLMENT,
            start=date(2026, 1, 15),
        )
    )
    expected = -npf.pmt(float(rate) / 12, periods, principal)
    assert abs(schedule.installments[0].total - expected) <= 0.5 + 1e-6


@given(
    principal=st.integers(min_value=1_000_000, max_value=100_000_000),
    rate_bp=st.integers(min_value=100, max_value=3600),
    periods=st.integers(min_value=2, max_value=120),
    fee_bp=st.integers(min_value=0, max_value=800),
    method=st.sampled_from(
        [Method.EQUAL_INSTALLMENT, Method.EQUAL_PRINCIPAL, Method.INTEREST_FIRST]
    ),
)
def test_irr_matches_numpy_financial_irr_times_twelve(principal, rate_bp, periods, fee_bp, method):
    fee = principal * fee_bp // 10_000
    schedule = build_schedule(
        ScheduleTerms(
            principal=principal,
            annual_rate=Decimal(rate_bp) / 10_000,
            periods=periods,
            method=method,
            start=date(2026, 1, 15),
            upfront_fee=fee,
        )
    )
    flows = [schedule.amount_received] + [-i.total for i in schedule.installments]
    expected = npf.irr(flows) * 12
    assert abs(float(disclose(schedule).apr_irr) - expected) < 1e-7
