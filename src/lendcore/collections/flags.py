"""Loan facts collections owns: a recorded fraud-investigation authorisation and a performing
hardship plan (``collection_loan_flags``). Both are audited; the gate service reads them with the
loan (:func:`lendcore.collections.history.load_facts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.context import utc
from lendcore.collections.tables import collection_loan_flags
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.servicing.tables import loans


def _flags(connection: Connection, loan_id: int, at: datetime, **values: Any) -> int:
    borrower_id = connection.execute(
        select(loans.c.borrower_id).where(loans.c.loan_id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise ValidationError(ErrorCode.UNKNOWN_LOAN, f"no loan {loan_id}")
    f = collection_loan_flags.c
    where = (f.borrower_id == borrower_id, f.loan_id == loan_id)
    if connection.execute(select(f.loan_id).where(*where)).first() is None:
        connection.execute(
            insert(collection_loan_flags).values(
                borrower_id=borrower_id, loan_id=loan_id, updated_at=utc(at), **values
            )
        )
    else:
        connection.execute(
            update(collection_loan_flags).where(*where).values(updated_at=utc(at), **values)
        )
    return int(borrower_id)


def authorise_investigation(
    connection: Connection, loan_id: int, reference: str, supervisor: str, at: datetime
) -> None:
    """Record a fraud-investigation authorisation; INVESTIGATION calls must quote ``reference``."""
    if not reference.strip() or not supervisor.strip():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "an authorisation needs a reference and a supervisor"
        )
    borrower_id = _flags(
        connection,
        loan_id,
        at,
        investigation_ref=reference.strip(),
        investigation_authorised_by=supervisor.strip(),
    )
    append(
        connection,
        [
            AuditEntry(
                at,
                "investigation.authorised",
                supervisor,
                {"loan_id": loan_id, "borrower_id": borrower_id, "reference": reference},
            )
        ],
    )


def set_hardship_plan(
    connection: Connection, loan_id: int, active: bool, actor: str, at: datetime
) -> None:
    """Mark a hardship plan performing (collection pauses) or ended."""
    borrower_id = _flags(connection, loan_id, at, hardship_plan_active=active)
    append(
        connection,
        [
            AuditEntry(
                at,
                "hardship.flag",
                actor,
                {"loan_id": loan_id, "borrower_id": borrower_id, "active": active},
            )
        ],
    )
