"""The portfolio simulator: synthetic borrowers take loans and repay them through the real
services, day by day, with the real end-of-day batch closing every day.

Each simulated day, in order:
0. collections   — from the second day on, the collections desk (:mod:`lendcore.sim.collections`)
   builds the day's worklist from the last end of day and works it through the real contact gate
   (reminder SMS, borrower calls, contact calls once unlocked); a conversation may lead to a
   catch-up payment, scheduled like any other (step 2);
1. originations — loans opened and signed in one unit of work (``servicing.service``), with a
   first-time borrower's encrypted contact points (own number and one to three third parties), then
   disbursed one by one through ``funding.service.disburse`` and the sandbox channel (which
   rejects a small share: those loans stay signed, never active, and are counted);
2. repayments    — every payment falling due that day, in one unit of work, each through
   ``servicing.service.repay`` with its own idempotency key; the amount is read from the loan's
   instalment rows and penalty columns so the payment settles exactly what it means to;
3. write-offs    — loans more than ``write_off_after_days`` past due (``service.write_off``);
4. end of day    — ``batch.runner.run_eod`` closes the day;
5. a one-row aggregate of the portfolio for the report's charts (kept in memory, not stored).

Reproducible: ids are sequential, every borrower draws from its own ``random.Random`` seeded by
(seed, borrower id), the sandbox channel is seeded, and the clock is a :class:`FixedClock`.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import Engine, func, insert, select

from lendcore.batch.runner import run_eod
from lendcore.collections.contacts import ContactPoint, Vault, store_contacts
from lendcore.decisioning.credit_lines import step_up_summary
from lendcore.funding.ports import SandboxPaymentChannel
from lendcore.funding.service import disburse
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.kernel.ids import SequentialIds, partition_of
from lendcore.onboarding.tables import borrowers as borrowers_table
from lendcore.privacy.keys import InMemoryKeyProvider
from lendcore.products.loader import LoadedProduct, load_products
from lendcore.schedule.model import PeriodUnit
from lendcore.servicing.model import DEFAULT_BUCKETS, LIVE_STATES, OVERFLOW_BUCKET, LoanState
from lendcore.servicing.repository import load_instalments
from lendcore.servicing.service import open_loan, repay, sign_contract, write_off
from lendcore.servicing.tables import loans
from lendcore.sim.behaviour import PROFILE_WEIGHTS, Payment, Profile, amount_due, plan_payments
from lendcore.sim.collections import CollectionsDesk, CollectionsStats
from lendcore.sim.hardship import OFFER_AT_DPD, HardshipDesk, HardshipStats
from lendcore.sim.portfolio import SyntheticBorrower, draw_borrower, draw_product, draw_terms
from lendcore.sim.underwriting import UnderwritingDesk, UnderwritingStats
from lendcore.store.db import UnitOfWork

NEGOTIATION_TIME = clock_time(20, 45)  # hardship calls and approvals, after the collections day
BUCKETS = (*(name for name, _ in DEFAULT_BUCKETS), OVERFLOW_BUCKET)
LIVE = tuple(str(s) for s in LIVE_STATES)


@dataclass(frozen=True)
class SimulationConfig:
    borrowers: int
    days: int
    seed: int = 7
    start: date = date(2026, 1, 1)
    reject_rate: float = 0.01  # share of payouts the sandbox channel rejects
    origination_window: float = 0.6  # first loans are taken in this leading share of the run
    reborrow_share: float = 0.6  # on-time small-loan borrowers who borrow again after settling
    write_off_after_days: int = 180
    collection_agents: int = 4  # the collections desk; 0 runs no collections
    underwriting: bool = True  # every loan starts as an application through the decision pipeline
    hardship: bool = True  # plans offered to borrowers in hardship (lendcore.sim.hardship)
    profile_weights: tuple[tuple[Profile, int], ...] = PROFILE_WEIGHTS
    product_weights: Mapping[str, float] = field(
        default_factory=lambda: {"small_short_term": 0.55, "consumer_instalment": 0.45}
    )

    def __post_init__(self) -> None:
        if self.borrowers < 1 or self.days < 1:
            raise LendcoreError(ErrorCode.INVALID_ARGUMENT, "borrowers and days must be >= 1")
        if not 0 <= self.reject_rate < 1:
            raise LendcoreError(ErrorCode.INVALID_ARGUMENT, "reject rate must be in [0, 1)")
        if not 0 <= self.collection_agents <= 99:
            raise LendcoreError(ErrorCode.INVALID_ARGUMENT, "collection agents must be 0-99")

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def origination_days(self) -> int:
        return max(1, int(self.days * self.origination_window))


@dataclass(frozen=True)
class DailyPoint:
    """The portfolio after the end of day of ``day`` (one row per day, not per loan)."""

    day: date
    originated: int
    repayments: int
    repaid: int  # fen received that day
    live: int
    overdue: int
    settled: int  # loans settled so far
    outstanding_principal: int
    overdue_principal: int
    buckets: dict[str, int]  # live loans by delinquency bucket


@dataclass
class SimulationStats:
    borrowers_by_profile: Counter[str] = field(default_factory=Counter)
    loans_by_product: Counter[str] = field(default_factory=Counter)
    loans_opened: int = 0
    declined: int = 0  # applications rejected (or refused at review): no loan
    reborrowed: int = 0
    disbursed: int = 0
    disbursed_amount: int = 0
    rejected: int = 0
    rejected_loans: list[int] = field(default_factory=list)
    repayments: int = 0
    repaid: int = 0
    payoffs: int = 0
    settled: int = 0
    written_off: int = 0
    written_off_amount: int = 0
    catch_up_payments: int = 0  # payments a collection conversation led to (made, not planned)
    catch_up_amount: int = 0


@dataclass
class SimulationResult:
    config: SimulationConfig
    stats: SimulationStats
    daily: list[DailyPoint]
    seconds: float  # wall time; reported beside the report, never inside it
    collections: CollectionsStats | None = None
    underwriting: UnderwritingStats | None = None
    hardship: HardshipStats | None = None


@dataclass(frozen=True)
class _Loan:
    borrower_id: int
    product_code: str


class Simulator:
    def __init__(
        self,
        engine: Engine,
        config: SimulationConfig,
        products: Mapping[str, LoadedProduct] | None = None,
        vault: Vault | None = None,
    ):
        self.engine = engine
        self.config = config
        self.products = dict(products or load_products())
        self.channel = SandboxPaymentChannel(reject_rate=config.reject_rate, seed=config.seed)
        self.stats = SimulationStats()
        self.daily: list[DailyPoint] = []
        self._borrower_ids = SequentialIds(1)
        self._loan_ids = SequentialIds(1_000_001)
        self._borrowers: dict[int, SyntheticBorrower] = {}
        self._rngs: dict[int, random.Random] = {}
        self._loans: dict[int, _Loan] = {}
        # day -> (borrower, product or None for a fresh draw); day -> (loan, payment)
        self._originations: dict[date, list[tuple[int, str | None]]] = defaultdict(list)
        self._payments: dict[date, list[tuple[int, Payment]]] = defaultdict(list)
        # Contact data is encrypted under ``vault`` (default: a key that lives as long as the run).
        self.vault = vault or Vault.from_provider(InMemoryKeyProvider())
        self.desk = (
            CollectionsDesk(
                engine,
                config.seed,
                config.collection_agents,
                self.vault,
                lambda borrower_id: self._borrowers[borrower_id].profile,
            )
            if config.collection_agents
            else None
        )
        self._with_contacts: set[int] = set()
        self.underwriting = (
            UnderwritingDesk(engine, self.products, config.seed) if config.underwriting else None
        )
        self.hardship = HardshipDesk(engine, config.seed) if config.hardship else None
        self._catch_up: dict[int, date] = {}  # loan -> day of its pending catch-up payment

    # ---- the run ------------------------------------------------------------------------

    def run(self, on_day: Callable[[int, DailyPoint], None] | None = None) -> SimulationResult:
        started = time.perf_counter()
        self._create_borrowers()
        for index in range(self.config.days):
            day = self.config.start + timedelta(days=index)
            clock = FixedClock.at_date(day)
            if self.desk is not None and index > 0:
                self._schedule_catch_up(day, self.desk.work(day))
            originated = self._originate(day, clock)
            # The day's payments are stamped after the collections desk's working day (09:00
            # to 20:30), when they are applied: stamped 09:00, a payment would say the loan was
            # current while the desk was still, rightly, calling about it.
            count, amount = self._repay(day, FixedClock(clock.now().replace(hour=21)))
            self._write_off(day, clock)
            run_eod(self.engine, day)
            if self.hardship is not None:
                self._negotiate(day, clock)
            point = self._snapshot(day, originated, count, amount)
            self.daily.append(point)
            if on_day:
                on_day(index + 1, point)
        collections = self.desk.finish() if self.desk is not None else None
        underwriting = self.underwriting.stats if self.underwriting is not None else None
        if underwriting is not None:
            with self.engine.connect() as connection:
                underwriting.credit_lines = step_up_summary(connection)
        hardship = self.hardship.finish() if self.hardship is not None else None
        seconds = time.perf_counter() - started
        return SimulationResult(
            self.config, self.stats, self.daily, seconds, collections, underwriting, hardship
        )

    def _negotiate(self, day: date, clock: FixedClock) -> None:
        """After the end of day (whose completion step checked the plans): plans for loans
        that just crossed the hardship policy's threshold."""
        assert self.hardship is not None
        # After the day's calls (the desk stops at 20:30) and its end of day.
        now = datetime.combine(day, NEGOTIATION_TIME, clock.timezone)
        with self.engine.connect() as connection:
            crossed = connection.execute(
                select(loans.c.loan_id, loans.c.borrower_id).where(
                    loans.c.days_past_due == OFFER_AT_DPD, loans.c.state == "OVERDUE"
                )
            ).all()
        candidates = [
            (
                int(r.loan_id),
                int(r.borrower_id),
                self._borrowers[r.borrower_id].profile,
                self._borrowers[r.borrower_id].city,
                self._rngs[r.borrower_id],
            )
            for r in sorted(crossed)
        ]
        for loan_id, payment in self.hardship.work(day, now, candidates):
            self._payments[payment.day].append((loan_id, payment))

    def _schedule_catch_up(self, day: date, payments: list[tuple[int, Payment]]) -> None:
        """Catch-up payments from the day's conversations; one pending per loan at a time."""
        for loan_id, payment in payments:
            pending = self._catch_up.get(loan_id)
            if pending is not None and pending >= day:
                continue
            self._catch_up[loan_id] = payment.day
            self._payments[payment.day].append((loan_id, payment))

    def _create_borrowers(self) -> None:
        clock = FixedClock.at_date(self.config.start)
        rows = []
        for _ in range(self.config.borrowers):
            borrower_id = self._borrower_ids.next_id()
            rng = random.Random(f"lendcore-sim:{self.config.seed}:{borrower_id}")
            borrower = draw_borrower(borrower_id, rng, self.config.profile_weights)
            self._borrowers[borrower_id] = borrower
            self._rngs[borrower_id] = rng
            self.stats.borrowers_by_profile[str(borrower.profile)] += 1
            first_day = self.config.start + timedelta(
                days=rng.randrange(self.config.origination_days)
            )
            self._originations[first_day].append((borrower_id, None))
            rows.append(
                {
                    "borrower_id": borrower_id,
                    "partition_key": partition_of(borrower_id),
                    "display_name": borrower.display_name,
                    "city": borrower.city,
                    "timezone": borrower.timezone,
                    "profile": str(borrower.profile),
                    "created_at": clock.now(),
                }
            )
        with UnitOfWork(self.engine) as uow:
            for chunk in range(0, len(rows), 1000):
                uow.connection.execute(insert(borrowers_table), rows[chunk : chunk + 1000])
            uow.commit()

    def _originate(self, day: date, clock: FixedClock) -> int:
        requests = sorted(self._originations.pop(day, []))
        if not requests:
            return 0
        weights = dict(self.config.product_weights)
        plans: list[tuple[int, int, int, list[Payment]]] = []
        points: list[ContactPoint] = []
        with UnitOfWork(self.engine) as uow:
            for borrower_id, code in requests:
                borrower, rng = self._borrowers[borrower_id], self._rngs[borrower_id]
                code = code or draw_product(
                    {c: p.product for c, p in self.products.items()}, weights, rng
                )
                loaded = self.products[code]
                terms = draw_terms(loaded.product, rng)
                decision_id = None
                if self.underwriting is not None:  # the application, decided and recorded
                    offered = self.underwriting.decide(
                        uow,
                        borrower,
                        rng,
                        product=code,
                        amount=terms.principal,
                        term=terms.term,
                        method=terms.method,
                        day=day,
                    )
                    if offered is None:
                        self.stats.declined += 1
                        continue
                    code, loaded = offered.product, self.products[offered.product]
                    decision_id = offered.decision_id
                    terms = replace(
                        terms,
                        principal=offered.principal,
                        term=offered.term,
                        method=offered.method,
                        rate=offered.rate,
                    )
                if self.desk is not None and borrower_id not in self._with_contacts:
                    self._with_contacts.add(borrower_id)
                    surname = borrower.display_name[:1]
                    points += self.desk.contact_points(borrower_id, surname, clock.now())
                loan_id = self._loan_ids.next_id()
                offer = open_loan(
                    uow,
                    loan_id=loan_id,
                    borrower_id=borrower_id,
                    product=loaded,
                    principal=terms.principal,
                    term=terms.term,
                    start=day,
                    now=clock.now(),
                    method=terms.method,
                    rate=terms.rate,
                    decision_id=decision_id,  # opens or rebases the borrower's credit line
                )
                sign_contract(uow, loan_id)
                due_dates = [i.due_date for i in offer.schedule.installments]
                plan = plan_payments(borrower.profile, day, due_dates, rng)
                payout = terms.principal - offer.schedule.terms.upfront_fee
                plans.append((loan_id, borrower_id, payout, plan))
                self._loans[loan_id] = _Loan(borrower_id, code)
                self.stats.loans_opened += 1
                self.stats.loans_by_product[code] += 1
            store_contacts(uow.connection, self.vault, points, clock.now(), "onboarding")
            uow.commit()
        for loan_id, borrower_id, payout, plan in plans:
            payee = self._borrowers[borrower_id].payee_account
            try:
                disburse(self.engine, self.channel, loan_id, payee, clock)
            except LendcoreError as exc:
                if exc.code is not ErrorCode.DISBURSEMENT_FAILED:
                    raise
                self.stats.rejected += 1
                self.stats.rejected_loans.append(loan_id)
                continue
            self.stats.disbursed += 1
            self.stats.disbursed_amount += payout
            for payment in plan:
                self._payments[payment.day].append((loan_id, payment))
        return len(requests)

    def _repay(self, day: date, clock: FixedClock) -> tuple[int, int]:
        due = sorted(self._payments.pop(day, []), key=lambda item: item[0])
        count = received = 0
        if not due:
            return 0, 0
        with UnitOfWork(self.engine) as uow:
            for loan_id, payment in due:
                loan = self._loans[loan_id]
                row = uow.connection.execute(
                    select(
                        loans.c.state, loans.c.penalty_receivable, loans.c.penalty_accrued
                    ).where(loans.c.borrower_id == loan.borrower_id, loans.c.loan_id == loan_id)
                ).one()
                if row.state not in LIVE:
                    continue
                rows = load_instalments(uow, loan.borrower_id, loan_id)
                amount = amount_due(payment, rows, row.penalty_receivable + row.penalty_accrued)
                if amount <= 0:
                    continue
                key = f"sim-{loan_id}-{day:%Y%m%d}-{payment.through_seq}"
                result = repay(uow, loan_id, amount, key, day, clock.now())
                count += 1
                received += amount
                self.stats.payoffs += payment.payoff
                if payment.through_seq == 0:  # a catch-up payment after a conversation
                    self.stats.catch_up_payments += 1
                    self.stats.catch_up_amount += amount
                if result.state is LoanState.SETTLED:
                    self.stats.settled += 1
                    self._maybe_borrow_again(loan_id, day)
            uow.commit()
        self.stats.repayments += count
        self.stats.repaid += received
        return count, received

    def _maybe_borrow_again(self, loan_id: int, day: date) -> None:
        """Small-loan borrowers who repaid on time come back (their credit line has stepped up)."""
        loan = self._loans[loan_id]
        borrower = self._borrowers[loan.borrower_id]
        product = self.products[loan.product_code].product
        if borrower.profile is not Profile.ON_TIME or product.term.unit is not PeriodUnit.DAY:
            return
        rng = self._rngs[loan.borrower_id]
        if rng.random() >= self.config.reborrow_share:
            return
        next_day = day + timedelta(days=rng.randint(3, 20))
        if (next_day - self.config.start).days < self.config.origination_days:
            self._originations[next_day].append((loan.borrower_id, loan.product_code))
            self.stats.reborrowed += 1

    def _write_off(self, day: date, clock: FixedClock) -> None:
        with UnitOfWork(self.engine) as uow:
            ids = (
                uow.connection.execute(
                    select(loans.c.loan_id)
                    .where(
                        loans.c.state == str(LoanState.OVERDUE),
                        loans.c.days_past_due > self.config.write_off_after_days,
                    )
                    .order_by(loans.c.loan_id)
                )
                .scalars()
                .all()
            )
            for loan_id in ids:
                self.stats.written_off_amount += write_off(uow, loan_id, day, clock.now())
                self.stats.written_off += 1
            uow.commit()

    def _snapshot(self, day: date, originated: int, repayments: int, repaid: int) -> DailyPoint:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    loans.c.state,
                    loans.c.bucket,
                    func.count(),
                    func.coalesce(func.sum(loans.c.principal_outstanding), 0),
                ).group_by(loans.c.state, loans.c.bucket)
            ).all()
        buckets = dict.fromkeys(BUCKETS, 0)
        live = overdue = settled = outstanding = overdue_principal = 0
        for state, bucket, count, principal in rows:
            if state == str(LoanState.SETTLED):
                settled += count
            if state not in LIVE:
                continue
            live += count
            outstanding += int(principal)
            buckets[bucket] = buckets.get(bucket, 0) + count
            if state == str(LoanState.OVERDUE):
                overdue += count
                overdue_principal += int(principal)
        return DailyPoint(
            day,
            originated,
            repayments,
            repaid,
            live,
            overdue,
            settled,
            outstanding,
            overdue_principal,
            buckets,
        )


def simulate(
    engine: Engine,
    config: SimulationConfig,
    on_day: Callable[[int, DailyPoint], None] | None = None,
    products: Mapping[str, LoadedProduct] | None = None,
    vault: Vault | None = None,
) -> SimulationResult:
    return Simulator(engine, config, products, vault).run(on_day)
