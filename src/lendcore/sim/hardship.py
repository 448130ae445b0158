"""Hardship negotiation in the portfolio simulator: plans offered to borrowers in real hardship,
booked through the real case service, kept or broken.

A borrower whose behaviour is ``defaulter`` stopped paying because they could not; when their
loan first reaches the early-hardship policy's threshold (31 days past due,
``policies/hardship/early.yaml``), the :class:`HardshipDesk` reaches
:data:`REACHED_SHARE` of them and runs the real calculation for them
(:func:`lendcore.hardship.service.calculate_case`: the ledger's debt, a declared income, the
city's expense baseline, the stress test). When plans come back, :data:`TAKE_UP_SHARE` of the
borrowers take one (the plan they pick: balanced mostly, conservative or aggressive otherwise),
consent on a recorded call, and a supervisor approves: the loan is restructured and collection
pauses. Whether they keep the plan is drawn from the plan's own success probability; a borrower
who will not keep it pays a few instalments and stops, so the end-of-day's plan check (run by ``run_eod`` once the day is closed) breaches it.

Counts for the report: cases, ineligible by reason, plans offered, taken up, and at the end of
the run active (performing), completed (repaid) and breached — the cure rate is
(active + completed) / taken up. Reproducible: every draw comes from the borrower's own seeded
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
from lendcore.hardship.tables import hardship_cases
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.money import parse_major
from lendcore.sim.behaviour import Payment, Profile
from lendcore.store.db import UnitOfWork

POLICY = "early"  # policies/hardship/early.yaml: plans from 31 days past due
OFFER_AT_DPD = 31
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
    plans: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # at the end of the run

    def to_dict(self) -> dict[str, Any]:
        taken = max(self.taken_up, 1)
        cured = self.statuses["ACTIVE"] + self.statuses["COMPLETED"]
        return {
            "cases": self.cases,
            "ineligible": dict(self.ineligible.most_common()),
            "offered": self.offered,
            "taken_up": self.taken_up,
            "take_up_rate": round(self.taken_up / max(self.offered, 1), 4),
            "plans": dict(sorted(self.plans.items())),
            "end_status": dict(sorted(self.statuses.items())),
            "cure_rate": round(cured / taken, 4) if self.taken_up else None,
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
            request = {
                "loan_id": loan_id,
                "policy": POLICY,
                "monthly_net_income": f"{rng.randrange(*INCOME_YUAN)}.00",
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
            kind = rng.choices([k for k, _ in CHOICE], weights=[w for _, w in CHOICE])[0]
            plan = next(p for p in case["plans"] if p["kind"] == kind)
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
                    down_payment_reference=(
                        f"SIM-DP-{case_id}" if parse_major(plan["down_payment"]) else None
                    ),
                )
                uow.commit()
            self.stats.taken_up += 1
            self.stats.plans[kind] += 1
            schedule = booked["restructure"]["schedule"]
            keeps = rng.random() < float(plan["success_probability"])
            paid = len(schedule) if keeps else rng.randrange(0, max(1, len(schedule) // 2))
            for instalment in schedule[:paid]:
                due = date.fromisoformat(instalment["due_date"])
                payments.append((loan_id, Payment(due, int(instalment["seq"]))))
        return payments

    def finish(self) -> HardshipStats:
        with self.engine.connect() as connection:
            rows = connection.execute(select(hardship_cases.c.status)).scalars()
            self.stats.statuses = Counter(rows)
        return self.stats
