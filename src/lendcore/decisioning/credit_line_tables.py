"""Credit lines (授信额度) and their history.

One line per borrower: the limit the latest approved decision granted, grown by on-time
repayments (``decisioning.credit_lines``). Both tables are keyed by ``borrower_id`` first
(sharding-ready, ARCHITECTURE.md) and carry the borrower-hash ``partition_key`` so the end-of-day
chunk that closes a borrower's loans also consumes the events for that borrower's line.

Money is BIGINT fen; the step-up factor is kept as its exact decimal text (it is only ever read
by the pure rule in ``pricing``, never computed with in SQL).

``applicant_key`` is the blind index of the ID number (the fraud index's and the decision
record's ``applicant_key``), copied from the decision that opened or last rebased the line: a
new application has no borrower id, so the decision finds the applicant's line by this key
(:func:`line_of_applicant`, one indexed SELECT). No identifier is stored in clear.

``credit_line_events`` is the audit trail: one row per change (OPENED, REBASED, STEPPED_UP,
LATE), numbered by the line's ``version``, with the limit before and after, the on-time count
before and after, and what caused it (the decision, the loan, the outbox event).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    text,
)

from lendcore.decisioning.pricing import CreditLineFacts
from lendcore.store.metadata import metadata
from lendcore.store.round_trips import Statement, send_together

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
    # The ID number's blind index (migration 0010); NULL only for a line whose decision is gone.
    Column("applicant_key", String(64)),
    CheckConstraint("credit_limit > 0 AND credit_limit <= tier_max", name="limit_in_tier"),
    CheckConstraint("step_up_after >= 1", name="step_up_after_positive"),
    Index("ix_credit_lines_applicant_key", "applicant_key"),
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


# The decision hot path's look-up, built once as plain SQL (fraud_tables.py says why: a composed
# select() costs more to cache-key than to run). One person with two accounts has two lines:
# the larger one counts (the offer takes the larger limit anyway); ties go to the lower id.
_LINE_OF_APPLICANT = text(
    "SELECT borrower_id, credit_limit, version FROM credit_lines "
    "WHERE applicant_key = :applicant_key ORDER BY credit_limit DESC, borrower_id LIMIT 1"
)


def line_statement(applicant_key: str) -> Statement:
    """:func:`line_of_applicant`'s query, to send with others
    (:func:`~lendcore.store.round_trips.send_together`); its rows go to :func:`line_of_rows`."""
    return _LINE_OF_APPLICANT, {"applicant_key": applicant_key}


def line_of_rows(rows: Sequence[Mapping[str, Any]]) -> CreditLineFacts | None:
    if not rows:
        return None
    row = rows[0]
    return CreditLineFacts(int(row["borrower_id"]), int(row["credit_limit"]), int(row["version"]))


def line_of_applicant(connection: Connection, applicant_key: str) -> CreditLineFacts | None:
    """The applicant's credit line as it stands now, or None."""
    return line_of_rows(send_together(connection, [line_statement(applicant_key)])[0])
