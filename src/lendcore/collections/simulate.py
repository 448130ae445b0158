"""A 30-day collections simulation with an aggressive dialler, and an independent checker.

``lendcore collections simulate`` builds a fresh SQLite database of delinquent loans. The loans
are inserted as rows with their days past due (not opened, disbursed and aged through the
servicing services: that would take minutes and test nothing about collections); every borrower
has their own number and two or three contacts, encrypted under an in-memory key (the data is
synthetic). End of day is a single UPDATE: DPD + 1, and a few loans cure (DPD 0).

Every day an aggressive dialler picks a share of the open loans and tries to call the borrower
and every contact several times each, at random minutes of the whole day -- quiet hours
included -- and to text the borrower; over a month every borrower gets this on several days. Its
list is a day stale, so it also calls contacts of loans that cured yesterday (*rogue* attempts:
violations the gate must block, raising alerts and suspending the agent). Everything goes
through the service: check and reserve, dial through the sandbox, the agent's report. A
supervisor restores suspended agents every morning.

Afterwards :func:`~lendcore.collections.checker.check_call_log` -- which never calls the gate --
re-derives the core rules from the pack's numbers and the call log alone, and counts
violations. It must find none.
"""

from __future__ import annotations

import logging
import random
import time as timer
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, event, insert, select, update

from lendcore.collections.alerts import METRICS, SandboxWebhook, restore_agent
from lendcore.collections.attempts import record_outcome
from lendcore.collections.audit import verify_table
from lendcore.collections.checker import check_call_log
from lendcore.collections.contacts import SELF, ContactPoint, Vault, store_contacts
from lendcore.collections.context import AttemptRequest, CollectionsContext
from lendcore.collections.dialling import dial
from lendcore.collections.model import CallType, Channel, ContactScope, Outcome, Party
from lendcore.collections.ports import SandboxDialer, SandboxSmsSender
from lendcore.collections.service import check_and_reserve
from lendcore.collections.tables import collection_agents
from lendcore.kernel.ids import SequentialIds, partition_of
from lendcore.onboarding.tables import borrowers
from lendcore.privacy.keys import InMemoryKeyProvider
from lendcore.servicing.model import bucket_for
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork, make_engine

BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")
ZONES = (("Asia/Shanghai", 0.85), ("Asia/Urumqi", 0.15))  # Urumqi: local time 2 h behind
SCOPES = (
    (ContactScope.OVERDUE_COLLECTION, 0.5),
    (ContactScope.LOST_CONTACT_REPAIR, 0.35),
    (ContactScope.EMERGENCY, 0.15),
)
RELATIONS = ("spouse", "parent", "sibling", "friend", "colleague")


def _pick(rng: random.Random, weighted: Iterable[tuple[Any, float]]) -> Any:
    items = list(weighted)
    return rng.choices([v for v, _ in items], [w for _, w in items])[0]


# ---- portfolio -----------------------------------------------------------------------------


def loan_row(
    borrower_id: int, loan_id: int, dpd: int, start: date, created_at: datetime
) -> dict[str, Any]:
    """A loans row with its days past due set directly (no schedule, no ledger): for the
    collections simulation and its tests only."""
    due = 100_000 + (loan_id * 7919) % 900_000  # 1,000-10,000 yuan overdue, fen
    return {
        "borrower_id": borrower_id,
        "loan_id": loan_id,
        "partition_key": partition_of(borrower_id),
        "product_code": "sim_collections",
        "product_version": "sim",
        "state": "OVERDUE" if dpd > 0 else "ACTIVE",
        "method": "equal_installment",
        "period_unit": "month",
        "day_count": "30/360",
        "rounding": "half_up",
        "annual_rate": "0.18",
        "annual_rate_ppm": 180_000,
        "penalty_rate_ppm": 240_000,
        "apr_irr": "0.18",
        "prepayment_rule": "not_allowed",
        "waterfall": "penalty,fee,interest,principal",
        "principal": due * 4,
        "principal_outstanding": due * 3,
        "due_principal": due if dpd > 0 else 0,
        "days_past_due": dpd,
        "bucket": bucket_for(dpd),
        "current_due_date": start + timedelta(days=5),
        "start_date": start - timedelta(days=90),
        "maturity_date": start + timedelta(days=270),
        "created_at": created_at,
    }


def borrower_row(borrower_id: int, zone: str, created_at: datetime) -> dict[str, Any]:
    return {
        "borrower_id": borrower_id,
        "partition_key": partition_of(borrower_id),
        "display_name": "张*",
        "city": "上海" if zone == "Asia/Shanghai" else "乌鲁木齐",
        "timezone": zone,
        "created_at": created_at,
    }


def phone_number(rng: random.Random) -> str:
    return rng.choice(("138", "139", "150", "186", "177")) + f"{rng.randrange(10**8):08d}"


@dataclass
class SimLoan:
    borrower_id: int
    loan_id: int
    contacts: list[str]
    cured_on: date | None = None


