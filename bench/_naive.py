"""The naive end-of-day for bench/eod.py: the Fineract-style per-loan ORM loop, sampled.

Fineract's loan close-of-business reads each loan through JPA with its repayment schedule,
runs the day's business steps on the objects in Java and saves the loan, committing every chunk
of loans. This is the same shape in SQLAlchemy's ORM: the loans table mapped imperatively, each
loan loaded by primary key with its instalments (a lazy load), the day's steps done in Python —
penalty memo, instalment falling due (journal entry, dues, next period), month-end penalty,
events, interest accrual memo, days past due, bucket, state, close date — and one flush per
loan, one commit per ``commit_every`` loans. It computes exactly what batch/eod_sql.py computes
(bench/eod.py checks that on twins of the same template), so the difference is the method.
"""

from __future__ import annotations

import calendar
import time
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session, foreign, registry, relationship

from lendcore.batch.tables import bucket_snapshots, outbox
from lendcore.ledger.accounts import Account
from lendcore.ledger.tables import journal_entries, journal_lines
from lendcore.servicing.model import bucket_for
from lendcore.servicing.tables import instalments, loans

LIVE = ("ACTIVE", "OVERDUE", "RESTRUCTURED")


class Loan:
    instalments: list[Any]
    __getattr__: Any  # mapped columns


class Instalment:
    __getattr__: Any


class JournalEntry:
    def __init__(self, **values: Any):
        for name, value in values.items():
            setattr(self, name, value)  # through the ORM's instrumentation


class JournalLine(JournalEntry):
    pass


class Event(JournalEntry):
    pass


class Snapshot(JournalEntry):
    pass


_mapper_registry = registry()
_mapper_registry.map_imperatively(Instalment, instalments)
_mapper_registry.map_imperatively(
    Loan,
    loans,
    properties={
        "instalments": relationship(
            Instalment,
            primaryjoin=and_(
                loans.c.borrower_id == foreign(instalments.c.borrower_id),
                loans.c.loan_id == foreign(instalments.c.loan_id),
            ),
            order_by=instalments.c.seq,
            lazy="select",
        )
    },
)
_mapper_registry.map_imperatively(JournalEntry, journal_entries)
_mapper_registry.map_imperatively(JournalLine, journal_lines)
_mapper_registry.map_imperatively(Event, outbox)
_mapper_registry.map_imperatively(Snapshot, bucket_snapshots)


def _post(
    session: Session, loan: Any, kind: str, day: date, now: datetime, moves: list[tuple]
) -> None:
    """One journal entry: lines first and flushed, header last (SQLite's seal trigger)."""
    seq = loan.journal_seq + 1
    number = 0
    for debit_account, credit_account, amount in moves:
        for account, debit, credit in (
            (debit_account, amount, 0),
            (credit_account, 0, amount),
        ):
            number += 1
            if amount > 0:
                session.add(
                    JournalLine(
                        borrower_id=loan.borrower_id,
                        loan_id=loan.loan_id,
                        seq=seq,
                        line_no=number,
                        account=str(account),
                        debit=debit,
                        credit=credit,
                    )
                )
    session.flush()
    session.add(
        JournalEntry(
            borrower_id=loan.borrower_id,
            loan_id=loan.loan_id,
            seq=seq,
            kind=kind,
            business_date=day,
            created_at=now,
        )
    )
    loan.journal_seq = seq


