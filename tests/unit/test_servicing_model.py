"""Loan lifecycle, buckets and the allocation waterfall (pure)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.servicing.model import (
    DEFAULT_WATERFALL,
    TRANSITIONS,
    Due,
    LoanState,
    allocate,
    bucket_for,
    parse_waterfall,
    transition,
)

PAY_DAY = date(2026, 3, 1)
OVERDUE = Due(1, date(2026, 2, 15), principal=1000, interest=100, fee=20)
CURRENT = Due(2, date(2026, 3, 15), principal=1000, interest=90, fee=20)
LATER = Due(3, date(2026, 4, 15), principal=1000, interest=80, fee=20)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (LoanState.APPROVED, LoanState.CONTRACT_SIGNED),
        (LoanState.CONTRACT_SIGNED, LoanState.ACTIVE),
        (LoanState.ACTIVE, LoanState.OVERDUE),
        (LoanState.OVERDUE, LoanState.ACTIVE),
        (LoanState.OVERDUE, LoanState.WRITTEN_OFF),
        (LoanState.ACTIVE, LoanState.SETTLED),
        (LoanState.OVERDUE, LoanState.RESTRUCTURED),
    ],
)
def test_lawful_transitions_are_allowed(start, end):
    assert transition(start, end) is end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (LoanState.APPROVED, LoanState.ACTIVE),  # never disbursed without a signed contract
        (LoanState.SETTLED, LoanState.ACTIVE),
        (LoanState.WRITTEN_OFF, LoanState.ACTIVE),
        (LoanState.ACTIVE, LoanState.WRITTEN_OFF),  # only a delinquent loan is written off
        (LoanState.CONTRACT_SIGNED, LoanState.SETTLED),
    ],
)
def test_illegal_transitions_are_domain_errors(start, end):
    with pytest.raises(PolicyViolation) as info:
        transition(start, end)
    assert info.value.code is ErrorCode.ILLEGAL_TRANSITION


def test_terminal_states_have_no_way_out():
    assert TRANSITIONS[LoanState.SETTLED] == frozenset()
    assert TRANSITIONS[LoanState.WRITTEN_OFF] == frozenset()


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [(0, "M0"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (61, "M3"), (90, "M3"), (91, "M4+")],
)
def test_delinquency_buckets_at_their_boundaries(dpd, bucket):
    assert bucket_for(dpd) == bucket


def test_waterfall_pays_penalty_then_overdue_interest_fee_principal_then_current():
    result = allocate(1200, PAY_DAY, [OVERDUE, CURRENT, LATER], penalty=15, future_principal=1000)
    assert result.penalty == 15
    assert result.interest == {1: 100, 2: 65}
    assert result.fee == {1: 20}
    assert result.principal == {1: 1000}
    assert result.prepaid_principal == 0 and result.overpayment == 0


def test_money_beyond_the_current_instalment_prepays_principal_then_is_an_overpayment():
    result = allocate(5000, PAY_DAY, [OVERDUE, CURRENT, LATER], penalty=0, future_principal=1000)
    assert result.principal == {1: 1000, 2: 1000}
    assert result.prepaid_principal == 1000
    assert result.overpayment == 5000 - (1120 + 1110 + 1000)


def test_without_prepayment_the_excess_is_held_as_overpayment():
    result = allocate(
        5000, PAY_DAY, [CURRENT, LATER], penalty=0, future_principal=1000, prepayment_allowed=False
    )
    assert result.prepaid_principal == 0
    assert result.overpayment == 5000 - 1110


def test_an_instalment_due_on_the_payment_day_is_current_not_overdue():
    due_today = Due(1, PAY_DAY, principal=500, interest=50, fee=0)
    waterfall = parse_waterfall(
        "current_principal,overdue_penalty,overdue_interest,overdue_fee,overdue_principal,"
        "current_interest,current_fee"
    )
    result = allocate(500, PAY_DAY, [due_today], 0, 0, waterfall)
    assert result.principal == {1: 500} and result.interest == {}


def test_a_product_waterfall_must_name_every_target_once():
    with pytest.raises(ValidationError):
        parse_waterfall("overdue_penalty,overdue_interest")
    with pytest.raises(ValidationError):
        parse_waterfall("overdue_penalty,bogus")


def test_a_repayment_must_be_positive():
    with pytest.raises(ValidationError):
        allocate(0, PAY_DAY, [CURRENT], 0, 0)


dues = st.lists(
    st.builds(
        Due,
        seq=st.integers(1, 40),
        due_date=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
        principal=st.integers(0, 10**6),
        interest=st.integers(0, 10**5),
        fee=st.integers(0, 10**4),
    ),
    max_size=8,
    unique_by=lambda d: d.seq,
)


@given(
    amount=st.integers(1, 5 * 10**6),
    dues=dues,
    penalty=st.integers(0, 10**5),
    future=st.integers(0, 10**6),
    order=st.permutations(list(DEFAULT_WATERFALL)),
)
def test_every_fen_is_allocated_once_and_no_component_is_overpaid(
    amount, dues, penalty, future, order
):
    result = allocate(amount, PAY_DAY, dues, penalty, future, tuple(order))
    assert result.allocated == amount
    assert result.penalty <= penalty and result.prepaid_principal <= future
    by_seq = {d.seq: d for d in dues}
    for component in ("principal", "interest", "fee"):
        for seq, paid in getattr(result, component).items():
            assert 0 < paid <= getattr(by_seq[seq], component)


@given(amount=st.integers(1, 5 * 10**6), dues=dues, penalty=st.integers(0, 10**5))
def test_nothing_later_in_the_waterfall_is_paid_while_something_earlier_is_owed(
    amount, dues, penalty
):
    result = allocate(amount, PAY_DAY, dues, penalty, 0)
    overdue = [d for d in dues if d.due_date < PAY_DAY]
    owed_interest = sum(d.interest for d in overdue)
    if result.penalty < penalty:
        assert result.allocated == result.penalty  # ran out on the penalty
    paid_later = sum(result.principal.values()) + sum(result.fee.values())
    if (
        sum(v for s, v in result.interest.items() if any(d.seq == s for d in overdue))
        < owed_interest
    ):
        assert paid_later == 0
