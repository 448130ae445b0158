"""After the call: the agent's report of a connected call, the call-log view, the QA queue.

The network's word wins: a call the dialer saw connect cannot be reported as unanswered (that
would free a conversation slot), one it saw fail cannot become answered. QA sampling is
deterministic by attempt id.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.context import CollectionsContext, default_context, from_db, utc
from lendcore.collections.model import Outcome
from lendcore.collections.tables import audit_chain, collection_attempts
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.store.db import UnitOfWork

_a = collection_attempts.c

CONNECTED_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.REFUSED})


def qa_sampled(attempt_id: int, rate: float) -> bool:
    """Deterministic by attempt id: the same call is always in or out of the sample, whichever
    process records it, and nobody can steer which calls get reviewed."""
    digest = hashlib.sha256(f"qa:{attempt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


_ATTEMPT = select(collection_attempts).where(_a.attempt_id == bindparam("attempt_id"))
_ATTEMPT_FOR_UPDATE = _ATTEMPT.with_for_update()
_OUTCOME_FIELDS = ("status", "outcome", "recording_ref", "notes", "completed_at", "qa_status")
_RECORD_OUTCOME = (
    update(collection_attempts)
    .where(_a.borrower_id == bindparam("b_borrower_id"), _a.attempt_id == bindparam("b_attempt_id"))
    .values({name: bindparam(name) for name in _OUTCOME_FIELDS})
)


def record_outcome(
    uow: UnitOfWork,
    attempt_id: int,
    outcome: Outcome,
    at: datetime,
    ctx: CollectionsContext | None = None,
    *,
    recording_ref: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """The agent's report of a connected call: answered, or refused (a refusing contact is never
    contacted again). The network's word wins: a call the dialer saw connect cannot be reported
    as unanswered (that would free a conversation slot), one it saw fail cannot become answered.
    Reporting the same outcome again is accepted (a retry)."""
    ctx = ctx or default_context()
    connection = uow.connection
    query = _ATTEMPT if uow.sqlite else _ATTEMPT_FOR_UPDATE
    row = connection.execute(query, {"attempt_id": attempt_id}).first()
    if row is None:
        raise ValidationError(ErrorCode.UNKNOWN_ATTEMPT, f"no contact attempt {attempt_id}")
    if row.status == "COMPLETED":
        if row.outcome != str(outcome):
            raise PolicyViolation(
                ErrorCode.OUTCOME_CONFLICT,
                f"attempt {attempt_id} already ended {row.outcome}",
                {"recorded": row.outcome, "reported": str(outcome)},
            )
        return attempt_view(row)
    if row.status != "DIALED" or row.channel != "call":
        raise PolicyViolation(
            ErrorCode.OUTCOME_CONFLICT,
            f"attempt {attempt_id} is {row.status}: there is no connected call to report on",
            {"status": row.status},
        )
    if outcome not in CONNECTED_OUTCOMES:
        raise PolicyViolation(
            ErrorCode.OUTCOME_CONFLICT,
            f"the dialer saw attempt {attempt_id} connect; report answered or refused",
            {"dialer_outcome": row.dialer_outcome, "reported": str(outcome)},
        )
    sampled = qa_sampled(attempt_id, ctx.qa_rate)
    values = {
        "status": "COMPLETED",
        "outcome": str(outcome),
        "recording_ref": recording_ref or row.recording_ref,
        "notes": notes,
        "completed_at": utc(at),
        "qa_status": "PENDING" if sampled else None,
    }
    connection.execute(
        _RECORD_OUTCOME, {**values, "b_borrower_id": row.borrower_id, "b_attempt_id": attempt_id}
    )
    append(
        connection,
        [
            AuditEntry(
                at,
                "attempt.outcome",
                row.agent_id,
                {
                    "attempt_id": attempt_id,
                    "borrower_id": int(row.borrower_id),
                    "outcome": str(outcome),
                    "recording_ref": values["recording_ref"],
                    "qa_sampled": sampled,
                },
            )
        ],
    )
    return attempt_view({**row._mapping, **values})


def attempt_view(row: Any) -> dict[str, Any]:
    """The call-log entry as agents and supervisors see it (masked number only)."""
    data = dict(row if isinstance(row, dict) else row._mapping)
    data.pop("grant_id", None)  # a bearer right to a number: never shown after issue
    for key in ("requested_at", "grant_expires_at", "grant_used_at", "completed_at"):
        if data.get(key) is not None:
            data[key] = from_db(data[key]).isoformat()
    if data.get("agent_day") is not None:
        data["agent_day"] = data["agent_day"].isoformat()
    data["audit_status"] = "AUDITED" if data.get("audit_seq") else "MISSING"
    return data


_CHECK_RECORD = select(audit_chain.c.kind, audit_chain.c.payload).where(
    audit_chain.c.seq == bindparam("seq")
)


def audit_status_of(connection: Connection, attempt_id: int, audit_seq: int | None) -> str:
    """What the audit chain holds for an attempt, read from the chain, not assumed: AUDITED
    when record ``audit_seq`` is the allowed ``gate.check`` of this attempt, MISSING when there
    is no such record, MISMATCH when the record says something else (``lendcore audit verify``
    tells whether the chain itself is intact)."""
    if audit_seq is None:
        return "MISSING"
    record = connection.execute(_CHECK_RECORD, {"seq": audit_seq}).first()
    if record is None:
        return "MISSING"
    payload = json.loads(record.payload)
    if (
        record.kind != "gate.check"
        or payload.get("attempt_id") != attempt_id
        or payload.get("allowed") is not True
    ):
        return "MISMATCH"
    return "AUDITED"


def get_attempt(connection: Connection, attempt_id: int) -> dict[str, Any]:
    row = connection.execute(_ATTEMPT, {"attempt_id": attempt_id}).first()
    if row is None:
        raise ValidationError(ErrorCode.UNKNOWN_ATTEMPT, f"no contact attempt {attempt_id}")
    view = attempt_view(row)
    view["audit_status"] = audit_status_of(connection, attempt_id, row.audit_seq)
    return view


def qa_queue(connection: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Connected calls sampled for quality review, oldest first."""
    a = collection_attempts.c
    rows = connection.execute(
        select(
            a.attempt_id,
            a.loan_id,
            a.agent_id,
            a.party,
            a.contact_id,
            a.call_type,
            a.trigger_reason,
            a.outcome,
            a.masked_number,
            a.recording_ref,
            a.completed_at,
            a.audit_seq,
        )
        .where(a.qa_status == "PENDING")
        .order_by(a.completed_at, a.attempt_id)
        .limit(limit)
    ).all()
    return [
        {
            **dict(r._mapping),
            "completed_at": from_db(r.completed_at).isoformat() if r.completed_at else None,
        }
        for r in rows
    ]
