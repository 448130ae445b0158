"""Journal tables. An entry belongs to one loan and is numbered per loan (loans.journal_seq), so
postings need no global sequence and co-locate with the borrower on a sharded cluster. Lines are
append-only; the database refuses an unbalanced entry (triggers in the initial migration)."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
)

from lendcore.store.metadata import metadata

accounts = Table(
    "accounts",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("name_zh", String(40), nullable=False),
    Column("name_en", String(60), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("normal_side", String(6), nullable=False),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("reference", String(64)),
)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("account", String(8), ForeignKey("accounts.code"), nullable=False),
    Column("debit", BigInteger, nullable=False, server_default="0"),
    Column("credit", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)", name="one_sided"),
    ForeignKeyConstraint(
        ["borrower_id", "loan_id", "seq"],
        ["journal_entries.borrower_id", "journal_entries.loan_id", "journal_entries.seq"],
        name="fk_journal_lines_entry",
        deferrable=True,
        initially="DEFERRED",
    ),
)
