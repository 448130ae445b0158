"""A 30-day collections simulation with an aggressive dialler, and an independent checker.

``lendcore collections simulate`` builds a portfolio of delinquent loans in an empty database
(SQLite scratch file or PostgreSQL) with the servicing facts that explain their days past due,
plus the cases the dialler must be stopped on -- hardship plans, authorised and unauthorised
fraud investigations, consent withdrawals, refusals (:mod:`~lendcore.collections.simulate_portfolio`).
Every borrower has their own number and two or three contacts, encrypted under an in-memory key
(the data is synthetic). End of day is a single UPDATE: DPD + 1; a few loans cure (a repayment).

Every day an aggressive dialler picks a share of the delinquent loans and tries to call the
borrower and every contact several times each, at random minutes of the whole day -- quiet hours
included -- and to text the borrower; over a month every borrower gets this on several days. It
tries everything: loans under a hardship plan, contacts whose consent was withdrawn or who
refused, investigation calls with and without a recorded authorisation (on loans not overdue
too). Its list is a day stale, so it also calls contacts of loans that cured yesterday (*rogue*
attempts: violations the gate must block, raising alerts and suspending the agent). Everything
goes through the service: check and reserve, dial through the sandbox, the agent's report. A
supervisor restores suspended agents every morning.

Afterwards :func:`~lendcore.collections.checker.check_call_log` -- which never calls the gate --
judges the call log against every rule of the pack, from servicing's facts, and counts
violations. It must find none.
"""

from __future__ import annotations

import logging
import random
import time as timer
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, event, select, update

from lendcore.collections.alerts import METRICS, SandboxWebhook, restore_agent
from lendcore.collections.attempts import record_outcome
from lendcore.collections.audit import verify_table
from lendcore.collections.checker import check_call_log
from lendcore.collections.contacts import Vault, withdraw_consent
from lendcore.collections.context import AttemptRequest, CollectionsContext
from lendcore.collections.dialling import dial
from lendcore.collections.flags import revoke_investigation, set_hardship_plan
from lendcore.collections.model import CallType, Channel, Outcome, Party
from lendcore.collections.ports import SandboxDialer, SandboxSmsSender
from lendcore.collections.service import check_and_reserve
from lendcore.collections.simulate_portfolio import (
    BUSINESS_ZONE,
    SimLoan,
    SimulationCases,
    borrower_row,
    cure,
    instalment_rows,
    loan_row,
    seed_portfolio,
)
from lendcore.collections.tables import collection_agents
from lendcore.kernel.errors import ValidationError
from lendcore.kernel.ids import SequentialIds
from lendcore.privacy.keys import InMemoryKeyProvider
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork, make_engine

__all__ = [
    "SimulationConfig",
    "SimulationReport",
    "borrower_row",
    "instalment_rows",
    "loan_row",
    "scratch_engine",
    "simulate",
]


# ---- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulationConfig:
    loans: int = 2000
    days: int = 30
    seed: int = 7
    agents: int = 40
    start: date = date(2026, 3, 2)
    pack: str = "cn"  # the compliance pack the gate and the checker apply
    # Each day the dialler hammers a share of the delinquent loans: the borrower and every
    # contact, several times each, at random minutes of the whole day. Over a month every
    # borrower is hammered on several days.
    campaign_share: float = 0.1
    borrower_tries: tuple[int, int] = (4, 7)  # calls to the borrower on a campaign day
    contact_tries: tuple[int, int] = (1, 3)  # calls to each contact on a campaign day
    sms_tries: tuple[int, int] = (0, 2)  # texts to the borrower on a campaign day
    rogue_chance: float = 0.1  # a loan that cured yesterday: a contact is still called
    cure_chance: float = 0.01  # per delinquent loan per day
    refuse_rate: float = 0.05  # share of dials answered by someone who refuses further contact
    cases: SimulationCases = field(default_factory=SimulationCases)


