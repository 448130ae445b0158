"""The collections simulation's synthetic portfolio: loans, their servicing facts, contacts, and
the special cases the dialler must be stopped on.

Loans are inserted as rows with their days past due (not opened, disbursed and aged through the
servicing services: that would take minutes and test nothing about collections) *and* the
servicing facts that explain them -- an instalment due ``days_past_due`` days before the last
close and unpaid, the next one not yet due -- so the independent checker, which recomputes days
past due from instalments and repayments, agrees with the row. A cure is a repayment of the
overdue instalment (:func:`cure`), recorded as servicing records one.

Cases (each a share of the portfolio, drawn from the seed):

- hardship: a plan performing from before the run (collection paused); some breach mid-run, and
  collection resumes;
- investigation, authorised: a recorded authorisation, some on loans that are not overdue, some
  expiring or revoked mid-run; the dialler calls contacts quoting it;
- investigation, unauthorised: the dialler quotes a reference that was never recorded;
- consent withdrawals happen day by day (:data:`SimulationCases.withdraw_chance`), and contacts
  who refuse are refusals of the sandbox dialer; the dialler keeps calling both.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, update

from lendcore.collections.contacts import SELF, ContactPoint, Vault, store_contacts
from lendcore.collections.flags import authorise_investigation, set_hardship_plan
from lendcore.collections.model import ContactScope
from lendcore.kernel.ids import partition_of
from lendcore.onboarding.tables import borrowers
from lendcore.servicing.model import bucket_for
from lendcore.servicing.tables import instalments, loans, repayments
from lendcore.store.db import UnitOfWork

BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")
ZONES = (("Asia/Shanghai", 0.85), ("Asia/Urumqi", 0.15))  # Urumqi: local time 2 h behind
SCOPES = (
    (ContactScope.OVERDUE_COLLECTION, 0.5),
    (ContactScope.LOST_CONTACT_REPAIR, 0.35),
    (ContactScope.EMERGENCY, 0.15),
)
RELATIONS = ("spouse", "parent", "sibling", "friend", "colleague")
NEXT_DUE_DAYS = 90  # the next instalment falls due after any run of up to three months


def pick(rng: random.Random, weighted: Iterable[tuple[Any, float]]) -> Any:
    items = list(weighted)
    return rng.choices([v for v, _ in items], [w for _, w in items])[0]


def overdue_amount(loan_id: int) -> int:
    return 100_000 + (loan_id * 7919) % 900_000  # 1,000-10,000 yuan overdue, fen


def loan_row(
    borrower_id: int, loan_id: int, dpd: int, start: date, created_at: datetime
) -> dict[str, Any]:
    """A loans row with its days past due set directly (no ledger); :func:`instalment_rows`
    are its instalments. For the collections simulation and its tests only."""
    due = overdue_amount(loan_id)
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
        "oldest_unpaid_due_date": start - timedelta(days=1 + dpd) if dpd > 0 else None,
        "current_due_date": start + timedelta(days=NEXT_DUE_DAYS),
        "last_closed_business_date": start - timedelta(days=1),
        "start_date": start - timedelta(days=90),
        "maturity_date": start + timedelta(days=270),
        "created_at": created_at,
    }


def instalment_rows(borrower_id: int, loan_id: int, dpd: int, start: date) -> list[dict[str, Any]]:
    """The instalments that make :func:`loan_row`'s days past due true at the close of the day
    before ``start``: the overdue one due ``dpd`` days before that close (paid when ``dpd`` is
    0), and the next one due after the run."""
    due = overdue_amount(loan_id)
    closed = start - timedelta(days=1)
    first_due = closed - timedelta(days=dpd if dpd > 0 else 30)
    common = {"borrower_id": borrower_id, "loan_id": loan_id, "year_frac_num": 1}
    return [
        {
            **common,
            "seq": 1,
            "period_start": first_due - timedelta(days=30),
            "due_date": first_due,
            "year_frac_den": 12,
            "principal_due": due,
            "principal_paid": 0 if dpd > 0 else due,
        },
        {
            **common,
            "seq": 2,
            "period_start": first_due,
            "due_date": start + timedelta(days=NEXT_DUE_DAYS),
            "year_frac_den": 12,
            "principal_due": due,
            "principal_paid": 0,
        },
    ]


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


def cure(connection: Connection, borrower_id: int, loan_id: int, day: date) -> None:
    """The borrower repays the overdue instalment at the end of ``day``: a repayment row (what
    the checker reads) and the loan brought current (what the gate reads)."""
    due = overdue_amount(loan_id)
    received = datetime.combine(day + timedelta(days=1), time(0), BUSINESS_ZONE)
    connection.execute(
        insert(repayments).values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            idempotency_key=f"sim-cure-{loan_id}",
            amount=due,
            business_date=day,
            journal_seq=0,
            allocation=json.dumps({"principal": {"1": due}, "interest": {}, "fee": {}}),
            received_at=received.astimezone(UTC),
        )
    )
    connection.execute(
        update(instalments)
        .where(
            instalments.c.borrower_id == borrower_id,
            instalments.c.loan_id == loan_id,
            instalments.c.seq == 1,
        )
        .values(principal_paid=due)
    )
    connection.execute(
        update(loans)
        .where(loans.c.borrower_id == borrower_id, loans.c.loan_id == loan_id)
        .values(
            days_past_due=0,
            state="ACTIVE",
            due_principal=0,
            bucket="M0",
            oldest_unpaid_due_date=None,
        )
    )


@dataclass(frozen=True)
class SimulationCases:
    hardship_share: float = 0.04  # loans under a performing hardship plan at the start
    breach_share: float = 0.5  # of those, breached on a random day of the run
    investigation_share: float = 0.03  # loans under an authorised investigation
    current_investigation_share: float = 0.5  # of those (and of the unauthorised): DPD 0
    unauthorised_share: float = 0.02  # loans the dialler "investigates" with no authorisation
    withdraw_chance: float = 0.003  # per contact per day: consent withdrawn in the morning


@dataclass
class SimLoan:
    borrower_id: int
    loan_id: int
    contacts: list[str]
    cured_on: date | None = None
    dpd: int = 0
    hardship_ends: date | None = None  # the breach day, for a plan that breaches
    hardship: bool = False
    investigation_ref: str | None = None  # what the dialler quotes (recorded or not)
    revoke_on: date | None = None  # an authorisation revoked that morning
    withdrawn: set[str] = field(default_factory=set)

    @property
    def delinquent(self) -> bool:
        """On the dialler's (stale) collection list."""
        return self.dpd > 0 and self.cured_on is None


