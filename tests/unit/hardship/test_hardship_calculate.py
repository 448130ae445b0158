"""calculate(): the engine end to end, its reasons, and its refusals of bad input."""

import copy
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hardship_builders import (
    POLICIES,
    clean_transactions,
    csv_split,
    default_policy_data,
    shift,
    write_policy,
)

from lendcore.hardship.calculate import calculate
from lendcore.hardship.store import PolicyStore
from lendcore.kernel.errors import ErrorCode, ValidationError

STORE = PolicyStore(POLICIES)
REQUEST = {
    "debt": {
        "principal": "30000.00",
        "interest": "2500.00",
        "penalty": "1800.00",
        "fees": "200.00",
    },
    "days_past_due": 120,
    "policy": "default",
    "monthly_net_income": "6000.00",
    "city": "北京",
    "household_size": 1,
    "other_debt_payments": "500.00",
    "proof_of_hardship": True,
    "hardship_reason": "job_loss",
}


def request(**changes):
    document = copy.deepcopy(REQUEST)
    document.update(changes)
    return document


def codes(result):
    return [r["code"] for r in result["reasons"]]


def test_an_eligible_case_gets_three_plans_a_stress_level_and_a_script():
    result = calculate(request(), STORE, seed=7, as_of=date(2026, 3, 1))
    assert result["eligible"] is True and result["reasons"] == []
    assert [p["kind"] for p in result["plans"]] == ["aggressive", "balanced", "conservative"]
    assert result["stress"]["level"] in ("green", "yellow")
    assert 0 <= result["stress"]["default_probability"] < 0.5
    assert result["ability"]["ability_score"] == "990.00"  # 6000 x 0.6 - 2175 x 1.2
    assert result["ability"]["surplus"] == "490.00"
    assert result["script"]["plan"] == "balanced"
    assert "【协商方案】" in result["script"]["zh"] and "[Proposal]" in result["script"]["en"]
    assert result["policy"]["id"] == "default" and len(result["policy"]["version"]) == 64
    assert result["policy"]["misses_allowed"] == 1


def test_the_same_seed_gives_the_same_document():
    assert calculate(request(), STORE, seed=99) == calculate(request(), STORE, seed=99)


def test_days_past_due_below_the_threshold_is_not_eligible():
    result = calculate(request(days_past_due=90), STORE, seed=1)
    assert not result["eligible"] and result["plans"] == []
    assert codes(result) == ["DPD_BELOW_THRESHOLD"]
    assert result["reasons"][0]["message_zh"] and result["reasons"][0]["message_en"]


def test_missing_proof_of_hardship_is_not_eligible_when_the_policy_requires_it():
    result = calculate(request(proof_of_hardship=False), STORE, seed=1)
    assert codes(result) == ["PROOF_OF_HARDSHIP_REQUIRED"]


def test_a_policy_not_yet_in_effect_is_not_applied():
    result = calculate(request(), STORE, seed=1, as_of=date(2025, 12, 31))
    assert "POLICY_NOT_EFFECTIVE" in codes(result)


def test_no_surplus_means_no_negotiated_plan_and_a_recommendation():
    result = calculate(request(monthly_net_income="4000.00"), STORE, seed=1)
    assert "NO_REPAYMENT_CAPACITY" in codes(result)
    assert result["recommendation"]["code"] == "FORMAL_RESTRUCTURING_OR_LEGAL_ADVICE"
    assert result["plans"] == [] and result["script"] is None


def test_a_red_stress_level_means_no_plan_and_formal_restructuring_is_recommended(tmp_path):
    data = default_policy_data()
    data["eligibility"]["require_positive_surplus"] = False  # let the stress test decide
    store = PolicyStore(tmp_path)
    write_policy(tmp_path, data)
    result = calculate(
        request(monthly_net_income="3000.00", other_debt_payments="1500.00"), store, seed=1
    )
    assert result["stress"]["level"] == "red"
    assert codes(result) == ["STRESS_RED"]
    assert result["plans"] == []
    assert result["recommendation"]["code"] == "FORMAL_RESTRUCTURING_OR_LEGAL_ADVICE"


def test_the_product_policy_applies_its_stricter_limits():
    result = calculate(request(policy="consumer-instalment", days_past_due=150), STORE, seed=5)
    assert result["eligible"]
    for plan in result["plans"]:
        assert 3 <= plan["periods"] <= 36
        assert plan["waiver_split"]["fees"] == "0.00"  # fees are not waivable under it
        assert float(plan["down_payment_ratio"]) >= 0.05


def test_income_is_derived_from_statements():
    statement = csv_split(clean_transactions(months=3))
    body = request(statements=[("s.csv", statement)], borrower_name="张三")
    del body["monthly_net_income"]
    result = calculate(body, STORE, seed=1, as_of=date(2026, 4, 1))
    assert result["ability"]["income_source"] == "statements"
    assert result["ability"]["monthly_net_income"] == "8123.45"
    assert result["ability"]["evidenced_expenses"] == "2700.00"
    assert result["ability"]["other_debt_payments"] == "1000.00"  # the card repayments
    assert result["statements"]["flagged"] is False
    assert result["eligible"]


