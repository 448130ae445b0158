"""The collections contact gate: may this contact be made now? A pure function.

``evaluate(pack, facts)`` answers with every reason that denies the contact (not just the first),
so an operator sees at once everything that stands in the way, and an audit record keeps all of
it. It reads no clock (``facts.request.at`` is "now"), no database, no file.

Fail-closed: anything unexpected while evaluating (a fact of the wrong type, a bug) denies with
``GATE_ERROR``. Facts validate themselves when built (see :mod:`lendcore.collections.model`), so a
missing fact is an error before the gate is even asked, never a pass.

History is one pass over the entries; only entries inside the widest look-back window of the pack
are converted to the debtor's local date. ``facts.same_number`` (contacts with the same phone
number about other debtors) feeds only the two rules about the number itself: the contact
interval and the per-number daily dials. Entries stamped after the request (clock skew between
hosts) are counted in every window that has begun: skew never frees a slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from lendcore.collections.model import (
    CallType,
    Channel,
    GateFacts,
    GateResult,
    HistoryEntry,
    Outcome,
    Party,
    Reason,
)
from lendcore.collections.pack import CompiledPack, Coverage, kind_bit

UNKNOWN_VERSION = "unknown"

# Enum members read through the enum class cost ~0.1 us each; the gate is on the hot path of
# every dial, so it reads module-level aliases instead.
_BORROWER, _CONTACT = Party.BORROWER, Party.CONTACT
_CALL, _SMS = Channel.CALL, Channel.SMS
_COLLECTION, _INVESTIGATION = CallType.COLLECTION, CallType.INVESTIGATION
_ANSWERED, _REFUSED = Outcome.ANSWERED, Outcome.REFUSED
_UNANSWERED, _INVALID_NUMBER = Outcome.UNANSWERED, Outcome.INVALID_NUMBER
_NEVER, _WHEN_UNREACHABLE = Coverage.NEVER, Coverage.WHEN_BORROWER_UNREACHABLE
_CONSENT_SCOPE = Reason.CONSENT_SCOPE
_CONTACTS_LOCKED = Reason.CONTACTS_LOCKED
_CONTACT_INTERVAL = Reason.CONTACT_INTERVAL
_CONTACT_LIFETIME_CAP = Reason.CONTACT_LIFETIME_CAP
_CONTACT_REFUSED = Reason.CONTACT_REFUSED
_DEBTOR_DAILY_ATTEMPTS = Reason.DEBTOR_DAILY_ATTEMPTS
_DEBTOR_DAILY_CAP = Reason.DEBTOR_DAILY_CAP
_HARDSHIP_PLAN_ACTIVE = Reason.HARDSHIP_PLAN_ACTIVE
_INVESTIGATION_NOT_AUTHORISED = Reason.INVESTIGATION_NOT_AUTHORISED
_NOT_OVERDUE = Reason.NOT_OVERDUE
_NUMBER_DAILY_DIALS = Reason.NUMBER_DAILY_DIALS
_POST_CONVERSATION_PAUSE = Reason.POST_CONVERSATION_PAUSE
_QUIET_HOURS = Reason.QUIET_HOURS
_TRIGGER_REASON_REQUIRED = Reason.TRIGGER_REASON_REQUIRED
_WEEKLY_CAP = Reason.WEEKLY_CAP


def evaluate(pack: CompiledPack, facts: GateFacts) -> GateResult:
    """The verdict for ``facts.request`` under ``pack``; denied with GATE_ERROR on any error."""
    version = pack.version if isinstance(pack, CompiledPack) else UNKNOWN_VERSION
    try:
        reasons = _reasons(pack, facts)
    except Exception:
        # Deliberately broad: whatever went wrong, the answer is "no" and the reason says why.
        return GateResult(False, (Reason.GATE_ERROR,), version)
    return GateResult(not reasons, reasons, version)


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a microsecond per call
class _Scan:
    """What the rules need from the history, gathered in one pass."""

    borrower_misses: list[HistoryEntry]  # borrower calls that did not connect
    last_borrower_reached: datetime | None
    refused: bool  # the requested contact refused at some point
    last_same_contact: datetime | None
    lifetime_same_contact: int
    conversations_today: int
    attempts_today: int
    dials_today: int  # not-connected dials to the requested number today
    weekly_calls: int
    paused: bool


def _scan(pack: CompiledPack, facts: GateFacts, today: date) -> _Scan:
    # Hot loop: everything it touches is a local; kinds are bits tested with an AND (the bit
    # numbers are pack.kind_bit's).
    request = facts.request
    tz = facts.debtor_timezone
    since = request.at - pack.horizon
    to_borrower = request.party is _BORROWER
    contact_id = None if to_borrower else request.contact_id
    borrower, contact, call, sms = _BORROWER, _CONTACT, _CALL, _SMS
    answered, refused_outcome = _ANSWERED, _REFUSED
    unanswered, invalid = _UNANSWERED, _INVALID_NUMBER
    lifetime_mask = pack.lifetime.mask if pack.lifetime else 0
    interval_mask = pack.interval_mask
    conversation_mask = pack.conversations.mask if pack.conversations else 0
    attempt_mask = pack.attempts.mask if pack.attempts else 0
    dial_mask = pack.dials.mask if pack.dials else 0
    weekly_mask = pack.weekly.mask if pack.weekly else 0
    pause_mask = pack.pause.mask if pack.pause else 0
    week_start = today - pack.weekly_back
    # Day 1 of a pause is the conversation's own day: it still holds on day `days`.
    pause_after = today - pack.pause_back

    misses: list[HistoryEntry] = []
    reached: datetime | None = None
    refused = False
    last_same: datetime | None = None
    lifetime_count = conversations = attempts = dials = weekly = 0
    paused = False
    for entry in facts.history:
        party, channel, outcome, at = entry.party, entry.channel, entry.outcome, entry.at
        # Every enum is matched exactly; anything else (a fact tampered with after validation)
        # raises, and the gate denies. A refusal is a connected conversation too.
        if outcome is answered or outcome is refused_outcome:
            connected = True
        elif outcome is unanswered or outcome is invalid:
            connected = False
        else:
            raise ValueError("history outcome")
        if channel is call:
            bit = 1
        elif channel is sms:
            bit = 2
        else:
            raise ValueError("history channel")
        if party is borrower:
            if bit == 1:
                if connected:
                    if reached is None or at > reached:
                        reached = at
                else:
                    misses.append(entry)
            same_number = to_borrower
        elif party is contact:
            bit <<= 2
            same_number = contact_id is not None and entry.contact_id == contact_id
            if same_number:
                if outcome is refused_outcome:
                    refused = True
                if bit & lifetime_mask:
                    lifetime_count += 1
                if bit & interval_mask and (last_same is None or at > last_same):
                    last_same = at
        else:
            raise ValueError("history party")
        if at < since:
            continue  # older than every window: only the lifetime facts above care
        day = at.astimezone(tz).date()
        if day >= today:
            if connected and bit & conversation_mask:
                conversations += 1
            if bit & attempt_mask:
                attempts += 1
            if same_number and not connected and bit & dial_mask:
                dials += 1
        if bit & weekly_mask and day >= week_start:
            weekly += 1
        if connected and bit & pause_mask and day > pause_after:
            paused = True
    # The same phone number reached about other debtors (its blind index matched): the 48-hour
    # interval and the per-number daily dials protect the person, not one debtor's list entry.
    # Only those two rules read these entries; the debtor's own caps do not.
    for entry in facts.same_number:
        outcome, at = entry.outcome, entry.at
        if outcome is answered or outcome is refused_outcome:
            connected = True
        elif outcome is unanswered or outcome is invalid:
            connected = False
        else:
            raise ValueError("number history outcome")
        bit = kind_bit(entry.party, entry.channel)
        if contact_id is not None and bit & interval_mask and (last_same is None or at > last_same):
            last_same = at
        if not connected and bit & dial_mask and at >= since and at.astimezone(tz).date() >= today:
            dials += 1
    return _Scan(
        misses,
        reached,
        refused,
        last_same,
        lifetime_count,
        conversations,
        attempts,
        dials,
        weekly,
        paused,
    )


def _borrower_unreachable(pack: CompiledPack, scan: _Scan) -> bool:
    """Invalid number, or N failed calls in a row since the borrower was last reached."""
    needed = pack.unreachable_after
    if needed is None:
        return False
    invalid_counts = pack.invalid_number_unreachable
    reached = scan.last_borrower_reached
    misses = 0
    for entry in scan.borrower_misses:
        if reached is not None and entry.at <= reached:
            continue
        if invalid_counts and entry.outcome is _INVALID_NUMBER:
            return True
        misses += 1
    return misses >= needed


def _reasons(pack: CompiledPack, facts: GateFacts) -> tuple[str, ...]:
    if type(pack) is not CompiledPack or type(facts) is not GateFacts:
        raise TypeError("the gate takes a CompiledPack and GateFacts")
    request, loan, tz = facts.request, facts.loan, facts.debtor_timezone
    now = request.at
    # The facts validated themselves on construction; the checks below are cheap and make a
    # fact tampered with afterwards (or a bug upstream) an error, never a pass. A None zone in
    # particular would make astimezone() silently use the server's zone.
    if type(tz) is not ZoneInfo or now.utcoffset() is None:
        raise ValueError("debtor time zone or request time")
    party, channel, call_type = request.party, request.channel, request.call_type
    if party is not _BORROWER and party is not _CONTACT:
        raise ValueError("request party")
    if call_type is not _COLLECTION and call_type is not _INVESTIGATION:
        raise ValueError("request call type")
    dpd = loan.days_past_due
    if type(dpd) is not int or dpd < 0:
        raise ValueError("days past due")
    hardship, authorisation = loan.hardship_plan_active, loan.fraud_investigation_authorised
    if type(hardship) is not bool or type(authorisation) is not bool:
        raise ValueError("loan flags")
    local = now.astimezone(tz)
    to_contact = party is _CONTACT
    bit = kind_bit(party, channel)
    investigation = call_type is _INVESTIGATION
    authorised = investigation and pack.investigation_exception and authorisation
    # Without its authorisation an investigation has no exception: it is judged as collection.
    collection = not authorised
    scan = _scan(pack, facts, local.date())

    reasons: list[str] = []
    if not (request.trigger_reason and request.trigger_reason.strip()):
        reasons.append(_TRIGGER_REASON_REQUIRED)
    if investigation and not authorised:
        reasons.append(_INVESTIGATION_NOT_AUTHORISED)
    if bit & pack.quiet_mask and pack.quiet[local.hour * 60 + local.minute]:
        reasons.append(_QUIET_HOURS)
    if collection and dpd < pack.overdue_from:
        reasons.append(_NOT_OVERDUE)
    if collection and hardship:
        reasons.append(_HARDSHIP_PLAN_ACTIVE)
    if to_contact:
        unreachable = _borrower_unreachable(pack, scan)
        if collection and (
            dpd < pack.contacts_from or (pack.unreachable_after is not None and not unreachable)
        ):
            reasons.append(_CONTACTS_LOCKED)
        scope = request.contact_scope
        if scope is None:
            raise ValueError("a contact request without a consent scope")
        cover = pack.coverage.get((scope, request.call_type), _NEVER)
        if cover is _NEVER or (cover is _WHEN_UNREACHABLE and not unreachable):
            reasons.append(_CONSENT_SCOPE)
        if scan.refused:
            reasons.append(_CONTACT_REFUSED)
        last = scan.last_same_contact
        interval = pack.interval
        if (
            interval is not None
            and bit & pack.interval_mask
            and last is not None
            and now - last < interval
        ):
            reasons.append(_CONTACT_INTERVAL)
        lifetime = pack.lifetime
        if (
            lifetime is not None
            and bit & lifetime.mask
            and scan.lifetime_same_contact >= lifetime.limit
        ):
            reasons.append(_CONTACT_LIFETIME_CAP)
    cap = pack.conversations
    if cap is not None and bit & cap.mask and scan.conversations_today >= cap.limit:
        reasons.append(_DEBTOR_DAILY_CAP)
    cap = pack.attempts
    if cap is not None and bit & cap.mask and scan.attempts_today >= cap.limit:
        reasons.append(_DEBTOR_DAILY_ATTEMPTS)
    cap = pack.dials
    if cap is not None and bit & cap.mask and scan.dials_today >= cap.limit:
        reasons.append(_NUMBER_DAILY_DIALS)
    cap = pack.weekly
    if cap is not None and bit & cap.mask and scan.weekly_calls >= cap.limit:
        reasons.append(_WEEKLY_CAP)
    cap = pack.pause
    if cap is not None and bit & cap.mask and scan.paused:
        reasons.append(_POST_CONVERSATION_PAUSE)
    return tuple(reasons)
