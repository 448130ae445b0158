"""The `lendcore schedule --json` contract, exercised through the real entry point."""

import json
import subprocess
import sys

import pytest

BASE = [
    "schedule",
    "--principal",
    "10000",
    "--annual-rate",
    "0.12",
    "--periods",
    "12",
    "--start",
    "2026-01-15",
]


def run(*args):
    return subprocess.run([sys.executable, "-m", "lendcore", *args], capture_output=True, text=True)


def test_json_contract_has_every_field_as_strings():
    result = run(*BASE, "--method", "equal_installment", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    row = doc["installments"][0]
    assert set(row) == {
        "period",
        "due_date",
        "principal",
        "interest",
        "fee",
        "total",
        "remaining_principal",
    }
    assert row == {
        "period": 1,
        "due_date": "2026-02-15",
        "principal": "788.49",
        "interest": "100.00",
        "fee": "0.00",
        "total": "888.49",
        "remaining_principal": "9211.51",
    }
    for key in ("total_interest", "total_fees", "total_repayment", "amount_received"):
        assert isinstance(doc[key], str)
    assert doc["apr_irr"] == "0.1200" and doc["nominal_rate"] == "0.1200"
    assert doc["cap"] == {"limit": "0.2400", "compliant": True}
    assert doc["amount_received"] == "10000.00"


def test_fee_deducted_upfront_is_reported_above_the_cap():
    doc = json.loads(
        run(*BASE, "--method", "equal_installment", "--upfront-fee", "800", "--json").stdout
    )
    assert doc["amount_received"] == "9200.00"
    assert doc["total_fees"] == "800.00"
    assert doc["cap"]["compliant"] is False
    assert float(doc["apr_irr"]) > 0.24


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--method", "balloon"], "UNKNOWN_METHOD"),
        (["--method", "bullet", "--day-count", "act366"], "UNKNOWN_DAY_COUNT"),
        (["--method", "bullet", "--cap", "0.40"], "CAP_ABOVE_OUTER_BOUND"),
        (["--method", "bullet", "--annual-rate", "12"], "INVALID_RATE"),
        (["--method", "bullet", "--periods", "twelve"], "INVALID_ARGUMENT"),
    ],
)
def test_invalid_arguments_exit_non_zero_with_one_clear_line(args, code):
    result = run(*BASE, *args)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and code in lines[0]


def test_human_table_shows_the_disclosure():
    result = run(*BASE, "--method", "equal_principal")
    assert result.returncode == 0
    assert "IRR" in result.stdout and "0.1200" in result.stdout


def test_quote_refuses_an_offer_outside_the_product():
    result = run("quote", "--product", "small_short_term", "--amount", "5000", "--term", "14")
    assert result.returncode != 0 and "AMOUNT_OUT_OF_RANGE" in result.stderr


def test_documented_worked_example_holds():
    # docs/concepts/schedules.md: 10,000 at 12% over 12 months with 800 withheld.
    doc = json.loads(
        run(*BASE, "--method", "equal_installment", "--upfront-fee", "800", "--json").stdout
    )
    assert doc["installments"][0]["total"] == "888.49"
    assert doc["total_repayment"] == "10661.86"
    assert doc["apr_irr"] == "0.2814"
