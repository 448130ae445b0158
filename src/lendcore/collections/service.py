"""The contact gate against the database: check and reserve in one transaction, fail-closed.

:func:`check_and_reserve` is the only way to get a grant for a contact's number. In one
transaction it

1. locks the agent row (creating the agent on first use) -- a suspended agent is denied;
2. reads the loan (DPD, state), the debtor's time zone, the loan's flags (hardship plan,
   investigation authorisation) and the contact point (consent scope and time);
3. locks the debtor's row ``FOR UPDATE`` (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
   serialises writers), *then* reads the contact history, so two agents calling the same person
   at once are judged one after the other and the second sees the first's reservation;
4. evaluates the pure gate (:func:`lendcore.collections.gate.evaluate`) plus the service rules
   (suspension, per-agent daily cap, consent in force, known contact);
5. when allowed, inserts the attempt (RESERVED) and a single-use grant;
6. appends a ``gate.check`` audit record with every reason and the pack version, pass or fail;
   a violation attempt also raises an alert and suspends the agent.

Any exception denies with ``GATE_ERROR``: the work is rolled back to a savepoint and the denial
is still audited.

Reservations whose outcome is not known yet (RESERVED, DIALING, FAILED) are judged both ways: the
gate is asked once with them answered and once unanswered, and the request passes only if both
pass. A reservation whose grant expired unused never reached a phone and frees its slot.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from lendcore.collections.alerts import (
    METRICS,
    AlertWebhook,
    Metrics,
    SandboxWebhook,
    ensure_agent,
    raise_alert,
    violation_for,
)
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.contacts import SELF, Vault, default_key_provider, new_grant_id
from lendcore.collections.gate import UNKNOWN_VERSION, evaluate
from lendcore.collections.loader import compliance_dir, get_pack, load_pack_file
from lendcore.collections.model import (
    DEFAULT_PACK,
    CallType,
    Channel,
    ContactRequest,
    ContactScope,
    GateFacts,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
    Reason,
)
from lendcore.collections.pack import CompiledPack, kind_bit, kind_mask
from lendcore.collections.ports import Dialer, SandboxDialer, SandboxSmsSender, SmsSender
from lendcore.collections.tables import (
    collection_agents,
    collection_attempts,
    collection_contacts,
    collection_debtors,
    collection_loan_flags,
)
from lendcore.kernel.clock import DEFAULT_TIMEZONE
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.ids import SnowflakeIds
from lendcore.onboarding.tables import borrowers
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

log = logging.getLogger("lendcore.collections")

GRANT_TTL = timedelta(minutes=5)
# A reservation is taken as never dialled only this long after its grant expired: a margin for
# clock skew between the host that checks and the host that dials.
EXPIRY_MARGIN = timedelta(minutes=1)
PENDING = ("RESERVED", "DIALING", "FAILED")  # outcome unknown


class Purpose(StrEnum):
    COLLECTION = "collection"
    # A pre-due reminder SMS to the borrower: a service notice, not collection. The gate is asked
    # as for collection with NOT_OVERDUE and HARDSHIP_PLAN_ACTIVE waived; everything else holds.
    REMINDER = "reminder"


class ServiceReason(StrEnum):
    """Denials the service adds to the gate's (a public contract like Reason: add, never
    rename)."""

    AGENT_SUSPENDED = "AGENT_SUSPENDED"
    AGENT_DAILY_CAP = "AGENT_DAILY_CAP"
    UNKNOWN_LOAN = "UNKNOWN_LOAN"
    UNKNOWN_CONTACT = "UNKNOWN_CONTACT"  # no such contact point for this loan
    NO_CONSENT = "NO_CONSENT"  # consent withdrawn, or not yet given at that time
    MISSING_FACTS = "MISSING_FACTS"  # e.g. the debtor's time zone is unknown
    REMINDER_SCOPE = "REMINDER_SCOPE"  # a reminder is an SMS to a borrower not yet overdue


_WAIVED_FOR_REMINDER = frozenset({Reason.NOT_OVERDUE, Reason.HARDSHIP_PLAN_ACTIVE})


@dataclass(frozen=True)
class AttemptRequest:
    loan_id: int
    agent_id: str
    party: Party
    channel: Channel
    call_type: CallType
    trigger_reason: str | None
    at: datetime  # now: time is a parameter
    contact_id: str | None = None  # required for a contact
    authorisation_ref: str | None = None  # must match the loan's recorded authorisation
    purpose: Purpose = Purpose.COLLECTION


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]
    pack_version: str
    attempt_id: int | None = None
    grant_id: str | None = None
    audit_seq: int | None = None
    alert_id: int | None = None
    masked_number: str | None = None


class IdSource(Protocol):
    def next_id(self) -> int: ...


def _default_ids() -> IdSource:
    return SnowflakeIds()


@dataclass
class CollectionsContext:
    """The ports and settings the use cases need (one per process; tests build their own)."""

    vault: Vault
    dialer: Dialer
    sms: SmsSender
    webhook: AlertWebhook
    pack_code: str = DEFAULT_PACK
    grant_ttl: timedelta = GRANT_TTL
    qa_rate: float = 0.2  # share of connected calls sampled for quality review
    metrics: Metrics = field(default_factory=lambda: METRICS)
    business_timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    ids: IdSource = field(default_factory=_default_ids)
    company: str = "lendcore"  # the name scripts use
    callback_number: str = "4000000000"

    packs_dir: Path | None = None  # default: policies/compliance
    _pack_file: Path | None = field(default=None, init=False, repr=False)

    def pack(self) -> CompiledPack:
        """The pack, re-read when its file changes: a threshold edit needs no restart."""
        if self._pack_file is None:
            directory = self.packs_dir or compliance_dir()
            get_pack(self.pack_code, directory)  # validates the code against the directory
            self._pack_file = directory / f"{self.pack_code}.yaml"
        return load_pack_file(self._pack_file)  # a stat() per call; parsed only on change


_default: CollectionsContext | None = None


def default_context() -> CollectionsContext:
    """Local key file and the SANDBOX ports: what ``lendcore api`` runs with today."""
    global _default
    if _default is None:
        _default = CollectionsContext(
            vault=Vault.from_provider(default_key_provider()),
            dialer=SandboxDialer(),
            sms=SandboxSmsSender(),
            webhook=SandboxWebhook(),
        )
    return _default


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def from_db(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; PostgreSQL aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---- facts ---------------------------------------------------------------------------------
# Hot-path statements are built once with bind parameters: building and cache-keying a statement
# per call costs more than running it on SQLite.

_c = collection_contacts.c
_f = collection_loan_flags.c
_FACTS = (
    select(
        loans.c.borrower_id,
        loans.c.loan_id,
        loans.c.days_past_due,
        loans.c.state,
        borrowers.c.timezone,
        _f.hardship_plan_active,
        _f.investigation_ref,
        _c.contact_id,
        _c.loan_id.label("contact_loan_id"),
        _c.consent_scope,
        _c.consent_at,
        _c.consent_withdrawn_at,
        _c.phone_masked,
    )
    .select_from(
        loans.outerjoin(borrowers, borrowers.c.borrower_id == loans.c.borrower_id)
        .outerjoin(
            collection_loan_flags,
            and_(_f.borrower_id == loans.c.borrower_id, _f.loan_id == loans.c.loan_id),
        )
        .outerjoin(
            collection_contacts,
            and_(
                _c.borrower_id == loans.c.borrower_id,
                _c.contact_id == bindparam("contact_id"),
            ),
        )
    )
    .where(loans.c.loan_id == bindparam("loan_id"))
)


@dataclass(frozen=True)
class DebtorFacts:
    borrower_id: int
    loan_id: int
    days_past_due: int
    state: str
    timezone: str | None
    hardship: bool
    investigation_ref: str | None
    contact: Any  # the contact point's row (consent, mask), None when unknown


def load_facts(connection: Connection, loan_id: int, contact_id: str) -> DebtorFacts | None:
    """The loan, its borrower's time zone, its flags and one contact point: one query."""
    row = connection.execute(_FACTS, {"loan_id": loan_id, "contact_id": contact_id}).first()
    if row is None:
        return None
    return DebtorFacts(
        borrower_id=int(row.borrower_id),
        loan_id=int(row.loan_id),
        days_past_due=int(row.days_past_due),
        state=str(row.state),
        timezone=row.timezone,
        # A restructured loan is performing under a hardship plan (servicing's state machine).
        hardship=bool(row.hardship_plan_active) or row.state == "RESTRUCTURED",
        investigation_ref=row.investigation_ref,
        contact=row if row.contact_id is not None else None,
    )


