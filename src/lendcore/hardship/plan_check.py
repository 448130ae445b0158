"""The daily plan check, run by the end-of-day once a business date is closed for every loan
(:func:`lendcore.batch.runner.run_eod`'s completion step).

An ACTIVE case whose loan missed more plan instalments than the policy allows is BREACHED
(collection resumes, a ``PLAN_BREACHED`` event goes to the outbox); one whose loan is settled is
COMPLETED (the pause ends). Set-based: one query finds the cases that change (usually none), and
only those are touched. Idempotent and safe to run twice at once (two shards of a sharded run
finishing together): each change is an ``UPDATE ... WHERE status = 'ACTIVE'``, and only the
run whose update took the row records the flag, the event and the audit entry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, text, update

from lendcore.batch.eod_sql import LIVE
from lendcore.batch.tables import outbox
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.flags import set_hardship_plan
from lendcore.hardship.tables import hardship_cases
from lendcore.servicing.tables import instalments, loans
from lendcore.store.db import UnitOfWork

DEFAULT_MISSES_ALLOWED = 1


def check_plans(uow: UnitOfWork, business_date: date, now: datetime) -> dict[str, int]:
    """Breaches and completions as of ``business_date`` (the day after the last closed day:
    a plan instalment due before it and still unpaid is a miss). Returns counts."""
    c, i = hardship_cases.c, instalments.c
    missed = (
        select(func.count())
        .where(
            i.loan_id == c.loan_id,
            i.seq >= c.first_plan_seq,
            i.due_date < business_date,
            (i.principal_due + i.interest_due + i.fee_due)
            > (i.principal_paid + i.interest_paid + i.fee_paid),
        )
        .scalar_subquery()
    )
    allowed = func.coalesce(c.misses_allowed, DEFAULT_MISSES_ALLOWED)
    checked = uow.connection.execute(
        select(func.count()).select_from(hardship_cases).where(c.status == "ACTIVE")
    ).scalar_one()
    rows = uow.connection.execute(
        select(
            c.case_id,
            c.loan_id,
            allowed.label("allowed"),
            loans.c.state,
            loans.c.borrower_id,
            missed.label("missed"),
        )
        .join(loans, and_(loans.c.loan_id == c.loan_id))
        .where(c.status == "ACTIVE", or_(loans.c.state == "SETTLED", missed > allowed))
        .order_by(c.case_id)
    ).all()
    counts = {"checked": int(checked), "breached": 0, "completed": 0}
    for row in rows:
        if row.state == "SETTLED":
            status, breach = "COMPLETED", None
        else:
            status = "BREACHED"
            breach = {
                "business_date": business_date.isoformat(),
                "missed": int(row.missed),
                "allowed": int(row.allowed),
            }
        if not _transition(uow.connection, int(row.case_id), status, breach, now):
            continue  # another run took it first
        counts[status.lower()] += 1
        set_hardship_plan(uow.connection, int(row.loan_id), False, "system", now)
        if status == "BREACHED":
            uow.connection.execute(
                insert(outbox).values(
                    borrower_id=row.borrower_id,
                    loan_id=row.loan_id,
                    kind="PLAN_BREACHED",
                    business_date=business_date,
                    days_past_due=0,
                    bucket_from=None,
                    bucket_to=None,
                    amount=row.missed,
                )
            )
        append(
            uow.connection,
            [
                AuditEntry(
                    now,
                    f"hardship.{status.lower()}",
                    "system",
                    {"case_id": int(row.case_id), "breach": breach},
                )
            ],
        )
    return counts


def _transition(
    connection: Connection, case_id: int, status: str, breach: Any, now: datetime
) -> bool:
    done = connection.execute(
        update(hardship_cases)
        .where(hardship_cases.c.case_id == case_id, hardship_cases.c.status == "ACTIVE")
        .values(status=status, breach=breach, updated_at=now.astimezone(UTC))
    )
    return bool(done.rowcount)


def open_loans(connection: Connection, closed_through: date) -> int:
    """Live loans not yet closed through ``closed_through`` (0: the day is closed for all)."""
    param = closed_through.isoformat() if connection.dialect.name == "sqlite" else closed_through
    return int(
        connection.execute(
            text(
                f"SELECT count(*) FROM loans WHERE state IN {LIVE} "
                "AND last_closed_business_date < :target"
            ),
            {"target": param},
        ).scalar_one()
    )
