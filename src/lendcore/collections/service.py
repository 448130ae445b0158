"""The contact gate against the database: check and reserve in one transaction, fail-closed.

:func:`check_and_reserve` is the only way to get a grant for a contact's number. In one
transaction it

1. locks the agent row (creating the agent on first use) -- a suspended agent is denied;
2. reads the loan (DPD, state), the debtor's time zone, the loan's flags (hardship plan,
   investigation authorisation) and the contact point (consent scope and time);
3. locks the debtor's row and then the contact number's row ``FOR UPDATE`` (PostgreSQL;
   SQLite's ``BEGIN IMMEDIATE`` already serialises writers), *then* reads the debtor's contact
   history and the number's contacts about other debtors (:mod:`~lendcore.collections.numbers`),
   so two agents calling the same person at once -- about one debtor or two -- are judged one
   after the other and the second sees the first's reservation;
4. evaluates the pure gate (:func:`lendcore.collections.gate.evaluate`) plus the service rules
   (suspension, per-agent daily cap, consent in force, known contact);
5. when allowed, inserts the attempt (RESERVED) and a single-use grant, valid for the context's
   time-to-live but never past the start of the next quiet window in the debtor's zone
   (:func:`lendcore.collections.quiet.grant_expiry`);
6. appends a ``gate.check`` audit record with every reason and the pack version, pass or fail;
   a violation attempt also raises an alert and suspends the agent.

Any exception denies with ``GATE_ERROR``: the work is rolled back to a savepoint and the denial
is still audited.

Reservations whose outcome is not known yet (RESERVED, DIALING, FAILED) are judged both ways: the
gate is asked once with them answered and once unanswered, and the request passes only if both
pass. A reservation whose grant expired unused never reached a phone and frees its slot.

:func:`precheck` and :func:`precheck_many` give the same verdict without locking, reserving,
auditing or alerting (worklists). The facts are read by :mod:`~lendcore.collections.history`;
the use cases after the call are in :mod:`~lendcore.collections.attempts`, the loan flags in
:mod:`~lendcore.collections.flags`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert

from lendcore.collections.alerts import METRICS, raise_alert, violation_for
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.context import (
    AttemptRequest,
    CollectionsContext,
    Decision,
    default_context,
    utc,
)

# Re-exported: the hardship module marks plans through this path.
from lendcore.collections.flags import authorise_investigation as authorise_investigation
from lendcore.collections.flags import set_hardship_plan as set_hardship_plan
from lendcore.collections.gate import UNKNOWN_VERSION
from lendcore.collections.grants import new_grant_id
from lendcore.collections.history import (
    DebtorFacts,
    History,
    agent_day,
    agent_status,
    load_facts,
    load_facts_many,
    load_history,
    load_history_many,
    lock_debtor,
)
from lendcore.collections.model import Channel, HistoryEntry, Party, Reason
from lendcore.collections.numbers import elsewhere, load_number_history, lock_number
from lendcore.collections.pack import CompiledPack
from lendcore.collections.quiet import grant_expiry
from lendcore.collections.tables import collection_attempts
from lendcore.collections.verdict import Verdict, decide, point_of
from lendcore.kernel.errors import LendcoreError
from lendcore.store.db import UnitOfWork

log = logging.getLogger("lendcore.collections")

_INSERT_ATTEMPT = insert(collection_attempts)


# ---- the check -----------------------------------------------------------------------------


def _judge(
    connection: Connection,
    request: AttemptRequest,
    pack: CompiledPack,
    ctx: CollectionsContext,
    *,
    lock: bool,
) -> Verdict:
    if request.at.utcoffset() is None:
        raise ValueError("request.at must carry an offset")
    status, cap_reached = agent_status(connection, request, pack, ctx, lock=lock)
    debtor = load_facts(connection, request.loan_id, point_of(request))
    if debtor is not None and lock:
        # The loan row was read unlocked: DPD and state only change in end-of-day, and a check
        # racing it sees the day's values either way. What must not race is the history: the
        # debtor's, then the number's (another debtor's agent may be calling the same person).
        lock_debtor(connection, debtor.borrower_id, request.at)
        if debtor.contact is not None:
            lock_number(connection, debtor.contact.phone_index, request.at)

    def history(facts: DebtorFacts) -> History:
        return load_history(connection, facts.borrower_id, request.at, pack)

    def same_number(facts: DebtorFacts) -> tuple[HistoryEntry, ...]:
        assert facts.contact is not None
        index = facts.contact.phone_index
        loaded = load_number_history(connection, (index,), request.at, pack)
        return elsewhere(loaded[index], facts.borrower_id, facts.contact.contact_id)

    return decide(request, pack, status, cap_reached, debtor, history, same_number)


def _decision(verdict: Verdict, version: str) -> Decision:
    reasons = tuple(str(r) for r in verdict.reasons)
    return Decision(not reasons, reasons, version, masked_number=verdict.contact_masked)


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
    return _decision(verdict, version)


def precheck_many(
    connection: Connection, requests: Sequence[AttemptRequest], ctx: CollectionsContext
) -> list[Decision]:
    """:func:`precheck` of a batch, the same verdict for each request, with the reads batched:
    the loans and contact points in two queries, the history in one per distinct request time,
    the agent once per (agent, day, kind). A failed read denies the whole batch GATE_ERROR; a
    request that cannot be judged is denied GATE_ERROR alone."""
    version = UNKNOWN_VERSION
    try:
        pack = ctx.pack()
        version = pack.version
        aware = [r for r in requests if r.at.utcoffset() is not None]
        facts = load_facts_many(connection, ((r.loan_id, point_of(r)) for r in aware))
        moments: dict[datetime, set[int]] = {}
        for r in aware:
            debtor = facts[r.loan_id, point_of(r)]
            if debtor is not None and debtor.timezone:
                moments.setdefault(r.at, set()).add(debtor.borrower_id)
        histories = {
            (borrower_id, moment): loaded
            for moment, ids in moments.items()
            for borrower_id, loaded in load_history_many(connection, ids, moment, pack).items()
        }
        numbers: dict[datetime, set[str]] = {}
        for r in aware:
            point = facts[r.loan_id, point_of(r)]
            if point is not None and point.contact is not None:
                numbers.setdefault(r.at, set()).add(point.contact.phone_index)
        by_number = {
            (index, moment): loaded
            for moment, indexes in numbers.items()
            for index, loaded in load_number_history(connection, indexes, moment, pack).items()
        }
        agents: dict[tuple[str, date, Party, Channel], tuple[str, bool]] = {}
        for r in aware:
            key = (r.agent_id, agent_day(r.at, ctx), r.party, r.channel)
            if key not in agents:
                agents[key] = agent_status(connection, r, pack, ctx, lock=False)
    except Exception:
        log.exception("gate pre-check of a batch failed: all denied (fail-closed)")
        return [Decision(False, (Reason.GATE_ERROR,), version) for _ in requests]
    decisions = []
    for request in requests:
        try:
            if request.at.utcoffset() is None:
                raise ValueError("request.at must carry an offset")
            status, cap_reached = agents[
                request.agent_id, agent_day(request.at, ctx), request.party, request.channel
            ]
            moment = request.at

            def history(debtor: DebtorFacts, moment: datetime = moment) -> History:
                return histories[debtor.borrower_id, moment]

            def same_number(
                debtor: DebtorFacts, moment: datetime = moment
            ) -> tuple[HistoryEntry, ...]:
                assert debtor.contact is not None
                loaded = by_number[debtor.contact.phone_index, moment]
                return elsewhere(loaded, debtor.borrower_id, debtor.contact.contact_id)

            verdict = decide(
                request,
                pack,
                status,
                cap_reached,
                facts[request.loan_id, point_of(request)],
                history,
                same_number,
            )
        except Exception:
            log.exception("gate pre-check failed: denied (fail-closed)")
            decisions.append(Decision(False, (Reason.GATE_ERROR,), version))
            continue
        decisions.append(_decision(verdict, version))
    return decisions


def _check_entry(
    request: AttemptRequest,
    reasons: tuple[str, ...],
    version: str,
    verdict: Verdict | None,
    attempt_id: int | None,
    error: str | None = None,
    error_code: str | None = None,
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
    if error_code:
        payload["error_code"] = error_code
    at = request.at
    if not isinstance(at, datetime) or at.utcoffset() is None:
        at = datetime.now(UTC)  # a malformed request is still audited, at the wall clock
    return AuditEntry(at, "gate.check", str(request.agent_id or "unknown"), payload)


# ---- check and reserve ---------------------------------------------------------------------


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
            # A domain error (e.g. KMS_UNAVAILABLE) also records its code.
            code = str(exc.code) if isinstance(exc, LendcoreError) else None
            entry = _check_entry(request, reasons, version, None, None, type(exc).__name__, code)
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
        # Never valid into quiet hours: reserved at 20:58, a 5-minute grant ends at 21:00.
        expires = grant_expiry(
            pack, ZoneInfo(verdict.zone), request.at, ctx.grant_ttl, request.party, request.channel
        )
        grant_id = new_grant_id()
        connection.execute(
            _INSERT_ATTEMPT,
            {
                "borrower_id": debtor.borrower_id,
                "attempt_id": attempt_id,
                "loan_id": debtor.loan_id,
                "agent_id": request.agent_id,
                "agent_day": agent_day(request.at, ctx),
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
                "phone_index": None if debtor.contact is None else debtor.contact.phone_index,
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