@dataclass(frozen=True)
class _Pending:
    at: datetime
    party: Party
    channel: Channel
    contact_id: str | None


_OUTCOMES = {o.value: o for o in Outcome}
_PARTIES = {p.value: p for p in Party}
_CHANNELS = {c.value: c for c in Channel}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_a = collection_attempts.c
_NOT_EXPIRED = or_(_a.status != "RESERVED", _a.grant_expires_at >= bindparam("expired_before"))
_LAST_REACH = (
    select(func.max(_a.requested_at))
    .where(
        _a.borrower_id == bindparam("borrower_id"),
        _a.party == "borrower",
        _a.channel == "call",
        # No IN (...): a literal list compiles to an expanding parameter, re-rendered per call.
        or_(_a.outcome == "answered", _a.outcome == "refused", _a.outcome.is_(None)),
        _NOT_EXPIRED,
    )
    .scalar_subquery()
)
_HISTORY = select(
    _a.requested_at,
    _a.party,
    _a.channel,
    _a.contact_id,
    _a.status,
    _a.outcome,
    _a.grant_expires_at,
).where(
    _a.borrower_id == bindparam("borrower_id"),
    or_(
        _a.requested_at >= bindparam("since"),
        _a.party == "contact",
        and_(
            _a.party == "borrower",
            _a.channel == "call",
            _a.requested_at >= func.coalesce(_LAST_REACH, bindparam("epoch")),
        ),
    ),
)


