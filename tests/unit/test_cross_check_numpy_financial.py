"""An independent implementation (numpy-financial) agrees with ours."""

import sys
from datetime import date
from decimal import Decimal

import numpy_financial as npf
from hypothesis import example, given
from hypothesis import strategies as st

from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose


def _pmt_float_error_bound(payment: float, monthly_rate: float, periods: int) -> float:
    """How far numpy-financial's float pmt may be from the exact payment, in fen.

    pmt = P·r·g / (g - 1) with g = (1 + r)^n. Storing 1 + r in a double moves r by up to one
    ulp of 1 (eps), a relative error of eps / r, which g^n carries n-fold into g - 1: relative
    error n·eps·g / (g - 1) — large when r·n is small (g - 1 ≈ n·r, the cancellation), about
    n·eps otherwise. Plus a few roundings of the final products (the 1). Measured on 400,000
    random and near-worst cases the actual error stayed under 0.73 of this; 4x is the margin.
    Relative to the payment, because a fixed 1e-6 fen is smaller than this error for large
    payments at low rates: it failed when the exact payment was a half-fen tie (the @example)."""
    growth = (1 + monthly_rate) ** periods
    return 4 * sys.float_info.epsilon * abs(payment) * (1 + periods * growth / (growth - 1))


@given(
    principal=st.integers(min_value=100_000, max_value=500_000_000),
    rate_bp=st.integers(min_value=1, max_value=3600),
    periods=st.integers(min_value=1, max_value=360),
)
# The exact payment is 180,001.5 fen, a tie our half-up rounding takes to 180,002; the float
# pmt gives 180,001.4999988 — 0.5000012 away, which the old fixed 1e-6 slack refused.
@example(principal=180_000, rate_bp=1, periods=1)
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
    monthly = float(rate) / 12
    expected = -npf.pmt(monthly, periods, principal)
    # Ours is the exact payment rounded to the fen (at most 0.5 away, exact integer money);
    # only numpy-financial's float rounding gets a tolerance.
    slack = _pmt_float_error_bound(expected, monthly, periods)
    assert abs(schedule.installments[0].total - expected) <= 0.5 + slack


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
