"""Credit lines (授信额度) and their history.

One line per borrower: the limit the latest approved decision granted, grown by on-time
repayments (``decisioning.credit_lines``). Both tables are keyed by ``borrower_id`` first
(sharding-ready, ARCHITECTURE.md) and carry the borrower-hash ``partition_key`` so the end-of-day
chunk that closes a borrower's loans also consumes the events for that borrower's line.

Money is BIGINT fen; the step-up factor is kept as its exact decimal text (it is only ever read
by the pure rule in ``pricing``, never computed with in SQL).

``credit_line_events`` is the audit trail: one row per change (OPENED, REBASED, STEPPED_UP,
LATE), numbered by the line's ``version``, with the limit before and after, the on-time count
before and after, and what caused it (the decision, the loan, the outbox event).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Integer,
    String,
    Table,
)

from lendcore.store.metadata import metadata

LINE_EVENT_KINDS = "('OPENED', 'REBASED', 'STEPPED_UP', 'LATE')"

credit_lines = Table(
    "credit_lines",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("partition_key", Integer, nullable=False),
    Column("product_code", String(41), nullable=False),  # the product the decision offered
    Column("tier", String(16), nullable=False),
    Column("decision_id", BigInteger, nullable=False),  # the decision that opened (or rebased) it
    Column("credit_limit", BigInteger, nullable=False),  # fen, now
    Column("initial_limit", BigInteger, nullable=False),  # fen, as the decision granted it
    Column("tier_max", BigInteger, nullable=False),  # fen, what step-ups may reach
    Column("step_up_after", Integer, nullable=False),
    Column("step_up_factor", String(12), nullable=False),
    Column("on_time_count", Integer, nullable=False, server_default="0"),  # toward the next step
    Column("on_time_total", Integer, nullable=False, server_default="0"),
    Column("late_total", Integer, nullable=False, server_default="0"),
    Column("step_ups", Integer, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False, server_default="1"),  # last history row's number
    # The newest BECAME_OVERDUE outbox event already counted: the end of day never counts one twice.
    Column("last_overdue_event_id", BigInteger, nullable=False, server_default="0"),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("credit_limit > 0 AND credit_limit <= tier_max", name="limit_in_tier"),
    CheckConstraint("step_up_after >= 1", name="step_up_after_positive"),
)

credit_line_events = Table(
    "credit_line_events",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("limit_before", BigInteger, nullable=False),
    Column("limit_after", BigInteger, nullable=False),
    Column("on_time_before", Integer, nullable=False),
    Column("on_time_after", Integer, nullable=False),
    Column("late_total", Integer, nullable=False),
    Column("decision_id", BigInteger),
    Column("loan_id", BigInteger),
    Column("outbox_event_id", BigInteger),  # the servicing event consumed (LATE)
    Column("details", JSON),  # the rule applied, the offer, the counts
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"kind IN {LINE_EVENT_KINDS}", name="kind"),
)