def load_history(
    connection: Connection, borrower_id: int, at: datetime, pack: CompiledPack
) -> tuple[list[HistoryEntry], list[_Pending]]:
    """Every contact about the debtor the gate needs: entries inside the pack's horizon, every
    contact-party entry ever (refusals and lifetime caps), and the borrower calls since the last
    one that may have connected (unreachability has no time limit)."""
    expired_before = utc(at - EXPIRY_MARGIN)
    rows = connection.execute(
        _HISTORY,
        {
            "borrower_id": borrower_id,
            "since": utc(at - pack.horizon),
            "expired_before": expired_before,
            "epoch": _EPOCH,
        },
    ).all()
    known: list[HistoryEntry] = []
    pending: list[_Pending] = []
    for row in rows:
        moment = from_db(row.requested_at)
        party, channel = _PARTIES[row.party], _CHANNELS[row.channel]
        contact_id = row.contact_id if party is Party.CONTACT else None
        status = row.status
        if status == "COMPLETED":
            known.append(HistoryEntry(moment, party, channel, _OUTCOMES[row.outcome], contact_id))
        elif status == "DIALED":  # the network connected; the agent has not reported
            known.append(HistoryEntry(moment, party, channel, Outcome.ANSWERED, contact_id))
        elif status == "RESERVED" and from_db(row.grant_expires_at) < expired_before:
            continue  # the grant expired unused: no number was released, nobody was called
        else:
            pending.append(_Pending(moment, party, channel, contact_id))
    return known, pending


def _evaluate(
    pack: CompiledPack,
    zone: ZoneInfo,
    loan: LoanState,
    request: ContactRequest,
    known: list[HistoryEntry],
    pending: list[_Pending],
) -> tuple[str, ...]:
    if not pending:
        return evaluate(pack, GateFacts(zone, loan, request, tuple(known))).reasons
    reasons: list[str] = []
    for outcome in (Outcome.ANSWERED, Outcome.UNANSWERED):
        assumed = [HistoryEntry(p.at, p.party, p.channel, outcome, p.contact_id) for p in pending]
        result = evaluate(pack, GateFacts(zone, loan, request, (*known, *assumed)))
        reasons += [r for r in result.reasons if r not in reasons]
    return tuple(reasons)


