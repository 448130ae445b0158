"""Disbursements: one row per loan (the primary key is the exactly-once guard) and a unique
channel serial, so a retried or duplicated request can never pay twice."""

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table

from lendcore.store.metadata import metadata

disbursements = Table(
    "disbursements",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("serial", String(40), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("payee_account", String(40), nullable=False),  # masked
    Column("status", String(10), nullable=False),  # PENDING | SUCCEEDED | FAILED
    Column("channel_ref", String(64)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
