"""Hardship cases: every calculation, the plan a borrower accepted, the operator's decision, the
booked restructure and a breach — one row per case, its history in the audit chain.

A case may have no loan (a calculation on an explicit debt, e.g. a pre-collection assessment),
so ``case_id`` is the key and ``borrower_id``/``loan_id`` are indexed columns; a sharded cluster
distributes this table by ``borrower_id`` with cases that have none on the coordinator.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
)

from lendcore.store.metadata import metadata

STATUSES = (
    "INELIGIBLE",  # calculated: no lawful plan (not eligible, red stress level, a cleared flag)
    "FLAGGED",  # a statement with forgery signals: no plan, the loan refused until cleared (0011)
    "CALCULATED",  # three plans offered
    "PENDING",  # the borrower chose a plan and consented; awaiting an operator
    "REJECTED",  # the operator declined it
    "ACTIVE",  # booked: the loan is restructured and collection paused
    "BREACHED",  # more misses than the policy allows: the pause ended
    "COMPLETED",  # the restructured loan was repaid
)

hardship_cases = Table(
    "hardship_cases",
    metadata,
    Column("case_id", BigInteger, primary_key=True, autoincrement=False),
    Column("borrower_id", BigInteger),
    Column("loan_id", BigInteger),
    Column("status", String(16), nullable=False),
    Column("policy_id", String(64), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("request", JSON, nullable=False),  # statements summarised, never stored raw
    Column("result", JSON, nullable=False),  # eligibility, ability, stress, plans, script
    Column("plan_kind", String(16)),
    Column("plan", JSON),
    Column("consent", JSON),  # agreed, channel, recording reference, time
    Column("operator", String(64)),
    Column("decision_note", String(500)),
    Column("restructure", JSON),  # the booked result: waiver split, new schedule
    Column("first_plan_seq", Integer),  # the first instalment of the plan's schedule
    Column("misses_allowed", Integer),
    Column("breach", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
    Index("ix_hardship_cases_loan_id", "loan_id"),
    Index("ix_hardship_cases_status", "status"),
)