def close_loan_day(session: Session, loan: Any, day: date, now: datetime) -> bool:
    """The end-of-day steps for one loan and one day, on ORM objects."""
    if loan.state not in LIVE or loan.last_closed_business_date != day - timedelta(days=1):
        return False
    month_end = day.day == calendar.monthrange(day.year, day.month)[1]
    overdue = loan.due_principal + loan.due_interest
    if overdue > 0 and loan.penalty_rate_ppm > 0:
        loan.penalty_accrued += (overdue * loan.penalty_rate_ppm * 2 + 365_000_000) // 730_000_000
    if loan.current_due_date == day:
        by_seq = {i.seq: i for i in loan.instalments}
        due = by_seq[loan.current_seq]
        interest = due.interest_due - due.interest_posted
        fee = due.fee_due - due.fee_posted
        penalty = loan.penalty_accrued
        if interest > 0 or fee > 0 or penalty > 0:
            _post(
                session,
                loan,
                "DUE",
                day,
                now,
                [
                    (Account.INTEREST_RECEIVABLE, Account.INTEREST_INCOME, interest),
                    (Account.FEE_RECEIVABLE, Account.FEE_INCOME, fee),
                    (Account.PENALTY_RECEIVABLE, Account.PENALTY_INCOME, penalty),
                ],
            )
        unpaid = (
            due.principal_due
            - due.principal_paid
            + due.interest_due
            - due.interest_paid
            + due.fee_due
            - due.fee_paid
        )
        loan.interest_receivable += interest
        loan.fee_receivable += fee
        loan.penalty_receivable += penalty
        loan.penalty_accrued = 0
        loan.due_principal += due.principal_due - due.principal_paid
        loan.due_interest += due.interest_due - due.interest_paid
        loan.due_fee += due.fee_due - due.fee_paid
        if loan.oldest_unpaid_due_date is None and unpaid > 0:
            loan.oldest_unpaid_due_date = day
        loan.accrued_interest = 0
        due.interest_posted, due.fee_posted = due.interest_due, due.fee_due
        following = by_seq.get(loan.current_seq + 1)
        loan.current_seq += 1
        loan.current_period_start = day
        loan.current_due_date = following.due_date if following else None
        loan.current_interest = following.interest_due if following else 0
    if month_end and loan.penalty_accrued > 0:
        penalty = loan.penalty_accrued
        _post(
            session,
            loan,
            "PENALTY",
            day,
            now,
            [(Account.PENALTY_RECEIVABLE, Account.PENALTY_INCOME, penalty)],
        )
        loan.penalty_receivable += penalty
        loan.penalty_accrued = 0
    oldest = loan.oldest_unpaid_due_date
    dpd = (day - oldest).days if oldest else 0
    bucket = bucket_for(dpd)
    dues = loan.due_principal + loan.due_interest + loan.due_fee
    events = []
    if loan.days_past_due == 0 and dpd > 0:
        events.append(("BECAME_OVERDUE", bucket, dues))
    if loan.bucket != bucket:
        events.append(("BUCKET_CHANGED", bucket, dues))
    if loan.current_due_date == day + timedelta(days=3):
        events.append(("DUE_SOON", loan.bucket, loan.current_interest))
    for kind, bucket_to, amount in events:
        session.add(
            Event(
                borrower_id=loan.borrower_id,
                loan_id=loan.loan_id,
                kind=kind,
                business_date=day,
                days_past_due=dpd,
                bucket_from=loan.bucket,
                bucket_to=bucket_to,
                amount=amount,
            )
        )
    start, due_date = loan.current_period_start, loan.current_due_date
    if due_date is None or due_date <= start:
        loan.accrued_interest = 0
    else:
        period_days = (due_date - start).days
        elapsed = (day - start).days + 1
        loan.accrued_interest = (
            loan.current_interest
            if elapsed >= period_days
            else (loan.current_interest * elapsed * 2 + period_days) // (2 * period_days)
        )
    loan.days_past_due = dpd
    loan.bucket = bucket
    if dpd > 0:
        loan.state = "OVERDUE"
    elif loan.state == "OVERDUE":
        loan.state = "ACTIVE"
    loan.last_closed_business_date = day
    if month_end:
        session.add(
            Snapshot(
                borrower_id=loan.borrower_id,
                loan_id=loan.loan_id,
                month_end=day,
                bucket=loan.bucket,
                days_past_due=dpd,
                state=loan.state,
                principal_outstanding=loan.principal_outstanding,
            )
        )
    return True


def run_naive(
    engine: Engine, keys: list[tuple[int, int]], days: list[date], commit_every: int = 100
) -> tuple[int, float]:
    """Close ``keys`` (borrower_id, loan_id) for each of ``days``, loan by loan; returns
    (loan-days closed, seconds)."""
    closed = 0
    started = time.perf_counter()
    for offset in range(0, len(keys), commit_every):
        with Session(engine) as session:
            for key in keys[offset : offset + commit_every]:
                borrower_id, loan_id = key
                loan = session.scalars(
                    select(Loan).where(Loan.borrower_id == borrower_id, Loan.loan_id == loan_id)
                ).one()
                for day in days:
                    closed += close_loan_day(session, loan, day, datetime.now().astimezone())
                session.flush()
            session.commit()
    return closed, time.perf_counter() - started
