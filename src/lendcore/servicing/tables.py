"""Loan accounts and their instalments.

Physical layout: ``loans`` is keyed (partition_key, borrower_id, loan_id) and on SQLite stored
WITHOUT ROWID, i.e. clustered in borrower-hash partition order. The end-of-day works in chunks
that are partition ranges, so a chunk's loans sit on contiguous pages: at 1M loans this cut the
pages a chunk touches from ~18,000 to ~2,200 and the SQLite run from 74 s to 15 s
(docs/performance.md). (borrower_id, loan_id) stays unique, and the key still leads to the
borrower for a sharded cluster. The initial migration was changed in place for this, before
any database had been deployed from it.

Every money column is BIGINT fen. Rates are stored as integer parts per million (0.18 -> 180000)
so the set-based end-of-day SQL computes with exact integers on both databases, plus the exact
decimal text for people. Keys start with borrower_id (sharding-ready, see ARCHITECTURE.md).

Balance columns on ``loans`` mirror the ledger (reconciliation proves it):
principal_outstanding, interest_receivable, fee_receivable, penalty_receivable, overpayment.
Memo columns are not yet in the ledger: accrued_interest (the current period's interest earned so
far, recognised when the instalment falls due) and penalty_accrued (recognised at each due date,
at month end and when paid). ``due_*`` are the unpaid amounts of instalments due on or before
last_closed_business_date; ``current_*`` describe the next instalment not yet due.
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from lendcore.store.metadata import metadata


def _fen(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default="0")


loans = Table(
    "loans",
    metadata,
    Column("partition_key", Integer, primary_key=True, autoincrement=False),
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("product_code", String(41), nullable=False),
    Column("product_version", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("method", String(20), nullable=False),
    Column("period_unit", String(8), nullable=False),
    Column("day_count", String(8), nullable=False),
    Column("rounding", String(10), nullable=False),
    Column("annual_rate", String(12), nullable=False),
    Column("annual_rate_ppm", Integer, nullable=False),
    Column("penalty_rate_ppm", Integer, nullable=False),  # already limited to the cap
    Column("apr_irr", String(12), nullable=False),
    Column("prepayment_rule", String(24), nullable=False),
    Column("waterfall", String(200), nullable=False),
    _fen("principal"),
    _fen("upfront_fee"),
    _fen("fee_per_period"),
    _fen("principal_outstanding"),
    _fen("interest_receivable"),
    _fen("fee_receivable"),
    _fen("penalty_receivable"),
    _fen("overpayment"),
    _fen("accrued_interest"),
    _fen("penalty_accrued"),
    _fen("due_principal"),
    _fen("due_interest"),
    _fen("due_fee"),
    Column("current_seq", Integer, nullable=False, server_default="1"),
    Column("current_period_start", Date),
    Column("current_due_date", Date),
    _fen("current_interest"),
    Column("oldest_unpaid_due_date", Date),
    Column("days_past_due", Integer, nullable=False, server_default="0"),
    Column("bucket", String(4), nullable=False, server_default="M0"),
    Column("last_closed_business_date", Date),
    Column("journal_seq", Integer, nullable=False, server_default="0"),
    Column("start_date", Date, nullable=False),
    Column("maturity_date", Date, nullable=False),
    Column("disbursed_on", Date),
    Column("closed_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("principal_outstanding >= 0", name="principal_not_negative"),
    CheckConstraint("overpayment >= 0", name="overpayment_not_negative"),
    UniqueConstraint("borrower_id", "loan_id"),
    Index("ix_loans_loan_id", "loan_id"),
    sqlite_with_rowid=False,
)

instalments = Table(
    "instalments",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("period_start", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("year_frac_num", Integer, nullable=False),  # the period's year fraction,
    Column("year_frac_den", Integer, nullable=False),  # as an exact ratio
    _fen("principal_due"),
    _fen("interest_due"),
    _fen("fee_due"),
    _fen("principal_paid"),
    _fen("interest_paid"),
    _fen("fee_paid"),
    _fen("interest_posted"),  # recognised in the ledger (at due date, or when paid early)
    _fen("fee_posted"),
    CheckConstraint("principal_paid <= principal_due", name="principal_not_overpaid"),
    CheckConstraint("interest_paid <= interest_posted", name="interest_paid_after_posting"),
    CheckConstraint("fee_paid <= fee_posted", name="fee_paid_after_posting"),
)

repayments = Table(
    "repayments",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("idempotency_key", String(64), primary_key=True),
    _fen("amount"),
    Column("business_date", Date, nullable=False),
    Column("journal_seq", Integer, nullable=False),
    Column("allocation", Text, nullable=False),  # JSON: where every fen went
    Column("received_at", DateTime(timezone=True), nullable=False),
)
