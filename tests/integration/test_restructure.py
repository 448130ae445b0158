"""Restructuring a delinquent loan under a hardship plan — on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from lendcore.batch.runner import run_eod
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.ledger.reconcile import reconcile
from lendcore.ledger.tables import journal_entries, journal_lines
from lendcore.servicing.restructure import Debt, RestructureTerms, restructure, split_waiver
from lendcore.servicing.service import repay
from lendcore.servicing.tables import instalments
from lendcore.store.db import UnitOfWork

from .helpers import loan_row, make_loan

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = date(2026, 6, 1)


def _overdue_loan(engine, loan_id=1):
    make_loan(engine, loan_id)
    run_eod(engine, date(2026, 5, 31))  # four instalments missed, penalty accrued
    return loan_row(engine, loan_id)


def _restructure(engine, loan_id, terms):
    with UnitOfWork(engine) as uow:
        result = restructure(uow, loan_id, terms, DAY, NOW)
        uow.commit()
    return result


def _reconciled(engine):
    with engine.connect() as connection:
        result = reconcile(connection)
    assert result.ok, (result.ledger_mismatches, result.schedule_mismatches)


def test_a_restructure_waives_capitalises_and_replaces_the_schedule(engine):
    before = _overdue_loan(engine)
    assert (
        before["state"] == "OVERDUE"
        and before["penalty_accrued"] + before["penalty_receivable"] > 0
    )
    owed = (
        before["principal_outstanding"]
        + before["interest_receivable"]
        + before["fee_receivable"]
        + before["penalty_receivable"]
        + before["penalty_accrued"]
    )
    waiver = before["penalty_receivable"] + before["penalty_accrued"] + 100
    result = _restructure(
        engine,
        1,
        RestructureTerms(
            down_payment=50_000,
            periods=12,
            waiver=waiver,
            reference="case-1",
            down_payment_reference="UP-77",
        ),
    )
    after = loan_row(engine, 1)
    assert after["state"] == "RESTRUCTURED"
    assert after["principal_outstanding"] == owed - waiver - 50_000 == result.new_principal
    assert (after["interest_receivable"], after["penalty_receivable"], after["days_past_due"]) == (
        0,
        0,
        0,
    )
    assert result.waived["penalty"] == before["penalty_receivable"] + before["penalty_accrued"]
    assert result.waived["interest"] == 100
    assert "principal" not in result.waived
    # the new schedule: 12 instalments summing to the new principal, at 0 %
    with engine.connect() as connection:
        rows = connection.execute(
            select(instalments).where(instalments.c.loan_id == 1, instalments.c.seq > 6)
        ).all()
        kinds = [
            r.kind
            for r in connection.execute(
                select(journal_entries.c.kind)
                .where(journal_entries.c.loan_id == 1)
                .order_by(journal_entries.c.seq)
            )
        ]
        concession = connection.execute(
            select(journal_lines.c.debit).where(
                journal_lines.c.loan_id == 1, journal_lines.c.account == "6702"
            )
        ).scalar_one()
    assert len(rows) == 12 and sum(r.principal_due for r in rows) == result.new_principal
    assert all(r.interest_due == 0 for r in rows)
    assert kinds[-2:] == ["RESTRUCTURE", "DOWN_PAYMENT"] and concession == waiver
    _reconciled(engine)


def test_a_restructured_loan_is_serviced_by_the_batch_and_repayments(engine):
    _overdue_loan(engine)
    result = _restructure(engine, 1, RestructureTerms(down_payment=0, periods=6, waiver=0))
    first = result.schedule.installments[0]
    run_eod(engine, first.due_date)
    with UnitOfWork(engine) as uow:
        repay(uow, 1, first.principal, "plan-1", first.due_date, NOW)
        uow.commit()
    run_eod(engine, date(2026, 7, 15))
    row = loan_row(engine, 1)
    assert row["state"] == "RESTRUCTURED" and row["days_past_due"] == 0
    assert row["penalty_accrued"] == 0
    _reconciled(engine)
    # a missed plan instalment makes the loan overdue again, without penalty interest
    second = result.schedule.installments[1]
    run_eod(engine, date.fromordinal(second.due_date.toordinal() + 5))
    row = loan_row(engine, 1)
    assert row["state"] == "OVERDUE" and row["days_past_due"] == 5
    assert row["penalty_accrued"] == 0
    _reconciled(engine)


@pytest.mark.parametrize(
    ("terms", "code"),
    [
        (RestructureTerms(down_payment=0, periods=61, waiver=0), ErrorCode.INVALID_RESTRUCTURE),
        (
            RestructureTerms(down_payment=0, periods=12, waiver=10**12),
            ErrorCode.INVALID_RESTRUCTURE,
        ),
        (
            RestructureTerms(
                down_payment=10**12, periods=12, waiver=0, down_payment_reference="UP-1"
            ),
            ErrorCode.INVALID_RESTRUCTURE,
        ),
        (
            RestructureTerms(down_payment=50_000, periods=12, waiver=0),
            ErrorCode.DOWN_PAYMENT_REFERENCE_REQUIRED,
        ),
        (RestructureTerms(down_payment=-1, periods=12, waiver=0), ErrorCode.INVALID_RESTRUCTURE),
        (
            RestructureTerms(down_payment=0, periods=12, waiver=0, expected_debt=Debt(1, 0, 0, 0)),
            ErrorCode.CASE_STALE,
        ),
    ],
)
def test_a_refused_restructure_changes_nothing(engine, terms, code):
    before = _overdue_loan(engine)
    with pytest.raises(LendcoreError) as raised:
        _restructure(engine, 1, terms)
    assert raised.value.code == code
    assert loan_row(engine, 1) == before


def test_a_loan_that_is_not_live_cannot_be_restructured(engine):
    make_loan(engine, 2, disbursed=False)  # CONTRACT_SIGNED
    with pytest.raises(LendcoreError) as raised:
        _restructure(engine, 2, RestructureTerms(down_payment=0, periods=6, waiver=0))
    assert raised.value.code == ErrorCode.ILLEGAL_TRANSITION


def test_the_waiver_never_touches_principal_unless_allowed():
    debt = Debt(principal=1000, interest=30, fee=20, penalty=50)
    assert split_waiver(debt, 90, False) == {"penalty": 50, "interest": 30, "fee": 10}
    with pytest.raises(LendcoreError):
        split_waiver(debt, 101, False)
    assert split_waiver(debt, 101, True)["principal"] == 1
