"""Borrower rows. Personal data stays minimal here: a masked display name, the city and the
time zone (collections need the debtor's local time)."""

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Table

from lendcore.store.metadata import metadata

borrowers = Table(
    "borrowers",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("partition_key", Integer, nullable=False),
    Column("display_name", String(64), nullable=False),  # masked, e.g. 张*
    Column("city", String(32), nullable=False),
    Column("timezone", String(40), nullable=False, server_default="Asia/Shanghai"),
    Column("profile", String(16), nullable=False, server_default="unknown"),  # simulator behaviour
    Column("created_at", DateTime(timezone=True), nullable=False),
)
