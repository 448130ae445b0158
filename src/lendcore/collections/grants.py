"""Grants: the only way a contact's plaintext number leaves the database.

The gate service issues a grant on the attempt it reserves (:func:`new_grant_id`): single use,
short-lived, bound to the agent it was issued to. :func:`open_grant` consumes it and decrypts the
number (audited); a request without a valid grant is refused, audited, and raises an alert that
suspends the agent (:mod:`lendcore.collections.alerts`).

Quiet hours are checked again at use time, in the debtor's zone and under the pack in force now
(the grant's expiry already stops at the next quiet window; this also covers a pack tightened
after the reservation). A dial that would land in quiet hours is refused ``QUIET_HOURS`` and
audited, but raises no alert: like the gate's own quiet-hours denial it is routine, not a
violation attempt -- the number was never released. Fail-closed: if the check itself fails, the
grant is refused ``GATE_ERROR``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, bindparam, func, select, update

from lendcore.collections.alerts import (
    AlertWebhook,
    Metrics,
    Violation,
    ensure_agent,
    raise_alert,
)
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.contacts import SELF, Vault, phone_context
from lendcore.collections.model import Channel, Party, Reason
from lendcore.collections.pack import CompiledPack
from lendcore.collections.quiet import is_quiet
from lendcore.collections.tables import collection_attempts, collection_contacts
from lendcore.onboarding.tables import borrowers


def new_grant_id() -> str:
    """A fresh grant id: 24 URL-safe characters, unguessable (the gate service issues it on the
    attempt row it reserves, with the grant's expiry)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Release:
    """A number released for one attempt. ``phone`` is plaintext: it goes to a port, nowhere
    else (never to a response, a log or an audit record)."""

    grant_id: str
    attempt_id: int
    borrower_id: int
    loan_id: int
    contact_id: str
    agent_id: str
    channel: str
    party: str
    purpose: str
    phone: str
    masked: str
    display_name: str = ""  # the borrower's masked name (张*), for scripts

    def __repr__(self) -> str:  # keep the plaintext out of tracebacks and debug logs
        return f"Release(attempt_id={self.attempt_id}, contact_id={self.contact_id!r}, masked={self.masked!r})"


@dataclass(frozen=True)
class Refusal:
    # UNKNOWN_GRANT | WRONG_AGENT | GRANT_USED | GRANT_EXPIRED | QUIET_HOURS | GATE_ERROR
    reason: str
    alert_id: int | None  # None: a routine refusal (quiet hours) raises no alert


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_at = collection_attempts.c
_GRANT = (
    select(
        _at.grant_id,
        _at.borrower_id,
        _at.attempt_id,
        _at.agent_id,
        _at.contact_id,
        _at.grant_expires_at,
        _at.grant_used_at,
        _at.loan_id,
        _at.channel,
        _at.party,
        _at.purpose,
        _at.debtor_timezone,
        collection_contacts.c.contact_id.label("point_id"),
        collection_contacts.c.phone_token,
        collection_contacts.c.phone_masked,
        borrowers.c.display_name,
    )
    .select_from(
        collection_attempts.join(
            collection_contacts,
            and_(
                collection_contacts.c.borrower_id == _at.borrower_id,
                collection_contacts.c.contact_id == func.coalesce(_at.contact_id, SELF),
            ),
        ).outerjoin(borrowers, borrowers.c.borrower_id == _at.borrower_id)
    )
    .where(_at.grant_id == bindparam("grant_id"))
)
_GRANT_FOR_UPDATE = _GRANT.with_for_update(of=collection_attempts)
_ATTEMPT_KEY = and_(
    _at.borrower_id == bindparam("b_borrower_id"), _at.attempt_id == bindparam("b_attempt_id")
)
_RELEASE = (
    update(collection_attempts)
    .where(_ATTEMPT_KEY)
    .values(
        status="DIALING", grant_used_at=bindparam("b_used_at"), masked_number=bindparam("b_masked")
    )
)


def open_grant(
    connection: Connection,
    vault: Vault,
    grant_id: str,
    agent_id: str,
    at: datetime,
    *,
    pack: CompiledPack,
    webhook: AlertWebhook,
    metrics: Metrics,
    audit_into: list[AuditEntry] | None = None,
) -> Release | Refusal:
    """Consume the grant and decrypt its number (audited; attempt -> DIALING), or refuse.

    ``pack``: the compliance pack in force now, for the use-time quiet-hours check.

    A refusal is written (audit, alert, suspension) in the caller's transaction and returned
    rather than raised, so the caller commits it: a refused decrypt must leave its trace.
    ``audit_into``: the decrypt's audit record is added to this list instead of appended, for a
    caller that appends it with its own next record in the same transaction (one chain append).
    """
    query = _GRANT if connection.dialect.name == "sqlite" else _GRANT_FOR_UPDATE
    grant = connection.execute(query, {"grant_id": grant_id}).first()
    reason = None
    if grant is None:
        reason = "UNKNOWN_GRANT"
    elif grant.agent_id != agent_id:
        reason = "WRONG_AGENT"
    elif grant.grant_used_at is not None:
        reason = "GRANT_USED"
    else:
        # Before the expiry test: a dial at 21:02 on a grant that ended at 21:00 is, first of
        # all, a call in quiet hours -- and a routine refusal, not a suspension.
        quiet = _quiet_now(pack, grant, at)
        if quiet is not None:
            return _refuse_quietly(connection, grant, grant_id, agent_id, at, quiet, metrics)
        if at >= _utc(grant.grant_expires_at):
            reason = "GRANT_EXPIRED"
    if reason is not None or grant is None:
        return _refuse(connection, grant, grant_id, agent_id, at, reason, webhook, metrics)
    borrower_id, attempt_id = int(grant.borrower_id), int(grant.attempt_id)
    phone = vault.cipher.decrypt(
        grant.phone_token, context=phone_context(borrower_id, grant.point_id)
    )
    connection.execute(
        _RELEASE,
        {
            "b_borrower_id": borrower_id,
            "b_attempt_id": attempt_id,
            "b_used_at": at.astimezone(UTC),
            "b_masked": grant.phone_masked,
        },
    )
    decrypted = AuditEntry(
        at,
        "contact.decrypt",
        agent_id,
        {
            "grant_id": grant_id[:6],
            "attempt_id": attempt_id,
            "borrower_id": borrower_id,
            "contact_id": grant.point_id,
            "field": "phone",
            "purpose": f"{grant.channel}:{grant.purpose}",
        },
    )
    if audit_into is None:
        append(connection, [decrypted])
    else:
        audit_into.append(decrypted)
    metrics.decrypts.inc(result="released")
    return Release(
        grant_id=grant_id,
        attempt_id=attempt_id,
        borrower_id=borrower_id,
        loan_id=int(grant.loan_id),
        contact_id=grant.point_id,
        agent_id=agent_id,
        channel=grant.channel,
        party=grant.party,
        purpose=grant.purpose,
        phone=phone,
        masked=grant.phone_masked,
        display_name=grant.display_name or "",
    )


def _quiet_now(pack: CompiledPack, grant: Any, at: datetime) -> str | None:
    """QUIET_HOURS when ``at`` is quiet for this attempt in the debtor's zone, GATE_ERROR when
    that cannot be told (fail-closed), None when the dial may go ahead."""
    try:
        zone = ZoneInfo(grant.debtor_timezone)
        if is_quiet(pack, zone, at, Party(grant.party), Channel(grant.channel)):
            return str(Reason.QUIET_HOURS)
    except Exception:
        return str(Reason.GATE_ERROR)
    return None


def _detail(grant: Any, grant_id: str, reason: str) -> dict[str, Any]:
    return {
        "reason": reason,
        # Only a prefix: the record must identify the grant without becoming one.
        "grant": grant_id[:6],
        "attempt_id": None if grant is None else int(grant.attempt_id),
        "contact_id": None if grant is None else grant.point_id,
    }


def _refuse_quietly(
    connection: Connection,
    grant: Any,
    grant_id: str,
    agent_id: str,
    at: datetime,
    reason: str,
    metrics: Metrics,
) -> Refusal:
    """Refused at use time by the quiet-hours re-check: audited, counted, no alert. The attempt
    stays RESERVED and its grant unused, so it frees its slot once expired."""
    detail = {**_detail(grant, grant_id, reason), "debtor_timezone": grant.debtor_timezone}
    append(connection, [AuditEntry(at, "contact.decrypt_refused", agent_id, detail)])
    metrics.decrypts.inc(result="refused")
    return Refusal(reason, None)


def _refuse(
    connection: Connection,
    grant: Any,
    grant_id: str,
    agent_id: str,
    at: datetime,
    reason: str | None,
    webhook: AlertWebhook,
    metrics: Metrics,
) -> Refusal:
    reason = reason or "UNKNOWN_GRANT"
    borrower_id = None if grant is None else int(grant.borrower_id)
    detail = _detail(grant, grant_id, reason)
    append(connection, [AuditEntry(at, "contact.decrypt_refused", agent_id, detail)])
    metrics.decrypts.inc(result="refused")
    ensure_agent(connection, agent_id, at, lock=True)
    alert_id = raise_alert(
        connection,
        kind=Violation.DECRYPT_WITHOUT_GRANT,
        agent_id=agent_id,
        at=at,
        borrower_id=borrower_id,
        loan_id=None,
        detail=detail,
        webhook=webhook,
        metrics=metrics,
    )
    return Refusal(reason, alert_id)
