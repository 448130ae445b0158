"""The optimizer: hand-worked plans, and properties every returned plan must have for random
debts, incomes and policies."""

from datetime import date
from decimal import Decimal, localcontext

from hardship_builders import make_policy
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from lendcore.hardship import stress
from lendcore.hardship.grid import build_grid, reference
from lendcore.hardship.optimizer import optimise
from lendcore.hardship.plans import KINDS, Debt
from lendcore.kernel.money import Rounding, round_minor
from lendcore.products.caps import RateCap
from lendcore.schedule import Method, ScheduleTerms, build_schedule, disclose


def _solve(debt, policy, income, living=0, funds=0, seed=3, paths=400):
    grid = build_grid(debt, policy)
    table = stress.run(
        stress.StressInputs(income, living, 0, funds),
        policy.stress,
        down_payments=grid.down_payments,
        misses_allowed=policy.breach.misses_allowed,
        seed=seed,
        paths=paths,
    )
    cap = round_minor(Decimal(income) * policy.affordability.max_installment_share, Rounding.DOWN)
    return grid, optimise(grid, policy, table, monthly_net_income=income, max_installment=cap)


def test_a_single_possible_plan_is_worked_by_hand():
    policy = make_policy(
        periods={"min": 12, "max": 12}, down_payment={"min_ratio": "0", "max_ratio": "0"}
    )
    _, outcome = _solve(Debt(principal=1_200_000), policy, income=1_000_000)
    assert [p.kind for p in outcome.plans] == list(KINDS)
    for plan in outcome.plans:  # nothing to choose between: all three are the same plan
        assert (plan.periods, plan.installment, plan.last_installment) == (12, 100_000, 100_000)
        assert plan.total_repayment == 1_200_000 and plan.waiver == 0 and plan.apr_irr == 0
    with localcontext() as ctx:  # PV of 12 x 1000 yuan at 8%/12 a month
        ctx.prec = 34
        v = 1 / (1 + Decimal("0.08") / 12)
        pv = sum(100_000 * v**k for k in range(1, 13))
    assert outcome.plans[0].recovery_pv == round_minor(pv)  # 1 149 574.xx fen


def test_the_waiver_bound_is_a_floor_on_what_is_repaid():
    # 10 000 principal, 1 000 interest, 1 000 penalty; at most half the charges may go.
    debt = Debt(principal=1_000_000, interest=100_000, penalty=100_000)
    grid, outcome = _solve(debt, make_policy(), income=300_000)
    assert grid.repayment_floor == 1_200_000 - 100_000
    assert [lvl.amount for lvl in grid.levels] == [0, 20_000, 40_000, 60_000, 80_000, 100_000]
    assert grid.levels[-1].split == {"penalty": 100_000, "interest": 0, "fees": 0, "principal": 0}
    assert all(p.total_repayment >= 1_100_000 for p in outcome.plans)


def test_fees_are_not_waived_when_the_policy_excludes_them():
    debt = Debt(principal=1_000_000, interest=0, penalty=0, fees=200_000)
    grid = build_grid(debt, make_policy(waiver={"includes_fees": False}))
    assert {lvl.amount for lvl in grid.levels} == {0}


def test_principal_is_reduced_only_when_the_policy_allows_it():
    debt = Debt(principal=1_000_000, interest=100_000)
    closed = build_grid(debt, make_policy())
    opened = build_grid(
        debt, make_policy(principal_reduction={"allowed": True, "max_ratio": "0.1"})
    )
    assert closed.levels[-1].split["principal"] == 0
    assert opened.levels[-1].split["principal"] == 100_000
    assert opened.repayment_floor == 1_100_000 - 50_000 - 100_000


def test_no_affordable_plan_is_a_reason_not_a_plan():
    _, outcome = _solve(Debt(principal=50_000_000), make_policy(), income=300_000)
    assert outcome.plans == [] and outcome.reasons == ["NO_AFFORDABLE_PLAN"]


def test_a_plan_fee_above_the_rate_cap_is_never_offered():
    policy = make_policy(plan_terms={"fee_per_period_ratio": "0.01", "rate_cap": "0.10"})
    _, outcome = _solve(Debt(principal=1_000_000), policy, income=2_000_000)
    assert outcome.plans == [] and outcome.reasons == ["RATE_CAP_BINDS"]