def _agent_day(at: datetime, ctx: CollectionsContext) -> date:
    return at.astimezone(ctx.business_timezone).date()


@functools.cache
def _agent_query(parties: tuple[str, ...], channels: tuple[str, ...], lock: bool) -> Any:
    """Status and today's counted attempts in one query, built once per (cap kinds, lock): the
    kinds are inlined, since an IN-list parameter is re-rendered on every execution."""
    counted = select(func.count()).where(
        _a.agent_id == bindparam("agent_id"),
        _a.agent_day == bindparam("day"),
        or_(*(_a.party == literal_column(f"'{p}'") for p in parties), false()),
        or_(*(_a.channel == literal_column(f"'{c}'") for c in channels), false()),
    )
    query = select(collection_agents.c.status, counted.scalar_subquery().label("used_today")).where(
        collection_agents.c.agent_id == bindparam("agent_id")
    )
    return query.with_for_update(of=collection_agents) if lock else query


def _agent(
    connection: Connection,
    request: AttemptRequest,
    pack: CompiledPack,
    ctx: CollectionsContext,
    *,
    lock: bool,
) -> tuple[str, bool]:
    """The agent's status (created ACTIVE on first use when ``lock``; locked FOR UPDATE on
    PostgreSQL) and whether the pack's per-agent daily cap is reached for this kind of contact.
    One query: status and today's count together."""
    cap = pack.pack.rules.agent_daily_cap
    counted = cap is not None and bool(
        kind_bit(request.party, request.channel) & kind_mask(cap.channels, cap.parties)
    )
    params = {"agent_id": request.agent_id, "day": _agent_day(request.at, ctx)}
    query = _agent_query(
        tuple(sorted(str(p) for p in cap.parties)) if cap else (),
        tuple(sorted(str(c) for c in cap.channels)) if cap else (),
        lock and connection.dialect.name != "sqlite",
    )
    row = connection.execute(query, params).first()
    if row is None:
        if not lock:  # a pre-check writes nothing: an agent not seen yet is an active one
            return "ACTIVE", False
        ensure_agent(connection, request.agent_id, request.at, lock=True)
        row = connection.execute(query, params).one()
    reached = counted and cap is not None and int(row.used_today) >= cap.max
    return str(row.status), reached


_DEBTOR_LOCK = (
    select(collection_debtors.c.borrower_id)
    .where(collection_debtors.c.borrower_id == bindparam("borrower_id"))
    .with_for_update()
)
_NEW_DEBTOR = pg_insert(collection_debtors).on_conflict_do_nothing()


def _lock_debtor(connection: Connection, borrower_id: int, at: datetime) -> None:
    """``FOR UPDATE`` on the debtor's row (created on first use). PostgreSQL only: on SQLite the
    transaction already holds the database's single write lock (BEGIN IMMEDIATE)."""
    if connection.dialect.name == "sqlite":
        return
    params = {"borrower_id": borrower_id}
    if connection.execute(_DEBTOR_LOCK, params).first() is None:
        connection.execute(_NEW_DEBTOR, {"borrower_id": borrower_id, "created_at": utc(at)})
        connection.execute(_DEBTOR_LOCK, params).one()


_INSERT_ATTEMPT = insert(collection_attempts)


# ---- the check -----------------------------------------------------------------------------


