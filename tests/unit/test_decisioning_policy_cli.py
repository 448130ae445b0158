"""`lendcore decide --json`: the contract, through the real entry point (run in-process: a
subprocess per case would spend its time importing)."""

import copy
import io
import json
import sys
from types import SimpleNamespace

import pytest

from lendcore.cli.main import main

APPLICATION = {
    "product": "consumer_instalment",
    "amount": "50000.00",
    "term": 12,
    "applicant": {
        "id_number": "110101199003071234",
        "phone": "13812341234",
        "birth_date": "1990-03-07",
        "region": "110105",
        "employment": "private_employee",
        "social_insurance": True,
        "monthly_income": "15000.00",
    },
    "bureau": {"applications_90d": 2, "court_enforcements": 0},
    "device": {"device_id": "dev-1", "ip": "10.1.2.3", "is_proxy": False},
    # A good file on the shipped card (score 625, PD 0.8%: band A).
    "credit_profile": {
        "checking_status": "none",
        "duration_months": 12,
        "credit_history": "existing_paid_duly",
        "purpose": "car_used",
        "credit_amount": 2000,
        "savings": "ge_1000",
        "employment_since": "ge_7y",
        "installment_rate": 2,
        "property": "real_estate",
        "age_years": 36,
        "other_installment_plans": "none",
        "housing": "own",
    },
}


@pytest.fixture
def decide(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LENDCORE_POLICY_VERSIONS_DIR", str(tmp_path / "versions"))
    monkeypatch.setenv("LENDCORE_PRODUCT_VERSIONS_DIR", str(tmp_path / "product-versions"))

    def run(body, *args):
        text = body if isinstance(body, str) else json.dumps(body)
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        monkeypatch.setattr(
            sys, "argv", ["lendcore", "decide", "--json", "--at", "2026-03-01", *args]
        )
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)

    return run


def test_decide_prints_outcome_reasons_tier_offer_versions_and_trace(decide, tmp_path):
    result = decide(APPLICATION)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"outcome", "reasons", "tier", "offer", "policy_versions", "trace"} <= set(document)
    assert {"score", "pd", "model_version", "arm"} <= set(document)
    assert document["outcome"] == "APPROVE"
    assert document["decision_id"] is None  # a what-if: nothing recorded without --store
    assert document["offer"]["amount"] == "50000.00"
    assert set(document["policy_versions"]) == {"tier", "admission", "limits"}
    for digest in document["policy_versions"].values():
        assert (tmp_path / "versions" / f"{digest}.json").is_file()


def test_invalid_input_exits_2_with_one_line_naming_the_code_and_field(decide):
    body = copy.deepcopy(APPLICATION)
    del body["applicant"]["birth_date"]
    body["applicant"]["age"] = -1
    result = decide(body)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "INVALID_APPLICATION" in line and "applicant.age" in line


def test_a_blacklist_file_rejects_a_listed_phone(decide, tmp_path):
    listed = tmp_path / "blacklist.txt"
    listed.write_text("# sandbox list\nphone:+86 138 1234 1234\n", encoding="utf-8")
    result = decide(APPLICATION, "--blacklist", str(listed), "--no-trace")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["outcome"] == "REJECT" and "trace" not in document
    assert document["reasons"][0]["code"] == "BLACKLISTED"
    assert document["reasons"][0]["detail"] == "phone"


def test_input_that_is_not_json_exits_2(decide):
    result = decide("{not json")
    assert result.returncode == 2
    assert "INVALID_APPLICATION" in result.stderr


def test_the_score_comes_from_the_model_not_from_the_body(decide):
    body = copy.deepcopy(APPLICATION)
    body["credit_profile"]["score"] = 900
    result = decide(body)
    assert result.returncode == 2
    assert "INVALID_APPLICATION" in result.stderr and "score" in result.stderr
