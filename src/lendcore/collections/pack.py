"""Compliance rule packs: the schema every ``policies/compliance/*.yaml`` file must satisfy.

A pack is data the lender's legal staff own. Each rule names its legal source and the date it took
effect. The statutory bounds are not in the pack: they are fixed per jurisdiction in
:mod:`lendcore.collections.legal_bounds`, and the loader refuses a pack laxer than them whatever
the file says (a bound written in the editable file could be deleted with the threshold). The
schema here checks the shape. Sections that are *limits* (interval,
caps, the US weekly cap ...) are optional: a pack applies a limit by having its section. Sections
whose absence would silently open a door (quiet hours, overdue, contacts, consent, refusal,
hardship, trigger reason) are required.

:func:`compile_pack` turns a validated pack into :class:`CompiledPack`, the precomputed form the
gate evaluates (quiet minutes as a lookup table, the look-back horizon), so nothing is parsed per
call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lendcore.collections.model import CallType, Channel, ContactScope, Party

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MINUTES_PER_DAY = 24 * 60


def _clock(value: Any) -> time:
    # YAML 1.1 reads an unquoted 21:00 as the sexagesimal number 1260; refuse it rather than
    # guess, because pydantic would read 1260 as seconds (00:21).
    if not isinstance(value, str) or not _HHMM.match(value):
        raise ValueError(f"write times as quoted 'HH:MM' strings, e.g. '21:00', got {value!r}")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


Clock = Annotated[time, BeforeValidator(_clock)]
Count = Annotated[int, Field(ge=0, le=10_000)]
Channels = Annotated[tuple[Channel, ...], Field(min_length=1)]
Parties = Annotated[tuple[Party, ...], Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    source: str = Field(min_length=3)  # the legal text, guideline or internal policy it encodes
    effective_from: date  # when the source (or the internal policy) took effect
    notes: str = ""


def window_minutes(start: time, end: time) -> frozenset[int]:
    """Minutes of the day in [start, end), wrapping past midnight when end <= start."""
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if first < last:
        return frozenset(range(first, last))
    return frozenset(range(first, MINUTES_PER_DAY)) | frozenset(range(last))


class QuietHours(_Rule):
    """No contact from ``start`` until ``end`` in the debtor's local time (QUIET_HOURS)."""

    start: Clock
    end: Clock
    channels: Channels = (Channel.CALL, Channel.SMS)

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours: start and end must differ")
        return self


class Overdue(_Rule):
    """A COLLECTION contact needs at least this many days past due (NOT_OVERDUE)."""

    min_days_past_due: int = Field(ge=1)


class BorrowerUnreachable(_Strict):
    consecutive_unanswered: int = Field(ge=1, le=100)
    invalid_number: bool = True  # an invalid borrower number makes the borrower unreachable


class Contacts(_Rule):
    """When third parties may be called for collection at all (CONTACTS_LOCKED)."""

    min_days_past_due: int = Field(ge=1)
    # Absent: contacts do not wait for the borrower to be unreachable (no pack ships that).
    borrower_unreachable: BorrowerUnreachable | None


class Coverage(StrEnum):
    ALWAYS = "always"
    WHEN_BORROWER_UNREACHABLE = "when_borrower_unreachable"
    NEVER = "never"


class ConsentScopes(_Rule):
    """Which consent scope covers which call type (CONSENT_SCOPE). Unlisted means never."""

    scopes: dict[ContactScope, dict[CallType, Coverage]]


class Flag(_Rule):
    """A rule with no parameter: its section records the source; the gate applies it."""


class ContactInterval(_Rule):
    """The same third party at most once per ``hours`` (CONTACT_INTERVAL)."""

    hours: int = Field(ge=1, le=24 * 366)
    channels: Channels = (Channel.CALL, Channel.SMS)


class Cap(_Rule):
    """At most ``max`` counted contacts (channels x parties) in the rule's window."""

    max: Count
    channels: Channels = (Channel.CALL,)
    parties: Parties = (Party.BORROWER, Party.CONTACT)


class ContactLifetimeCap(_Rule):
    """At most ``max`` contacts with the same third party, ever (CONTACT_LIFETIME_CAP)."""

    max: Count
    channels: Channels = (Channel.CALL,)


class WeeklyCap(Cap):
    """At most ``max`` calls in ``days`` consecutive local calendar days (WEEKLY_CAP)."""

    days: int = Field(ge=1, le=366)


class PostConversationPause(_Rule):
    """No call for ``days`` days counting the conversation's day as day 1."""

    days: int = Field(ge=1, le=366)
    channels: Channels = (Channel.CALL,)
    parties: Parties = (Party.BORROWER,)


class Rules(_Strict):
    quiet_hours: QuietHours
    overdue: Overdue
    contacts: Contacts
    consent_scopes: ConsentScopes
    contact_refusal: Flag  # a prior refusal from a contact stops contact with it for good
    hardship_pause: Flag  # no collection while a hardship plan performs
    trigger_reason: Flag  # every contact records why it was triggered
    # Absent: no investigation exception; every INVESTIGATION call is denied.
    investigation: Flag | None = None
    contact_interval: ContactInterval | None = None
    contact_lifetime_cap: ContactLifetimeCap | None = None
    debtor_daily_conversations: Cap | None = None
    debtor_daily_attempts: Cap | None = None
    number_daily_unanswered: Cap | None = None
    weekly_cap: WeeklyCap | None = None
    post_conversation_pause: PostConversationPause | None = None
    # Enforced by the database-backed service (per agent, across debtors), not by the pure gate.
    agent_daily_cap: Cap | None = None

    @model_validator(mode="after")
    def _unreachable_defined(self) -> Rules:
        conditional = any(
            cover is Coverage.WHEN_BORROWER_UNREACHABLE
            for by_type in self.consent_scopes.scopes.values()
            for cover in by_type.values()
        )
        if conditional and self.contacts.borrower_unreachable is None:
            raise ValueError(
                "consent_scopes uses when_borrower_unreachable: "
                "contacts.borrower_unreachable must define unreachable"
            )
        return self


