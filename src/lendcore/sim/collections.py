"""Collections in the portfolio simulator: the daily worklist, worked through the real gate.

Borrowers get encrypted contact points (:func:`~lendcore.collections.contacts.store_contacts`)
when they first borrow: their own number and one to three third parties, each with a consent
scope. Each simulated day, before the day's business, the :class:`CollectionsDesk`

1. builds the day's worklist from the previous end of day with the production strategy
   (:func:`~lendcore.collections.strategy.build_worklist`: a reminder SMS for every ``DUE_SOON``,
   a borrower call from DPD 1, contact calls only where the gate would allow them), dealt to a
   handful of agents, each up to the pack's per-agent daily cap;
2. works it: each agent takes their items in priority order from 09:00 business time until
   20:30, and every item goes through :func:`~lendcore.collections.service.check_and_reserve`,
   the sandbox dialer or SMS port (:func:`~lendcore.collections.dialling.dial_within`) and, for a
   connected call, the agent's report (:func:`~lendcore.collections.attempts.record_outcome`) --
   audited exactly as in production. An unanswered call to a borrower in their first three days
   past due, or to a third party, is tried once more at least three hours later; a request
   denied for quiet hours an hour later. The desk follows simple rules and leaves the law to the
   gate, which denies what would break it (the same contact within 48 hours, a contact once the
   borrower has answered, a debtor in the early morning of their own time zone ...);
3. draws what each conversation leads to from the behaviour model
   (:mod:`lendcore.sim.behaviour`: promises to pay, refusals, a catch-up payment) and hands the
   payments back to the simulator. While a promise runs (up to the day promised) the desk leaves
   that loan's worklist items alone, as collection desks do; a broken promise is called again.

Agents' actions interleave in time order; the day's work is one unit of work, committed every
:data:`COMMIT_EVERY` actions. Reproducible: attempt ids are sequential, the sandbox ports are
seeded, and every borrower draws from a ``random.Random`` of their own.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine

from lendcore.collections.alerts import Metrics, SandboxWebhook
from lendcore.collections.attempts import record_outcome
from lendcore.collections.audit import read_head
from lendcore.collections.checker import check_call_log
from lendcore.collections.contacts import SELF, ContactPoint, Vault
from lendcore.collections.context import AttemptRequest, CollectionsContext, Purpose
from lendcore.collections.dialling import dial_within
from lendcore.collections.model import CallType, Channel, ContactScope, Outcome, Party, Reason
from lendcore.collections.ports import SandboxDialer, SandboxSmsSender
from lendcore.collections.service import check_and_reserve
from lendcore.collections.strategy import WorkItem, build_worklist
from lendcore.kernel.ids import SequentialIds
from lendcore.sim.behaviour import (
    Payment,
    Profile,
    contact_refuses,
    payment_after_call,
    promise_to_pay,
)
from lendcore.store.db import UnitOfWork

DAY_START = time(9, 0)  # business time zone
DAY_END = time(20, 30)  # no new attempt after this
RETRY_AFTER = timedelta(hours=3)  # a call that did not connect, once (see _retried)
EARLY_DAYS = 3  # borrowers this many days past due or fewer get a second try a day
QUIET_RETRY_AFTER = timedelta(hours=1)  # a request denied for quiet hours, once
DIAL_DELAY = timedelta(seconds=5)  # from the grant to the dial
# How long each kind of action keeps the agent busy.
SPENT = {
    "denied": timedelta(seconds=30),
    "sms": timedelta(minutes=1),
    "not_connected": timedelta(minutes=2),
    "conversation": timedelta(minutes=5),
}
COMMIT_EVERY = 200
SCOPES = (
    (ContactScope.OVERDUE_COLLECTION, 0.5),
    (ContactScope.LOST_CONTACT_REPAIR, 0.35),
    (ContactScope.EMERGENCY, 0.15),
)
RELATIONS = ("spouse", "parent", "sibling", "friend", "colleague")
PREFIXES = ("138", "139", "150", "186", "177")


@dataclass
class CollectionsStats:
    """The desk's counters over the run (what the report's collections section shows)."""

    agents: int = 0
    contact_points: int = 0
    worklists: int = 0
    candidates: int = 0
    items: int = 0
    unassigned: int = 0  # over the agents' daily caps
    not_reached: int = 0  # still queued when the working day ended
    skipped_by_reason: Counter[str] = field(default_factory=Counter)  # pre-check denials
    attempts: int = 0
    allowed: int = 0
    denied: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    calls: int = 0
    sms_sent: int = 0
    sms_undelivered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # of the calls
    connected: int = 0  # conversations: answered or refused
    promises: int = 0
    held_for_promise: int = 0  # worklist items left alone while their loan's promise runs
    payments_scheduled: int = 0  # catch-up payments the conversations led to
    retries: int = 0
    checker: dict[str, Any] = field(default_factory=dict)
    audit_records: int = 0  # the audit chain's length at the end of the run

    def to_dict(self) -> dict[str, Any]:
        """The collections desk's run: worklists, attempts through the gate and what they met, and
        the independent checker's verdict on the call log (which must find no violation)."""
        return {
            "agents": self.agents,
            "contact_points": self.contact_points,
            "worklists": self.worklists,
            "candidates": self.candidates,
            "worklist_items": self.items,
            "unassigned": self.unassigned,
            "not_reached": self.not_reached,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "attempts": self.attempts,
            "allowed": self.allowed,
            "denied": self.denied,
            "denied_by_reason": dict(sorted(self.denied_by_reason.items())),
            "alerts": self.alerts,
            "retries": self.retries,
            "calls": self.calls,
            "call_outcomes": dict(sorted(self.outcomes.items())),
            "connected": self.connected,
            "promises_to_pay": self.promises,
            "held_for_promise": self.held_for_promise,
            "sms_sent": self.sms_sent,
            "sms_undelivered": self.sms_undelivered,
            "independent_check": {
                "rows_checked": self.checker.get("rows_checked", 0),
                "violations": self.checker.get("violations", 0),
                "by_rule": self.checker.get("by_rule", {}),
            },
            "audit_records": self.audit_records,
        }


