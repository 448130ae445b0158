"""Ability to repay.

    essential_expenses = max(declared or evidenced essential spending, city baseline × household)
    ability_score      = monthly_net_income × income_coefficient
                         − essential_expenses × expense_coefficient
    surplus            = ability_score − other_debt_payments
    max_installment    = monthly_net_income × max_installment_share   (rounded down)

The coefficients come from the policy (0.6 and 1.2 by default): the income one discounts income
that may not last, the expense one adds a margin over bare essentials. The city baseline is the
policy's expense table (configuration from the local minimum-living standard, not law), so a
borrower cannot declare spending below what living in that city costs. Money is fen; every
product with a coefficient is an exact Decimal, rounded once, half-up (the instalment cap rounds
down so it is never exceeded by a fen).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lendcore.hardship.policy import Affordability
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import Rounding, format_major, round_minor


@dataclass(frozen=True)
class Ability:
    monthly_net_income: int
    income_source: str  # "declared" | "statements"
    declared_expenses: int | None
    evidenced_expenses: int | None
    city: str
    city_matched: str  # the expense-table entry used ("default" when the city is not listed)
    baseline_per_person: int
    household_size: int
    city_baseline: int
    essential_expenses: int
    other_debt_payments: int
    income_coefficient: Decimal
    expense_coefficient: Decimal
    ability_score: int
    surplus: int
    max_installment: int

    def to_dict(self) -> dict[str, Any]:
        def money(value: int | None) -> str | None:
            return None if value is None else format_major(value)

        return {
            "monthly_net_income": format_major(self.monthly_net_income),
            "income_source": self.income_source,
            "declared_expenses": money(self.declared_expenses),
            "evidenced_expenses": money(self.evidenced_expenses),
            "city": self.city,
            "city_matched": self.city_matched,
            "baseline_per_person": format_major(self.baseline_per_person),
            "household_size": self.household_size,
            "city_baseline": format_major(self.city_baseline),
            "essential_expenses": format_major(self.essential_expenses),
            "other_debt_payments": format_major(self.other_debt_payments),
            "income_coefficient": str(self.income_coefficient),
            "expense_coefficient": str(self.expense_coefficient),
            "ability_score": format_major(self.ability_score),
            "surplus": format_major(self.surplus),
            "max_installment": format_major(self.max_installment),
        }


def ability_score(
    monthly_net_income: int,
    essential_expenses: int,
    income_coefficient: Decimal,
    expense_coefficient: Decimal,
) -> int:
    """income × income_coefficient − essentials × expense_coefficient, half-up to the fen."""
    value = Decimal(monthly_net_income) * income_coefficient - (
        Decimal(essential_expenses) * expense_coefficient
    )
    return round_minor(value, Rounding.HALF_UP)


def assess(
    *,
    monthly_net_income: int,
    income_source: str,
    declared_expenses: int | None,
    evidenced_expenses: int | None,
    city: str,
    city_matched: str,
    baseline_per_person: int,
    household_size: int,
    other_debt_payments: int,
    rules: Affordability,
) -> Ability:
    for name, value in (
        ("monthly_net_income", monthly_net_income),
        ("other_debt_payments", other_debt_payments),
        ("declared_expenses", declared_expenses or 0),
        ("evidenced_expenses", evidenced_expenses or 0),
        ("baseline_per_person", baseline_per_person),
    ):
        if value < 0:
            raise ValidationError(
                ErrorCode.INVALID_AMOUNT, f"{name} cannot be negative", {"field": name}
            )
    if household_size < 1:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "household_size must be at least 1",
            {"field": "household_size"},
        )
    city_baseline = baseline_per_person * household_size
    stated = max(declared_expenses or 0, evidenced_expenses or 0)
    essential = max(stated, city_baseline)
    score = ability_score(
        monthly_net_income, essential, rules.income_coefficient, rules.expense_coefficient
    )
    cap = round_minor(Decimal(monthly_net_income) * rules.max_installment_share, Rounding.DOWN)
    return Ability(
        monthly_net_income=monthly_net_income,
        income_source=income_source,
        declared_expenses=declared_expenses,
        evidenced_expenses=evidenced_expenses,
        city=city,
        city_matched=city_matched,
        baseline_per_person=baseline_per_person,
        household_size=household_size,
        city_baseline=city_baseline,
        essential_expenses=essential,
        other_debt_payments=other_debt_payments,
        income_coefficient=rules.income_coefficient,
        expense_coefficient=rules.expense_coefficient,
        ability_score=score,
        surplus=score - other_debt_payments,
        max_installment=cap,
    )
