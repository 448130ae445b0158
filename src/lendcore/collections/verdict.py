"""The service's verdict on facts already read: the pure gate plus the service's own rules.

:func:`decide` takes the agent's status, the loan and contact facts and a way to get the
history (asked only when the gate needs it), and returns every reason a request is denied. The
gate service (:mod:`lendcore.collections.service`) reads the facts one request at a time, under
locks; the batch pre-check reads them for many requests at once. Both decide here, so a
worklist's pre-check and the real check can never disagree on the same facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from lendcore.collections.contacts import SELF
from lendcore.collections.context import AttemptRequest, Purpose, ServiceReason, from_db
from lendcore.collections.gate import evaluate
from lendcore.collections.history import DebtorFacts, History, Pending
from lendcore.collections.model import (
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
from lendcore.collections.pack import CompiledPack

_WAIVED_FOR_REMINDER = frozenset({Reason.NOT_OVERDUE, Reason.HARDSHIP_PLAN_ACTIVE})


def point_of(request: AttemptRequest) -> str:
    """The contact point a request is about: the named contact, or the borrower's own number."""
    return (request.contact_id or "") if request.party is Party.CONTACT else SELF


def evaluate_both_ways(
    pack: CompiledPack,
    zone: ZoneInfo,
    loan: LoanState,
    request: ContactRequest,
    known: list[HistoryEntry],
    pending: list[Pending],
    same_number: tuple[HistoryEntry, ...] = (),
) -> tuple[str, ...]:
    """The gate's reasons; attempts whose outcome is unknown are assumed answered, then
    unanswered, and the request passes only if it passes both ways. ``same_number``: contacts
    with the same phone about other debtors (their unknown outcomes already taken as the worst
    case, :mod:`lendcore.collections.numbers`)."""
    if not pending:
        return evaluate(pack, GateFacts(zone, loan, request, tuple(known), same_number)).reasons
    reasons: list[str] = []
    for outcome in (Outcome.ANSWERED, Outcome.UNANSWERED):
        assumed = [HistoryEntry(p.at, p.party, p.channel, outcome, p.contact_id) for p in pending]
        result = evaluate(pack, GateFacts(zone, loan, request, (*known, *assumed), same_number))
        reasons += [r for r in result.reasons if r not in reasons]
    return tuple(reasons)


@dataclass
class Verdict:
    reasons: list[str]
    debtor: DebtorFacts | None = None
    contact_masked: str | None = None
    zone: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _point(request: AttemptRequest) -> str:
    """The contact point a request is about: the named contact, or the borrower's own number."""
    return (request.contact_id or "") if request.party is Party.CONTACT else SELF


def decide(
    request: AttemptRequest,
    pack: CompiledPack,
    status: str,
    cap_reached: bool,
    debtor: DebtorFacts | None,
    history: Callable[[DebtorFacts], History],
    same_number: Callable[[DebtorFacts], tuple[HistoryEntry, ...]],
) -> Verdict:
    """The verdict on facts already read; ``history`` (the debtor's contacts) and
    ``same_number`` (the requested number's contacts about other debtors) are asked only when
    the gate needs them."""
    pre: list[str] = []
    if status != "ACTIVE":
        pre.append(ServiceReason.AGENT_SUSPENDED)
    if debtor is None:
        return Verdict([*pre, ServiceReason.UNKNOWN_LOAN])
    to_contact = request.party is Party.CONTACT
    scope = ContactScope.OVERDUE_COLLECTION  # placeholder while the contact is unknown
    point = debtor.contact
    if point is None or point.contact_loan_id not in (None, debtor.loan_id):
        pre.append(ServiceReason.UNKNOWN_CONTACT)
    elif to_contact:
        withdrawn = point.consent_withdrawn_at
        if (
            point.consent_scope is None
            or point.consent_at is None
            or from_db(point.consent_at) > request.at
            or (withdrawn is not None and from_db(withdrawn) <= request.at)
        ):
            pre.append(ServiceReason.NO_CONSENT)
        if point.consent_scope is not None:
            scope = ContactScope(point.consent_scope)
    if request.purpose is Purpose.REMINDER and not (
        request.party is Party.BORROWER
        and request.channel is Channel.SMS
        and debtor.days_past_due == 0
    ):
        pre.append(ServiceReason.REMINDER_SCOPE)
    verdict = Verdict(pre, debtor, None if point is None else point.phone_masked, debtor.timezone)
    if not debtor.timezone:
        verdict.reasons.append(ServiceReason.MISSING_FACTS)
        return verdict
    zone = ZoneInfo(debtor.timezone)
    # The authorisation in force, quoted exactly, and not expired: one without an expiry (recorded
    # before expiries existed) is not honoured (fail-closed). Revocation clears it.
    expires = debtor.investigation_expires_at
    authorised = bool(
        debtor.investigation_ref
        and request.authorisation_ref
        and request.authorisation_ref == debtor.investigation_ref
        and expires is not None
        and request.at < from_db(expires)
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
    known, pending = history(debtor)
    others = same_number(debtor) if point is not None else ()
    reasons = evaluate_both_ways(pack, zone, loan_state, gate_request, known, pending, others)
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
        "same_number_elsewhere": len(others),
        "contact_scope": str(scope) if to_contact and point is not None else None,
    }
    return verdict