@dataclass(frozen=True)
class _Task:
    item: WorkItem
    tries: int = 0  # earlier tries today
    deferred: bool = False  # already put back once for quiet hours


@dataclass
class _Agent:
    agent_id: str
    queue: list[tuple[datetime, int, _Task]] = field(default_factory=list)
    serial: int = 0

    def push(self, not_before: datetime, task: _Task) -> None:
        self.serial += 1
        heapq.heappush(self.queue, (not_before, self.serial, task))


class CollectionsDesk:
    """The simulator's collections floor (see module doc)."""

    def __init__(
        self,
        engine: Engine,
        seed: int,
        agents: int,
        vault: Vault,
        profile_of: Callable[[int], Profile],
    ):
        self.engine = engine
        self.seed = seed
        self.profile_of = profile_of
        self.ctx = CollectionsContext(
            vault=vault,
            dialer=SandboxDialer(seed=seed),
            sms=SandboxSmsSender(seed=seed),
            webhook=SandboxWebhook(),
            metrics=Metrics(),
            ids=SequentialIds(1),
        )
        self.agents = [f"agent-{n:02d}" for n in range(1, agents + 1)]
        self.stats = CollectionsStats(agents=agents)
        self._rngs: dict[int, random.Random] = {}
        self._promised: dict[int, date] = {}  # loan -> the day its borrower promised to pay by

    def rng(self, borrower_id: int) -> random.Random:
        if borrower_id not in self._rngs:
            self._rngs[borrower_id] = random.Random(
                f"lendcore-sim-collections:{self.seed}:{borrower_id}"
            )
        return self._rngs[borrower_id]

    # ---- contact points -----------------------------------------------------------------

    def contact_points(self, borrower_id: int, surname: str, at: datetime) -> list[ContactPoint]:
        """The borrower's own number and one to three third parties, consent given at ``at``
        (synthetic numbers and names; they are encrypted before they are stored)."""
        rng = self.rng(borrower_id)
        points = [ContactPoint(borrower_id, SELF, SELF, _phone(rng), f"{surname}某")]
        for n in range(rng.randint(1, 3)):
            scope = rng.choices([s for s, _ in SCOPES], [w for _, w in SCOPES])[0]
            points.append(
                ContactPoint(
                    borrower_id,
                    f"c{n + 1}",
                    rng.choice(RELATIONS),
                    _phone(rng),
                    f"{rng.choice('王李张刘陈杨黄赵吴周')}某",
                    scope,
                    at,
                )
            )
        self.stats.contact_points += len(points)
        return points

    # ---- the day ------------------------------------------------------------------------

    def work(self, day: date) -> list[tuple[int, Payment]]:
        """Build and work ``day``'s worklist; the catch-up payments (loan id, payment) that the
        day's conversations led to."""
        worklist = build_worklist(self.engine, day, self.agents, self.ctx)
        stats = self.stats
        stats.worklists += 1
        stats.candidates += worklist.candidates
        stats.unassigned += len(worklist.unassigned)
        stats.skipped_by_reason.update(worklist.skipped)
        zone = self.ctx.business_timezone
        start = datetime.combine(day, DAY_START, zone)
        end = datetime.combine(day, DAY_END, zone)
        agents = [_Agent(agent_id) for agent_id in self.agents]
        for agent in agents:
            for item in worklist.agents.get(agent.agent_id, []):
                stats.items += 1
                promised = self._promised.get(item.loan_id)
                if promised is not None and promised >= day:
                    stats.held_for_promise += 1  # no call before the promised day has passed
                    continue
                agent.push(start, _Task(item))
        clocks = [(start, index) for index in range(len(agents))]
        heapq.heapify(clocks)
        payments: list[tuple[int, Payment]] = []
        while clocks:
            with UnitOfWork(self.engine) as uow:
                for _ in range(COMMIT_EVERY):
                    if not clocks:
                        break
                    self._next_action(uow, agents, clocks, end, payments)
                uow.commit()
        return payments

    def _next_action(
        self,
        uow: UnitOfWork,
        agents: list[_Agent],
        clocks: list[tuple[datetime, int]],
        end: datetime,
        payments: list[tuple[int, Payment]],
    ) -> None:
        """The action of the agent whose clock is earliest (an agent with nothing left, or past
        the end of the working day, drops out)."""
        now, index = heapq.heappop(clocks)
        agent = agents[index]
        if not agent.queue:
            return
        not_before, _, task = heapq.heappop(agent.queue)
        now = max(now, not_before)
        if now >= end:
            self.stats.not_reached += 1 + len(agent.queue)
            agent.queue.clear()
            return
        spent, follow_up = self._act(uow, agent.agent_id, task, now, payments)
        if follow_up is not None:
            agent.push(*follow_up)
        heapq.heappush(clocks, (now + spent, index))

    def _act(
        self,
        uow: UnitOfWork,
        agent_id: str,
        task: _Task,
        now: datetime,
        payments: list[tuple[int, Payment]],
    ) -> tuple[timedelta, tuple[datetime, _Task] | None]:
        """One attempt, start to end; the time it took and the task to retry, if any."""
        item, stats = task.item, self.stats
        request = AttemptRequest(
            loan_id=item.loan_id,
            agent_id=agent_id,
            party=Party(item.party),
            channel=Channel(item.channel),
            call_type=CallType(item.call_type),
            trigger_reason=item.trigger_reason,
            at=now,
            contact_id=item.contact_id,
            purpose=Purpose(item.purpose),
        )
        decision = check_and_reserve(uow, request, self.ctx)
        stats.attempts += 1
        if not decision.allowed:
            stats.denied += 1
            stats.denied_by_reason.update(decision.reasons)
            stats.alerts += decision.alert_id is not None
            if Reason.QUIET_HOURS in decision.reasons and not task.deferred:
                stats.retries += 1
                retry = _Task(item, task.tries, deferred=True)
                return SPENT["denied"], (now + QUIET_RETRY_AFTER, retry)
            return SPENT["denied"], None
        stats.allowed += 1
        assert decision.grant_id is not None
        dialled = dial_within(
            uow.connection, decision.grant_id, agent_id, now + DIAL_DELAY, self.ctx
        )
        if request.channel is Channel.SMS:
            delivered = dialled.outcome == str(Outcome.UNANSWERED)
            stats.sms_sent += delivered
            stats.sms_undelivered += not delivered
            return SPENT["sms"], None
        stats.calls += 1
        if dialled.status != "DIALED":  # not connected, or the port failed (outcome unknown)
            stats.outcomes[dialled.outcome or f"status_{dialled.status.lower()}"] += 1
            if dialled.outcome == str(Outcome.UNANSWERED) and task.tries == 0 and _retried(item):
                stats.retries += 1
                return SPENT["not_connected"], (now + RETRY_AFTER, _Task(item, 1, task.deferred))
            return SPENT["not_connected"], None
        assert dialled.attempt_id is not None
        today = now.date()
        outcome, promised = self._conversation(item, today)
        record_outcome(
            uow,
            dialled.attempt_id,
            outcome,
            now + SPENT["conversation"],
            self.ctx,
            notes=None if promised is None else f"promise_to_pay:{promised.isoformat()}",
        )
        stats.outcomes[str(outcome)] += 1
        stats.connected += 1
        if promised is not None:
            stats.promises += 1
            self._promised[item.loan_id] = promised
        if outcome is Outcome.ANSWERED:
            profile = self.profile_of(item.borrower_id)
            rng = self.rng(item.borrower_id)
            payment = payment_after_call(profile, promised, today, rng)
            if payment is not None:
                payments.append((item.loan_id, payment))
        return SPENT["conversation"], None

    def _conversation(self, item: WorkItem, today: date) -> tuple[Outcome, date | None]:
        """How a connected call goes: a borrower answers and may promise to pay by a day; a
        third party answers (and passes the message on) or refuses any further contact."""
        rng = self.rng(item.borrower_id)
        if item.party == Party.CONTACT:
            return (Outcome.REFUSED if contact_refuses(rng) else Outcome.ANSWERED), None
        return Outcome.ANSWERED, promise_to_pay(self.profile_of(item.borrower_id), today, rng)

    # ---- the end ------------------------------------------------------------------------

    def finish(self) -> CollectionsStats:
        """Re-check the whole call log independently; note the audit chain's length (verifying
        it is ``lendcore audit verify``'s job: it reads every record, seconds on a demo run)."""
        with self.engine.connect() as connection:
            self.stats.checker = check_call_log(connection, self.ctx.pack()).to_dict()
            self.stats.audit_records = read_head(connection).seq
        return self.stats


def _retried(item: WorkItem) -> bool:
    """Whether the desk tries an unanswered call once more today: a borrower in the first days
    past due (the early window, before contacts unlock), and -- over-eagerly -- a third party,
    which the gate then denies (one call per contact per 48 hours)."""
    return item.party == Party.CONTACT or item.days_past_due <= EARLY_DAYS


def _phone(rng: random.Random) -> str:
    return rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"
