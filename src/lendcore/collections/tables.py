"""Collections tables: agents, per-debtor lock rows, loan flags, encrypted contacts, the
contact-attempt log with its grants, alerts, and the hash-chained audit log.

Tables that belong to a borrower carry ``borrower_id`` first in their key (sharding-ready). Times
are stored in UTC (``collections.context.utc``): SQLite's DateTime keeps no offset, so every
value is normalised before it is written and read back as UTC.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

from lendcore.store.metadata import metadata

# Collectors (坐席). Created on first use (no authentication system exists yet to own them);
# suspended by an alert, restored only by a supervisor.
collection_agents = Table(
    "collection_agents",
    metadata,
    Column("agent_id", String(40), primary_key=True),
    Column("status", String(10), nullable=False, server_default="ACTIVE"),  # | SUSPENDED
    Column("suspended_at", DateTime(timezone=True)),
    Column("suspended_reason", String(60)),
    Column("restored_by", String(40)),
    Column("restored_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('ACTIVE', 'SUSPENDED')", name="known_status"),
)

# One row per debtor, locked FOR UPDATE by every gate check on PostgreSQL: the check, the read of
# the contact history and the reservation of the slot are serialised per debtor.
collection_debtors = Table(
    "collection_debtors",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per phone number (its blind index), locked FOR UPDATE on PostgreSQL after the debtor's
# row: two debtors listing the same person are judged one after the other on that number's
# interval and daily dials. Keyed by the number, not a borrower: under Citus a reference table.
collection_numbers = Table(
    "collection_numbers",
    metadata,
    Column("phone_index", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Facts about a loan that collections owns: a performing hardship plan (default: none) and the
# fraud-investigation authorisation in force (the gate reads these; NULL expiry = none in force).
collection_loan_flags = Table(
    "collection_loan_flags",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("hardship_plan_active", Boolean, nullable=False, server_default=false()),
    Column("investigation_ref", String(64)),
    Column("investigation_authorised_by", String(40)),
    Column("investigation_expires_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The register of fraud-investigation authorisations: every one ever recorded, with its expiry
# and revocation. The loan flags hold the one in force (what the gate reads); the independent
# checker reads this register instead, so the two are separate sources.
collection_investigations = Table(
    "collection_investigations",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, primary_key=True, autoincrement=False),
    Column("reference", String(64), primary_key=True),
    Column("authorised_by", String(40), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("authorised_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(40)),
    Column("revoke_reason", String(500)),
    CheckConstraint("expires_at > authorised_at", name="expires_after_authorised"),
    Index("ix_collection_investigations_loan_id", "loan_id"),
)

# Contact points: the borrower's own number (contact_id 'self') and the third parties the
# borrower named. Phone and name only as AES-256-GCM tokens, the phone also as a blind index
# (look-ups without decrypting) and masked (what screens show).
collection_contacts = Table(
    "collection_contacts",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("contact_id", String(40), primary_key=True),
    Column("loan_id", BigInteger),  # NULL: any loan of the borrower
    Column("relation", String(20), nullable=False),  # self | spouse | parent | friend ...
    Column("consent_scope", String(24)),  # NULL for 'self'
    Column("consent_at", DateTime(timezone=True)),
    Column("consent_withdrawn_at", DateTime(timezone=True)),
    Column("phone_token", Text, nullable=False),
    Column("name_token", Text, nullable=False),
    Column("phone_index", String(64), nullable=False),
    Column("phone_masked", String(24), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_collection_contacts_phone_index", "phone_index"),
)

# The call log: one row per contact the gate allowed (denials live in the audit chain). Status:
# RESERVED (slot held, grant issued) -> DIALING (number released to the port) -> DIALED (the
# dialer says it connected, the agent has not reported yet) -> COMPLETED (outcome final);
# FAILED: the port failed, outcome unknown. The attempt carries its grant: the single-use,
# short-lived right to release this contact's number once, to the agent it was issued to.
collection_attempts = Table(
    "collection_attempts",
    metadata,
    Column("borrower_id", BigInteger, primary_key=True, autoincrement=False),
    Column("attempt_id", BigInteger, primary_key=True, autoincrement=False),
    Column("loan_id", BigInteger, nullable=False),
    Column("agent_id", String(40), nullable=False),
    Column("agent_day", Date, nullable=False),  # business-zone date, for the per-agent cap
    Column("party", String(10), nullable=False),
    Column("contact_id", String(40)),  # NULL for the borrower
    Column("channel", String(6), nullable=False),
    Column("call_type", String(16), nullable=False),
    Column("purpose", String(12), nullable=False),
    Column("trigger_reason", String(120), nullable=False),
    Column("authorisation_ref", String(64)),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("debtor_timezone", String(40), nullable=False),
    Column("days_past_due", Integer, nullable=False),  # as the gate saw it
    Column("pack_version", String(120), nullable=False),
    Column("status", String(10), nullable=False),
    Column("grant_id", String(32), nullable=False),
    Column("grant_expires_at", DateTime(timezone=True), nullable=False),
    Column("grant_used_at", DateTime(timezone=True)),
    Column("dialer_outcome", String(16)),
    Column("outcome", String(16)),
    Column("call_ref", String(64)),
    Column("virtual_number", String(24)),
    Column("masked_number", String(24)),
    # The dialled number's blind index (from the contact point at reservation): rules about the
    # person behind a number (48-hour interval, daily dials) count across debtors by it.
    Column("phone_index", String(64)),
    Column("recording_ref", String(120)),
    Column("notes", String(500)),
    Column("audit_seq", BigInteger),  # the gate check's audit record: the log's audit status
    Column("qa_status", String(10)),  # PENDING when sampled for quality review
    Column("completed_at", DateTime(timezone=True)),
    CheckConstraint(
        "status IN ('RESERVED', 'DIALING', 'DIALED', 'COMPLETED', 'FAILED')", name="known_status"
    ),
    CheckConstraint("length(trigger_reason) > 0", name="trigger_reason_required"),
    CheckConstraint("call_type IN ('COLLECTION', 'INVESTIGATION')", name="known_call_type"),
    Index("ix_collection_attempts_history", "borrower_id", "requested_at"),
    Index("ix_collection_attempts_attempt_id", "attempt_id", unique=True),
    Index("ix_collection_attempts_grant_id", "grant_id", unique=True),
    Index("ix_collection_attempts_agent_day", "agent_id", "agent_day"),
    Index("ix_collection_attempts_qa", "qa_status", "completed_at"),
    Index("ix_collection_attempts_phone_index", "phone_index", "requested_at"),
)

# Blocked violation attempts: the record behind the metric and the webhook.
collection_alerts = Table(
    "collection_alerts",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("agent_id", String(40), nullable=False),
    Column("borrower_id", BigInteger),
    Column("loan_id", BigInteger),
    Column("detail", Text, nullable=False),  # JSON, no personal data
    Column("webhook_status", String(10), nullable=False),  # SENT | FAILED
    Column("audit_seq", BigInteger),
    Index("ix_collection_alerts_at", "at"),
)

# The tamper-evident audit log (privacy.chain): append-only (UPDATE and DELETE are refused by
# triggers), each record committing to its predecessor. ``at`` is UTC ISO 8601 text, exactly as
# hashed; its fixed format sorts as time does, so ranges are plain string comparisons.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # canonical JSON, exactly as hashed
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_chain_at", "at"),
)

# The chain's head, one row (id 1): writers lock it FOR UPDATE so seq and prev_hash stay linear,
# and verify treats it as an anchor inside the database (a cut tail no longer matches it).
audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
