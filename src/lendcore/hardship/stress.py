"""Stress test: how likely is a plan to break within the next 6-12 months?

A Monte Carlo over ``paths`` futures of the borrower's month, seeded (numpy's PCG64 Generator)
so a case replays exactly. Each month, on every path:

- **job loss**: an employed borrower loses the job with ``job_loss_monthly``; an unemployed one
  finds work again with 1 / ``reemployment_months_mean`` (a geometric spell). Out of work the
  income is ``unemployment_income_ratio`` of the declared income (insurance, odd jobs);
- **pay cut**: with ``pay_cut_monthly`` the pay level drops by a uniform 10-30% and stays down;
- **noise**: pay varies by ``income_volatility`` (normal, relative);
- **medical bill**: with ``medical_monthly`` a bill, log-normal around ``medical_median``.

Disposable cash d = income − living costs (essentials × the expense coefficient) − other debt
service − medical bills. Cash carries over: the borrower starts with ``liquid_funds`` less the
down payment (a down payment beyond the funds is taken from the first months' surplus), and
arrears carry over too. With an instalment x the deficit after t months is t·x − (B₀ + Σd); the
plan **breaks** once more than ``misses_allowed`` instalments are unpaid, i.e. when
x·(t − m) > B₀ + Σ_{s≤t} d_s for some t > m. So every path has one breaking instalment

    x*_p(h) = min_{m < t ≤ h} (B₀ + Σ_{s≤t} d_s) / (t − m)

and P(breach | x, h) is the share of paths with x*_p(h) < x — one simulation prices every plan
(a sorted array and a binary search), which is what keeps the optimizer fast. The horizon h is
the plan's length capped at the policy's 6-12 months.

Floats here are simulated cash for probabilities only; no amount leaves this module as money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt

from lendcore.hardship.policy import Shocks, Stress

Level = Literal["green", "yellow", "red"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StressInputs:
    monthly_net_income: int  # fen
    monthly_living_costs: int  # essentials × expense coefficient, fen
    other_debt_payments: int  # fen
    liquid_funds: int  # fen available for the down payment and as a buffer


def simulate_cash(
    inputs: StressInputs, shocks: Shocks, *, horizon: int, paths: int, seed: int
) -> FloatArray:
    """Disposable cash of every path in every month, shape (paths, horizon), in fen."""
    rng = np.random.default_rng(seed)
    f = float  # policy Decimals -> simulation parameters
    shape = (horizon, paths)
    loss_draw = rng.random(shape)
    cut_draw = rng.random(shape)
    cut_size = rng.uniform(f(shocks.pay_cut_min), f(shocks.pay_cut_max), shape)
    noise = rng.standard_normal(shape)
    medical_draw = rng.random(shape)
    medical_size = rng.standard_normal(shape)

    income = f(inputs.monthly_net_income)
    fixed = f(inputs.monthly_living_costs + inputs.other_debt_payments)
    reemploy = 1.0 / f(shocks.reemployment_months_mean)
    median_bill = f(shocks.medical_median)
    employed = np.ones(paths, dtype=bool)
    level = np.ones(paths)
    cash = np.empty((paths, horizon))
    for t in range(horizon):
        lose = employed & (loss_draw[t] < f(shocks.job_loss_monthly))
        found = ~employed & (loss_draw[t] < reemploy)
        employed = (employed & ~lose) | found
        level = np.where(cut_draw[t] < f(shocks.pay_cut_monthly), level * (1 - cut_size[t]), level)
        pay = income * level * np.maximum(1 + f(shocks.income_volatility) * noise[t], 0.0)
        earned = np.where(employed, pay, income * f(shocks.unemployment_income_ratio))
        bills = np.where(
            medical_draw[t] < f(shocks.medical_monthly),
            median_bill * np.exp(f(shocks.medical_sigma) * medical_size[t]),
            0.0,
        )
        cash[:, t] = earned - fixed - bills
    return cash


@dataclass(frozen=True)
class BreachTable:
    """For each down payment and horizon, every path's breaking instalment, sorted."""

    down_payments: tuple[int, ...]
    horizon: int
    paths: int
    misses_allowed: int
    thresholds: FloatArray  # shape (len(down_payments), horizon, paths), sorted on the last axis

    def _index(self, down_payment: int) -> int:
        try:
            return self.down_payments.index(down_payment)
        except ValueError:
            raise KeyError(f"no simulation for down payment {down_payment}") from None

    def breaches(self, installment: int, down_payment: int, periods: int) -> int:
        """How many paths break a plan of ``periods`` instalments of ``installment`` fen."""
        h = min(periods, self.horizon)
        row = self.thresholds[self._index(down_payment), h - 1]
        return int(np.searchsorted(row, float(installment), side="left"))

    def breaches_many(
        self, installments: Sequence[int], down_payment: int, periods: int
    ) -> list[int]:
        h = min(periods, self.horizon)
        row = self.thresholds[self._index(down_payment), h - 1]
        found = np.searchsorted(row, np.asarray(installments, dtype=np.float64), side="left")
        return [int(n) for n in found]

    def probability(self, installment: int, down_payment: int, periods: int) -> Fraction:
        return Fraction(self.breaches(installment, down_payment, periods), self.paths)


def breach_table(
    cash: FloatArray, liquid_funds: int, down_payments: Sequence[int], misses_allowed: int
) -> BreachTable:
    paths, horizon = cash.shape
    cumulative = np.cumsum(cash, axis=1)  # (paths, horizon)
    t = np.arange(1, horizon + 1, dtype=np.float64)
    divisor = t - misses_allowed
    unique = tuple(dict.fromkeys(int(d) for d in down_payments))
    table = np.empty((len(unique), horizon, paths))
    for k, down in enumerate(unique):
        funds = float(liquid_funds - down) + cumulative  # B0 + cumulative cash, per month
        with np.errstate(divide="ignore", invalid="ignore"):
            per_month = np.where(divisor > 0, funds / np.where(divisor > 0, divisor, 1), np.inf)
        running = np.minimum.accumulate(per_month, axis=1)  # min over t <= h
        table[k] = np.sort(running.T, axis=1)
    return BreachTable(unique, horizon, paths, misses_allowed, table)


def run(
    inputs: StressInputs,
    rules: Stress,
    *,
    down_payments: Sequence[int],
    misses_allowed: int,
    seed: int,
    paths: int | None = None,
) -> BreachTable:
    """Simulate once and tabulate breaking instalments for every candidate down payment."""
    cash = simulate_cash(
        inputs,
        rules.shocks,
        horizon=rules.horizon_months,
        paths=paths or rules.paths,
        seed=seed,
    )
    return breach_table(cash, inputs.liquid_funds, down_payments, misses_allowed)


def level(probability: Fraction, rules: Stress) -> Level:
    if probability >= Fraction(rules.red_at):
        return "red"
    if probability >= Fraction(rules.yellow_at):
        return "yellow"
    return "green"


def as_probability(value: Fraction) -> float:
    """A probability for a document: four places (a display value, never money)."""
    return float(round(Decimal(value.numerator) / Decimal(value.denominator), 4))