def test_the_result_is_deterministic_for_a_seed():
    debt = Debt(principal=3_000_000, interest=250_000, penalty=180_000, fees=20_000)
    first = [p.to_document() for p in _solve(debt, make_policy(), 600_000, 261_000)[1].plans]
    again = [p.to_document() for p in _solve(debt, make_policy(), 600_000, 261_000)[1].plans]
    assert first == again


def test_plan_documents_state_money_as_yuan_strings():
    debt = Debt(principal=3_000_000, interest=250_000)
    document = _solve(debt, make_policy(), 600_000, 261_000)[1].plans[0].to_document()
    for key in ("down_payment", "installment", "waiver", "total_repayment", "recovery_pv"):
        assert isinstance(document[key], str) and document[key].count(".") == 1
        assert len(document[key].split(".")[1]) == 2
    assert set(document) >= {"kind", "periods", "apr_irr", "success_probability"}


def test_the_most_lenient_plan_is_the_stress_reference():
    debt = Debt(principal=1_000_000, interest=100_000, penalty=100_000)
    grid = build_grid(debt, make_policy())
    lenient = reference(grid, make_policy())
    assert lenient is not None
    assert (lenient.periods, lenient.waiver, lenient.down_payment) == (60, 100_000, 0)


# ---- properties ----------------------------------------------------------------------------

RATIOS = ["0", "0.05", "0.1", "0.2", "0.3", "0.5"]
# (fee per period, rate cap) pairs under which a plan can be lawful: a fee of 1% a month is over
# any cap of 10% (tested apart, in test_a_plan_fee_above_the_rate_cap_is_never_offered).
FEE_AND_CAP = [("0", "0.24"), ("0", "0.36"), ("0", "0.1"), ("0.002", "0.24"), ("0.002", "0.36")]


def _policy(draw, max_periods, share, fee_and_cap):
    down_min = draw(st.sampled_from(RATIOS[:3]))
    down_max = draw(st.sampled_from([r for r in RATIOS if Decimal(r) >= Decimal(down_min)]))
    principal_allowed = draw(st.booleans())
    fee, cap = fee_and_cap
    return make_policy(
        waiver={"max_ratio": draw(st.sampled_from(["0", "0.25", "0.5", "1"])),
                "includes_fees": draw(st.booleans()), "step": draw(st.sampled_from(["0.1", "0.25"]))},
        principal_reduction={"allowed": principal_allowed,
                             "max_ratio": draw(st.sampled_from(["0", "0.2"])) if principal_allowed else "0"},
        periods={"min": draw(st.integers(1, max_periods)), "max": max_periods},
        down_payment={"min_ratio": down_min, "max_ratio": down_max, "step": "0.05"},
        plan_terms={"fee_per_period_ratio": fee, "rate_cap": cap},
        affordability={"max_installment_share": share},
        stress={"red_at": draw(st.sampled_from(["0.5", "0.7"])), "yellow_at": "0.2"},
        optimizer={"acceptable_success": draw(st.sampled_from(["0.7", "0.8", "0.9"])), "discount_rate": "0.08"},
    )  # fmt: skip


