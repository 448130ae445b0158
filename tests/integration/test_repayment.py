"""Repayments through the waterfall, prepayment, settlement, idempotency — on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from lendcore.batch.runner import run_eod
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.ledger.reconcile import reconcile
from lendcore.servicing.service import repay
from lendcore.servicing.tables import instalments
from lendcore.store.db import UnitOfWork

from .helpers import loan_row, make_loan

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def _pay(engine, loan_id, amount, key, day):
    with UnitOfWork(engine) as uow:
        result = repay(uow, loan_id, amount, key, day, NOW)
        uow.commit()
    return result


def _schedule(engine, loan_id):
    with engine.connect() as connection:
        return connection.execute(
            select(instalments).where(instalments.c.loan_id == loan_id).order_by(instalments.c.seq)
        ).all()


def _reconciled(engine):
    with engine.connect() as connection:
        result = reconcile(connection)
    assert result.ok, (result.ledger_mismatches, result.schedule_mismatches)


def test_paying_an_instalment_on_its_due_date_keeps_the_loan_current(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 14))
    first = _schedule(engine, 1)[0]
    _pay(engine, 1, first.principal_due + 18_000 + 2_400, "k1", date(2026, 2, 15))
    run_eod(engine, date(2026, 2, 16))
    row = loan_row(engine, 1)
    assert (row["state"], row["days_past_due"]) == ("ACTIVE", 0)
    assert row["interest_receivable"] == 0 and row["fee_receivable"] == 0
    _reconciled(engine)


def test_a_partial_payment_goes_to_penalty_then_overdue_interest(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 20))  # five days overdue
    penalty = loan_row(engine, 1)["penalty_accrued"]
    result = _pay(engine, 1, 10_000, "k1", date(2026, 2, 21))
    assert result.allocation["penalty"] == penalty
    assert result.allocation["interest"] == {"1": 10_000 - penalty}
    assert result.allocation["principal"] == {}
    row = loan_row(engine, 1)
    assert row["state"] == "OVERDUE" and row["penalty_receivable"] == 0
    _reconciled(engine)


def test_paying_all_arrears_cures_the_loan(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 20))
    row = loan_row(engine, 1)
    owed = row["due_principal"] + row["due_interest"] + row["due_fee"] + row["penalty_accrued"]
    result = _pay(engine, 1, owed, "k1", date(2026, 2, 21))
    assert result.state == "ACTIVE"
    assert loan_row(engine, 1)["days_past_due"] == 0
    _reconciled(engine)


def test_a_prepayment_shrinks_later_instalments_and_keeps_their_due_dates(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 9))
    before = _schedule(engine, 1)
    first = before[0]
    extra = 500_000
    result = _pay(engine, 1, first.principal_due + 18_000 + 2_400 + extra, "k1", date(2026, 2, 10))
    assert result.allocation["prepaid_principal"] == extra
    after = _schedule(engine, 1)
    assert [r.due_date for r in after] == [r.due_date for r in before]
    remaining = sum(r.principal_due for r in after[1:])
    assert remaining == sum(r.principal_due for r in before[1:]) - extra
    assert all(
        a.principal_due + a.interest_due < b.principal_due + b.interest_due
        for a, b in zip(after[1:], before[1:], strict=True)
    )
    balance = 1_200_000 - first.principal_due - extra
    assert after[1].interest_due == (balance * 15 * 2 + 1000) // 2000  # 1.5%, half-up
    assert all(a.fee_due == 2_400 for a in after[1:])  # the monthly fee is not part of the rule
    _reconciled(engine)


def test_paying_everything_settles_the_loan_and_holds_the_excess(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 9))
    first = _schedule(engine, 1)[0]
    payoff = 1_200_000 + 18_000 + 2_400  # all principal + the current period's charges
    result = _pay(engine, 1, payoff + 777, "k1", date(2026, 2, 10))
    assert result.state == "SETTLED"
    row = loan_row(engine, 1)
    assert row["principal_outstanding"] == 0 and row["overpayment"] == 777
    later = _schedule(engine, 1)[1:]
    assert all(r.interest_due == 0 and r.fee_due == 0 for r in later)
    assert first.principal_due < 1_200_000
    summary = run_eod(engine, date(2026, 3, 31))
    assert summary.loan_days == 0  # a settled loan is not closed any more
    _reconciled(engine)


def test_the_same_idempotency_key_applies_once(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 20))
    first = _pay(engine, 1, 10_000, "same-key", date(2026, 2, 21))
    before = loan_row(engine, 1)
    again = _pay(engine, 1, 10_000, "same-key", date(2026, 2, 21))
    assert again.duplicate and again.allocation == first.allocation
    assert loan_row(engine, 1) == before
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM repayments")).scalar() == 1


@pytest.mark.parametrize("loan_id", [1, 99])
def test_repaying_a_settled_or_unknown_loan_is_refused_and_changes_nothing(engine, loan_id):
    make_loan(engine, 1)
    _pay(engine, 1, 2_000_000, "payoff", date(2026, 1, 20))
    before = loan_row(engine, 1)
    with pytest.raises(LendcoreError) as info:
        _pay(engine, loan_id, 1_000, "late", date(2026, 1, 21))
    assert info.value.code in (ErrorCode.LOAN_NOT_LIVE, ErrorCode.UNKNOWN_LOAN)
    assert loan_row(engine, 1) == before
