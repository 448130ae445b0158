from datetime import date
from decimal import Decimal

import pytest

from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.products.caps import RateCap
from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose
from lendcore.schedule.disclosure import UPFRONT_INTEREST_DEDUCTED


def schedule(**overrides):
    values = dict(
        principal=1_000_000,
        annual_rate=Decimal("0.12"),
        periods=12,
        method=Method.EQUAL_INSTALLMENT,
        start=date(2026, 1, 15),
    )
    values.update(overrides)
    return build_schedule(ScheduleTerms(**values))


def test_fee_free_loan_discloses_its_nominal_rate():
    assert disclose(schedule()).apr_irr.quantize(Decimal("0.0001")) == Decimal("0.1200")


def test_upfront_fee_shows_an_irr_far_above_the_nominal_rate():
    # 5% withheld from a 12-month 12% loan: the borrower really pays about 21.8% a year.
    apr = disclose(schedule(upfront_fee=50_000)).apr_irr
    assert apr > Decimal("0.21")


def test_upfront_interest_is_reported_and_principal_is_what_was_received():
    disclosure = disclose(schedule(), upfront_interest=60_000)
    assert disclosure.legal_principal == 940_000
    assert disclosure.amount_received == 940_000
    assert UPFRONT_INTEREST_DEDUCTED in disclosure.warnings
    assert disclosure.apr_irr > Decimal("0.23")
    assert disclosure.total_cost == schedule().total_interest + 60_000


def test_deductions_that_leave_nothing_are_refused():
    with pytest.raises(ValidationError):
        disclose(schedule(), upfront_interest=1_000_000)


def test_cap_refuses_an_offer_above_24_percent():
    apr = disclose(schedule(upfront_fee=80_000)).apr_irr
    with pytest.raises(PolicyViolation) as info:
        RateCap().enforce(apr)
    assert info.value.code is ErrorCode.RATE_CAP_EXCEEDED


def test_cap_passes_an_offer_at_or_below_the_limit():
    assert RateCap().check(Decimal("0.2400000001")).compliant
    assert not RateCap().check(Decimal("0.2400100000")).compliant


def test_four_times_lpr_binds_when_lower_than_the_configured_cap():
    cap = RateCap(limit=Decimal("0.24"), one_year_lpr=Decimal("0.03"))
    assert cap.effective_limit == Decimal("0.12")
    assert RateCap(
        limit=Decimal("0.24"), one_year_lpr=Decimal("0.0725")
    ).effective_limit == Decimal("0.24")


def test_no_configuration_may_exceed_the_36_percent_outer_bound():
    with pytest.raises(ValidationError) as info:
        RateCap(limit=Decimal("0.3601"))
    assert info.value.code is ErrorCode.CAP_ABOVE_OUTER_BOUND