@st.composite
def feasible_cases(draw):
    """Debts, incomes and policies under which a plan should exist: the debt fits in the
    longest term at well under the allowed instalment, living costs leave room, the fee is
    within the cap. (Cases that should get no plan are in the test after this one.)"""
    income = draw(st.integers(300_000, 5_000_000))
    share = draw(st.sampled_from(["0.3", "0.5", "0.7"]))
    max_periods = draw(st.integers(6, 60))
    affordable = int(income * Decimal(share)) * max_periods // 3
    principal = draw(st.integers(100_000, max(100_000, affordable)))
    debt = Debt(
        principal=principal,
        interest=draw(st.integers(0, principal // 8)),
        penalty=draw(st.integers(0, principal // 10)),
        fees=draw(st.integers(0, principal // 20)),
    )
    policy = _policy(draw, max_periods, share, draw(st.sampled_from(FEE_AND_CAP)))
    living = draw(st.integers(0, income // 3))
    funds = draw(st.integers(0, 2_000_000))
    return debt, policy, income, living, funds, draw(st.integers(0, 2**32))


@st.composite
def hopeless_cases(draw):
    """A debt that cannot fit: even the longest term at the allowed share of income, with the
    largest waiver and down payment, is too much — or a fee above the cap. The principal is
    4x what the instalments can carry: a 20 % principal reduction and a 50 % down payment (the
    most ``_policy`` draws) still leave 0.3 x 4 = 1.2 times it (3x left 0.9: feasible)."""
    income = draw(st.integers(100_000, 2_000_000))
    share = draw(st.sampled_from(["0.3", "0.5"]))
    max_periods = draw(st.integers(1, 60))
    too_much = int(income * Decimal(share)) * max_periods * 4
    debt = Debt(principal=draw(st.integers(too_much, too_much * 3)))
    fee_and_cap = draw(st.sampled_from([("0", "0.24"), ("0.01", "0.1")]))
    policy = _policy(draw, max_periods, share, fee_and_cap)
    return debt, policy, income, draw(st.integers(0, 2**32))


@settings(max_examples=40, deadline=None)
@given(hopeless_cases())
def test_a_case_that_cannot_fit_gets_reasons_and_no_plan(case):
    debt, policy, income, seed = case
    _, outcome = _solve(debt, policy, income, seed=seed, paths=200)
    assert outcome.plans == []
    assert outcome.reasons and set(outcome.reasons) <= {
        "NO_AFFORDABLE_PLAN", "RATE_CAP_BINDS", "NO_FEASIBLE_PLAN"}  # fmt: skip
    event(f"reasons: {','.join(outcome.reasons)}")


@settings(max_examples=60, deadline=None)
@given(feasible_cases())
def test_every_returned_plan_meets_every_constraint(case):
    debt, policy, income, living, funds, seed = case
    grid, outcome = _solve(debt, policy, income, living, funds, seed=seed, paths=300)
    event("plans" if outcome.plans else f"no plan: {','.join(outcome.reasons)}")
    # The strategy makes plans the rule (run with --hypothesis-show-statistics to see the
    # share); the rare stress-red draw is discarded rather than passing without a check.
    assume(outcome.plans)
    assert [p.kind for p in outcome.plans] == list(KINDS)
    share = policy.affordability.max_installment_share
    charges = debt.charges(policy.waiver.includes_fees)
    p_max = (
        policy.principal_reduction.max_ratio if policy.principal_reduction.allowed else Decimal(0)
    )
    floor = (
        debt.total
        - round_minor(Decimal(charges) * policy.waiver.max_ratio, Rounding.DOWN)
        - round_minor(Decimal(debt.principal) * p_max, Rounding.DOWN)
    )
    assert grid.repayment_floor == floor
    cap = RateCap(limit=policy.plan_terms.rate_cap)
    for plan in outcome.plans:
        # 1. the instalment is within the share of income
        assert max(plan.installment, plan.last_installment) <= Decimal(income) * share
        # 2. the repaid total never goes below the policy's floor
        assert plan.total_repayment >= floor
        assert plan.waiver <= debt.total - floor
        assert sum(plan.waiver_split.values()) == plan.waiver
        for component in ("interest", "penalty", "fees", "principal"):
            assert plan.waiver_split[component] <= getattr(debt, component)
        # 3. the term is within the policy and the law
        assert policy.periods.min <= plan.periods <= policy.periods.max <= 60
        # 4. the disclosed IRR, recomputed from the schedule engine, is within the cap
        schedule = build_schedule(
            ScheduleTerms(principal=plan.financed, annual_rate=policy.plan_terms.annual_rate,
                          periods=plan.periods, method=Method.EQUAL_INSTALLMENT,
                          start=date(2026, 1, 1), fee_per_period=plan.fee_per_period)
        )  # fmt: skip
        assert disclose(schedule).apr_irr == plan.apr_irr
        assert cap.check(plan.apr_irr).compliant
        # the plan is exactly the debt less the waiver less the down payment, repaid
        assert plan.financed == debt.total - plan.waiver - plan.down_payment > 0
        assert plan.total_repayment == plan.down_payment + schedule.total_repayment
        assert round_minor(Decimal(debt.total) * policy.down_payment.min_ratio) <= plan.down_payment
        assert plan.down_payment <= round_minor(Decimal(debt.total) * policy.down_payment.max_ratio)
        # 5. no plan the stress test calls red
        assert 1 - plan.success_probability < policy.stress.red_at
    aggressive, balanced, conservative = outcome.plans
    assert conservative.success_probability >= balanced.success_probability
    assert balanced.success_probability >= aggressive.success_probability
    assert aggressive.recovery_pv >= balanced.recovery_pv
    assert aggressive.recovery_pv >= conservative.recovery_pv
    if conservative.success_probability >= policy.optimizer.acceptable_success:
        assert aggressive.success_probability >= policy.optimizer.acceptable_success
