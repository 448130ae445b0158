"""The independent checker: violations in the call log, from the pack's numbers alone.

It never calls the gate and shares none of its code: it reads ``collection_attempts`` (every
attempt the gate allowed, with the DPD and time zone it was judged on and what happened) and
re-derives the core rules from the compliance pack's numbers. A run of the collections
simulation (``lendcore collections simulate``) or of the portfolio simulator (``lendcore
simulate``) must end with zero violations; the tests plant each kind in a log and check this
finds it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from lendcore.collections.contacts import SELF
from lendcore.collections.context import from_db
from lendcore.collections.pack import CompiledPack, window_minutes
from lendcore.collections.tables import collection_attempts


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
                    "at": from_db(row.requested_at).isoformat(),
                }
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_checked": self.rows,
            "violations": sum(self.violations.values()),
            "by_rule": dict(self.violations),
            "examples": self.examples,
        }


_CONNECTED = ("answered", "refused")
_NOT_CONNECTED = ("unanswered", "invalid_number")


def check_call_log(connection: Connection, pack: CompiledPack) -> CheckerReport:
    """Violations in the call log, from the pack's numbers alone (never the gate's code).

    Rules re-derived: quiet hours in the debtor's local time; collection only when overdue;
    contact calls only from the contacts DPD and while the borrower is unreachable (an invalid
    number, or N not-connected borrower calls since the last connected one); the contact
    interval; connected calls per debtor per local day; not-connected dials per number per
    local day; never again after a contact refused. Attempts whose outcome is unknown count as
    contacts for the interval and quiet hours, and as neither connected nor not for the counts.
    """
    rules = pack.pack.rules
    quiet = window_minutes(rules.quiet_hours.start, rules.quiet_hours.end)
    contacts_from = rules.contacts.min_days_past_due
    unreachable = rules.contacts.borrower_unreachable
    interval = timedelta(hours=rules.contact_interval.hours) if rules.contact_interval else None
    conversations = rules.debtor_daily_conversations
    dials = rules.number_daily_unanswered
    report = CheckerReport()
    a = collection_attempts.c
    rows = connection.execute(
        select(collection_attempts).order_by(a.borrower_id, a.requested_at, a.attempt_id)
    ).all()
    by_debtor: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_debtor[int(row.borrower_id)].append(row)
    for debtor_rows in by_debtor.values():
        report.rows += len(debtor_rows)
        _check_debtor(
            report, debtor_rows, quiet, contacts_from, unreachable, interval, conversations, dials
        )
    return report


def _check_debtor(
    report: CheckerReport,
    rows: list[Any],
    quiet: frozenset[int],
    contacts_from: int,
    unreachable: Any,
    interval: timedelta | None,
    conversations: Any,
    dials: Any,
) -> None:
    misses = 0  # not-connected borrower calls since the last connected one
    invalid = False
    last_contact: dict[str, datetime] = {}
    refused: set[str] = set()
    connected_per_day: Counter[date] = Counter()
    dials_per_number_day: Counter[tuple[str, date]] = Counter()
    for row in rows:
        at = from_db(row.requested_at)
        local = at.astimezone(ZoneInfo(row.debtor_timezone))
        day = local.date()
        number = row.contact_id or SELF
        investigation = row.call_type == "INVESTIGATION" and row.authorisation_ref
        if local.hour * 60 + local.minute in quiet:
            report.flag("QUIET_HOURS", row)
        if row.days_past_due < 1 and row.purpose != "reminder" and not investigation:
            report.flag("NOT_OVERDUE", row)
        if row.party == "contact":
            if row.channel == "call" and not investigation:
                if row.days_past_due < contacts_from:
                    report.flag("CONTACT_BEFORE_DPD", row)
                if unreachable is not None and not (
                    misses >= unreachable.consecutive_unanswered
                    or (unreachable.invalid_number and invalid)
                ):
                    report.flag("CONTACT_WHILE_BORROWER_REACHABLE", row)
            if number in refused:
                report.flag("CONTACT_AFTER_REFUSAL", row)
            previous = last_contact.get(number)
            if interval is not None and previous is not None and at - previous < interval:
                report.flag("CONTACT_INTERVAL", row)
            last_contact[number] = at
            if row.outcome == "refused":
                refused.add(number)
        if row.channel != "call":
            continue
        outcome = row.outcome or ("answered" if row.status == "DIALED" else None)
        if outcome in _CONNECTED:
            connected_per_day[day] += 1
            if conversations is not None and connected_per_day[day] > conversations.max:
                report.flag("DEBTOR_DAILY_CONVERSATIONS", row)
        elif outcome in _NOT_CONNECTED:
            dials_per_number_day[number, day] += 1
            if dials is not None and dials_per_number_day[number, day] > dials.max:
                report.flag("NUMBER_DAILY_DIALS", row)
        if row.party == "borrower" and outcome is not None:
            if outcome in _CONNECTED:
                misses, invalid = 0, False
            else:
                misses += 1
                invalid = invalid or outcome == "invalid_number"