@dataclass
class _Verdict:
    reasons: list[str]
    debtor: DebtorFacts | None = None
    contact_masked: str | None = None
    zone: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _judge(
    connection: Connection,
    request: AttemptRequest,
    pack: CompiledPack,
    ctx: CollectionsContext,
    *,
    lock: bool,
) -> _Verdict:
    if request.at.utcoffset() is None:
        raise ValueError("request.at must carry an offset")
    pre: list[str] = []
    status, cap_reached = _agent(connection, request, pack, ctx, lock=lock)
    if status != "ACTIVE":
        pre.append(ServiceReason.AGENT_SUSPENDED)
    to_contact = request.party is Party.CONTACT
    contact_id = request.contact_id if to_contact else SELF
    debtor = load_facts(connection, request.loan_id, contact_id or "")
    if debtor is None:
        return _Verdict([*pre, ServiceReason.UNKNOWN_LOAN])
    if lock:
        # The loan row was read unlocked: DPD and state only change in end-of-day, and a check
        # racing it sees the day's values either way. What must not race is the history.
        _lock_debtor(connection, debtor.borrower_id, request.at)
    scope = ContactScope.OVERDUE_COLLECTION  # placeholder while the contact is unknown
    row = debtor.contact
    if row is None or row.contact_loan_id not in (None, debtor.loan_id):
        pre.append(ServiceReason.UNKNOWN_CONTACT)
    elif to_contact:
        withdrawn = row.consent_withdrawn_at
        if (
            row.consent_scope is None
            or row.consent_at is None
            or from_db(row.consent_at) > request.at
            or (withdrawn is not None and from_db(withdrawn) <= request.at)
        ):
            pre.append(ServiceReason.NO_CONSENT)
        if row.consent_scope is not None:
            scope = ContactScope(row.consent_scope)
    if request.purpose is Purpose.REMINDER and not (
        request.party is Party.BORROWER
        and request.channel is Channel.SMS
        and debtor.days_past_due == 0
    ):
        pre.append(ServiceReason.REMINDER_SCOPE)
    verdict = _Verdict(pre, debtor, None if row is None else row.phone_masked, debtor.timezone)
    if not debtor.timezone:
        verdict.reasons.append(ServiceReason.MISSING_FACTS)
        return verdict
    zone = ZoneInfo(debtor.timezone)
    authorised = bool(
        debtor.investigation_ref
        and request.authorisation_ref
        and request.authorisation_ref == debtor.investigation_ref
    )
    loan_state = LoanState(debtor.days_past_due, authorised, debtor.hardship)
    gate_request = ContactRequest(
        at=request.at,
        party=request.party,
        channel=request.channel,
        call_type=request.call_type,
        trigger_reason=request.trigger_reason,
        contact_id=request.contact_id if to_contact else None,
        contact_scope=scope if to_contact else None,
    )
    known, pending = load_history(connection, debtor.borrower_id, request.at, pack)
    reasons = _evaluate(pack, zone, loan_state, gate_request, known, pending)
    if request.purpose is Purpose.REMINDER:
        reasons = tuple(r for r in reasons if r not in _WAIVED_FOR_REMINDER)
    verdict.reasons += reasons
    if cap_reached:
        verdict.reasons.append(ServiceReason.AGENT_DAILY_CAP)
    verdict.facts = {
        "days_past_due": debtor.days_past_due,
        "loan_state": debtor.state,
        "hardship_plan_active": debtor.hardship,
        "investigation_authorised": authorised,
        "debtor_timezone": debtor.timezone,
        "history": len(known),
        "pending": len(pending),
        "contact_scope": str(scope) if to_contact and row is not None else None,
    }
    return verdict


def precheck(connection: Connection, request: AttemptRequest, ctx: CollectionsContext) -> Decision:
    """The verdict without reserving, locking, auditing or alerting (worklists, what-if).
    Whatever it says, the real attempt is checked again by :func:`check_and_reserve`."""
    version = UNKNOWN_VERSION
    try:
        pack = ctx.pack()
        version = pack.version
        verdict = _judge(connection, request, pack, ctx, lock=False)
    except Exception:
        log.exception("gate pre-check failed: denied (fail-closed)")
        return Decision(False, (Reason.GATE_ERROR,), version)
    reasons = tuple(str(r) for r in verdict.reasons)
    return Decision(not reasons, reasons, version, masked_number=verdict.contact_masked)


