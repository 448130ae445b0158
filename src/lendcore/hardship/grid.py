"""The optimizer's search space and the arithmetic of each candidate plan.

Waiver levels w = 0, step, 2·step ... max_ratio of the waivable charges (interest, penalty and,
if the policy says so, fees; principal too when the policy allows it, scaled by w / max_ratio);
down payments d = min_ratio ... max_ratio of the debt owed (in steps); periods min ... max. A
candidate is what the restructure books: the debt less the waiver less the down payment, repaid
in equal monthly instalments as the schedule engine builds them (the last takes the rounding) at
the policy's plan rate plus its per-period fee. Its recovery is the present value of the down
payment and instalments at the policy's discount rate (monthly, exact Decimal, half-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

from lendcore.hardship.plans import Debt
from lendcore.hardship.policy import HardshipPolicy
from lendcore.kernel.money import Rounding, round_minor, round_ratio
from lendcore.schedule import Method
from lendcore.schedule.amortize import amortize
from lendcore.schedule.disclosure import annualised_irr

MONTH = Fraction(1, 12)  # a 30/360 month
PLAN_START = date(2000, 1, 1)  # amounts do not depend on the date under 30/360 regular months


@dataclass(frozen=True)
class WaiverLevel:
    ratio: Decimal  # of the waivable charges
    amount: int
    split: dict[str, int]


@dataclass(frozen=True)
class Grid:
    debt: Debt
    levels: tuple[WaiverLevel, ...]
    down_ratios: tuple[Decimal, ...]
    down_payments: tuple[int, ...]
    periods: tuple[int, ...]
    repayment_floor: int  # the least any plan may repay in total


def _steps(low: Decimal, high: Decimal, step: Decimal) -> tuple[Decimal, ...]:
    values = []
    value = low
    while value < high:
        values.append(value)
        value += step
    values.append(high)
    return tuple(dict.fromkeys(values))


def _split(
    debt: Debt, charge_waiver: int, principal_waiver: int, includes_fees: bool
) -> dict[str, int]:
    left = charge_waiver
    split: dict[str, int] = {}
    for component in ("penalty", "interest", "fees"):
        if component == "fees" and not includes_fees:
            split[component] = 0
            continue
        take = min(left, getattr(debt, component))
        split[component] = take
        left -= take
    split["principal"] = principal_waiver
    return split


def build_grid(debt: Debt, policy: HardshipPolicy) -> Grid:
    waiver, principal_rule = policy.waiver, policy.principal_reduction
    charges = debt.charges(waiver.includes_fees)
    principal_max = principal_rule.max_ratio if principal_rule.allowed else Decimal(0)
    levels = []
    for ratio in _steps(Decimal(0), waiver.max_ratio, waiver.step):
        # Round down: a waiver never exceeds the policy's ratio, so the floor always holds.
        charge_part = round_minor(Decimal(charges) * ratio, Rounding.DOWN)
        principal_part = 0
        if principal_max > 0 and waiver.max_ratio > 0:
            scaled = principal_max * ratio / waiver.max_ratio
            principal_part = round_minor(Decimal(debt.principal) * scaled, Rounding.DOWN)
        levels.append(
            WaiverLevel(
                ratio,
                charge_part + principal_part,
                _split(debt, charge_part, principal_part, waiver.includes_fees),
            )
        )
    down = policy.down_payment
    ratios = _steps(down.min_ratio, down.max_ratio, down.step)
    payments = tuple(round_minor(Decimal(debt.total) * r, Rounding.HALF_UP) for r in ratios)
    floor = (
        debt.total
        - round_minor(Decimal(charges) * waiver.max_ratio, Rounding.DOWN)
        - round_minor(Decimal(debt.principal) * principal_max, Rounding.DOWN)
    )
    periods = tuple(range(policy.periods.min, policy.periods.max + 1))
    return Grid(debt, tuple(levels), ratios, payments, periods, floor)


@lru_cache(maxsize=16)
def _discount(rate: Decimal) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """(annuity factors A_k = Σ_{i≤k} v^i, single factors v^k) for k = 0..60, v = 1/(1+r/12)."""
    with localcontext() as ctx:
        ctx.prec = 34
        v = 1 / (1 + rate / 12)
        singles, annuities = [Decimal(1)], [Decimal(0)]
        for _ in range(60):
            singles.append(singles[-1] * v)
            annuities.append(annuities[-1] + singles[-1])
    return tuple(annuities), tuple(singles)


@lru_cache(maxsize=64)
def _regular_periods(n: int) -> tuple[tuple[date, date, tuple[int, int]], ...]:
    return tuple((PLAN_START, PLAN_START, (30, 360)) for _ in range(n))


@dataclass
class Candidate:
    level: int  # index into Grid.levels
    down_index: int
    periods: int
    waiver: int
    down_payment: int
    financed: int
    first: int  # the level instalment, fee included
    last: int  # the final instalment (takes the rounding), fee included
    fee: int
    total_repayment: int
    recovery_pv: int
    survivors: int = 0  # stress paths on which the plan does not break
    apr_irr: Decimal | None = None

    @property
    def installment(self) -> int:
        return max(self.first, self.last)


def _instalments(financed: int, periods: int, rate: Decimal) -> tuple[int, int]:
    """(level instalment, last instalment) without fees, as the schedule engine builds them."""
    if rate == 0:
        level = round_ratio(financed, periods, Rounding.HALF_UP)
        return (financed, financed) if periods == 1 else (level, financed - (periods - 1) * level)
    rows = amortize(
        financed,
        Fraction(rate),
        Method.EQUAL_INSTALLMENT,
        list(_regular_periods(periods)),
        MONTH,
        Rounding.HALF_UP,
    )
    return rows[0].total, rows[-1].total


def candidates(grid: Grid, policy: HardshipPolicy) -> list[Candidate]:
    """Every point of the grid that is a plan (something left to repay in whole fen a month)."""
    terms = policy.plan_terms
    annuity, single = _discount(policy.optimizer.discount_rate)
    found = []
    for j, level in enumerate(grid.levels):
        remaining = grid.debt.total - level.amount
        for k, down in enumerate(grid.down_payments):
            financed = remaining - down
            if financed <= 0:
                continue  # the down payment settles it: a settlement, not a plan
            fee = round_minor(Decimal(financed) * terms.fee_per_period_ratio, Rounding.HALF_UP)
            for n in grid.periods:
                level_payment, last = _instalments(financed, n, terms.annual_rate)
                if last <= 0 or level_payment <= 0:
                    continue  # fewer fen than periods
                first, final = level_payment + fee, last + fee
                pv = Decimal(down) + first * annuity[n - 1] + final * single[n]
                found.append(
                    Candidate(
                        level=j,
                        down_index=k,
                        periods=n,
                        waiver=level.amount,
                        down_payment=down,
                        financed=financed,
                        first=first,
                        last=final,
                        fee=fee,
                        total_repayment=down + (n - 1) * first + final,
                        recovery_pv=round_minor(pv, Rounding.HALF_UP),
                    )
                )
    return found


def plan_irr(candidate: Candidate, policy: HardshipPolicy) -> Decimal:
    """The annualised IRR of the plan's cash flows on the restructured balance."""
    terms = policy.plan_terms
    if terms.annual_rate == 0 and candidate.fee == 0:
        return Decimal(0)  # repaying exactly the balance: the IRR is 0 by definition
    flows = [candidate.first] * (candidate.periods - 1) + [candidate.last]
    return annualised_irr(candidate.financed, flows, [MONTH] * candidate.periods) + 0


def reference(grid: Grid, policy: HardshipPolicy) -> Candidate | None:
    """The most lenient plan the policy allows (the largest waiver, the smallest down payment,
    the longest term): the stress level is judged on it."""
    lenient = Grid(
        grid.debt,
        grid.levels[-1:],
        grid.down_ratios[:1],
        grid.down_payments[:1],
        grid.periods[-1:],
        grid.repayment_floor,
    )
    found = candidates(lenient, policy)
    if not found:
        return None
    c = found[0]
    c.level = len(grid.levels) - 1
    return c
