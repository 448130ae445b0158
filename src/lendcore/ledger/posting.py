"""Writing journal entries for one loan (services); the end-of-day batch posts set-based SQL
with the same shape (see batch/eod_sql.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from lendcore.ledger.model import Entry
from lendcore.ledger.tables import journal_entries, journal_lines


def post_entry(
    connection: Connection,
    borrower_id: int,
    loan_id: int,
    seq: int,
    entry: Entry,
    now: datetime,
) -> bool:
    """Insert ``entry`` as journal entry ``seq`` of the loan; lines first, header last (the order
    SQLite's seal trigger needs). Returns False, writing nothing, when the entry moves nothing."""
    lines = entry.lines()
    if not lines:
        return False
    connection.execute(
        insert(journal_lines),
        [
            {
                "borrower_id": borrower_id,
                "loan_id": loan_id,
                "seq": seq,
                "line_no": number,
                "account": str(line.account),
                "debit": line.debit,
                "credit": line.credit,
            }
            for number, line in enumerate(lines, start=1)
        ],
    )
    connection.execute(
        insert(journal_entries).values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            seq=seq,
            kind=entry.kind,
            business_date=entry.business_date,
            created_at=now,
            reference=entry.reference,
        )
    )
    return True