def seed_portfolio(
    engine: Engine,
    vault: Vault,
    rng: random.Random,
    count: int,
    start: date,
    days: int = 30,
    cases: SimulationCases | None = None,
) -> list[SimLoan]:
    cases = cases or SimulationCases()
    at = datetime.combine(start - timedelta(days=1), time(9), BUSINESS_ZONE)
    created = at.astimezone(UTC)
    portfolio: list[SimLoan] = []
    borrower_rows, loan_rows, instalment_list = [], [], []
    for i in range(1, count + 1):
        borrower_id, loan_id = 10_000 + i, 50_000 + i
        loan = SimLoan(borrower_id, loan_id, [], dpd=rng.randint(1, 45))
        draw = rng.random()
        if draw < cases.hardship_share:
            loan.hardship = True
            if rng.random() < cases.breach_share:
                loan.hardship_ends = start + timedelta(days=rng.randrange(max(days, 1)))
        elif draw < cases.hardship_share + cases.investigation_share + cases.unauthorised_share:
            authorised = draw < cases.hardship_share + cases.investigation_share
            loan.investigation_ref = f"{'INV' if authorised else 'NOAUTH'}-{loan_id}"
            if rng.random() < cases.current_investigation_share:
                loan.dpd = 0  # fraud suspected on a loan that is not overdue
        borrower_rows.append(borrower_row(borrower_id, pick(rng, ZONES), created))
        loan_rows.append(loan_row(borrower_id, loan_id, loan.dpd, start, created))
        instalment_list += instalment_rows(borrower_id, loan_id, loan.dpd, start)
        portfolio.append(loan)
    with UnitOfWork(engine) as uow:
        connection = uow.connection
        connection.execute(insert(borrowers), borrower_rows)
        connection.execute(insert(loans), loan_rows)
        connection.execute(insert(instalments), instalment_list)
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
                        pick(rng, SCOPES),
                        at - timedelta(days=100),
                    )
                )
                loan.contacts.append(f"c{n + 1}")
        store_contacts(connection, vault, points, at, "onboarding")
        _record_cases(connection, rng, portfolio, at, days)
        uow.commit()
    return portfolio


def _record_cases(
    connection: Connection, rng: random.Random, portfolio: list[SimLoan], at: datetime, days: int
) -> None:
    for loan in portfolio:
        if loan.hardship:
            set_hardship_plan(connection, loan.loan_id, True, "hardship-desk", at)
        ref = loan.investigation_ref
        if ref is not None and ref.startswith("INV-"):
            # Some lapse during the run: the dialler keeps quoting them.
            expires = at + timedelta(days=rng.choice((days + 5, days + 5, max(days // 2, 1))))
            if rng.random() < 0.25:
                loan.revoke_on = at.date() + timedelta(days=1 + rng.randrange(max(days, 1)))
            authorise_investigation(
                connection,
                loan.loan_id,
                ref,
                "fraud-supervisor",
                at,
                reason="suspected identity fraud (simulated)",
                expires_at=expires,
            )
