"""Ability to repay: the formula, the city floor on expenses, and exact rounding."""

from decimal import Decimal

import pytest
from hardship_builders import make_policy

from lendcore.hardship.affordability import ability_score, assess
from lendcore.kernel.errors import ValidationError

RULES = make_policy().affordability


def _assess(**overrides):
    arguments = {
        "monthly_net_income": 800_000,
        "income_source": "declared",
        "declared_expenses": None,
        "evidenced_expenses": None,
        "city": "北京",
        "city_matched": "北京",
        "baseline_per_person": 217_500,
        "household_size": 1,
        "other_debt_payments": 0,
        "rules": RULES,
    }
    return assess(**{**arguments, **overrides})


def test_ability_score_is_income_times_point_six_less_expenses_times_one_point_two():
    # 8000 x 0.6 - 2175 x 1.2 = 4800 - 2610 = 2190 yuan
    assert _assess().ability_score == 219_000


def test_the_coefficients_come_from_the_policy():
    rules = make_policy(
        affordability={"income_coefficient": "0.5", "expense_coefficient": "1.0"}
    ).affordability
    assert _assess(rules=rules).ability_score == 400_000 - 217_500


def test_essential_expenses_never_fall_below_the_city_baseline_times_household():
    ability = _assess(declared_expenses=100_000, household_size=3)
    assert ability.city_baseline == 3 * 217_500
    assert ability.essential_expenses == 3 * 217_500


def test_declared_or_evidenced_spending_above_the_baseline_counts():
    assert _assess(declared_expenses=300_000).essential_expenses == 300_000
    assert (
        _assess(declared_expenses=250_000, evidenced_expenses=320_000).essential_expenses == 320_000
    )


def test_surplus_is_the_score_less_other_debt_payments():
    ability = _assess(other_debt_payments=150_000)
    assert ability.surplus == 219_000 - 150_000


def test_the_instalment_cap_is_half_of_income_rounded_down():
    assert _assess(monthly_net_income=333_333).max_installment == 166_666  # 1666.665 -> down


def test_rounding_is_half_up_to_the_fen():
    # 1 fen x 0.6 - 0 = 0.6 fen -> 1; 3 fen x 0.5 = 1.5 -> 2
    assert ability_score(1, 0, Decimal("0.6"), Decimal("1.2")) == 1
    assert ability_score(3, 0, Decimal("0.5"), Decimal("1.2")) == 2
    assert ability_score(0, 1, Decimal("0.6"), Decimal("1.25")) == -1  # -1.25 -> -1


@pytest.mark.parametrize(
    "field", ["monthly_net_income", "other_debt_payments", "declared_expenses"]
)
def test_negative_amounts_are_refused(field):
    with pytest.raises(ValidationError, match="negative"):
        _assess(**{field: -1})


def test_the_document_states_money_in_yuan():
    document = _assess().to_dict()
    assert document["ability_score"] == "2190.00"
    assert document["essential_expenses"] == "2175.00"
    assert document["income_coefficient"] == "0.6"
