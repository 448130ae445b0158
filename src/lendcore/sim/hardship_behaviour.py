"""Whether a borrower in hardship keeps a plan — pure, and deliberately not the engine's model.

The engine estimates a plan's success with its own Monte Carlo (the policy's shocks). If the
simulator drew "keeps the plan" from that estimate, the cure rate would only echo the estimate
and could never show it wrong. So a simulated household has its own month-by-month cash: a
declared net income, essential and other spending, savings, and shocks drawn from the
parameters below (illustrative, not calibrated, and on purpose not the policy's): job loss
(no income for a few months), a pay cut, a medical bill, plus month-to-month noise. On each
plan due date the borrower pays everything the plan has asked for so far if the cash covers it,
and nothing otherwise — so a missed month can be caught up later, as people do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from lendcore.sim.behaviour import Payment

SPENDING_SHARE = (0.30, 0.60)  # of the declared income: what the household really spends
SAVINGS_MONTHS = (0.0, 2.0)  # savings in months of income
JOB_LOSS_MONTHLY = 0.025
JOB_LOSS_MONTHS = (2, 6)
PAY_CUT_MONTHLY = 0.04
PAY_CUT_FACTOR = (0.6, 0.9)
PAY_CUT_MONTHS = (3, 9)
MEDICAL_MONTHLY = 0.03
MEDICAL_BILL_MONTHS = (0.3, 1.5)  # in months of income
NOISE = 0.10  # income varies ±10% month to month


@dataclass(frozen=True)
class Household:
    income: int  # declared monthly net income, fen
    spending: int  # monthly spending, fen
    savings: int  # fen

    @classmethod
    def draw(cls, income: int, rng: random.Random) -> Household:
        return cls(
            income=income,
            spending=round(income * rng.uniform(*SPENDING_SHARE)),
            savings=round(income * rng.uniform(*SAVINGS_MONTHS)),
        )


def monthly_cash(household: Household, months: int, rng: random.Random) -> list[int]:
    """Net cash (income less spending and shock bills) for each of ``months`` months, fen."""
    out: list[int] = []
    jobless = cut_left = 0
    cut = 1.0
    for _ in range(months):
        if jobless == 0 and rng.random() < JOB_LOSS_MONTHLY:
            jobless = rng.randint(*JOB_LOSS_MONTHS)
        if cut_left == 0 and rng.random() < PAY_CUT_MONTHLY:
            cut_left, cut = rng.randint(*PAY_CUT_MONTHS), rng.uniform(*PAY_CUT_FACTOR)
        earned = 0.0 if jobless else household.income * (cut if cut_left else 1.0)
        earned *= 1 + rng.uniform(-NOISE, NOISE)
        bill = (
            household.income * rng.uniform(*MEDICAL_BILL_MONTHS)
            if rng.random() < MEDICAL_MONTHLY
            else 0
        )
        out.append(round(earned - household.spending - bill))
        jobless, cut_left = max(0, jobless - 1), max(0, cut_left - 1)
    return out


def plan_payments(
    household: Household,
    down_payment: int,
    schedule: list[tuple[int, date, int]],
    rng: random.Random,
) -> list[Payment]:
    """The payments this household makes on a plan (``schedule``: seq, due date, amount): on a
    due date, everything owed so far if the cash covers it, else nothing that month."""
    cash = household.savings - down_payment
    owed = 0
    payments: list[Payment] = []
    for (seq, due, amount), net in zip(
        schedule, monthly_cash(household, len(schedule), rng), strict=True
    ):
        cash += net
        owed += amount
        if cash >= owed:
            payments.append(Payment(due, seq))
            cash -= owed
            owed = 0
    return payments