class Names(_Strict):
    zh_CN: str = Field(alias="zh-CN")
    en: str


class RulePack(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")
    name: Names
    jurisdiction: str = Field(min_length=2)
    version: int = Field(ge=1)
    effective_from: date
    rules: Rules


def kind_bit(party: Party, channel: Channel) -> int:
    """One bit per (party, channel): rules test "does this kind count" with an AND.

    borrower call = 1, borrower sms = 2, contact call = 4, contact sms = 8 (the gate's scan loop
    inlines these numbers).
    """
    if channel is Channel.CALL:
        bit = 1
    elif channel is Channel.SMS:
        bit = 2
    else:
        raise ValueError(f"not a channel: {channel!r}")
    if party is Party.BORROWER:
        return bit
    if party is Party.CONTACT:
        return bit << 2
    raise ValueError(f"not a party: {party!r}")


def kind_mask(channels: tuple[Channel, ...], parties: tuple[Party, ...]) -> int:
    mask = 0
    for party in parties:
        for channel in channels:
            mask |= kind_bit(party, channel)
    return mask


@dataclass(frozen=True, slots=True)
class Counted:
    """A limit and the kinds (bit mask of party x channel) of contact it counts and applies to."""

    limit: int  # a count, or the pause's days
    mask: int


@dataclass(frozen=True, slots=True)
class CompiledPack:
    """A validated pack plus what the gate precomputes from it once per load."""

    pack: RulePack
    version_hash: str  # sha256 of the file's bytes
    version: str  # "<code>@<version_hash>": what GateResult and audit records carry
    overdue_from: int  # days past due from which collection may start
    contacts_from: int  # days past due from which contacts may be called
    unreachable_after: int | None  # failed borrower calls in a row; None = not required
    invalid_number_unreachable: bool
    investigation_exception: bool  # the pack has the authorised-investigation exception
    quiet: bytes  # one byte per minute of the day, 1 = quiet
    quiet_mask: int
    coverage: dict[tuple[ContactScope, CallType], Coverage]
    interval: timedelta | None
    interval_mask: int
    lifetime: Counted | None
    conversations: Counted | None
    attempts: Counted | None
    dials: Counted | None
    weekly: Counted | None  # limit = max calls
    weekly_back: timedelta  # the week window starts this many days before today
    pause: Counted | None  # limit = days
    pause_back: timedelta  # a conversation after (today - this) still pauses calls
    horizon: timedelta  # windowed rules never look further back than this

    @property
    def code(self) -> str:
        return self.pack.code


_BOTH = (Party.BORROWER, Party.CONTACT)


def _counted(cap: Cap | None) -> Counted | None:
    return None if cap is None else Counted(cap.max, kind_mask(cap.channels, cap.parties))


def compile_pack(pack: RulePack, version_hash: str) -> CompiledPack:
    rules = pack.rules
    quiet_minutes = window_minutes(rules.quiet_hours.start, rules.quiet_hours.end)
    quiet = bytes(1 if m in quiet_minutes else 0 for m in range(MINUTES_PER_DAY))
    coverage = {
        (scope, call_type): cover
        for scope, by_type in rules.consent_scopes.scopes.items()
        for call_type, cover in by_type.items()
    }
    interval = rules.contact_interval
    lifetime = rules.contact_lifetime_cap
    pause = rules.post_conversation_pause
    weekly = rules.weekly_cap
    unreachable = rules.contacts.borrower_unreachable
    # A local calendar day spans at most 25 hours (DST), so two days back covers "today"; the
    # week-based rules need their days plus one for the same reason.
    horizon = timedelta(days=2)
    if interval is not None:
        horizon = max(horizon, timedelta(hours=interval.hours))
    if weekly is not None:
        horizon = max(horizon, timedelta(days=weekly.days + 1))
    if pause is not None:
        horizon = max(horizon, timedelta(days=pause.days + 1))
    contact_only = (Party.CONTACT,)  # interval and lifetime are about one third party
    return CompiledPack(
        pack=pack,
        version_hash=version_hash,
        version=f"{pack.code}@{version_hash}",
        overdue_from=rules.overdue.min_days_past_due,
        contacts_from=rules.contacts.min_days_past_due,
        unreachable_after=unreachable.consecutive_unanswered if unreachable else None,
        invalid_number_unreachable=bool(unreachable and unreachable.invalid_number),
        investigation_exception=rules.investigation is not None,
        quiet=quiet,
        quiet_mask=kind_mask(rules.quiet_hours.channels, _BOTH),
        coverage=coverage,
        interval=timedelta(hours=interval.hours) if interval else None,
        interval_mask=kind_mask(interval.channels, contact_only) if interval else 0,
        lifetime=None
        if lifetime is None
        else Counted(lifetime.max, kind_mask(lifetime.channels, contact_only)),
        conversations=_counted(rules.debtor_daily_conversations),
        attempts=_counted(rules.debtor_daily_attempts),
        dials=_counted(rules.number_daily_unanswered),
        weekly=_counted(weekly),
        weekly_back=timedelta(days=weekly.days - 1) if weekly else timedelta(0),
        pause=None
        if pause is None
        else Counted(pause.days, kind_mask(pause.channels, pause.parties)),
        pause_back=timedelta(days=pause.days) if pause else timedelta(0),
        horizon=horizon,
    )
