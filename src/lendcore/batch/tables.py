"""Batch tables: the outbox of domain events, the end-of-day run log, month-end snapshots."""

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, Integer, String, Table

from lendcore.store.metadata import metadata

# Events for collections and notifications. Consumers read unpublished rows in event_id order
# and mark them published; the outbox lives in the same transaction as the state change.
outbox = Table(
    "outbox",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", BigInteger, nullable=False),
    Column("loan_id", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),  # DUE_SOON | BECAME_OVERDUE | BUCKET_CHANGED ...
    Column("business_date", Date, nullable=False),
    Column("days_past_due", Integer, nullable=False, server_default="0"),
    Column("bucket_from", String(4)),
    Column("bucket_to", String(4)),
    Column("amount", BigInteger, nullable=False, server_default="0"),
    Column("published_at", DateTime(timezone=True)),
    Index("ix_outbox_unpublished", "published_at", "event_id"),
    Index("ix_outbox_business_date_kind", "business_date", "kind"),  # one day's events
)

eod_runs = Table(
    "eod_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("target_date", Date, nullable=False),
    Column("workers", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("loan_days", BigInteger, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False),
)

bucket_snapshots = Table(
    "bucket_snapshots",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("month_end", Date, primary_key=True),
    Column("bucket", String(4), nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("principal_outstanding", BigInteger, nullable=False),
)
