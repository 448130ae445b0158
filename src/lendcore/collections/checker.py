"""The independent checker: violations in the call log, from the pack's numbers and the facts as
their owners recorded them.

It never calls the gate and shares none of its code (no import of the gate, the verdict, the
history reader or the service): it reads ``collection_attempts`` (every attempt the gate allowed
and what happened) and judges each against every rule of the pack, with days past due, the
debtor's time zone, hardship plans, investigation authorisations and consent taken from their
sources (:mod:`lendcore.collections.checker_facts`) -- never from the DPD and time zone the gate
wrote into the attempt row. A run of the collections simulation (``lendcore collections
simulate``) or of the portfolio simulator (``lendcore simulate``) must end with zero violations;
the tests plant each kind in a log and check this names exactly that one.

Violations are named by the gate's reason codes (a rule broken is the denial that should have
happened). Attempts whose outcome is unknown (the dialer failed, or it is still dialling) count
as contacts for every attempt limit and as possibly connected for the borrower's reachability,
but as neither connected nor not for the conversation and dial caps; a reservation whose grant
was never used reached nobody and counts for nothing after its own check.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, select

from lendcore.collections.checker_facts import LoanFacts, ServicingFacts, load_servicing_facts
from lendcore.collections.contacts import SELF
from lendcore.collections.pack import CompiledPack, window_minutes
from lendcore.collections.tables import collection_attempts
from lendcore.kernel.clock import DEFAULT_TIMEZONE

_CONNECTED = ("answered", "refused")
_NOT_CONNECTED = ("unanswered", "invalid_number")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))


@dataclass
class CheckerReport:
    rows: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def flag(self, rule: str, row: Any) -> None:
        self.violations[rule] += 1
        if len(self.examples) < 10:
            self.examples.append(
                {
                    "rule": rule,
                    "attempt_id": int(row.attempt_id),
                    "borrower_id": int(row.borrower_id),
                    "at": _aware(row.requested_at).isoformat(),
                }
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_checked": self.rows,
            "violations": sum(self.violations.values()),
            "by_rule": dict(self.violations),
            "examples": self.examples,
        }


def _kinds(rule: Any, parties: tuple[str, ...] | None = None) -> frozenset[tuple[str, str]]:
    """The (party, channel) pairs a rule counts and applies to; empty when the pack lacks it."""
    if rule is None:
        return frozenset()
    who = parties if parties is not None else tuple(str(p) for p in rule.parties)
    return frozenset((p, str(c)) for p in who for c in rule.channels)


@dataclass(frozen=True)
class _Limits:
    """The pack's numbers, read once (thresholds only: the checker's logic is its own)."""

    quiet: frozenset[int]
    quiet_kinds: frozenset[tuple[str, str]]
    overdue_from: int
    contacts_from: int
    unreachable_after: int | None
    invalid_unreachable: bool
    investigation_exception: bool
    coverage: dict[tuple[str, str], str]
    interval: timedelta | None
    interval_kinds: frozenset[tuple[str, str]]
    lifetime: int | None
    lifetime_kinds: frozenset[tuple[str, str]]
    conversations: int | None
    conversation_kinds: frozenset[tuple[str, str]]
    attempts: int | None
    attempt_kinds: frozenset[tuple[str, str]]
    dials: int | None
    dial_kinds: frozenset[tuple[str, str]]
    weekly: tuple[int, int] | None  # (max calls, days)
    weekly_kinds: frozenset[tuple[str, str]]
    pause_days: int | None
    pause_kinds: frozenset[tuple[str, str]]
    agent: int | None
    agent_kinds: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, pack: CompiledPack) -> _Limits:
        r = pack.pack.rules
        both = ("borrower", "contact")
        unreachable = r.contacts.borrower_unreachable
        lifetime, weekly, pause = r.contact_lifetime_cap, r.weekly_cap, r.post_conversation_pause
        cap = {
            "conversations": r.debtor_daily_conversations,
            "attempts": r.debtor_daily_attempts,
            "dials": r.number_daily_unanswered,
            "agent": r.agent_daily_cap,
        }
        return cls(
            quiet=window_minutes(r.quiet_hours.start, r.quiet_hours.end),
            quiet_kinds=_kinds(r.quiet_hours, both),
            overdue_from=r.overdue.min_days_past_due,
            contacts_from=r.contacts.min_days_past_due,
            unreachable_after=unreachable.consecutive_unanswered if unreachable else None,
            invalid_unreachable=bool(unreachable and unreachable.invalid_number),
            investigation_exception=r.investigation is not None,
            coverage={
                (str(scope), str(call_type)): str(cover)
                for scope, by_type in r.consent_scopes.scopes.items()
                for call_type, cover in by_type.items()
            },
            interval=timedelta(hours=r.contact_interval.hours) if r.contact_interval else None,
            interval_kinds=_kinds(r.contact_interval, ("contact",)),
            lifetime=lifetime.max if lifetime else None,
            lifetime_kinds=_kinds(lifetime, ("contact",)),
            conversations=cap["conversations"].max if cap["conversations"] else None,
            conversation_kinds=_kinds(cap["conversations"]),
            attempts=cap["attempts"].max if cap["attempts"] else None,
            attempt_kinds=_kinds(cap["attempts"]),
            dials=cap["dials"].max if cap["dials"] else None,
            dial_kinds=_kinds(cap["dials"]),
            weekly=(weekly.max, weekly.days) if weekly else None,
            weekly_kinds=_kinds(weekly),
            pause_days=pause.days if pause else None,
            pause_kinds=_kinds(pause),
            agent=cap["agent"].max if cap["agent"] else None,
            agent_kinds=_kinds(cap["agent"]),
        )


def check_call_log(
    connection: Connection,
    pack: CompiledPack,
    business_zone: ZoneInfo | None = None,
) -> CheckerReport:
    """Every violation of ``pack``'s rules in the call log (see the module doc).

    ``business_zone`` is the lender's zone: the business date of a call (which end of day it is
    judged on) and the agents' working day.
    """
    zone = business_zone or ZoneInfo(DEFAULT_TIMEZONE)
    limits = _Limits.of(pack)
    report = CheckerReport()
    a = collection_attempts.c
    rows = connection.execute(
        select(collection_attempts).order_by(a.borrower_id, a.requested_at, a.attempt_id)
    ).all()
    by_debtor: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_debtor[int(row.borrower_id)].append(row)
    facts = load_servicing_facts(connection, by_debtor)
    numbers = _Numbers(rows, facts)
    for borrower_id, debtor_rows in by_debtor.items():
        report.rows += len(debtor_rows)
        _Debtor(report, limits, facts, numbers, borrower_id, zone).check(debtor_rows)
    _check_agents(report, limits, list(rows), zone)
    return report


def _outcome(row: Any) -> str | None:
    """What the attempt came to: an outcome, 'unknown', or None when it reached nobody."""
    if row.status == "COMPLETED":
        return str(row.outcome)
    if row.status == "DIALED":  # the network connected; the agent has not reported
        return "answered"
    if row.status == "RESERVED" and row.grant_used_at is None:
        return None
    return "unknown"


def _point(row: Any) -> str:
    return str(row.contact_id) if row.party == "contact" else SELF


class _Numbers:
    """The log by phone number (the contact register's blind index of each row's contact point,
    never the index the gate wrote into the row): the 48-hour interval and the daily dials
    protect the person who answers a phone, whichever debtor's list they are on, so a row is
    also judged against earlier attempts to the same number under any other contact point."""

    def __init__(self, rows: Sequence[Any], facts: ServicingFacts) -> None:
        self._facts = facts
        self._log: dict[str, list[tuple[tuple[datetime, int], Any]]] = defaultdict(list)
        for row in rows:
            index = self.index_of(row)
            if index is not None and _outcome(row) is not None:  # it reached someone
                self._log[index].append(((_aware(row.requested_at), int(row.attempt_id)), row))
        for entries in self._log.values():
            entries.sort(key=lambda entry: entry[0])
        self._keys = {index: [key for key, _ in entries] for index, entries in self._log.items()}

    def index_of(self, row: Any) -> str | None:
        consent = self._facts.contacts.get((int(row.borrower_id), _point(row)))
        return None if consent is None else consent.phone_index

    def earlier_elsewhere(self, row: Any) -> Iterator[Any]:
        """Attempts to this row's number before it under other (debtor, contact point) pairs,
        latest first."""
        index = self.index_of(row)
        if index is None:
            return
        entries = self._log.get(index, [])
        here = (int(row.borrower_id), _point(row))
        end = bisect_left(self._keys[index], (_aware(row.requested_at), int(row.attempt_id)))
        for i in range(end - 1, -1, -1):
            other = entries[i][1]
            if (int(other.borrower_id), _point(other)) != here:
                yield other


def _check_agents(report: CheckerReport, limits: _Limits, rows: list[Any], zone: ZoneInfo) -> None:
    if limits.agent is None:
        return
    used: Counter[tuple[str, date]] = Counter()
    for row in sorted(rows, key=lambda r: (_aware(r.requested_at), int(r.attempt_id))):
        if (row.party, row.channel) not in limits.agent_kinds or _outcome(row) is None:
            continue
        day = _aware(row.requested_at).astimezone(zone).date()
        used[row.agent_id, day] += 1
        if used[row.agent_id, day] > limits.agent:
            report.flag("AGENT_DAILY_CAP", row)


class _Debtor:
    """One debtor's attempts, in time order, against every per-debtor rule."""

    def __init__(
        self,
        report: CheckerReport,
        limits: _Limits,
        facts: ServicingFacts,
        numbers: _Numbers,
        borrower_id: int,
        business_zone: ZoneInfo,
    ) -> None:
        self.report, self.limits, self.facts, self.numbers = report, limits, facts, numbers
        self.borrower_id, self.business_zone = borrower_id, business_zone
        self.misses = 0  # not-connected borrower calls since the borrower may last have answered
        self.invalid = False
        self.last_contact: dict[str, datetime] = {}
        self.contacted: Counter[str] = Counter()
        self.refused: set[str] = set()
        self.connected: Counter[date] = Counter()
        self.attempts: Counter[date] = Counter()
        self.dials: Counter[tuple[str, date]] = Counter()
        self.weekly_days: list[date] = []
        self.last_conversation: date | None = None

    def _zone(self) -> ZoneInfo | None:
        name = self.facts.zones.get(self.borrower_id)
        try:
            return ZoneInfo(name) if name else None
        except (ZoneInfoNotFoundError, ValueError):
            return None

    def check(self, rows: list[Any]) -> None:
        zone = self._zone()
        for row in rows:
            loan = self.facts.loans.get(int(row.loan_id))
            if zone is None or loan is None or loan.borrower_id != self.borrower_id:
                # Without the debtor's zone or the loan nothing can be shown lawful.
                self.report.flag("MISSING_FACTS", row)
                continue
            self._judge(row, loan, zone)
            self._remember(row, zone)

    def _flag(self, rule: str, row: Any) -> None:
        self.report.flag(rule, row)

    def _judge(self, row: Any, loan: LoanFacts, zone: ZoneInfo) -> None:
        lim = self.limits
        at = _aware(row.requested_at)
        kind = (row.party, row.channel)
        local = at.astimezone(zone)
        today = local.date()
        to_contact = row.party == "contact"
        number = _point(row)
        if not (row.trigger_reason or "").strip():
            self._flag("TRIGGER_REASON_REQUIRED", row)
        if kind in lim.quiet_kinds:
            moments = [local]
            if row.grant_used_at is not None:  # the number was released, i.e. dialled, then
                moments.append(_aware(row.grant_used_at).astimezone(zone))
            if any(m.hour * 60 + m.minute in lim.quiet for m in moments):
                self._flag("QUIET_HOURS", row)
        investigation = row.call_type == "INVESTIGATION"
        authorised = (
            investigation
            and lim.investigation_exception
            and loan.authorised(row.authorisation_ref, at)
        )
        if investigation and not authorised:
            self._flag("INVESTIGATION_NOT_AUTHORISED", row)
        collection = not authorised  # an unauthorised investigation is judged as collection
        dpd = loan.days_past_due(at, self.business_zone)
        reminder = row.purpose == "reminder"
        if reminder and not (row.party == "borrower" and row.channel == "sms" and dpd == 0):
            self._flag("REMINDER_SCOPE", row)
        if collection and not reminder:
            if dpd < lim.overdue_from:
                self._flag("NOT_OVERDUE", row)
            if loan.hardship_at(at):
                self._flag("HARDSHIP_PLAN_ACTIVE", row)
        if to_contact:
            self._judge_contact(row, at, dpd, collection, number)
        outcome_counts = (self.connected[today], self.attempts[today], self.dials[number, today])
        conversations, attempts, dials = outcome_counts
        outcome = _outcome(row)
        if lim.dials is not None and kind in lim.dial_kinds and outcome in _NOT_CONNECTED:
            dials += self._dials_elsewhere(row, local)
        # The law caps conversations and unanswered dials: the call over the cap is the one
        # that connected (or not) once the cap was already reached.
        if (
            lim.conversations is not None
            and kind in lim.conversation_kinds
            and conversations >= lim.conversations
            and outcome in _CONNECTED
        ):
            self._flag("DEBTOR_DAILY_CAP", row)
        if lim.attempts is not None and kind in lim.attempt_kinds and attempts >= lim.attempts:
            self._flag("DEBTOR_DAILY_ATTEMPTS", row)
        if (
            lim.dials is not None
            and kind in lim.dial_kinds
            and dials >= lim.dials
            and outcome in _NOT_CONNECTED
        ):
            self._flag("NUMBER_DAILY_DIALS", row)
        if lim.weekly is not None and kind in lim.weekly_kinds:
            most, days = lim.weekly
            first = today - timedelta(days=days - 1)
            if sum(1 for d in self.weekly_days if d >= first) >= most:
                self._flag("WEEKLY_CAP", row)
        if lim.pause_days is not None and kind in lim.pause_kinds:
            last = self.last_conversation
            if last is not None and (today - last).days < lim.pause_days:
                self._flag("POST_CONVERSATION_PAUSE", row)

    def _dials_elsewhere(self, row: Any, local: datetime) -> int:
        """Unanswered dials earlier the same (debtor-local) day to this row's number about other
        debtors or from another of this debtor's contact points."""
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        dials = 0
        for other in self.numbers.earlier_elsewhere(row):
            at = _aware(other.requested_at)
            if at < start:
                break
            if (other.party, other.channel) in self.limits.dial_kinds and (
                _outcome(other) in _NOT_CONNECTED
            ):
                dials += 1
        return dials

    def _last_contact_elsewhere(self, row: Any, interval: timedelta) -> datetime | None:
        """The latest contact with this row's number under another contact point within
        ``interval`` before it (older ones cannot break the interval)."""
        since = _aware(row.requested_at) - interval
        for other in self.numbers.earlier_elsewhere(row):
            at = _aware(other.requested_at)
            if at <= since:
                break
            if (other.party, other.channel) in self.limits.interval_kinds:
                return at
        return None

    def _unreachable(self) -> bool:
        lim = self.limits
        if lim.unreachable_after is None:
            return True  # the pack does not make contacts wait for it
        return self.misses >= lim.unreachable_after or (lim.invalid_unreachable and self.invalid)

    def _judge_contact(
        self, row: Any, at: datetime, dpd: int, collection: bool, number: str
    ) -> None:
        lim = self.limits
        kind = (row.party, row.channel)
        unreachable = self._unreachable()
        if collection and (dpd < lim.contacts_from or not unreachable):
            self._flag("CONTACTS_LOCKED", row)
        consent = self.facts.contacts.get((self.borrower_id, number))
        if consent is None or consent.loan_id not in (None, int(row.loan_id)):
            self._flag("UNKNOWN_CONTACT", row)
        else:
            if not consent.in_force(at):
                self._flag("NO_CONSENT", row)
            cover = lim.coverage.get((str(consent.scope), str(row.call_type)), "never")
            if cover == "never" or (cover == "when_borrower_unreachable" and not unreachable):
                self._flag("CONSENT_SCOPE", row)
        if number in self.refused:
            self._flag("CONTACT_REFUSED", row)
        previous = self.last_contact.get(number)
        if lim.interval is not None and kind in lim.interval_kinds:
            elsewhere = self._last_contact_elsewhere(row, lim.interval)
            if elsewhere is not None and (previous is None or elsewhere > previous):
                previous = elsewhere
        if (
            lim.interval is not None
            and kind in lim.interval_kinds
            and previous is not None
            and at - previous < lim.interval
        ):
            self._flag("CONTACT_INTERVAL", row)
        if (
            lim.lifetime is not None
            and kind in lim.lifetime_kinds
            and self.contacted[number] >= lim.lifetime
        ):
            self._flag("CONTACT_LIFETIME_CAP", row)

    def _remember(self, row: Any, zone: ZoneInfo) -> None:
        """What this attempt adds to the debtor's history (nothing when it reached nobody)."""
        outcome = _outcome(row)
        if outcome is None:
            return
        lim = self.limits
        at = _aware(row.requested_at)
        today = at.astimezone(zone).date()
        kind = (row.party, row.channel)
        number = _point(row)
        if row.party == "contact":
            if kind in lim.interval_kinds:
                self.last_contact[number] = at
            if kind in lim.lifetime_kinds:
                self.contacted[number] += 1
            if outcome == "refused":
                self.refused.add(number)
        if kind in lim.attempt_kinds:
            self.attempts[today] += 1
        if outcome in _CONNECTED and kind in lim.conversation_kinds:
            self.connected[today] += 1
        if outcome in _NOT_CONNECTED and kind in lim.dial_kinds:
            self.dials[number, today] += 1
        if kind in lim.weekly_kinds:
            self.weekly_days.append(today)
        if outcome in _CONNECTED and kind in lim.pause_kinds:
            self.last_conversation = today
        if kind == ("borrower", "call"):
            if outcome in _NOT_CONNECTED:
                self.misses += 1
                self.invalid = self.invalid or outcome == "invalid_number"
            else:  # answered, refused, or unknown: the borrower may have been reached
                self.misses, self.invalid = 0, False