def _check_entry(
    request: AttemptRequest,
    reasons: tuple[str, ...],
    version: str,
    verdict: _Verdict | None,
    attempt_id: int | None,
    error: str | None = None,
) -> AuditEntry:
    debtor = verdict.debtor if verdict else None
    payload: dict[str, Any] = {
        "allowed": not reasons,
        "reasons": list(reasons),
        "pack_version": version,
        "attempt_id": attempt_id,
        "loan_id": request.loan_id,
        "borrower_id": None if debtor is None else debtor.borrower_id,
        "agent_id": request.agent_id,
        "party": str(request.party),
        "contact_id": request.contact_id if request.party is Party.CONTACT else None,
        "channel": str(request.channel),
        "call_type": str(request.call_type),
        "purpose": str(request.purpose),
        "trigger_reason": request.trigger_reason,
        "authorisation_ref": request.authorisation_ref,
        "requested_at": request.at.isoformat()
        if isinstance(request.at, datetime)
        else str(request.at),
        "facts": verdict.facts if verdict else {},
    }
    if error:
        payload["error"] = error
    at = request.at
    if not isinstance(at, datetime) or at.utcoffset() is None:
        at = datetime.now(UTC)  # a malformed request is still audited, at the wall clock
    return AuditEntry(at, "gate.check", str(request.agent_id or "unknown"), payload)


def check_and_reserve(
    uow: UnitOfWork, request: AttemptRequest, ctx: CollectionsContext | None = None
) -> Decision:
    """Check the contact and, when allowed, reserve it (attempt + grant); always audited.
    Commit is the caller's (one unit of work, one commit)."""
    connection = uow.connection
    version = UNKNOWN_VERSION
    # PostgreSQL aborts a transaction at its first error, so the check runs in a savepoint (plain
    # SQL: SQLAlchemy's nested-transaction object costs more than the check) to keep the
    # transaction usable for auditing the denial. SQLite keeps the transaction usable after a
    # failed statement, and the check's writes are ordered so a partial one is harmless: the
    # audit record first, the attempt last (an attempt row is what a grant needs).
    savepoint = False
    metrics = ctx.metrics if ctx is not None else METRICS
    try:
        ctx = ctx or default_context()
        metrics = ctx.metrics
        if connection.dialect.name != "sqlite":
            connection.exec_driver_sql("SAVEPOINT gate_check")
            savepoint = True
        pack = ctx.pack()
        version = pack.version
        decision = _reserve(connection, request, pack, ctx)
        if savepoint:
            connection.exec_driver_sql("RELEASE SAVEPOINT gate_check")
    except Exception as exc:
        log.exception("gate check failed: denied (fail-closed)")
        if savepoint:
            try:  # undo whatever the failed check wrote; the transaction stays usable
                connection.exec_driver_sql("ROLLBACK TO SAVEPOINT gate_check")
                connection.exec_driver_sql("RELEASE SAVEPOINT gate_check")
            except Exception:
                log.critical("could not roll back a failed gate check", exc_info=True)
        reasons = (str(Reason.GATE_ERROR),)
        seq = None
        try:
            entry = _check_entry(request, reasons, version, None, None, type(exc).__name__)
            seq = append(connection, [entry])[0]
        except Exception:
            log.critical("a fail-closed denial could not be audited", exc_info=True)
        metrics.gate_checks.inc(verdict="denied")
        return Decision(False, reasons, version, audit_seq=seq)
    metrics.gate_checks.inc(verdict="allowed" if decision.allowed else "denied")
    return decision


