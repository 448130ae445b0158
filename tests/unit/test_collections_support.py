"""Builders shared by the collections tests (this module holds no tests).

Times are written as local wall-clock text in the debtor's zone ("2026-03-02 10:00") so every
boundary in a test reads as the rule states it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lendcore.collections import (
    CallType,
    Channel,
    ContactRequest,
    ContactScope,
    GateFacts,
    GateResult,
    HistoryEntry,
    LoanState,
    Outcome,
    Party,
    evaluate,
    get_pack,
)
from lendcore.collections.pack import CompiledPack

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

CN: CompiledPack = get_pack("cn")
US: CompiledPack = get_pack("us-regf")

BORROWER, CONTACT = Party.BORROWER, Party.CONTACT
CALL, SMS = Channel.CALL, Channel.SMS
COLLECTION, INVESTIGATION = CallType.COLLECTION, CallType.INVESTIGATION
OVERDUE_COLLECTION = ContactScope.OVERDUE_COLLECTION
LOST_CONTACT_REPAIR = ContactScope.LOST_CONTACT_REPAIR
EMERGENCY = ContactScope.EMERGENCY
ANSWERED, UNANSWERED = Outcome.ANSWERED, Outcome.UNANSWERED
REFUSED, INVALID_NUMBER = Outcome.REFUSED, Outcome.INVALID_NUMBER


def at(text: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def borrower(
    when: datetime,
    channel: Channel = CALL,
    call_type: CallType = COLLECTION,
    trigger: str | None = "dpd_strategy",
) -> ContactRequest:
    return ContactRequest(when, BORROWER, channel, call_type, trigger)


def contact(
    when: datetime,
    contact_id: str = "c1",
    scope: ContactScope = OVERDUE_COLLECTION,
    channel: Channel = CALL,
    call_type: CallType = COLLECTION,
    trigger: str | None = "borrower_unreachable",
) -> ContactRequest:
    return ContactRequest(when, CONTACT, channel, call_type, trigger, contact_id, scope)


def called(
    when: datetime,
    outcome: Outcome = UNANSWERED,
    party: Party = BORROWER,
    contact_id: str | None = None,
    channel: Channel = CALL,
) -> HistoryEntry:
    if party is CONTACT and contact_id is None:
        contact_id = "c1"
    return HistoryEntry(when, party, channel, outcome, contact_id)


def unreachable_before(when: datetime, misses: int = 3) -> list[HistoryEntry]:
    """``misses`` unanswered borrower calls on the previous day (the borrower is unreachable)."""
    day_before = when - timedelta(days=1)
    return [called(day_before.replace(hour=9 + i, minute=0)) for i in range(misses)]


def check(
    request: ContactRequest,
    history: list[HistoryEntry] | tuple[HistoryEntry, ...] = (),
    *,
    pack: CompiledPack = CN,
    dpd: int = 5,
    authorised: bool = False,
    hardship: bool = False,
    tz: ZoneInfo = SHANGHAI,
) -> GateResult:
    facts = GateFacts(tz, LoanState(dpd, authorised, hardship), request, tuple(history))
    return evaluate(pack, facts)


def reasons(*args: object, **kwargs: object) -> set[str]:
    return set(check(*args, **kwargs).reasons)  # type: ignore[arg-type]
