"""The hardship engine's one entry point: a request in, a decision document out. Pure: the
policy store is the only thing read (files, cached), no database, no clock (``as_of`` is given).

    eligibility -> statements (or declared income) -> affordability -> stress -> plans -> script

The document::

    {eligible, reasons: [{code, message_zh, message_en, details?}], recommendation,
     debt, ability, statements, stress: {level, default_probability, ...},
     plans: [{kind, down_payment, periods, installment, waiver, total_repayment, apr_irr,
              success_probability, recovery_pv, ...}] (exactly three, or none),
     scripts: {aggressive|balanced|conservative: {plan, zh, en}}, script (the balanced one),
     policy: {id, version, misses_allowed, ...}, search}

Money is yuan strings ("1234.56"), rates four-place strings, probabilities numbers.
Everything the case needs later (the plan the borrower picks, the policy version, the number of
misses allowed) is in it, so the service stores it as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from lendcore.hardship import grid as search
from lendcore.hardship import optimizer, stress
from lendcore.hardship.affordability import Ability, assess
from lendcore.hardship.plans import Debt
from lendcore.hardship.reasons import RECOMMENDATION, Reason, reason
from lendcore.hardship.request import HardshipRequest, parse_request
from lendcore.hardship.scripts import ScriptFacts, render_scripts
from lendcore.hardship.statements import StatementAnalysis, analyse
from lendcore.hardship.store import LoadedPolicy, PolicyStore, default_store
from lendcore.kernel.money import Rounding, format_major, round_minor


def _debt_document(debt: Debt) -> dict[str, str]:
    return {
        "principal": format_major(debt.principal),
        "interest": format_major(debt.interest),
        "penalty": format_major(debt.penalty),
        "fees": format_major(debt.fees),
        "total": format_major(debt.total),
    }


def _policy_document(loaded: LoadedPolicy) -> dict[str, Any]:
    p = loaded.policy
    return {
        "id": p.id,
        "version": loaded.version_hash,
        "name": {"zh-CN": p.name.zh_CN, "en": p.name.en},
        "misses_allowed": p.breach.misses_allowed,
        "expense_table": {
            "id": loaded.expense_table.id,
            "label": {
                "zh-CN": loaded.expense_table.label.zh_CN,
                "en": loaded.expense_table.label.en,
            },
        },
    }


def _eligibility(
    request: HardshipRequest, loaded: LoadedPolicy, as_of: date | None
) -> list[dict[str, Any]]:
    policy = loaded.policy
    reasons = []
    if as_of is not None and policy.effective_from > as_of:
        reasons.append(
            reason(Reason.POLICY_NOT_EFFECTIVE, effective_from=policy.effective_from.isoformat())
        )
    if request.days_past_due <= policy.eligibility.days_past_due_over:
        reasons.append(
            reason(
                Reason.DPD_BELOW_THRESHOLD,
                days_past_due=request.days_past_due,
                required_over=policy.eligibility.days_past_due_over,
            )
        )
    if policy.eligibility.proof_of_hardship_required and not request.proof_of_hardship:
        reasons.append(reason(Reason.PROOF_OF_HARDSHIP_REQUIRED))
    return reasons


def _income(request: HardshipRequest, analysis: StatementAnalysis | None) -> tuple[int, str]:
    """Declared, evidenced, or the lower of both when both are given."""
    if analysis is None:
        assert request.monthly_net_income is not None  # the request validator ensures it
        return request.monthly_net_income, "declared"
    if request.monthly_net_income is None:
        return analysis.monthly_net_income, "statements"
    return min(
        request.monthly_net_income, analysis.monthly_net_income
    ), "lower_of_declared_and_statements"


def _ability(
    request: HardshipRequest, loaded: LoadedPolicy, analysis: StatementAnalysis | None
) -> Ability:
    income, source = _income(request, analysis)
    matched, baseline = loaded.expense_table.baseline_per_person(request.city)
    evidenced_debt = analysis.monthly_loan_repayments if analysis else 0
    return assess(
        monthly_net_income=income,
        income_source=source,
        declared_expenses=request.declared_expenses,
        evidenced_expenses=analysis.monthly_essential if analysis else None,
        city=request.city,
        city_matched=matched,
        baseline_per_person=baseline,
        household_size=request.household_size,
        other_debt_payments=max(request.other_debt_payments, evidenced_debt),
        rules=loaded.policy.affordability,
    )


def _liquid_funds(request: HardshipRequest, analysis: StatementAnalysis | None) -> int:
    if request.liquid_funds is not None:
        return request.liquid_funds
    if analysis is not None and analysis.closing_balance is not None:
        return max(analysis.closing_balance, 0)
    return 0


def calculate(
    request: Mapping[str, Any] | HardshipRequest,
    policy_store: PolicyStore | None = None,
    *,
    seed: int,
    as_of: date | None = None,
    paths: int | None = None,
) -> dict[str, Any]:
    """Eligibility, ability, stress level, three plans and a script for ``request``.

    ``seed`` drives the stress test (the same seed, the same document); ``as_of`` is the
    business date (future-dated statement rows and not-yet-effective policies are judged
    against it; ``None`` skips those two checks); ``paths`` overrides the policy's number of
    stress paths (benchmarks). Raises ``ValidationError`` on a bad request, an unknown policy or
    an unreadable statement; every business "no" is a reason in the document instead."""
    parsed = parse_request(request)
    store = policy_store or default_store()
    loaded = store.get(parsed.policy)
    policy = loaded.policy
    debt = parsed.debt.to_debt()
    reasons = _eligibility(parsed, loaded, as_of)
    document: dict[str, Any] = {
        "eligible": False,
        "reasons": reasons,
        "recommendation": None,
        "debt": _debt_document(debt),
        "ability": None,
        "statements": None,
        "stress": None,
        "plans": [],
        "script": None,
        "scripts": {},
        "policy": _policy_document(loaded),
        "search": None,
    }

    analysis = None
    if parsed.statements:
        analysis = analyse(
            parsed.statements, policy.evidence, borrower_name=parsed.borrower_name, as_of=as_of
        )
        document["statements"] = analysis.to_dict()
        if analysis.flagged:
            # A flagged statement blocks the flow: nothing is computed from forged evidence.
            reasons.append(
                reason(Reason.STATEMENT_FLAGGED, signals=[s.code for s in analysis.signals])
            )
            return document
        if parsed.monthly_net_income is None and analysis.days < policy.evidence.min_statement_days:
            reasons.append(
                reason(
                    Reason.INSUFFICIENT_STATEMENT_HISTORY,
                    days=analysis.days,
                    required=policy.evidence.min_statement_days,
                )
            )
            return document

    ability = _ability(parsed, loaded, analysis)
    document["ability"] = ability.to_dict()
    if policy.eligibility.require_positive_surplus and ability.surplus <= 0:
        reasons.append(reason(Reason.NO_REPAYMENT_CAPACITY, surplus=format_major(ability.surplus)))

    grid = search.build_grid(debt, policy)
    living = round_minor(
        Decimal(ability.essential_expenses) * policy.affordability.expense_coefficient,
        Rounding.HALF_UP,
    )
    inputs = stress.StressInputs(
        monthly_net_income=ability.monthly_net_income,
        monthly_living_costs=living,
        other_debt_payments=ability.other_debt_payments,
        liquid_funds=_liquid_funds(parsed, analysis),
    )
    table = stress.run(
        inputs,
        policy.stress,
        down_payments=grid.down_payments,
        misses_allowed=policy.breach.misses_allowed,
        seed=seed,
        paths=paths,
    )
    lenient = search.reference(grid, policy)
    if lenient is None:
        reasons.append(reason(Reason.NO_FEASIBLE_PLAN))
        return document
    probability = table.probability(lenient.installment, lenient.down_payment, lenient.periods)
    level = stress.level(probability, policy.stress)
    document["stress"] = {
        "level": level,
        "default_probability": stress.as_probability(probability),
        "horizon_months": table.horizon,
        "paths": table.paths,
        "seed": seed,
        "misses_allowed": table.misses_allowed,
        "liquid_funds": format_major(inputs.liquid_funds),
        "monthly_living_costs": format_major(living),
        "reference_plan": {
            "down_payment": format_major(lenient.down_payment),
            "periods": lenient.periods,
            "installment": format_major(lenient.installment),
            "waiver": format_major(lenient.waiver),
        },
    }
    if level == "red":
        reasons.append(reason(Reason.STRESS_RED))
    if reasons:
        if level == "red" or any(r["code"] == Reason.NO_REPAYMENT_CAPACITY for r in reasons):
            document["recommendation"] = RECOMMENDATION
        return document

    outcome = optimizer.optimise(
        grid,
        policy,
        table,
        monthly_net_income=ability.monthly_net_income,
        max_installment=ability.max_installment,
    )
    document["search"] = {"considered": outcome.considered, "rejected": outcome.rejected}
    if not outcome.plans:
        reasons.extend(reason(Reason(code)) for code in outcome.reasons)
        document["recommendation"] = RECOMMENDATION
        return document

    plans = [plan.to_document() for plan in outcome.plans]
    facts = ScriptFacts(
        debt=debt,
        days_past_due=parsed.days_past_due,
        monthly_net_income=ability.monthly_net_income,
        essential_expenses=ability.essential_expenses,
        other_debt_payments=ability.other_debt_payments,
        hardship_reason=parsed.hardship_reason,
        policy_name_zh=policy.name.zh_CN,
        policy_name_en=policy.name.en,
        policy_version=loaded.version_hash[:12],
        sources=tuple(s.text for s in policy.sources if s.tag != "internal"),
        misses_allowed=policy.breach.misses_allowed,
    )
    # A script for each plan: the agent reads the one the borrower is considering, and the
    # case keeps the chosen plan's script at submit. ``script`` (balanced) stays for callers
    # that read one.
    scripts = {
        plan["kind"]: render_scripts(plan, facts, extra_banned=policy.banned_phrases)
        for plan in plans
    }
    document.update(eligible=True, plans=plans, scripts=scripts, script=scripts["balanced"])
    return document
