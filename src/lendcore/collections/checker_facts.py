"""What the independent checker judges the call log against: the facts as their owners recorded
them, never as the gate saw them.

- days past due: recomputed from servicing's instalments (due dates, amounts, what is paid now)
  and its repayments (when each was received and which instalment it paid), as of the moment of
  the call -- not the ``days_past_due`` the gate wrote into the attempt row;
- the debtor's time zone: the borrower record (onboarding), not the attempt row's;
  (a restructured loan's days past due before its restructure: the end of day's events, as its
  old schedule was closed by it);
- a hardship plan performing: the ``hardship.flag`` records of the audit chain (each booking,
  breach or completion is one), and a loan restructured with no such record is taken as under a
  plan throughout;
- investigation authorisations: their register (``collection_investigations``), with expiry and
  revocation, not the loan flag the gate reads;
- consent: the contact point's scope, consent time and withdrawal time.

Days past due follow servicing's definition: at the close of business date D, D minus the due
date of the oldest instalment due by D with anything unpaid. A call on business date B is judged
on the close of B - 1 (the latest close that can exist while B is under way), so a day on which
the end of day had not run yet is judged in the gate's favour, never against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from lendcore.batch.tables import outbox
from lendcore.collections.tables import (
    audit_chain,
    collection_contacts,
    collection_investigations,
)
from lendcore.ledger.tables import journal_entries
from lendcore.onboarding.tables import borrowers
from lendcore.servicing.tables import instalments, loans, repayments

_CHUNK = 500


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Instalment:
    seq: int
    due_date: date
    unpaid_now: int  # fen due and not paid today


@dataclass(frozen=True)
class _Authorisation:
    reference: str
    authorised_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def covers(self, moment: datetime) -> bool:
        if self.revoked_at is not None and moment >= self.revoked_at:
            return False
        return self.authorised_at <= moment < self.expires_at


@dataclass
class LoanFacts:
    borrower_id: int
    loan_id: int
    state: str
    instalments: list[_Instalment] = field(default_factory=list)
    # (received_at, {instalment seq: fen paid to it}) of every repayment
    payments: list[tuple[datetime, dict[int, int]]] = field(default_factory=list)
    hardship: list[tuple[datetime, bool]] = field(default_factory=list)  # flag changes, in order
    authorisations: list[_Authorisation] = field(default_factory=list)
    restructured_at: datetime | None = None  # the RESTRUCTURE journal entry, if any
    # End-of-day events (business date, kind, days past due, bucket to), in date order: the
    # record of a restructured loan's days past due before its schedule was replaced.
    events: list[tuple[date, str, int, str | None]] = field(default_factory=list)

    def days_past_due(self, moment: datetime, business_zone: ZoneInfo) -> int:
        closed = moment.astimezone(business_zone).date() - timedelta(days=1)
        if self.restructured_at is not None and moment < self.restructured_at:
            return self._days_past_due_from_events(closed)
        paid_later: dict[int, int] = {}
        for received, paid in self.payments:
            if received > moment:  # not received yet at the moment of the call
                for seq, amount in paid.items():
                    paid_later[seq] = paid_later.get(seq, 0) + amount
        for row in self.instalments:  # ordered by seq, hence by due date
            if row.due_date > closed:
                break
            if row.unpaid_now + paid_later.get(row.seq, 0) > 0:
                return (closed - row.due_date).days
        return 0

    def _days_past_due_from_events(self, closed: date) -> int:
        """A restructure closes the old instalments (due = paid), so before it the schedule no
        longer says what was owed; the end of day's events do: overdue from a BECAME_OVERDUE,
        current again from a BUCKET_CHANGED to M0."""
        dpd = 0
        for business_date, kind, days, bucket_to in self.events:
            if business_date > closed:
                break
            if kind == "BECAME_OVERDUE":
                dpd = days + (closed - business_date).days
            elif kind == "BUCKET_CHANGED" and bucket_to == "M0":
                dpd = 0
        return dpd

    def hardship_at(self, moment: datetime) -> bool:
        active: bool | None = None
        for at, flag in self.hardship:
            if at > moment:
                break
            active = flag
        if active is None:  # no record before the call: restructured loans are under a plan
            return self.state == "RESTRUCTURED" and not self.hardship
        return active

    def authorised(self, reference: str | None, moment: datetime) -> bool:
        return bool(reference) and any(
            a.reference == reference and a.covers(moment) for a in self.authorisations
        )


@dataclass(frozen=True)
class ContactConsent:
    loan_id: int | None  # None: serves every loan of the borrower
    scope: str | None
    consent_at: datetime | None
    withdrawn_at: datetime | None
    phone_index: str | None = None  # the number's blind index, as the contact register holds it

    def in_force(self, moment: datetime) -> bool:
        if self.scope is None or self.consent_at is None or self.consent_at > moment:
            return False
        return self.withdrawn_at is None or moment < self.withdrawn_at


@dataclass
class ServicingFacts:
    zones: dict[int, str | None] = field(default_factory=dict)  # borrower -> IANA zone
    loans: dict[int, LoanFacts] = field(default_factory=dict)
    contacts: dict[tuple[int, str], ContactConsent] = field(default_factory=dict)


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _allocation(text: str) -> dict[int, int]:
    document = json.loads(text)
    paid: dict[int, int] = {}
    for part in ("principal", "interest", "fee"):
        for seq, amount in (document.get(part) or {}).items():
            paid[int(seq)] = paid.get(int(seq), 0) + int(amount)
    return paid


def load_servicing_facts(connection: Connection, borrower_ids: Iterable[int]) -> ServicingFacts:
    """The facts of these borrowers' loans and contacts, from their owners' tables."""
    facts = ServicingFacts()
    wanted = set(borrower_ids)
    row: Any  # rows of several shapes below
    for ids in _chunks(wanted):
        for b in connection.execute(
            select(borrowers.c.borrower_id, borrowers.c.timezone).where(
                borrowers.c.borrower_id.in_(ids)
            )
        ):
            facts.zones[int(b.borrower_id)] = b.timezone
        for loan in connection.execute(
            select(loans.c.borrower_id, loans.c.loan_id, loans.c.state).where(
                loans.c.borrower_id.in_(ids)
            )
        ):
            facts.loans[int(loan.loan_id)] = LoanFacts(
                int(loan.borrower_id), int(loan.loan_id), str(loan.state)
            )
        i = instalments.c
        unpaid = (i.principal_due - i.principal_paid + i.interest_due - i.interest_paid) + (
            i.fee_due - i.fee_paid
        )
        for row in connection.execute(
            select(i.loan_id, i.seq, i.due_date, unpaid.label("unpaid"))
            .where(i.borrower_id.in_(ids))
            .order_by(i.loan_id, i.seq)
        ):
            loan_facts = facts.loans.get(int(row.loan_id))
            if loan_facts is not None:
                loan_facts.instalments.append(
                    _Instalment(int(row.seq), row.due_date, int(row.unpaid))
                )
        r = repayments.c
        for row in connection.execute(
            select(r.loan_id, r.received_at, r.allocation).where(r.borrower_id.in_(ids))
        ):
            loan_facts = facts.loans.get(int(row.loan_id))
            if loan_facts is not None:
                loan_facts.payments.append((_aware(row.received_at), _allocation(row.allocation)))
        v = collection_investigations.c
        for row in connection.execute(
            select(collection_investigations).where(v.borrower_id.in_(ids))
        ):
            loan_facts = facts.loans.get(int(row.loan_id))
            if loan_facts is not None:
                loan_facts.authorisations.append(
                    _Authorisation(
                        row.reference,
                        _aware(row.authorised_at),
                        _aware(row.expires_at),
                        None if row.revoked_at is None else _aware(row.revoked_at),
                    )
                )
        c = collection_contacts.c
        for row in connection.execute(
            select(
                c.borrower_id,
                c.contact_id,
                c.loan_id,
                c.consent_scope,
                c.consent_at,
                c.consent_withdrawn_at,
                c.phone_index,
            ).where(c.borrower_id.in_(ids))
        ):
            facts.contacts[int(row.borrower_id), row.contact_id] = ContactConsent(
                None if row.loan_id is None else int(row.loan_id),
                row.consent_scope,
                None if row.consent_at is None else _aware(row.consent_at),
                None if row.consent_withdrawn_at is None else _aware(row.consent_withdrawn_at),
                row.phone_index,
            )
    _hardship_records(connection, facts)
    _restructures(connection, facts)
    return facts


def _restructures(connection: Connection, facts: ServicingFacts) -> None:
    j = journal_entries.c
    restructured: dict[int, LoanFacts] = {}
    row: Any
    for ids in _chunks(f.borrower_id for f in facts.loans.values()):
        for row in connection.execute(
            select(j.loan_id, func.min(j.created_at).label("at"))
            .where(j.borrower_id.in_(ids), j.kind == "RESTRUCTURE")
            .group_by(j.loan_id)
        ):
            loan_facts = facts.loans.get(int(row.loan_id))
            if loan_facts is not None:
                loan_facts.restructured_at = _aware(row.at)
                restructured[loan_facts.loan_id] = loan_facts
    o = outbox.c
    for ids in _chunks(restructured):
        for row in connection.execute(
            select(o.loan_id, o.business_date, o.kind, o.days_past_due, o.bucket_to)
            .where(o.loan_id.in_(ids), o.kind.in_(("BECAME_OVERDUE", "BUCKET_CHANGED")))
            .order_by(o.business_date, o.event_id)
        ):
            restructured[int(row.loan_id)].events.append(
                (row.business_date, str(row.kind), int(row.days_past_due), row.bucket_to)
            )


def _hardship_records(connection: Connection, facts: ServicingFacts) -> None:
    a = audit_chain.c
    rows = connection.execute(
        select(a.at, a.payload).where(a.kind == "hardship.flag").order_by(a.seq)
    )
    for row in rows:
        payload: dict[str, Any] = json.loads(row.payload)
        loan_facts = facts.loans.get(int(payload.get("loan_id", -1)))
        if loan_facts is not None:
            moment = _aware(datetime.fromisoformat(row.at))
            loan_facts.hardship.append((moment, bool(payload.get("active"))))
    for loan_facts in facts.loans.values():
        loan_facts.hardship.sort(key=lambda change: change[0])