def test_a_flagged_statement_blocks_the_flow():
    txs = clean_transactions(months=3)
    txs[5] = shift(txs[5], balance_error=50_000)
    body = request(statements=[("s.csv", csv_split(txs))])
    result = calculate(body, STORE, seed=1, as_of=date(2026, 4, 1))
    assert not result["eligible"]
    assert codes(result) == ["STATEMENT_FLAGGED"]
    assert result["statements"]["flagged"] is True
    assert result["ability"] is None and result["stress"] is None and result["plans"] == []


def test_too_short_a_statement_cannot_establish_income():
    body = request(statements=[("s.csv", csv_split(clean_transactions(months=1)))])
    del body["monthly_net_income"]
    result = calculate(body, STORE, seed=1, as_of=date(2026, 4, 1))
    assert codes(result) == ["INSUFFICIENT_STATEMENT_HISTORY"]


@pytest.mark.parametrize(
    ("changes", "code", "fragment"),
    [
        ({"monthly_net_income": "-100.00"}, ErrorCode.INVALID_ARGUMENT, "negative"),
        ({"monthly_net_income": 6000.5}, ErrorCode.INVALID_ARGUMENT, "binary float"),
        (
            {"monthly_net_income": None},
            ErrorCode.INVALID_ARGUMENT,
            "monthly_net_income or statements",
        ),
        ({"debt": {"principal": "0"}}, ErrorCode.INVALID_ARGUMENT, "positive"),
        ({"debt": {"principal": "1.234"}}, ErrorCode.INVALID_ARGUMENT, "two decimals"),
        ({"household_size": 0}, ErrorCode.INVALID_ARGUMENT, "household_size"),
        ({"unexpected": 1}, ErrorCode.INVALID_ARGUMENT, "unexpected"),
        ({"policy": "nope"}, ErrorCode.UNKNOWN_HARDSHIP_POLICY, "nope"),
        (
            {"statements": [("s.csv", "交易日期,交易金额\n".encode())]},
            ErrorCode.INVALID_STATEMENT,
            "no transactions",
        ),
    ],
)
def test_bad_input_is_refused_with_a_machine_readable_code(changes, code, fragment):
    with pytest.raises(ValidationError, match=fragment) as caught:
        calculate(request(**changes), STORE, seed=1)
    assert caught.value.code is code


def test_every_plan_gets_its_own_script():
    result = calculate(request(), STORE, seed=7, as_of=date(2026, 3, 1))
    assert set(result["scripts"]) == {"aggressive", "balanced", "conservative"}
    for plan in result["plans"]:
        script = result["scripts"][plan["kind"]]
        assert script["plan"] == plan["kind"]
        assert plan["installment"] in script["zh"] and plan["installment"] in script["en"]
    assert result["script"] == result["scripts"]["balanced"]


def _worked_example_section():
    from hardship_builders import REPO

    text = (REPO / "docs" / "concepts" / "hardship.md").read_text(encoding="utf-8")
    return text.split("## Worked example", 1)[1].split("\n## ", 1)[0]


def _yuan(text):
    return text.replace(",", "").strip()


def test_the_docs_worked_example_is_what_the_engine_computes():
    """docs/concepts/hardship.md's worked example, table and figures, from the engine: the
    request the text describes (REQUEST above), default policy, seed 7."""
    import re

    section = _worked_example_section()
    assert "120 days past due" in section and "seed 7" in section
    result = calculate(request(), STORE, seed=7, as_of=date(2026, 3, 1))
    ability, stress = result["ability"], result["stress"]
    assert f"= {ability['ability_score'][:-3]}; surplus {ability['surplus'][:-3]}" in section
    assert f"instalment cap {int(Decimal(ability['max_installment'])):,}" in section
    assert f"{stress['default_probability'] * 100:.1f}% of paths: **{stress['level']}**" in section
    floor = result["plans"][0]["repayment_floor"]
    assert re.search(rf"Waiver floor: .* = {int(Decimal(floor)):,}\.", section)
    rows = {
        cells[0]: cells[1:]
        for line in section.splitlines()
        if line.startswith("| ")
        and (cells := [c.strip() for c in line.strip("|").split("|")])
        and cells[0] in ("aggressive", "balanced", "conservative")
    }
    assert set(rows) == {"aggressive", "balanced", "conservative"}
    for plan in result["plans"]:
        down, periods, installment, waiver, total, success, pv = rows[plan["kind"]]
        assert Decimal(_yuan(down)) == Decimal(plan["down_payment"])
        assert int(periods) == plan["periods"]
        assert _yuan(installment) == plan["installment"]
        assert Decimal(_yuan(waiver)) == Decimal(plan["waiver"])
        assert _yuan(total) == plan["total_repayment"]
        percent = (Decimal(str(plan["success_probability"])) * 100).quantize(
            Decimal("0.1"), ROUND_HALF_UP
        )
        assert success == f"{percent}%"
        assert _yuan(pv) == plan["recovery_pv"]
