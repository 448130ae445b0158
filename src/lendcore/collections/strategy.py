"""The daily worklist: who to contact today, in what order, by which agent.

Built from the end-of-day outbox events and loan state:

- a **reminder SMS** to the borrower for every ``DUE_SOON`` event of the last close (a service
  notice before the due date, purpose ``reminder``);
- a **borrower call** for every loan 1+ days past due (trigger ``BECAME_OVERDUE`` on the day the
  event says so, ``DPD_<n>`` otherwise);
- a **contact call** for each third party of a loan past the pack's contacts threshold -- but
  only where the gate, asked now, would allow it (borrower unreachable, consent in scope ...).

Every candidate is pre-checked by the gate (:func:`~lendcore.collections.service.precheck_many`:
the same facts and verdict as the real check, read in a few batched queries, no reservation) at
10:00 in the debtor's zone on the worklist's date; a denied candidate is left out and counted by
reason. The real attempt is checked again when it is made.
Items are ordered by priority -- delinquency bucket (worst first), then amount overdue, then days
past due; reminders last -- and a debtor's items go to one agent, borrowers dealt round-robin in
priority order, each agent up to the pack's per-agent daily cap.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_, select

from lendcore.batch.tables import outbox
from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.contacts import SELF
from lendcore.collections.context import AttemptRequest, CollectionsContext, Purpose
from lendcore.collections.model import CallType, Channel, Party
from lendcore.collections.pack import kind_bit, kind_mask
from lendcore.collections.service import precheck_many
from lendcore.collections.tables import collection_contacts
from lendcore.onboarding.tables import borrowers
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

PLAN_TIME = time(10, 0)  # when the worklist's items are pre-checked, debtor-local
PRECHECK_AGENT = "worklist"  # a pre-check needs an agent; this one never dials
_BUCKET_RANK = {"M4+": 5, "M3": 4, "M2": 3, "M1": 2, "M0": 1}


@dataclass(frozen=True)
class WorkItem:
    loan_id: int
    borrower_id: int
    party: str
    contact_id: str | None
    channel: str
    call_type: str
    purpose: str
    trigger_reason: str
    bucket: str
    days_past_due: int
    amount_overdue: int  # fen
    masked_number: str | None
    agent_id: str | None = None

    def priority(self) -> tuple[int, int, int, int, int, int]:
        return (
            1 if self.purpose == Purpose.REMINDER else 0,
            -_BUCKET_RANK.get(self.bucket, 0),
            -self.amount_overdue,
            -self.days_past_due,
            self.loan_id,
            0 if self.party == Party.BORROWER else 1,
        )


@dataclass
class Worklist:
    day: date
    pack_version: str
    agents: dict[str, list[WorkItem]]
    unassigned: list[WorkItem]
    candidates: int
    skipped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "pack_version": self.pack_version,
            "candidates": self.candidates,
            "items": sum(len(v) for v in self.agents.values()),
            "unassigned": [asdict(i) for i in self.unassigned],
            "skipped_by_reason": dict(self.skipped.most_common()),
            "agents": {a: [asdict(i) for i in items] for a, items in self.agents.items()},
        }


def _candidate(
    base: dict[str, Any],
    party: Party,
    channel: Channel,
    purpose: Purpose,
    trigger: str,
    contact: str | None = None,
) -> dict[str, Any]:
    return {
        **base,
        "party": party,
        "channel": channel,
        "purpose": purpose,
        "trigger": trigger,
        "contact": contact,
    }


def _candidates(engine: Engine, day: date, contacts_from: int) -> list[dict[str, Any]]:
    """(loan facts, party, contact, purpose, trigger) for everyone the strategy would contact."""
    with engine.connect() as connection:
        events: dict[tuple[int, str], Any] = {}
        for event in connection.execute(
            select(outbox.c.loan_id, outbox.c.kind, outbox.c.business_date).where(
                outbox.c.business_date >= day - timedelta(days=1),
                outbox.c.business_date <= day,
                outbox.c.kind.in_(("DUE_SOON", "BECAME_OVERDUE")),
            )
        ):
            events[int(event.loan_id), str(event.kind)] = event
        due_soon = sorted({loan_id for loan_id, kind in events if kind == "DUE_SOON"})
        # Only loans someone would contact: overdue ones, and current ones with a DUE_SOON event.
        wanted = loans.c.days_past_due > 0
        if due_soon:
            wanted = or_(wanted, loans.c.loan_id.in_(due_soon))
        rows = connection.execute(
            select(
                loans.c.loan_id,
                loans.c.borrower_id,
                loans.c.days_past_due,
                loans.c.bucket,
                loans.c.state,
                loans.c.current_due_date,
                (
                    loans.c.due_principal
                    + loans.c.due_interest
                    + loans.c.due_fee
                    + loans.c.penalty_receivable
                ).label("overdue"),
                borrowers.c.timezone,
            )
            .select_from(loans.outerjoin(borrowers, borrowers.c.borrower_id == loans.c.borrower_id))
            .where(loans.c.state.in_(("ACTIVE", "OVERDUE", "RESTRUCTURED")), wanted)
            .order_by(loans.c.loan_id)
        ).all()
        unlocked = sorted({int(r.borrower_id) for r in rows if r.days_past_due >= contacts_from})
        contacts: dict[int, list[str]] = {}
        for start in range(0, len(unlocked), 500):
            for c in connection.execute(
                select(collection_contacts.c.borrower_id, collection_contacts.c.contact_id)
                .where(
                    collection_contacts.c.contact_id != SELF,
                    collection_contacts.c.borrower_id.in_(unlocked[start : start + 500]),
                )
                .order_by(collection_contacts.c.borrower_id, collection_contacts.c.contact_id)
            ):
                contacts.setdefault(int(c.borrower_id), []).append(c.contact_id)
    out: list[dict[str, Any]] = []
    for row in rows:
        base = {"row": row, "zone": row.timezone}
        if row.days_past_due == 0:
            if (int(row.loan_id), "DUE_SOON") in events:
                trigger = f"DUE_SOON:{row.current_due_date}"
                out.append(_candidate(base, Party.BORROWER, Channel.SMS, Purpose.REMINDER, trigger))
            continue
        became = (int(row.loan_id), "BECAME_OVERDUE") in events
        trigger = "BECAME_OVERDUE" if became else f"DPD_{row.days_past_due}"
        out.append(_candidate(base, Party.BORROWER, Channel.CALL, Purpose.COLLECTION, trigger))
        if row.days_past_due >= contacts_from:
            for contact_id in contacts.get(int(row.borrower_id), []):
                out.append(
                    _candidate(
                        base,
                        Party.CONTACT,
                        Channel.CALL,
                        Purpose.COLLECTION,
                        "BORROWER_UNREACHABLE",
                        contact_id,
                    )
                )
    return out


def build_worklist(
    engine: Engine, day: date, agents: list[str], ctx: CollectionsContext
) -> Worklist:
    """Today's worklist (see module doc); records one ``strategy.worklist`` audit entry."""
    pack = ctx.pack()
    candidates = _candidates(engine, day, pack.contacts_from)
    requests = []
    for c in candidates:
        zone = ZoneInfo(c["zone"] or ctx.business_timezone.key)
        requests.append(
            AttemptRequest(
                loan_id=int(c["row"].loan_id),
                agent_id=PRECHECK_AGENT,
                party=c["party"],
                channel=c["channel"],
                call_type=CallType.COLLECTION,
                trigger_reason=c["trigger"],
                at=datetime.combine(day, PLAN_TIME, zone),
                contact_id=c.get("contact"),
                purpose=c["purpose"],
            )
        )
    items: list[WorkItem] = []
    skipped: Counter[str] = Counter()
    with engine.connect() as connection:
        decisions = precheck_many(connection, requests, ctx)
    for c, decision in zip(candidates, decisions, strict=True):
        if not decision.allowed:
            skipped.update(decision.reasons)
            continue
        row = c["row"]
        items.append(
            WorkItem(
                loan_id=int(row.loan_id),
                borrower_id=int(row.borrower_id),
                party=str(c["party"]),
                contact_id=c.get("contact"),
                channel=str(c["channel"]),
                call_type=str(CallType.COLLECTION),
                purpose=str(c["purpose"]),
                trigger_reason=c["trigger"],
                bucket=str(row.bucket),
                days_past_due=int(row.days_past_due),
                amount_overdue=int(row.overdue or 0),
                masked_number=decision.masked_number,
            )
        )
    assigned, unassigned = _assign(sorted(items, key=WorkItem.priority), agents, ctx)
    worklist = Worklist(day, pack.version, assigned, unassigned, len(candidates), skipped)
    with UnitOfWork(engine) as uow:
        append(
            uow.connection,
            [
                AuditEntry(
                    datetime.combine(day, PLAN_TIME, ctx.business_timezone),
                    "strategy.worklist",
                    "system",
                    {
                        "date": day.isoformat(),
                        "pack_version": pack.version,
                        "candidates": len(candidates),
                        "items": sum(len(v) for v in assigned.values()),
                        "unassigned": len(unassigned),
                        "skipped_by_reason": dict(skipped),
                    },
                )
            ],
        )
        uow.commit()
    return worklist