def seed_portfolio(
    engine: Engine, vault: Vault, rng: random.Random, count: int, start: date
) -> list[SimLoan]:
    at = datetime.combine(start - timedelta(days=1), time(9), BUSINESS_ZONE)
    created = at.astimezone(UTC)
    portfolio: list[SimLoan] = []
    borrower_rows, loan_rows = [], []
    for i in range(1, count + 1):
        borrower_id, loan_id = 10_000 + i, 50_000 + i
        borrower_rows.append(borrower_row(borrower_id, _pick(rng, ZONES), created))
        loan_rows.append(loan_row(borrower_id, loan_id, rng.randint(1, 45), start, created))
        portfolio.append(SimLoan(borrower_id, loan_id, []))
    with UnitOfWork(engine) as uow:
        uow.connection.execute(insert(borrowers), borrower_rows)
        uow.connection.execute(insert(loans), loan_rows)
        points: list[ContactPoint] = []
        for loan in portfolio:
            points += [ContactPoint(loan.borrower_id, SELF, SELF, phone_number(rng), "张三")]
            for n in range(rng.choice((2, 3))):
                points.append(
                    ContactPoint(
                        loan.borrower_id,
                        f"c{n + 1}",
                        rng.choice(RELATIONS),
                        phone_number(rng),
                        "李四",
                        _pick(rng, SCOPES),
                        at - timedelta(days=100),
                    )
                )
                loan.contacts.append(f"c{n + 1}")
        store_contacts(uow.connection, vault, points, at, "onboarding")
        uow.commit()
    return portfolio


# ---- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationConfig:
    loans: int = 2000
    days: int = 30
    seed: int = 7
    agents: int = 40
    start: date = date(2026, 3, 2)
    # Each day the dialler hammers a share of the open loans: the borrower and every contact,
    # several times each, at random minutes of the whole day. Over a month every borrower is
    # hammered on several days; the share keeps 2,000 loans x 30 days near a minute on SQLite.
    campaign_share: float = 0.1
    borrower_tries: tuple[int, int] = (4, 7)  # calls to the borrower on a campaign day
    contact_tries: tuple[int, int] = (1, 3)  # calls to each contact on a campaign day
    sms_tries: tuple[int, int] = (0, 2)  # texts to the borrower on a campaign day
    rogue_chance: float = 0.1  # a loan that cured yesterday: a contact is still called
    cure_chance: float = 0.01  # per open loan per day


@dataclass
class SimulationReport:
    config: SimulationConfig
    attempts: int = 0
    allowed: int = 0
    denied: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    restored: int = 0
    seconds: float = 0.0
    audit: dict[str, Any] = field(default_factory=dict)
    checker: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "loans": c.loans,
            "days": c.days,
            "seed": c.seed,
            "agents": c.agents,
            "start": c.start.isoformat(),
            "attempts": self.attempts,
            "allowed": self.allowed,
            "denied": self.denied,
            "denied_by_reason": dict(self.denied_by_reason.most_common()),
            "outcomes": dict(self.outcomes.most_common()),
            "alerts": self.alerts,
            "agents_restored": self.restored,
            "audit": self.audit,
            "checker": self.checker,
            "seconds": round(self.seconds, 1),
        }


@dataclass(frozen=True)
class _Try:
    at: datetime
    loan: SimLoan
    party: Party
    contact_id: str | None
    channel: Channel
    rogue: bool = False


def _day_plan(
    rng: random.Random, config: SimulationConfig, portfolio: list[SimLoan], day: date
) -> list[_Try]:
    midnight = datetime.combine(day, time(0), BUSINESS_ZONE)

    def moment() -> datetime:
        return midnight + timedelta(seconds=rng.randrange(86_400))

    tries: list[_Try] = []
    for loan in portfolio:
        if loan.cured_on is not None:
            # The dialler's list is a day stale: it still calls a contact of a loan that cured.
            if loan.cured_on == day - timedelta(days=1) and rng.random() < config.rogue_chance:
                contact = loan.contacts[0]
                tries.append(_Try(moment(), loan, Party.CONTACT, contact, Channel.CALL, True))
            continue
        if rng.random() >= config.campaign_share:
            continue
        for _ in range(rng.randint(*config.borrower_tries)):
            tries.append(_Try(moment(), loan, Party.BORROWER, None, Channel.CALL))
        for _ in range(rng.randint(*config.sms_tries)):
            tries.append(_Try(moment(), loan, Party.BORROWER, None, Channel.SMS))
        for contact in loan.contacts:
            for _ in range(rng.randint(*config.contact_tries)):
                tries.append(_Try(moment(), loan, Party.CONTACT, contact, Channel.CALL))
    tries.sort(key=lambda t: t.at)
    return tries


def scratch_engine(url: str) -> Engine:
    """The simulator's throw-away SQLite database: ``synchronous=OFF``, because a crash loses
    nothing worth keeping and every commit would otherwise wait on the disk."""
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    return engine


