"""Blocked violation attempts: alert record, metric, webhook, and the operator's suspension.

A *violation attempt* is a request the gate blocks that no legitimate workflow produces: calling
a contact about a loan that is not overdue, an investigation call without its authorisation,
asking for a contact's plaintext without a valid grant. Routine denials (quiet hours, caps,
contacts still locked at DPD 1-3) are what the gate is for and raise nothing. Each violation:

1. suspends the operator's collection permission (``collection_agents.status = SUSPENDED``);
   every later request by them is denied ``AGENT_SUSPENDED`` until a supervisor restores them;
2. writes an alert row and audit records (``alert.raised``, ``agent.suspended``);
3. increments a counter (:data:`METRICS`);
4. posts to the alert webhook port. Delivery is best effort and never undoes the alert: the row
   is the source of truth, ``webhook_status`` says whether the post went out.

Metrics are prometheus-client counters (:mod:`lendcore.observability.metrics`); the process-wide
:data:`METRICS` is exported at the API's ``GET /metrics``, and the alert rows themselves are
exported there too as ``lendcore_alert_records`` (durable across processes).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.model import Party, Reason
from lendcore.collections.tables import collection_agents, collection_alerts
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.observability.metrics import Counter, LabelledCounter, export

log = logging.getLogger("lendcore.collections.alerts")


class Violation(StrEnum):
    CONTACT_OF_CURRENT_LOAN = "CONTACT_OF_CURRENT_LOAN"
    UNAUTHORISED_INVESTIGATION = "UNAUTHORISED_INVESTIGATION"
    DECRYPT_WITHOUT_GRANT = "DECRYPT_WITHOUT_GRANT"


def violation_for(party: Party, reasons: tuple[str, ...]) -> Violation | None:
    """The violation a denied request amounts to, or None for a routine denial."""
    if party is Party.CONTACT and Reason.NOT_OVERDUE in reasons:
        return Violation.CONTACT_OF_CURRENT_LOAN
    if Reason.INVESTIGATION_NOT_AUTHORISED in reasons:
        return Violation.UNAUTHORISED_INVESTIGATION
    return None


# ---- metrics -------------------------------------------------------------------------------


@dataclass
class Metrics:
    gate_checks: Counter = field(
        default_factory=lambda: LabelledCounter(
            "lendcore_collections_gate_checks_total", "gate checks by verdict", ["verdict"]
        )
    )
    alerts: Counter = field(
        default_factory=lambda: LabelledCounter(
            "lendcore_collections_alerts_total", "blocked violation attempts by kind", ["kind"]
        )
    )
    decrypts: Counter = field(
        default_factory=lambda: LabelledCounter(
            "lendcore_collections_decrypts_total", "contact decrypts by result", ["result"]
        )
    )


METRICS = Metrics()
export(METRICS.gate_checks, METRICS.alerts, METRICS.decrypts)


# ---- webhook port --------------------------------------------------------------------------


class AlertWebhook(Protocol):
    def post(self, event: Mapping[str, Any]) -> None:
        """Deliver one alert; raise on failure."""
        ...


@dataclass
class SandboxWebhook:
    """SANDBOX webhook: records every post (``posted``); ``fail`` makes posts raise."""

    fail: bool = False
    posted: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def post(self, event: Mapping[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("sandbox webhook: delivery failed (simulated)")
        with self._lock:
            self.posted.append(dict(event))


# ---- use cases -----------------------------------------------------------------------------


_AGENT_STATUS = select(collection_agents.c.status).where(
    collection_agents.c.agent_id == bindparam("agent_id")
)
_AGENT_STATUS_FOR_UPDATE = _AGENT_STATUS.with_for_update()
_NEW_AGENT = {
    "sqlite": sqlite_insert(collection_agents).on_conflict_do_nothing(),
    "postgresql": pg_insert(collection_agents).on_conflict_do_nothing(),
}


def ensure_agent(connection: Connection, agent_id: str, at: datetime, *, lock: bool) -> str:
    """The agent's status, creating the agent (ACTIVE) on first use; the row is locked
    ``FOR UPDATE`` on PostgreSQL when ``lock`` (SQLite's writer lock covers it)."""
    sqlite = connection.dialect.name == "sqlite"
    query = _AGENT_STATUS_FOR_UPDATE if lock and not sqlite else _AGENT_STATUS
    params = {"agent_id": agent_id}
    status = connection.execute(query, params).scalar_one_or_none()
    if status is not None:
        return str(status)
    connection.execute(
        _NEW_AGENT["sqlite" if sqlite else "postgresql"],
        {"agent_id": agent_id, "status": "ACTIVE", "created_at": at.astimezone(UTC)},
    )
    return str(connection.execute(query, params).scalar_one())


def raise_alert(
    connection: Connection,
    *,
    kind: Violation,
    agent_id: str,
    at: datetime,
    borrower_id: int | None,
    loan_id: int | None,
    detail: Mapping[str, Any],
    webhook: AlertWebhook,
    metrics: Metrics = METRICS,
) -> int:
    """Record a blocked violation and suspend its operator; the alert id. The agent row must
    exist (the gate service creates it) and should already be locked by the caller."""
    connection.execute(
        update(collection_agents)
        .where(collection_agents.c.agent_id == agent_id)
        .values(status="SUSPENDED", suspended_at=at.astimezone(UTC), suspended_reason=str(kind))
    )
    event = {
        "kind": str(kind),
        "agent_id": agent_id,
        "borrower_id": borrower_id,
        "loan_id": loan_id,
        "at": at.isoformat(),
        "detail": dict(detail),
    }
    seqs = append(
        connection,
        [
            AuditEntry(at, "alert.raised", agent_id, event),
            AuditEntry(at, "agent.suspended", "system", {"agent_id": agent_id, "kind": str(kind)}),
        ],
    )
    try:
        webhook.post(event)
        webhook_status = "SENT"
    except Exception:
        log.exception("alert webhook failed; the alert row stands")
        webhook_status = "FAILED"
    alert_id = connection.execute(
        insert(collection_alerts)
        .values(
            at=at.astimezone(UTC),
            kind=str(kind),
            agent_id=agent_id,
            borrower_id=borrower_id,
            loan_id=loan_id,
            detail=json.dumps(dict(detail), sort_keys=True, ensure_ascii=False),
            webhook_status=webhook_status,
            audit_seq=seqs[0],
        )
        .returning(collection_alerts.c.alert_id)
    ).scalar_one()
    metrics.alerts.inc(kind=str(kind))
    log.warning("collections violation blocked: %s by %s (alert %s)", kind, agent_id, alert_id)
    return int(alert_id)


def restore_agent(connection: Connection, agent_id: str, supervisor: str, at: datetime) -> bool:
    """Lift a suspension; False when the agent was not suspended. Audited."""
    supervisor = supervisor.strip()
    if not supervisor:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "a supervisor id is required")
    if supervisor == agent_id:
        raise PolicyViolation(
            ErrorCode.INVALID_ARGUMENT, "an agent cannot restore their own permission"
        )
    query = select(collection_agents.c.status).where(collection_agents.c.agent_id == agent_id)
    if connection.dialect.name != "sqlite":
        query = query.with_for_update()
    status = connection.execute(query).scalar_one_or_none()
    if status is None:
        raise ValidationError(ErrorCode.UNKNOWN_AGENT, f"no agent {agent_id!r}")
    if status != "SUSPENDED":
        return False
    connection.execute(
        update(collection_agents)
        .where(collection_agents.c.agent_id == agent_id)
        .values(status="ACTIVE", restored_by=supervisor, restored_at=at.astimezone(UTC))
    )
    append(
        connection,
        [AuditEntry(at, "agent.restored", supervisor, {"agent_id": agent_id})],
    )
    return True


def alert_counts(connection: Connection) -> dict[str, int]:
    """Alert records by kind (the durable side of the alert metric)."""
    rows = connection.execute(
        select(collection_alerts.c.kind, func.count()).group_by(collection_alerts.c.kind)
    )
    return {str(kind): int(n) for kind, n in rows}