@dataclass
class SimulationReport:
    config: SimulationConfig
    attempts: int = 0
    allowed: int = 0
    denied: int = 0
    denied_by_reason: Counter[str] = field(default_factory=Counter)
    attempts_by_case: Counter[str] = field(default_factory=Counter)
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
            "pack": c.pack,
            "attempts": self.attempts,
            "allowed": self.allowed,
            "denied": self.denied,
            "denied_by_reason": dict(self.denied_by_reason.most_common()),
            "attempts_by_case": dict(self.attempts_by_case.most_common()),
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
    case: str = "collection"  # what the report counts it under
    call_type: CallType = CallType.COLLECTION

    @property
    def authorisation_ref(self) -> str | None:
        return self.loan.investigation_ref if self.call_type is CallType.INVESTIGATION else None


def _day_plan(
    rng: random.Random, config: SimulationConfig, portfolio: list[SimLoan], day: date
) -> list[_Try]:
    midnight = datetime.combine(day, time(0), BUSINESS_ZONE)

    def moment() -> datetime:
        return midnight + timedelta(seconds=rng.randrange(86_400))

    tries: list[_Try] = []
    yesterday = day - timedelta(days=1)
    for loan in portfolio:
        if loan.investigation_ref is not None and rng.random() < config.campaign_share:
            # The fraud desk calls every contact, quoting the case reference; without a recorded
            # authorisation it tries one (each try raises an alert and suspends the agent).
            authorised = loan.investigation_ref.startswith("INV-")
            case = "investigation" if authorised else "no_auth"
            for contact in loan.contacts if authorised else loan.contacts[:1]:
                tries.append(
                    _Try(moment(), loan, Party.CONTACT, contact, Channel.CALL, case,
                         CallType.INVESTIGATION)
                )  # fmt: skip
        if not loan.delinquent:
            # The dialler's list is a day stale: it still calls a contact of a loan that cured.
            if loan.cured_on == yesterday and rng.random() < config.rogue_chance:
                contact = loan.contacts[0]
                tries.append(_Try(moment(), loan, Party.CONTACT, contact, Channel.CALL, "rogue"))
            continue
        if rng.random() >= config.campaign_share:
            continue
        case = "hardship" if loan.hardship else "collection"
        for _ in range(rng.randint(*config.borrower_tries)):
            tries.append(_Try(moment(), loan, Party.BORROWER, None, Channel.CALL, case))
        for _ in range(rng.randint(*config.sms_tries)):
            tries.append(_Try(moment(), loan, Party.BORROWER, None, Channel.SMS, case))
        for contact in loan.contacts:
            contact_case = "withdrawn" if contact in loan.withdrawn else case
            for _ in range(rng.randint(*config.contact_tries)):
                tries.append(
                    _Try(moment(), loan, Party.CONTACT, contact, Channel.CALL, contact_case)
                )
    tries.sort(key=lambda t: t.at)
    return tries


def scratch_engine(url: str) -> Engine:
    """The simulator's throw-away SQLite database: ``synchronous=OFF``, because a crash loses
    nothing worth keeping and every commit would otherwise wait on the disk."""
    engine = make_engine(url)
    if engine.dialect.name != "sqlite":
        return engine

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
    dialer = SandboxDialer(seed=config.seed, refuse_rate=config.refuse_rate)
    ctx = CollectionsContext(
        vault=vault,
        dialer=dialer,
        sms=SandboxSmsSender(seed=config.seed),
        webhook=SandboxWebhook(),
        ids=SequentialIds(1),
        metrics=METRICS,
        pack_code=config.pack,
        business_timezone=BUSINESS_ZONE,
    )
    pack = ctx.pack()
    portfolio = seed_portfolio(
        engine, vault, rng, config.loans, config.start, config.days, config.cases
    )
    agents = [f"agent-{n:03d}" for n in range(1, config.agents + 1)]
    report = SimulationReport(config)
    for offset in range(config.days):
        day = config.start + timedelta(days=offset)
        report.restored += _morning(engine, rng, config, portfolio, day)
        for attempt in _day_plan(rng, config, portfolio, day):
            _run_try(engine, ctx, dialer, attempt, rng.choice(agents), report)
        _end_of_day(engine, rng, config, portfolio, day)
        if progress:
            progress(offset + 1, config.days)
    with engine.connect() as connection:
        verification = verify_table(connection)
        report.audit = {"records": verification.records, "verified": verification.ok}
        report.checker = check_call_log(connection, pack, BUSINESS_ZONE).to_dict()
    report.seconds = timer.perf_counter() - started
    return report


