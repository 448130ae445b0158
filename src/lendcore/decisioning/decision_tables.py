"""Decision records, the manual-review verdicts, the asynchronous application queue and model
alerts.

A decision row is everything a replay needs: the rule context (features, fraud counts, blacklist
hit — computed once, at decision time, and stored), the credit profile the model scored, the
model and policy versions, the experiment arm. Replay re-runs the stored context through the
pinned versions; it never re-reads the identifier index or the blacklist, which have moved on.

Personal identifiers never reach these tables in clear: ``inputs`` holds the request with the ID
number, phone and card masked, and ``applicant_key`` is the blind index of the ID number.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from lendcore.store.metadata import metadata

OUTCOMES = "('APPROVE', 'MANUAL_REVIEW', 'REJECT')"

decisions = Table(
    "decisions",
    metadata,
    Column("decision_id", BigInteger, primary_key=True, autoincrement=False),
    Column("application_id", BigInteger, nullable=False, unique=True),
    Column("applicant_key", String(64), nullable=False),
    Column("channel", String(16), nullable=False),  # api, async, cli, sim
    Column("created_at", DateTime(timezone=True), nullable=False),  # UTC
    Column("decision_date", Date, nullable=False),  # Beijing business date
    Column("product", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("term", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("tier", String(16)),
    Column("score", Float),  # a score, not money: a float is exact enough
    Column("pd", Float),
    Column("arm", String(32)),
    Column("model_version", String(64)),
    Column("policy_versions", JSON, nullable=False),
    Column("inputs", JSON, nullable=False),  # the request, identifiers masked
    Column("context", JSON, nullable=False),  # the facts the policies read
    Column("result", JSON, nullable=False),  # reasons, offer, trace, shadow score
    CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome"),
    Index("ix_decisions_created_at", "created_at"),
    Index("ix_decisions_outcome_created_at", "outcome", "created_at"),
)

# One verdict per decision sent to manual review; the verdict is itself a record.
decision_reviews = Table(
    "decision_reviews",
    metadata,
    Column(
        "decision_id",
        BigInteger,
        ForeignKey("decisions.decision_id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("operator", String(64), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("note", String(500), nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("verdict IN ('APPROVE', 'REJECT')", name="verdict"),
)

# POST /api/applications: queued bodies and their status; the worker writes decision_id.
decision_applications = Table(
    "decision_applications",
    metadata,
    Column("application_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("body", JSON, nullable=False),  # identifiers masked once decided
    Column("decision_id", BigInteger),
    Column("error", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('QUEUED', 'RUNNING', 'DONE', 'FAILED')", name="status"),
)

model_alerts = Table(
    "model_alerts",
    metadata,
    Column("alert_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),  # PSI_DRIFT, REJECT_RATE_SPIKE
    Column("subject", String(64), nullable=False),  # "score", a characteristic, "reject_rate"
    Column("model_version", String(64)),
    Column("value", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("window_start", Date, nullable=False),
    Column("window_end", Date, nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_model_alerts_created_at", "created_at"),
)