def _reserve(
    connection: Connection, request: AttemptRequest, pack: CompiledPack, ctx: CollectionsContext
) -> Decision:
    verdict = _judge(connection, request, pack, ctx, lock=True)
    reasons = tuple(str(r) for r in verdict.reasons)
    allowed = not reasons
    debtor = verdict.debtor
    attempt_id = ctx.ids.next_id() if allowed else None
    seq = append(connection, [_check_entry(request, reasons, pack.version, verdict, attempt_id)])[0]
    if allowed:
        assert debtor is not None and attempt_id is not None and verdict.zone is not None
        expires = request.at + ctx.grant_ttl
        grant_id = new_grant_id()
        connection.execute(
            _INSERT_ATTEMPT,
            {
                "borrower_id": debtor.borrower_id,
                "attempt_id": attempt_id,
                "loan_id": debtor.loan_id,
                "agent_id": request.agent_id,
                "agent_day": _agent_day(request.at, ctx),
                "party": str(request.party),
                "contact_id": request.contact_id if request.party is Party.CONTACT else None,
                "channel": str(request.channel),
                "call_type": str(request.call_type),
                "purpose": str(request.purpose),
                "trigger_reason": (request.trigger_reason or "").strip()[:120],
                "authorisation_ref": request.authorisation_ref,
                "requested_at": utc(request.at),
                "debtor_timezone": verdict.zone,
                "days_past_due": debtor.days_past_due,
                "pack_version": pack.version,
                "status": "RESERVED",
                "grant_id": grant_id,
                "grant_expires_at": utc(expires),
                "masked_number": verdict.contact_masked,
                "audit_seq": seq,
            },
        )
        return Decision(
            True, (), pack.version, attempt_id, grant_id, seq, masked_number=verdict.contact_masked
        )
    alert_id = None
    violation = violation_for(request.party, reasons)
    if violation is not None:
        alert_id = raise_alert(
            connection,
            kind=violation,
            agent_id=request.agent_id,
            at=request.at,
            borrower_id=None if debtor is None else debtor.borrower_id,
            loan_id=request.loan_id,
            detail={"reasons": list(reasons), "audit_seq": seq, "party": str(request.party)},
            webhook=ctx.webhook,
            metrics=ctx.metrics,
        )
    return Decision(False, reasons, pack.version, audit_seq=seq, alert_id=alert_id)


# ---- after the call ------------------------------------------------------------------------

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


def get_attempt(connection: Connection, attempt_id: int) -> dict[str, Any]:
    row = connection.execute(_ATTEMPT, {"attempt_id": attempt_id}).first()
    if row is None:
        raise ValidationError(ErrorCode.UNKNOWN_ATTEMPT, f"no contact attempt {attempt_id}")
    return attempt_view(row)


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


# ---- loan facts collections owns -----------------------------------------------------------


def _flags(connection: Connection, loan_id: int, at: datetime, **values: Any) -> int:
    borrower_id = connection.execute(
        select(loans.c.borrower_id).where(loans.c.loan_id == loan_id)
    ).scalar_one_or_none()
    if borrower_id is None:
        raise ValidationError(ErrorCode.UNKNOWN_LOAN, f"no loan {loan_id}")
    f = collection_loan_flags.c
    where = (f.borrower_id == borrower_id, f.loan_id == loan_id)
    if connection.execute(select(f.loan_id).where(*where)).first() is None:
        connection.execute(
            insert(collection_loan_flags).values(
                borrower_id=borrower_id, loan_id=loan_id, updated_at=utc(at), **values
            )
        )
    else:
        connection.execute(
            update(collection_loan_flags).where(*where).values(updated_at=utc(at), **values)
        )
    return int(borrower_id)


def authorise_investigation(
    connection: Connection, loan_id: int, reference: str, supervisor: str, at: datetime
) -> None:
    """Record a fraud-investigation authorisation; INVESTIGATION calls must quote ``reference``."""
    if not reference.strip() or not supervisor.strip():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "an authorisation needs a reference and a supervisor"
        )
    borrower_id = _flags(
        connection,
        loan_id,
        at,
        investigation_ref=reference.strip(),
        investigation_authorised_by=supervisor.strip(),
    )
    append(
        connection,
        [
            AuditEntry(
                at,
                "investigation.authorised",
                supervisor,
                {"loan_id": loan_id, "borrower_id": borrower_id, "reference": reference},
            )
        ],
    )


def set_hardship_plan(
    connection: Connection, loan_id: int, active: bool, actor: str, at: datetime
) -> None:
    """Mark a hardship plan performing (collection pauses) or ended."""
    borrower_id = _flags(connection, loan_id, at, hardship_plan_active=active)
    append(
        connection,
        [
            AuditEntry(
                at,
                "hardship.flag",
                actor,
                {"loan_id": loan_id, "borrower_id": borrower_id, "active": active},
            )
        ],
    )