def _run_try(
    engine: Engine,
    ctx: CollectionsContext,
    dialer: SandboxDialer,
    attempt: _Try,
    agent_id: str,
    report: SimulationReport,
) -> None:
    request = AttemptRequest(
        loan_id=attempt.loan.loan_id,
        agent_id=agent_id,
        party=attempt.party,
        channel=attempt.channel,
        call_type=attempt.call_type,
        trigger_reason=f"aggressive_dialler:{attempt.case}",
        at=attempt.at,
        contact_id=attempt.contact_id,
        authorisation_ref=attempt.authorisation_ref,
    )
    with UnitOfWork(engine) as uow:
        decision = check_and_reserve(uow, request, ctx)
        uow.commit()
    report.attempts += 1
    report.attempts_by_case[attempt.case] += 1
    if not decision.allowed:
        report.denied += 1
        report.denied_by_reason.update(decision.reasons)
        report.alerts += decision.alert_id is not None
        return
    report.allowed += 1
    assert decision.grant_id is not None
    # A predictive dialler: the number is dialled the moment the grant is issued, and the call
    # lasts a few minutes. (A human dialling seconds later could cross into quiet hours on a
    # grant issued at 20:59:58: the checker judges quiet hours at the dial too and would say so;
    # the grant's expiry is not yet capped at the start of quiet hours.)
    dialled_at = attempt.at
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


def _morning(
    engine: Engine,
    rng: random.Random,
    config: SimulationConfig,
    portfolio: list[SimLoan],
    day: date,
) -> int:
    """07:30: the supervisor restores suspended agents; consents withdrawn overnight and
    authorisations revoked today are recorded. Returns the agents restored."""
    at = datetime.combine(day, time(7, 30), BUSINESS_ZONE)
    with UnitOfWork(engine) as uow:
        connection = uow.connection
        suspended = connection.execute(
            select(collection_agents.c.agent_id).where(collection_agents.c.status == "SUSPENDED")
        ).scalars()
        restored = sum(restore_agent(connection, a, "supervisor-01", at) for a in suspended)
        chance = config.cases.withdraw_chance
        for loan in portfolio:
            for contact in loan.contacts:
                if contact not in loan.withdrawn and rng.random() < chance:
                    withdraw_consent(connection, loan.borrower_id, contact, at, "borrower")
                    loan.withdrawn.add(contact)
            if loan.revoke_on == day and loan.investigation_ref is not None:
                with suppress(ValidationError):  # already expired: nothing left to revoke
                    revoke_investigation(
                        connection, loan.loan_id, loan.investigation_ref, "fraud-supervisor",
                        at, reason="case closed (simulated)",
                    )  # fmt: skip
        uow.commit()
    return restored


def _end_of_day(
    engine: Engine,
    rng: random.Random,
    config: SimulationConfig,
    portfolio: list[SimLoan],
    day: date,
) -> None:
    cured = [loan for loan in portfolio if loan.delinquent and rng.random() < config.cure_chance]
    at = datetime.combine(day, time(23, 30), BUSINESS_ZONE)
    with UnitOfWork(engine) as uow:
        connection = uow.connection
        connection.execute(
            update(loans)
            .where(loans.c.days_past_due > 0)
            .values(
                days_past_due=loans.c.days_past_due + 1,
                last_closed_business_date=day,
            )
        )
        for loan in cured:
            loan.cured_on = day
            cure(connection, loan.borrower_id, loan.loan_id, day)
        for loan in portfolio:
            if loan.hardship and loan.hardship_ends == day:
                # More plan instalments missed than allowed: the plan is breached and the
                # pause ends (hardship.service.check_plans does this after a real end of day).
                set_hardship_plan(connection, loan.loan_id, False, "system", at)
                loan.hardship = False
        uow.commit()
