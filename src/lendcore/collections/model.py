"""Facts the contact gate decides on, and the reason codes it answers with.

The gate never looks anything up: whoever asks (the collections service, the what-if CLI) hands it
the loan state, the requested contact and the contact history as these values. They validate
themselves on construction, so a fact that is missing or malformed (a naive datetime, a contact
call without a contact id) is an error the caller sees, never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from lendcore.kernel.errors import ErrorCode, ValidationError

DEFAULT_PACK = "cn"  # the compliance pack used when a caller names none


class Party(StrEnum):
    BORROWER = "borrower"
    CONTACT = "contact"  # a third party the borrower named (通讯录/紧急联系人)


class Channel(StrEnum):
    CALL = "call"
    SMS = "sms"


class CallType(StrEnum):
    COLLECTION = "COLLECTION"
    # Fraud investigation: allowed before and regardless of overdue status, but only with an
    # explicit recorded authorisation on the loan.
    INVESTIGATION = "INVESTIGATION"


class ContactScope(StrEnum):
    """What the borrower's consent to share a contact's number covers (PIPL Arts. 6, 14)."""

    OVERDUE_COLLECTION = "overdue_collection"
    LOST_CONTACT_REPAIR = "lost_contact_repair"
    EMERGENCY = "emergency"


class Outcome(StrEnum):
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    REFUSED = "refused"  # answered, and the person refused further contact
    INVALID_NUMBER = "invalid_number"


# A refusal is still a connected conversation: someone picked up and talked. The other outcomes
# (unanswered, invalid number) are dials that reached nobody.
CONNECTED = frozenset({Outcome.ANSWERED, Outcome.REFUSED})


class Reason(StrEnum):
    """Why a contact is denied. A public contract (audit records, API, CLI): add, never rename."""

    QUIET_HOURS = "QUIET_HOURS"
    NOT_OVERDUE = "NOT_OVERDUE"
    CONTACTS_LOCKED = "CONTACTS_LOCKED"
    CONSENT_SCOPE = "CONSENT_SCOPE"
    CONTACT_INTERVAL = "CONTACT_INTERVAL"
    CONTACT_LIFETIME_CAP = "CONTACT_LIFETIME_CAP"
    DEBTOR_DAILY_CAP = "DEBTOR_DAILY_CAP"
    DEBTOR_DAILY_ATTEMPTS = "DEBTOR_DAILY_ATTEMPTS"
    NUMBER_DAILY_DIALS = "NUMBER_DAILY_DIALS"
    CONTACT_REFUSED = "CONTACT_REFUSED"
    HARDSHIP_PLAN_ACTIVE = "HARDSHIP_PLAN_ACTIVE"
    TRIGGER_REASON_REQUIRED = "TRIGGER_REASON_REQUIRED"
    INVESTIGATION_NOT_AUTHORISED = "INVESTIGATION_NOT_AUTHORISED"
    WEEKLY_CAP = "WEEKLY_CAP"
    POST_CONVERSATION_PAUSE = "POST_CONVERSATION_PAUSE"
    GATE_ERROR = "GATE_ERROR"


REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.QUIET_HOURS: ("免打扰时段（债务人当地时间）", "quiet hours in the debtor's local time"),
    Reason.NOT_OVERDUE: ("贷款未逾期，不得催收", "the loan is not overdue: no collection"),
    Reason.CONTACTS_LOCKED: (
        "联系人不可联系（逾期天数不足或借款人可联系）",
        "contacts locked (too few days past due, or the borrower is reachable)",
    ),
    Reason.CONSENT_SCOPE: (
        "联系人授权范围不涵盖此用途",
        "the contact's consent scope does not cover this purpose",
    ),
    Reason.CONTACT_INTERVAL: ("同一联系人联系间隔不足", "same contact called too recently"),
    Reason.CONTACT_LIFETIME_CAP: (
        "该联系人已达联系次数上限",
        "this third party has already been contacted the allowed number of times",
    ),
    Reason.DEBTOR_DAILY_CAP: (
        "当日有效通话次数已达上限",
        "daily cap on connected conversations about this debtor reached",
    ),
    Reason.DEBTOR_DAILY_ATTEMPTS: (
        "当日联系总次数已达上限",
        "daily cap on contact attempts about this debtor reached",
    ),
    Reason.NUMBER_DAILY_DIALS: (
        "该号码当日未接通次数已达上限",
        "daily cap on unanswered dials to this number reached",
    ),
    Reason.CONTACT_REFUSED: ("联系人已拒绝接受联系", "the contact refused further contact"),
    Reason.HARDSHIP_PLAN_ACTIVE: (
        "困难纾困方案履约中，暂停催收",
        "a hardship plan is performing: collection paused",
    ),
    Reason.TRIGGER_REASON_REQUIRED: ("缺少触发原因", "a trigger reason is required"),
    Reason.INVESTIGATION_NOT_AUTHORISED: (
        "调查未获授权",
        "investigation call without a recorded authorisation",
    ),
    Reason.WEEKLY_CAP: ("七日内通话次数已达上限", "call cap for 7 consecutive days reached"),
    Reason.POST_CONVERSATION_PAUSE: (
        "通话后七日内不得再次致电",
        "no call within 7 days after a telephone conversation",
    ),
    Reason.GATE_ERROR: ("合规检查出错，拒绝", "the gate failed: denied (fail-closed)"),
}


def _invalid(message: str) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_FACTS, message)


def _aware(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise _invalid(f"{field} must be a datetime, got {type(value).__name__}")
    # A naive time would be read in the server's zone: quiet hours would shift silently.
    if value.utcoffset() is None:
        raise _invalid(f"{field} must carry a time-zone offset: {value.isoformat()}")
    return value


def _member(value: object, enum: type[StrEnum], field: str) -> None:
    if not isinstance(value, enum):
        raise _invalid(f"{field} must be a {enum.__name__}, got {value!r}")


def _contact_id(party: Party, contact_id: object, field: str) -> None:
    if contact_id is not None and not isinstance(contact_id, str):
        raise _invalid(f"{field} must be a string")
    if party is Party.CONTACT and not contact_id:
        raise _invalid(f"{field} is required when party is contact")


@dataclass(frozen=True, slots=True)
class LoanState:
    days_past_due: int
    fraud_investigation_authorised: bool
    hardship_plan_active: bool

    def __post_init__(self) -> None:
        dpd = self.days_past_due
        if isinstance(dpd, bool) or not isinstance(dpd, int) or dpd < 0:
            raise _invalid(f"days_past_due must be a whole number >= 0, got {dpd!r}")
        for name in ("fraud_investigation_authorised", "hardship_plan_active"):
            if not isinstance(getattr(self, name), bool):
                raise _invalid(f"{name} must be true or false")


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """One contact someone wants to make now (``at``): the gate's only notion of time."""

    at: datetime
    party: Party
    channel: Channel
    call_type: CallType
    trigger_reason: str | None  # may be empty: the gate denies it, it is not malformed
    contact_id: str | None = None  # required for a contact; ignored for the borrower
    contact_scope: ContactScope | None = None  # required for a contact

    def __post_init__(self) -> None:
        _aware(self.at, "request.at")
        _member(self.party, Party, "request.party")
        _member(self.channel, Channel, "request.channel")
        _member(self.call_type, CallType, "request.call_type")
        _contact_id(self.party, self.contact_id, "request.contact_id")
        if self.party is Party.CONTACT or self.contact_scope is not None:
            _member(self.contact_scope, ContactScope, "request.contact_scope")
        if self.trigger_reason is not None and not isinstance(self.trigger_reason, str):
            raise _invalid("request.trigger_reason must be a string")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A contact that happened, about this debtor, by the lender or any of its agencies."""

    at: datetime
    party: Party
    channel: Channel
    outcome: Outcome
    contact_id: str | None = None

    def __post_init__(self) -> None:
        _aware(self.at, "history.at")
        _member(self.party, Party, "history.party")
        _member(self.channel, Channel, "history.channel")
        _member(self.outcome, Outcome, "history.outcome")
        _contact_id(self.party, self.contact_id, "history.contact_id")


@dataclass(frozen=True, slots=True)
class GateFacts:
    debtor_timezone: ZoneInfo  # where the debtor is: quiet hours and "a day" are local to it
    loan: LoanState
    request: ContactRequest
    history: tuple[HistoryEntry, ...]
    # Contacts with the requested phone number made about *other* debtors (matched by the
    # number's blind index): the 48-hour interval and the per-number daily dials are about the
    # person who answers that phone, whoever's contact list they are on.
    same_number: tuple[HistoryEntry, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.debtor_timezone, ZoneInfo):
            raise _invalid(
                "debtor_timezone must be a ZoneInfo (an IANA zone such as Asia/Shanghai)"
            )
        if not isinstance(self.loan, LoanState):
            raise _invalid("loan facts are missing")
        if not isinstance(self.request, ContactRequest):
            raise _invalid("request facts are missing")
        if not isinstance(self.history, tuple):
            raise _invalid("history must be a tuple of HistoryEntry (empty when none)")
        if not isinstance(self.same_number, tuple):
            raise _invalid("same_number must be a tuple of HistoryEntry (empty when none)")
        for entry in (*self.history, *self.same_number):
            if not isinstance(entry, HistoryEntry):
                raise _invalid(f"history holds a {type(entry).__name__}, not a HistoryEntry")


@dataclass(frozen=True, slots=True)
class GateResult:
    allowed: bool
    reasons: tuple[str, ...]  # every rule that denies, in a stable order; empty when allowed
    pack_version: str  # "<pack code>@<sha256 of the pack file>": what an audit record keeps