def simulate(
    engine: Engine,
    config: SimulationConfig,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Run the simulation on an empty, migrated database (see module doc)."""
    # The rogue attempts are planted: their alerts are counted in the report, not logged.
    alerts_log = logging.getLogger("lendcore.collections.alerts")
    level = alerts_log.level
    alerts_log.setLevel(logging.ERROR)
    try:
        return _simulate(engine, config, progress)
    finally:
        alerts_log.setLevel(level)


def _simulate(
    engine: Engine,
    config: SimulationConfig,
    progress: Callable[[int, int], None] | None,
) -> SimulationReport:
    started = timer.perf_counter()
    rng = random.Random(config.seed)
    vault = Vault.from_provider(InMemoryKeyProvider())
    dialer = SandboxDialer(seed=config.seed)
    ctx = CollectionsContext(
        vault=vault,
        dialer=dialer,
        sms=SandboxSmsSender(seed=config.seed),
        webhook=SandboxWebhook(),
        ids=SequentialIds(1),
        metrics=METRICS,
    )
    pack = ctx.pack()
    portfolio = seed_portfolio(engine, vault, rng, config.loans, config.start)
    agents = [f"agent-{n:03d}" for n in range(1, config.agents + 1)]
    report = SimulationReport(config)
    for offset in range(config.days):
        day = config.start + timedelta(days=offset)
        report.restored += _morning_restore(engine, day)
        for attempt in _day_plan(rng, config, portfolio, day):
            _run_try(engine, ctx, dialer, rng, attempt, rng.choice(agents), report)
        _end_of_day(engine, rng, config, portfolio, day)
        if progress:
            progress(offset + 1, config.days)
    with engine.connect() as connection:
        verification = verify_table(connection)
        report.audit = {"records": verification.records, "verified": verification.ok}
        report.checker = check_call_log(connection, pack).to_dict()
    report.seconds = timer.perf_counter() - started
    return report


def _run_try(
    engine: Engine,
    ctx: CollectionsContext,
    dialer: SandboxDialer,
    rng: random.Random,
    attempt: _Try,
    agent_id: str,
    report: SimulationReport,
) -> None:
    request = AttemptRequest(
        loan_id=attempt.loan.loan_id,
        agent_id=agent_id,
        party=attempt.party,
        channel=attempt.channel,
        call_type=CallType.COLLECTION,
        trigger_reason="aggressive_dialler" if not attempt.rogue else "rogue_dialler",
        at=attempt.at,
        contact_id=attempt.contact_id,
    )
    with UnitOfWork(engine) as uow:
        decision = check_and_reserve(uow, request, ctx)
        uow.commit()
    report.attempts += 1
    if not decision.allowed:
        report.denied += 1
        report.denied_by_reason.update(decision.reasons)
        report.alerts += decision.alert_id is not None
        return
    report.allowed += 1
    assert decision.grant_id is not None
    # The agent dials a few seconds later, and talks for a few minutes.
    dialled_at = attempt.at + timedelta(seconds=5)
    result = dial(engine, decision.grant_id, agent_id, dialled_at, ctx)
    if result.status != "DIALED":
        report.outcomes[result.outcome or result.status.lower()] += 1
        return
    assert result.attempt_id is not None
    refused = attempt.party is Party.CONTACT and dialer.refuses(result.attempt_id)
    outcome = Outcome.REFUSED if refused else Outcome.ANSWERED
    with UnitOfWork(engine) as uow:
        record_outcome(
            uow,
            result.attempt_id,
            outcome,
            dialled_at + timedelta(minutes=3),
            ctx,
            notes="sim",
        )
        uow.commit()
    report.outcomes[str(outcome)] += 1


def _morning_restore(engine: Engine, day: date) -> int:
    at = datetime.combine(day, time(7, 30), BUSINESS_ZONE)
    with UnitOfWork(engine) as uow:
        suspended = uow.connection.execute(
            select(collection_agents.c.agent_id).where(collection_agents.c.status == "SUSPENDED")
        ).scalars()
        restored = sum(restore_agent(uow.connection, a, "supervisor-01", at) for a in suspended)
        uow.commit()
    return restored


def _end_of_day(
    engine: Engine,
    rng: random.Random,
    config: SimulationConfig,
    portfolio: list[SimLoan],
    day: date,
) -> None:
    cured = [
        loan for loan in portfolio if loan.cured_on is None and rng.random() < config.cure_chance
    ]
    with UnitOfWork(engine) as uow:
        connection = uow.connection
        connection.execute(
            update(loans)
            .where(loans.c.days_past_due > 0)
            .values(days_past_due=loans.c.days_past_due + 1)
        )
        for loan in cured:
            loan.cured_on = day
            connection.execute(
                update(loans)
                .where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan.loan_id)
                .values(days_past_due=0, state="ACTIVE", due_principal=0, bucket="M0")
            )
        uow.commit()
