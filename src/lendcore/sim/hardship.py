"""Hardship negotiation in the portfolio simulator: plans offered to borrowers in real hardship,
booked through the real case service, kept or broken.

A borrower whose behaviour is ``defaulter`` stopped paying because they could not; when their
loan first passes the early-hardship policy's threshold (``policies/hardship/early.yaml``: the
day after ``days_past_due_over``, read from the policy), the :class:`HardshipDesk` reaches
:data:`REACHED_SHARE` of them and runs the real calculation for them
(:func:`lendcore.hardship.service.calculate_case`: the ledger's debt, a declared income and
savings, the city's expense baseline, the stress test). When plans come back,
:data:`TAKE_UP_SHARE` of the borrowers take one (balanced mostly, conservative or aggressive
otherwise) — one whose down payment their savings cover; a borrower who cannot pay any plan's
down payment declines. They consent on a recorded call, pay the down payment (the desk books it
against the payment channel's receipt serial) and a supervisor approves: the loan is
restructured and collection pauses.

Whether they keep the plan comes from their own simulated cash, month by month
(:mod:`lendcore.sim.hardship_behaviour`: income, spending, job loss, pay cuts, medical bills),
against the plan's instalments — never from the engine's success estimate, so the outcome can
show the engine wrong. The end-of-day's plan check (run by ``run_eod`` once the day is closed)
breaches a plan with too many misses.

Counts for the report: cases, ineligible by reason, plans offered, taken up, declined for the
down payment, and at the end of the run, separately: completed (repaid: cured), breached, and
still performing; the cure rate is completed / taken up, next to the engine's mean predicted
success for the plans taken. Reproducible: every draw comes from the borrower's own seeded
random stream and the stress test is seeded by the case id.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from lendcore.hardship import service
from lendcore.hardship.api_support import calculator
from lendcore.hardship.store import default_store
from lendcore.hardship.tables import hardship_cases
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.money import format_major, parse_major
from lendcore.sim.behaviour import Payment, Profile
from lendcore.sim.hardship_behaviour import Household, plan_payments
from lendcore.store.db import UnitOfWork

POLICY = "early"  # policies/hardship/early.yaml
# The policy says from when a borrower is eligible ("over N days past due"): offer on day N + 1.
DAYS_PAST_DUE_OVER = default_store().get(POLICY).policy.eligibility.days_past_due_over
OFFER_AT_DPD = DAYS_PAST_DUE_OVER + 1
REACHED_SHARE = 0.7  # borrowers the desk manages to talk to
TAKE_UP_SHARE = 0.75  # of those offered plans, who accept one
CHOICE = (("balanced", 0.6), ("conservative", 0.3), ("aggressive", 0.1))
INCOME_YUAN = (4_000, 15_000)


@dataclass
class HardshipStats:
    cases: int = 0
    ineligible: Counter[str] = field(default_factory=Counter)  # first reason code
    offered: int = 0
    taken_up: int = 0
    declined_down_payment: int = 0  # offered plans, but savings cover no plan's down payment
    plans: Counter[str] = field(default_factory=Counter)
    predicted_success: list[float] = field(default_factory=list)  # of the plans taken
    statuses: Counter[str] = field(default_factory=Counter)  # at the end of the run

    def to_dict(self) -> dict[str, Any]:
        def rate(count: int) -> float | None:
            return round(count / self.taken_up, 4) if self.taken_up else None

        predicted = self.predicted_success
        return {
            "policy": {"id": POLICY, "days_past_due_over": DAYS_PAST_DUE_OVER},
            "cases": self.cases,
            "ineligible": dict(self.ineligible.most_common()),
            "offered": self.offered,
            "taken_up": self.taken_up,
            "declined_down_payment": self.declined_down_payment,
            "take_up_rate": round(self.taken_up / max(self.offered, 1), 4),
            "plans": dict(sorted(self.plans.items())),
            "end_status": dict(sorted(self.statuses.items())),
            "completed": self.statuses["COMPLETED"],
            "breached": self.statuses["BREACHED"],
            "performing": self.statuses["ACTIVE"],
            # Only a repaid plan is cured; a running one may still break.
            "cure_rate": rate(self.statuses["COMPLETED"]),
            "breach_rate": rate(self.statuses["BREACHED"]),
            "performing_rate": rate(self.statuses["ACTIVE"]),
            "mean_predicted_success": (
                round(sum(predicted) / len(predicted), 4) if predicted else None
            ),
        }


class HardshipDesk:
    def __init__(self, engine: Engine, seed: int):
        self.engine = engine
        self.seed = seed
        self.stats = HardshipStats()
        self._seen: set[int] = set()

    def work(
        self,
        day: date,
        now: datetime,
        candidates: list[tuple[int, int, Profile, str, random.Random]],
    ) -> list[tuple[int, Payment]]:
        """Offer plans to ``candidates`` (loan, borrower, behaviour, city, rng) that reached the
        threshold; returns the plan payments to schedule (loan, payment)."""
        payments: list[tuple[int, Payment]] = []
        clock = FixedClock.at_date(day)
        engine = calculator(clock)
        for loan_id, _borrower_id, profile, city, rng in candidates:
            if loan_id in self._seen or profile is not Profile.DEFAULTER:
                continue
            self._seen.add(loan_id)
            if rng.random() >= REACHED_SHARE:
                continue
            household = Household.draw(rng.randrange(*INCOME_YUAN) * 100, rng)
            request = {
                "loan_id": loan_id,
                "policy": POLICY,
                "monthly_net_income": format_major(household.income),
                "liquid_funds": format_major(household.savings),
                "city": city,
                "household_size": rng.randrange(1, 4),
                "proof_of_hardship": True,
            }
            with UnitOfWork(self.engine) as uow:
                case = service.calculate_case(uow, request, engine, now=now, actor="sim-desk")
                uow.commit()
            self.stats.cases += 1
            if case["status"] != "CALCULATED":
                code = (case.get("reasons") or [{"code": "UNKNOWN"}])[0]["code"]
                self.stats.ineligible[code] += 1
                continue
            self.stats.offered += 1
            if rng.random() >= TAKE_UP_SHARE:
                continue
            affordable = {
                p["kind"]: p
                for p in case["plans"]
                if parse_major(p["down_payment"]) <= household.savings
            }
            choice = [(k, w) for k, w in CHOICE if k in affordable]
            if not choice:
                self.stats.declined_down_payment += 1
                continue
            kind = rng.choices([k for k, _ in choice], weights=[w for _, w in choice])[0]
            plan = affordable[kind]
            down_payment = parse_major(plan["down_payment"])
            case_id = int(case["case_id"])
            with UnitOfWork(self.engine) as uow:
                service.submit(
                    uow,
                    case_id,
                    kind,
                    {"agreed": True, "channel": "oral", "recording_ref": f"sim-rec-{case_id}"},
                    actor="sim-desk",
                    now=now,
                )
                booked = service.approve(
                    uow,
                    case_id,
                    operator="sim-supervisor",
                    business_date=day,
                    now=now,
                    # The desk books a down payment only against the channel's receipt.
                    down_payment_reference=f"SIM-DP-{case_id}" if down_payment else None,
                )
                uow.commit()
            self.stats.taken_up += 1
            self.stats.plans[kind] += 1
            self.stats.predicted_success.append(float(plan["success_probability"]))
            schedule = [
                (
                    int(i["seq"]),
                    date.fromisoformat(i["due_date"]),
                    int(i["principal"]) + int(i["interest"]) + int(i["fee"]),
                )
                for i in booked["restructure"]["schedule"]
            ]
            for payment in plan_payments(household, down_payment, schedule, rng):
                payments.append((loan_id, payment))
        return payments

    def finish(self) -> HardshipStats:
        with self.engine.connect() as connection:
            rows = connection.execute(select(hardship_cases.c.status)).scalars()
            self.stats.statuses = Counter(rows)
        return self.stats
