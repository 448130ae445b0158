"""Dialling through a grant: release the number, hand it to the dialer or SMS port, record what
the port said. The agent gets back the masked number and the privacy number, never the number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, select, update

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.context import CollectionsContext
from lendcore.collections.grants import Refusal, Release, open_grant
from lendcore.collections.model import Outcome
from lendcore.collections.ports import (
    DialerUnavailable,
    DialRequest,
    DialResult,
    SmsRequest,
    SmsResult,
)
from lendcore.collections.scripts import render
from lendcore.collections.tables import collection_attempts
from lendcore.kernel.money import format_major
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork


@dataclass(frozen=True)
class DialOutcome:
    """What the agent gets back: never the number, only its mask and the privacy number."""

    attempt_id: int | None
    status: str  # DIALED (connected, awaiting the agent's report) | COMPLETED | FAILED | REFUSED
    masked_number: str | None = None
    virtual_number: str | None = None
    call_ref: str | None = None
    dialer_outcome: str | None = None
    outcome: str | None = None
    recording_ref: str | None = None
    script: str | None = None  # what to say (third-party calls: checked not to state the debt)
    error: str | None = None
    refusal: str | None = None
    alert_id: int | None = None


@dataclass(frozen=True)
class Placed:
    result: DialResult | SmsResult | None
    error: str | None = None


def _script_variables(release: Release, ctx: CollectionsContext) -> dict[str, Any]:
    return {
        "company": ctx.company,
        "agent_name": release.agent_id,
        "borrower_display_name": release.display_name,
        "callback_number": ctx.callback_number,
    }


def message_text(connection: Connection, release: Release, ctx: CollectionsContext) -> str:
    """The SMS a release sends: from a template, never free text typed by an agent."""
    variables = _script_variables(release, ctx)
    if release.party == "contact":
        return render("contact_sms_zh", variables)
    loan = connection.execute(
        select(
            loans.c.days_past_due,
            loans.c.current_due_date,
            loans.c.due_principal,
            loans.c.due_interest,
            loans.c.due_fee,
            loans.c.penalty_receivable,
        ).where(loans.c.borrower_id == release.borrower_id, loans.c.loan_id == release.loan_id)
    ).one()
    if release.purpose == "reminder":
        return render("borrower_reminder_sms_zh", {**variables, "due_date": loan.current_due_date})
    due = loan.due_principal + loan.due_interest + loan.due_fee + loan.penalty_receivable
    return render(
        "borrower_sms_zh",
        {**variables, "days_past_due": loan.days_past_due, "amount_due": format_major(due)},
    )


def place(release: Release, ctx: CollectionsContext, text: str | None = None) -> Placed:
    """Hand the number to the port (no database). A port failure is an answer, not a crash."""
    try:
        if release.channel == "sms":
            if text is None:
                raise ValueError("an SMS needs its text")
            return Placed(ctx.sms.send(SmsRequest(release.phone, text, release.attempt_id)))
        return Placed(
            ctx.dialer.dial(DialRequest(release.phone, release.attempt_id, release.agent_id))
        )
    except DialerUnavailable as exc:
        return Placed(None, str(exc)[:200])


_DIAL_FIELDS = (
    "status",
    "dialer_outcome",
    "outcome",
    "call_ref",
    "virtual_number",
    "recording_ref",
    "completed_at",
)
_a = collection_attempts.c
_RECORD_DIAL = (
    update(collection_attempts)
    .where(
        and_(
            _a.borrower_id == bindparam("b_borrower_id"),
            _a.attempt_id == bindparam("b_attempt_id"),
        )
    )
    .values({name: bindparam(name) for name in _DIAL_FIELDS})
)


def record_dial(
    connection: Connection,
    release: Release,
    placed: Placed,
    at: datetime,
    ctx: CollectionsContext,
    audit_first: Sequence[AuditEntry] = (),
) -> DialOutcome:
    """Write what the port said onto the attempt and audit the dial (after ``audit_first``, the
    records of this attempt not yet appended: one chain append for both)."""
    values: dict[str, Any]
    result = placed.result
    dialer_outcome = None
    if result is None:
        values = {"status": "FAILED"}  # outcome unknown: the gate keeps counting it both ways
    elif isinstance(result, SmsResult):
        dialer_outcome = "delivered" if result.delivered else "invalid_number"
        outcome = Outcome.UNANSWERED if result.delivered else Outcome.INVALID_NUMBER
        values = {
            "status": "COMPLETED",
            "outcome": str(outcome),
            "dialer_outcome": dialer_outcome,
            "call_ref": result.message_ref,
            "completed_at": at.astimezone(UTC),
        }
    else:
        dialer_outcome = str(result.outcome)
        connected = result.outcome is Outcome.ANSWERED
        values = {
            "status": "DIALED" if connected else "COMPLETED",
            "dialer_outcome": dialer_outcome,
            "outcome": None if connected else str(result.outcome),
            "call_ref": result.call_ref,
            "virtual_number": result.virtual_number,
            "recording_ref": result.recording_ref,
            "completed_at": None if connected else at.astimezone(UTC),
        }
    full = dict.fromkeys(_DIAL_FIELDS)
    full.update(values)
    full.update(b_borrower_id=release.borrower_id, b_attempt_id=release.attempt_id)
    connection.execute(_RECORD_DIAL, full)
    kind = "sms.send" if release.channel == "sms" else "contact.dial"
    append(
        connection,
        [
            *audit_first,
            AuditEntry(
                at,
                kind,
                release.agent_id,
                {
                    "attempt_id": release.attempt_id,
                    "borrower_id": release.borrower_id,
                    "contact_id": release.contact_id,
                    "masked_number": release.masked,
                    "status": values["status"],
                    "dialer_outcome": dialer_outcome,
                    "call_ref": values.get("call_ref"),
                    "virtual_number": values.get("virtual_number"),
                    "error": placed.error,
                },
            ),
        ],
    )
    script = None
    if release.party == "contact" and release.channel == "call" and result is not None:
        script = render("contact_call_zh", _script_variables(release, ctx))
    return DialOutcome(
        attempt_id=release.attempt_id,
        status=str(values["status"]),
        masked_number=release.masked,
        virtual_number=values.get("virtual_number"),
        call_ref=values.get("call_ref"),
        dialer_outcome=dialer_outcome,
        outcome=values.get("outcome"),
        recording_ref=values.get("recording_ref"),
        script=script,
        error=placed.error,
    )


def _release(
    connection: Connection,
    grant_id: str,
    agent_id: str,
    at: datetime,
    ctx: CollectionsContext,
    audit_into: list[AuditEntry] | None = None,
) -> tuple[Release | Refusal, str | None]:
    """Consume the grant (or refuse it) and, for an SMS, compose its text."""
    opened = open_grant(
        connection,
        ctx.vault,
        grant_id,
        agent_id,
        at,
        pack=ctx.pack(),
        webhook=ctx.webhook,
        metrics=ctx.metrics,
        audit_into=audit_into,
    )
    text = None
    if isinstance(opened, Release) and opened.channel == "sms":
        text = message_text(connection, opened, ctx)
    return opened, text


def _refused(refusal: Refusal) -> DialOutcome:
    return DialOutcome(None, "REFUSED", refusal=refusal.reason, alert_id=refusal.alert_id)


def dial(
    engine: Engine, grant_id: str, agent_id: str, at: datetime, ctx: CollectionsContext
) -> DialOutcome:
    """Release the number for the grant, hand it to the port, record the result.

    Three short transactions, so no lock is held while the port works: (1) consume the grant and
    decrypt (attempt -> DIALING, audited; a refusal is committed with its alert), (2) the port
    call, (3) record the result (audited). A crash between them leaves the attempt DIALING,
    which the gate keeps counting as a possible contact.
    """
    with UnitOfWork(engine) as uow:
        opened, text = _release(uow.connection, grant_id, agent_id, at, ctx)
        uow.commit()
    if isinstance(opened, Refusal):
        return _refused(opened)
    placed = place(opened, ctx, text)
    with UnitOfWork(engine) as uow:
        outcome = record_dial(uow.connection, opened, placed, at, ctx)
        uow.commit()
    return outcome


def dial_within(
    connection: Connection, grant_id: str, agent_id: str, at: datetime, ctx: CollectionsContext
) -> DialOutcome:
    """:func:`dial` in the caller's transaction: the same steps, records and audit entries, one
    commit (the caller's). For batch callers whose port answers at once -- the simulator's
    sandbox -- where holding the transaction across the port call costs nothing; anything
    talking to a real network uses :func:`dial`. A refusal is written like :func:`dial`'s: the
    caller must commit it too. The decrypt and dial records go to the audit chain in one append
    (same records, same order)."""
    decrypted: list[AuditEntry] = []
    opened, text = _release(connection, grant_id, agent_id, at, ctx, decrypted)
    if isinstance(opened, Refusal):
        return _refused(opened)
    return record_dial(connection, opened, place(opened, ctx, text), at, ctx, decrypted)