def _assign(
    items: list[WorkItem], agents: list[str], ctx: CollectionsContext
) -> tuple[dict[str, list[WorkItem]], list[WorkItem]]:
    """Deal debtors round-robin in priority order, each agent up to the per-agent cap."""
    cap = ctx.pack().pack.rules.agent_daily_cap
    mask = kind_mask(cap.channels, cap.parties) if cap else 0
    limit = cap.max if cap else None
    assigned: dict[str, list[WorkItem]] = {a: [] for a in agents}
    used = dict.fromkeys(agents, 0)
    owner: dict[int, str] = {}
    unassigned: list[WorkItem] = []
    turn = 0
    for item in items:
        counts = bool(kind_bit(Party(item.party), Channel(item.channel)) & mask)
        agent = owner.get(item.borrower_id)
        if agent is None and agents:
            for step in range(len(agents)):
                candidate = agents[(turn + step) % len(agents)]
                if limit is None or not counts or used[candidate] < limit:
                    agent = candidate
                    turn = (turn + step + 1) % len(agents)
                    break
        if agent is None or (counts and limit is not None and used[agent] >= limit):
            unassigned.append(item)
            continue
        owner[item.borrower_id] = agent
        used[agent] += counts
        assigned[agent].append(replace(item, agent_id=agent))
    return assigned, unassigned
