"""Reading loan rows inside a unit of work, with the row lock the use case needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.servicing.model import LoanState
from lendcore.servicing.tables import instalments, loans
from lendcore.store.db import UnitOfWork


@dataclass(frozen=True)
class LoanRow:
    """A loan row as read; ``state`` typed, everything else as stored."""

    state: LoanState
    data: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None


def load_loan_for_update(uow: UnitOfWork, loan_id: int) -> LoanRow:
    """The loan, locked until the unit of work ends (FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already holds the database write lock)."""
    query = select(loans).where(loans.c.loan_id == loan_id)
    if not uow.sqlite:
        query = query.with_for_update()
    row = uow.connection.execute(query).first()
    if row is None:
        raise ValidationError(ErrorCode.UNKNOWN_LOAN, f"no loan {loan_id}")
    data = dict(row._mapping)
    return LoanRow(LoanState(data["state"]), data)


def load_instalments(uow: UnitOfWork, borrower_id: int, loan_id: int) -> list[dict[str, Any]]:
    rows = uow.connection.execute(
        select(instalments)
        .where(instalments.c.borrower_id == borrower_id, instalments.c.loan_id == loan_id)
        .order_by(instalments.c.seq)
    )
    return [dict(r._mapping) for r in rows]


def oldest_unpaid(rows: list[dict[str, Any]], closed_through: date | None) -> date | None:
    """The due date of the oldest instalment due by ``closed_through`` with anything unpaid."""
    if closed_through is None:
        return None
    for row in rows:
        if row["due_date"] > closed_through:
            break
        if (
            row["principal_due"] > row["principal_paid"]
            or row["interest_due"] > row["interest_paid"]
            or row["fee_due"] > row["fee_paid"]
        ):
            return row["due_date"]  # type: ignore[no-any-return]
    return None
