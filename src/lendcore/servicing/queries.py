"""Read models: a loan with its schedule as JSON-ready data (the CLI and the API share it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import format_major
from lendcore.servicing.model import ORDER_STATUS, LoanState
from lendcore.servicing.tables import instalments, loans

_MONEY = frozenset(
    {
        "principal",
        "upfront_fee",
        "fee_per_period",
        "principal_outstanding",
        "interest_receivable",
        "fee_receivable",
        "penalty_receivable",
        "overpayment",
        "accrued_interest",
        "penalty_accrued",
        "due_principal",
        "due_interest",
        "due_fee",
        "current_interest",
    }
)
_INSTALMENT_HIDDEN = frozenset({"borrower_id", "loan_id", "year_frac_num", "year_frac_den"})


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def loan_document(connection: Connection, loan_id: int) -> dict[str, Any]:
    """The loan's columns (amounts as yuan strings), its seed order_status and its instalments;
    ``UNKNOWN_LOAN`` when there is no such loan."""
    row = connection.execute(select(loans).where(loans.c.loan_id == loan_id)).first()
    if row is None:
        raise ValidationError(ErrorCode.UNKNOWN_LOAN, f"no loan {loan_id}")
    rows = connection.execute(
        select(instalments).where(instalments.c.loan_id == loan_id).order_by(instalments.c.seq)
    ).all()
    document = {
        k: (format_major(v) if k in _MONEY else _plain(v))
        for k, v in row._mapping.items()
        if k != "created_at"
    }
    document["order_status"] = ORDER_STATUS.get(LoanState(row.state), row.state)
    document["instalments"] = [
        {
            k: (
                format_major(v)
                if k.endswith(("_due", "_paid", "_posted")) and k != "due_date"
                else _plain(v)
            )
            for k, v in r._mapping.items()
            if k not in _INSTALMENT_HIDDEN
        }
        for r in rows
    ]
    return document
