"""The plan optimizer: search the policy's space, keep what is lawful and affordable, and pick
three plans on the recovery / completion trade-off.

**Search space** (:mod:`lendcore.hardship.grid`): waiver levels, down payments and periods
within the policy; each candidate is what the restructure would book, at the policy's plan rate
and fee (0 and 0 by default).

**Constraints** (every returned plan meets all of them; the tests prove it):

1. instalment (the largest) ≤ max_installment_share × monthly net income;
2. total repayment ≥ debt − max_ratio × waivable charges (− principal_max × principal): the
   policy's maximum waiver is a floor on what is repaid, never a discount to give every time;
3. min ≤ periods ≤ max ≤ 60;
4. the plan's IRR-disclosed annual cost (:mod:`lendcore.schedule.disclosure`) within the cap
   (:class:`lendcore.products.caps.RateCap`);
5. the plan's own breach probability below the policy's red threshold.

**Scores.** Recovery = present value at the policy's discount rate of the down payment and the
instalments (monthly discounting, exact Decimal, half-up to the fen). Success = the share of
stress-test paths on which the plan does not break (:mod:`lendcore.hardship.stress`).

**The three plans.**

- ``conservative``: the highest success; ties go to the lowest instalment, then to recovery.
- ``aggressive``: the highest recovery among plans whose success reaches the policy's
  ``acceptable_success`` (when none does, among those as successful as the conservative plan).
- ``balanced``: the Nash bargaining point between them. Among plans at least as successful as
  the aggressive one it maximises (lender's gain) × (borrower's gain), each normalised to [0, 1]:
  the lender's gain is recovery above the conservative plan's, the borrower's the success above
  the aggressive plan's (averaged with the instalment relief below the aggressive plan's, which
  separates plans when success saturates).

So success(conservative) ≥ success(balanced) ≥ success(aggressive) and recovery(aggressive) ≥
both others, by construction. Every choice breaks ties in a fixed order: the result is a pure
function of the inputs and the stress seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from lendcore.hardship.grid import PLAN_START, Candidate, Grid, candidates, plan_irr
from lendcore.hardship.plans import KINDS, Plan
from lendcore.hardship.policy import HardshipPolicy
from lendcore.hardship.stress import BreachTable
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.caps import RateCap
from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose


@dataclass
class Outcome:
    plans: list[Plan] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # Reason codes when no plan is offered
    considered: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


def _first(items: Iterable[Candidate], ok: Callable[[Candidate], bool]) -> Candidate | None:
    return next((c for c in items if ok(c)), None)


def _clip(value: int, high: int) -> int:
    return min(max(value, 0), high)


def choose(
    feasible: list[Candidate], paths: int, acceptable: Fraction, cap_ok: Callable[[Candidate], bool]
) -> dict[str, Candidate] | None:
    """The three plans from the feasible candidates (``cap_ok`` is checked lazily: an IRR is
    solved only for a candidate that would otherwise be chosen). Success is compared as the
    number of surviving paths and the Nash product in integers: exact and fast."""
    by_safety = sorted(feasible, key=lambda c: (-c.survivors, c.installment, -c.recovery_pv))
    conservative = _first(by_safety, cap_ok)
    if conservative is None:
        return None
    # success >= acceptable  <=>  survivors >= ceil(acceptable x paths)
    needed = -(-acceptable.numerator * paths // acceptable.denominator)
    floor = min(needed, conservative.survivors)
    by_recovery = sorted(
        (c for c in feasible if c.survivors >= floor),
        key=lambda c: (-c.recovery_pv, -c.survivors, c.installment),
    )
    aggressive = _first(by_recovery, cap_ok)
    assert aggressive is not None  # the conservative plan qualifies
    # Each gain normalised to [0, 1] over its range; a range of zero drops that term. The
    # denominators are the same for every candidate, so the numerators order them exactly.
    pv_low, pv_range = conservative.recovery_pv, aggressive.recovery_pv - conservative.recovery_pv
    s_low, s_range = aggressive.survivors, conservative.survivors - aggressive.survivors
    i_high, i_range = aggressive.installment, aggressive.installment - conservative.installment

    def nash(c: Candidate) -> tuple[int, int, int, int]:
        lender = _clip(c.recovery_pv - pv_low, pv_range) if pv_range > 0 else 1
        success = _clip(c.survivors - s_low, s_range)
        relief = _clip(i_high - c.installment, i_range)
        if s_range > 0 and i_range > 0:
            borrower = success * i_range + relief * s_range  # (success + relief) / 2, scaled
        elif s_range > 0:
            borrower = success
        elif i_range > 0:
            borrower = relief
        else:
            borrower = 1
        return (lender * borrower, c.survivors * c.recovery_pv, c.survivors, -c.installment)

    pool = [c for c in feasible if c.survivors >= aggressive.survivors]
    balanced = _first(sorted(pool, key=nash, reverse=True), cap_ok)
    assert balanced is not None  # the aggressive plan qualifies
    return {"aggressive": aggressive, "balanced": balanced, "conservative": conservative}


def _plan(
    kind: str, c: Candidate, grid: Grid, policy: HardshipPolicy, paths: int, income: int
) -> Plan:
    """The chosen candidate as a plan, its amounts re-derived by the schedule engine and its
    rate disclosed by the disclosure code (so the document says what the restructure books)."""
    terms = policy.plan_terms
    schedule = build_schedule(
        ScheduleTerms(
            principal=c.financed,
            annual_rate=terms.annual_rate,
            periods=c.periods,
            method=Method.EQUAL_INSTALLMENT,
            start=PLAN_START,
            fee_per_period=c.fee,
        )
    )
    rows = schedule.installments
    if (rows[0].total, rows[-1].total) != (c.first, c.last):
        raise LendcoreError(ErrorCode.INVALID_ARGUMENT, "plan amounts disagree with the schedule")
    apr = disclose(schedule).apr_irr + 0  # + 0 turns a solver's -0 into 0
    level = grid.levels[c.level]
    return Plan(
        kind=kind,
        down_payment=c.down_payment,
        down_payment_ratio=grid.down_ratios[c.down_index],
        periods=c.periods,
        installment=c.first,
        last_installment=c.last,
        waiver=c.waiver,
        waiver_ratio=level.ratio,
        waiver_split=dict(level.split),
        financed=c.financed,
        total_repayment=c.down_payment + schedule.total_repayment,
        repayment_floor=grid.repayment_floor,
        annual_rate=terms.annual_rate,
        fee_per_period=c.fee,
        apr_irr=apr,
        success_probability=Fraction(c.survivors, paths),
        recovery_pv=c.recovery_pv,
        monthly_net_income=income,
        principal_reduction_allowed=policy.principal_reduction.allowed,
    )


def optimise(
    grid: Grid,
    policy: HardshipPolicy,
    table: BreachTable,
    *,
    monthly_net_income: int,
    max_installment: int,
) -> Outcome:
    """Search, filter and choose (see the module docstring)."""
    outcome = Outcome()
    pool = candidates(grid, policy)
    outcome.considered = len(pool)
    rejected = {"installment_cap": 0, "stress_red": 0, "rate_cap": 0}
    affordable = [c for c in pool if c.installment <= max_installment]
    rejected["installment_cap"] = len(pool) - len(affordable)
    groups: dict[tuple[int, int], list[Candidate]] = {}
    for c in affordable:
        groups.setdefault((c.down_payment, min(c.periods, table.horizon)), []).append(c)
    for (down, horizon), members in groups.items():
        broken = table.breaches_many([c.installment for c in members], down, horizon)
        for c, count in zip(members, broken, strict=True):
            c.survivors = table.paths - count
    red = Fraction(policy.stress.red_at)
    feasible = [
        c
        for c in affordable
        if (table.paths - c.survivors) * red.denominator < red.numerator * table.paths
    ]
    rejected["stress_red"] = len(affordable) - len(feasible)
    cap = RateCap(limit=policy.plan_terms.rate_cap)

    def cap_ok(c: Candidate) -> bool:
        if c.apr_irr is None:
            c.apr_irr = plan_irr(c, policy)
            if not cap.check(c.apr_irr).compliant:
                rejected["rate_cap"] += 1  # counted once per candidate whose IRR was solved
        return cap.check(c.apr_irr).compliant

    chosen = choose(feasible, table.paths, Fraction(policy.optimizer.acceptable_success), cap_ok)
    outcome.rejected = rejected
    if chosen is None:
        if not affordable:
            outcome.reasons.append("NO_AFFORDABLE_PLAN")
        elif feasible and rejected["rate_cap"]:
            outcome.reasons.append("RATE_CAP_BINDS")
        else:
            outcome.reasons.append("NO_FEASIBLE_PLAN")
        return outcome
    outcome.plans = [
        _plan(kind, chosen[kind], grid, policy, table.paths, monthly_net_income) for kind in KINDS
    ]
    return outcome
