"""Contact points encrypted at rest, and the grants that release one number for one attempt.

A contact point is the borrower's own number (``contact_id = 'self'``) or a third party the
borrower named. Phone and name are stored only as :class:`~lendcore.privacy.crypto.FieldCipher`
tokens whose context binds them to their row (``contact.phone:<borrower>:<contact_id>``), so a
token copied to another row does not decrypt; the phone also as a blind index (look-ups) and
masked (what screens show).

Plaintext leaves this module only through :func:`open_grant`, for the grant the gate service
issued on one allowed attempt: single use, short-lived, bound to the agent it was issued to. Every
decrypt is audited; a request without a valid grant is refused, audited, and raises an alert
that suspends the agent (:mod:`lendcore.collections.alerts`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update

from lendcore.collections.alerts import (
    AlertWebhook,
    Metrics,
    Violation,
    ensure_agent,
    raise_alert,
)
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.model import ContactScope, Outcome
from lendcore.collections.ports import (
    DialerUnavailable,
    DialRequest,
    DialResult,
    SmsRequest,
    SmsResult,
)
from lendcore.collections.scripts import render
from lendcore.collections.tables import collection_attempts, collection_contacts
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import format_major
from lendcore.onboarding.tables import borrowers
from lendcore.privacy.crypto import FieldCipher, IndexKind, blind_index
from lendcore.privacy.keys import KeyProvider, LocalKeyFileProvider
from lendcore.privacy.masking import mask_phone
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

if TYPE_CHECKING:  # the context is built in service.py, which imports this module
    from lendcore.collections.service import CollectionsContext

SELF = "self"  # the contact_id of the borrower's own number
DEFAULT_KEY_FILE = Path("var/keys/lendcore-keys.json")


def key_file() -> Path:
    return Path(os.environ.get("LENDCORE_KEY_FILE") or DEFAULT_KEY_FILE)


def default_key_provider() -> LocalKeyFileProvider:
    """The local key file (``$LENDCORE_KEY_FILE`` or var/keys/), created 0600 on first use."""
    path = key_file()
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    return LocalKeyFileProvider.create(path, exist_ok=True)


def phone_context(borrower_id: int, contact_id: str) -> str:
    return f"contact.phone:{borrower_id}:{contact_id}"


def name_context(borrower_id: int, contact_id: str) -> str:
    return f"contact.name:{borrower_id}:{contact_id}"


@dataclass(frozen=True)
class ContactPoint:
    borrower_id: int
    contact_id: str  # SELF for the borrower's own number
    relation: str  # self | spouse | parent | sibling | friend | colleague ...
    phone: str
    name: str
    consent_scope: ContactScope | None = None  # required for a third party
    consent_at: datetime | None = None  # when the borrower gave it (required for a third party)
    loan_id: int | None = None  # None: the contact serves every loan of the borrower


@dataclass
class Vault:
    """The cipher and index key contact data is protected with."""

    cipher: FieldCipher
    index_key: bytes

    @classmethod
    def from_provider(cls, provider: KeyProvider) -> Vault:
        return cls(FieldCipher(provider), provider.index_key())


def store_contact(
    connection: Connection, vault: Vault, contact: ContactPoint, at: datetime, actor: str
) -> None:
    """Encrypt and insert one contact point (audited, without any personal data)."""
    if not contact.contact_id or len(contact.contact_id) > 40:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "contact_id must be 1-40 characters")
    is_self = contact.contact_id == SELF
    if is_self != (contact.relation == SELF):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "contact_id 'self' and relation 'self' go together"
        )
    if not is_self and (contact.consent_scope is None or contact.consent_at is None):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "a third party needs a consent scope and consent time"
        )
    if contact.consent_at is not None and contact.consent_at.utcoffset() is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "consent_at must carry an offset")
    b, c = contact.borrower_id, contact.contact_id
    connection.execute(
        insert(collection_contacts).values(
            borrower_id=b,
            contact_id=c,
            loan_id=contact.loan_id,
            relation=contact.relation,
            consent_scope=None if contact.consent_scope is None else str(contact.consent_scope),
            consent_at=None if contact.consent_at is None else contact.consent_at.astimezone(UTC),
            phone_token=vault.cipher.encrypt(contact.phone, context=phone_context(b, c)),
            name_token=vault.cipher.encrypt(contact.name, context=name_context(b, c)),
            phone_index=blind_index(contact.phone, vault.index_key, kind=IndexKind.PHONE),
            phone_masked=mask_phone(contact.phone),
            created_at=at.astimezone(UTC),
        )
    )
    append(
        connection,
        [
            AuditEntry(
                at,
                "contact.stored",
                actor,
                {
                    "borrower_id": b,
                    "contact_id": c,
                    "relation": contact.relation,
                    "consent_scope": None
                    if contact.consent_scope is None
                    else str(contact.consent_scope),
                    "loan_id": contact.loan_id,
                },
            )
        ],
    )


def withdraw_consent(
    connection: Connection, borrower_id: int, contact_id: str, at: datetime, actor: str
) -> None:
    """PIPL Art. 15: consent is withdrawable; from ``at`` on the gate denies NO_CONSENT."""
    done = connection.execute(
        update(collection_contacts)
        .where(
            collection_contacts.c.borrower_id == borrower_id,
            collection_contacts.c.contact_id == contact_id,
        )
        .values(consent_withdrawn_at=at.astimezone(UTC))
    ).rowcount
    if not done:
        raise ValidationError(
            ErrorCode.UNKNOWN_CONTACT, f"borrower {borrower_id} has no contact {contact_id!r}"
        )
    append(
        connection,
        [
            AuditEntry(
                at,
                "contact.consent_withdrawn",
                actor,
                {"borrower_id": borrower_id, "contact_id": contact_id},
            )
        ],
    )


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
    reason: str  # UNKNOWN_GRANT | WRONG_AGENT | GRANT_USED | GRANT_EXPIRED
    alert_id: int


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
    webhook: AlertWebhook,
    metrics: Metrics,
) -> Release | Refusal:
    """Consume the grant and decrypt its number (audited; attempt -> DIALING), or refuse.

    A refusal is written (audit, alert, suspension) in the caller's transaction and returned
    rather than raised, so the caller commits it: a refused decrypt must leave its trace.
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
    elif at >= _utc(grant.grant_expires_at):
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
    append(
        connection,
        [
            AuditEntry(
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
        ],
    )
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
    detail = {
        "reason": reason,
        # Only a prefix: the record must identify the grant without becoming one.
        "grant": grant_id[:6],
        "attempt_id": None if grant is None else int(grant.attempt_id),
        "contact_id": None if grant is None else grant.point_id,
    }
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


# ---- dialling through a grant --------------------------------------------------------------


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
_RECORD_DIAL = (
    update(collection_attempts)
    .where(_ATTEMPT_KEY)
    .values({name: bindparam(name) for name in _DIAL_FIELDS})
)


def record_dial(
    connection: Connection, release: Release, placed: Placed, at: datetime, ctx: CollectionsContext
) -> DialOutcome:
    """Write what the port said onto the attempt and audit the dial."""
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
            )
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
        opened = open_grant(
            uow.connection,
            ctx.vault,
            grant_id,
            agent_id,
            at,
            webhook=ctx.webhook,
            metrics=ctx.metrics,
        )
        text = None
        if isinstance(opened, Release) and opened.channel == "sms":
            text = message_text(uow.connection, opened, ctx)
        uow.commit()
    if isinstance(opened, Refusal):
        return DialOutcome(None, "REFUSED", refusal=opened.reason, alert_id=opened.alert_id)
    placed = place(opened, ctx, text)
    with UnitOfWork(engine) as uow:
        outcome = record_dial(uow.connection, opened, placed, at, ctx)
        uow.commit()
    return outcome
