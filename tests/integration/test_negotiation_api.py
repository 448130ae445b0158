"""Hardship negotiation over HTTP with the real engine, on both databases: calculate on a loan's
ledger debt, submit with consent, approve -> the loan is restructured on the plan's terms;
policies are queryable; bad requests store nothing."""

import base64
import itertools
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendcore.api.app import create_app
from lendcore.batch.runner import run_eod
from lendcore.collections.audit import iter_records
from lendcore.hardship.tables import hardship_cases
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.money import parse_major
from lendcore.ledger.reconcile import reconcile

from .helpers import loan_row, make_loan
from .test_decisions_support import count

_keys = itertools.count(1)
DAY = date(2026, 6, 1)


@pytest.fixture
def client(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 5, 31))  # 106 days past due: eligible under the default policy
    app = create_app(engine)
    app.state.clock = FixedClock.at_date(DAY)
    with TestClient(app) as test_client:
        yield test_client


def post(client, url, body):
    return client.post(url, json=body, headers={"Idempotency-Key": f"n-{next(_keys)}"})


CALCULATE = {
    "loan_id": 1,
    "policy": "default",
    "monthly_net_income": "8000.00",
    "city": "北京",
    "household_size": 1,
    "seed": 11,
    "proof_of_hardship": True,
}


def test_calculate_submit_approve_restructures_the_loan(client, engine):
    before = loan_row(engine, 1)
    response = post(client, "/api/negotiation/calculate", CALCULATE)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["status"] == "CALCULATED", (case["reasons"], case["stress"], case["debt"])
    assert [p["kind"] for p in case["plans"]] == ["aggressive", "balanced", "conservative"]
    owed = (
        sum(before[k] for k in ("principal_outstanding", "interest_receivable", "fee_receivable"))
        + before["penalty_receivable"]
        + before["penalty_accrued"]
    )
    assert sum(parse_major(v) for v in case["debt"].values() if isinstance(v, str)) >= owed
    assert case["script"]["zh"] and case["script"]["en"]
    balanced = case["plans"][1]

    submitted = post(
        client,
        "/api/negotiation/submit",
        {
            "case_id": int(case["case_id"]),
            "plan": "balanced",
            "consent": {"agreed": True, "channel": "oral", "recording_ref": "rec-77"},
            "agent_id": "agent-7",
        },
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["status"] == "PENDING"

    approved = post(
        client,
        f"/api/negotiation/cases/{case['case_id']}/approve",
        {
            "operator": "sup-1",
            "note": "income evidence checked",
            "down_payment_reference": "UP20260601-77",
        },
    )
    assert approved.status_code == 200, approved.text
    booked = approved.json()
    assert booked["status"] == "ACTIVE"
    after = loan_row(engine, 1)
    assert after["state"] == "RESTRUCTURED"
    financed = owed - parse_major(balanced["waiver"]) - parse_major(balanced["down_payment"])
    assert after["principal_outstanding"] == financed
    schedule = booked["restructure"]["schedule"]
    assert len(schedule) == balanced["periods"]
    assert schedule[0]["principal"] == parse_major(balanced["installment"])
    with engine.connect() as connection:
        assert reconcile(connection).ok
    shown = client.get(f"/api/negotiation/cases/{case['case_id']}").json()
    assert shown["consent"]["recording_ref"] == "rec-77"
    assert shown["restructure"]["down_payment_reference"] == "UP20260601-77"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**CALCULATE, "debt": {"principal": "100.00"}}, "exactly one of loan_id or debt"),
        ({k: v for k, v in CALCULATE.items() if k != "monthly_net_income"}, "monthly_net_income"),
        ({**CALCULATE, "household_size": 0}, "household_size"),
        ({**CALCULATE, "policy": "no-such-policy"}, "no-such-policy"),
        ({**CALCULATE, "monthly_net_income": "-100.00"}, "monthly_net_income"),
        ({**CALCULATE, "monthly_net_income": "12.345"}, "at most two decimals"),
        (
            {
                **{k: v for k, v in CALCULATE.items() if k != "monthly_net_income"},
                "statements": [
                    {
                        "filename": "流水.csv",
                        "content_base64": base64.b64encode(
                            "交易日期,收入金额,支出金额,账户余额\n".encode()
                        ).decode(),
                    }
                ],
            },
            "no transactions",
        ),
    ],
    ids=[
        "loan-and-debt",
        "no-income",
        "household-0",
        "unknown-policy",
        "negative-income",
        "three-decimals",
        "empty-statement",
    ],
)
def test_a_bad_calculation_request_stores_no_case(client, engine, body, message):
    response = post(client, "/api/negotiation/calculate", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "code" in error and message in error["message"], error
    assert "should match pattern" not in error["message"]
    assert count(engine, hardship_cases) == 0


def test_a_negative_income_says_so_in_both_languages(client):
    body = {**CALCULATE, "monthly_net_income": "-100.00"}
    error = post(client, "/api/negotiation/calculate", body).json()["error"]
    assert "不能为负" in error["message"] and "cannot be negative" in error["message"]
    assert error["details"]["fields"][0]["field"] == "monthly_net_income"


def test_an_unknown_case_is_404_and_a_second_approval_409(client):
    assert client.get("/api/negotiation/cases/999").status_code == 404
    case = post(client, "/api/negotiation/calculate", CALCULATE).json()
    response = post(
        client,
        f"/api/negotiation/cases/{case['case_id']}/approve",
        {"operator": "sup-1"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CASE_STATE_CONFLICT"


def _ids(client, **params):
    response = client.get("/api/policy/query", params=params)
    assert response.status_code == 200, response.text
    return {p["id"] for p in response.json()["policies"]}


def test_policies_are_listed_and_filtered(client):
    listed = client.get("/api/policy/query").json()
    assert {p["id"] for p in listed["policies"]} == {"default", "early", "consumer-instalment"}
    assert listed["count"] == 3 and listed["invalid"] == []
    assert _ids(client, id="default") == {"default"}
    assert _ids(client, scope="product") == {"consumer-instalment"}
    assert _ids(client, scope="platform") == {"default", "early"}
    assert _ids(client, product="small_short_term") == {"default", "early"}
    assert _ids(client, product="consumer_instalment") == {"default", "early",
                                                            "consumer-instalment"}  # fmt: skip


@pytest.mark.parametrize("name", ["days_past_due", "min_days_past_due"])
def test_policies_are_filtered_by_a_cases_days_past_due(client, name):
    assert _ids(client, **{name: 100}) == {"default", "early"}
    assert _ids(client, **{name: 90}) == {"early"}  # default needs more than 90
    assert _ids(client, **{name: 30}) == set()


def test_a_broken_policy_file_is_reported_not_fatal(client, tmp_path, monkeypatch):
    import shutil

    from lendcore.hardship import api_support
    from lendcore.hardship.store import PolicyStore, hardship_dir

    shutil.copytree(hardship_dir(), tmp_path / "hardship")
    (tmp_path / "hardship" / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    monkeypatch.setattr(api_support, "_store", lambda: PolicyStore(tmp_path / "hardship"))
    listed = client.get("/api/policy/query").json()
    assert listed["count"] == 3
    assert [i["id"] for i in listed["invalid"]] == ["broken"]
    assert listed["invalid"][0]["code"] == "INVALID_HARDSHIP_POLICY"
    response = post(client, "/api/negotiation/calculate", {**CALCULATE, "policy": "broken"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_HARDSHIP_POLICY"


# A statement whose running balance does not follow from its amounts (24,000.00 is right).
FORGED = (
    "交易日期,收入金额,支出金额,账户余额,对方户名,摘要\n"
    "2026-03-10,8000.00,,18000.00,某某科技有限公司,代发工资\n"
    "2026-03-15,,2000.00,16000.00,房东,房租\n"
    "2026-04-10,8000.00,,34000.00,某某科技有限公司,代发工资\n"
)
WITH_FORGED_STATEMENT = {
    **{k: v for k, v in CALCULATE.items() if k != "monthly_net_income"},
    "statements": [
        {"filename": "流水.csv", "content_base64": base64.b64encode(FORGED.encode()).decode()}
    ],
}


def _audit(engine, kind):
    with engine.connect() as connection:
        return [r.payload for page in iter_records(connection) for r in page if r.kind == kind]


def _stored_status(engine, case_id):
    """What an auditor querying the table sees (not the API's rendering)."""
    with engine.connect() as connection:
        return connection.execute(
            select(hardship_cases.c.status).where(hardship_cases.c.case_id == int(case_id))
        ).scalar_one()


def _flagged_case(client):
    response = post(client, "/api/negotiation/calculate", WITH_FORGED_STATEMENT)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_flagged_statement_marks_the_case_flagged_and_audits_its_signals(client, engine):
    case = _flagged_case(client)
    assert case["status"] == "FLAGGED" and case["plans"] == []
    assert [r["code"] for r in case["reasons"]] == ["STATEMENT_FLAGGED"]
    shown = client.get(f"/api/negotiation/cases/{case['case_id']}").json()
    assert shown["status"] == "FLAGGED"
    assert _stored_status(engine, case["case_id"]) == "FLAGGED"
    assert shown["flag"]["signals"][0]["code"] == "BALANCE_MISMATCH"
    assert shown["flag"]["cleared"] is None
    (entry,) = _audit(engine, "hardship.calculate")
    assert entry["status"] == "FLAGGED"
    assert entry["reasons"][0]["code"] == "STATEMENT_FLAGGED"
    assert entry["signals"][0]["code"] == "BALANCE_MISMATCH" and entry["signals"][0]["lines"]


def test_a_flagged_loan_cannot_be_recalculated_with_a_declared_income(client, engine):
    _flagged_case(client)
    response = post(client, "/api/negotiation/calculate", CALCULATE)
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "CASE_FLAGGED"
    assert count(engine, hardship_cases) == 1


def test_an_operator_clears_the_flag_with_a_note_and_the_loan_can_be_calculated(client, engine):
    case = _flagged_case(client)
    url = f"/api/negotiation/cases/{case['case_id']}/clear-flag"
    assert post(client, url, {"operator": "sup-1", "note": ""}).status_code == 422
    cleared = post(client, url, {"operator": "sup-1", "note": "bank confirmed the export"})
    assert cleared.status_code == 200, cleared.text
    document = cleared.json()
    assert document["status"] == "INELIGIBLE"
    assert _stored_status(engine, case["case_id"]) == "INELIGIBLE"
    assert document["flag"]["cleared"]["operator"] == "sup-1"
    (entry,) = _audit(engine, "hardship.clear_flag")
    assert entry["signals"] == ["BALANCE_MISMATCH"] and entry["note"] == "bank confirmed the export"
    again = post(client, "/api/negotiation/calculate", CALCULATE)
    assert again.status_code == 201 and again.json()["status"] == "CALCULATED"
    assert post(client, url, {"operator": "sup-1", "note": "twice"}).status_code == 409


def test_only_a_flagged_case_can_be_cleared(client):
    case = post(client, "/api/negotiation/calculate", CALCULATE).json()
    response = post(
        client,
        f"/api/negotiation/cases/{case['case_id']}/clear-flag",
        {"operator": "sup-1", "note": "nothing to clear"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CASE_STATE_CONFLICT"


def _pending(client, plan="balanced"):
    case = post(client, "/api/negotiation/calculate", CALCULATE).json()
    submitted = post(
        client,
        "/api/negotiation/submit",
        {
            "case_id": int(case["case_id"]),
            "plan": plan,
            "consent": {"agreed": True, "channel": "app"},
            "agent_id": "agent-7",
        },
    )
    assert submitted.status_code == 201, submitted.text
    return case


def test_approving_a_down_payment_without_its_receipt_is_422(client, engine):
    case = _pending(client)  # balanced: a down payment of 1,934.18
    before = loan_row(engine, 1)
    response = post(
        client, f"/api/negotiation/cases/{case['case_id']}/approve", {"operator": "sup-1"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "DOWN_PAYMENT_REFERENCE_REQUIRED"
    assert loan_row(engine, 1) == before


def test_approving_a_case_priced_on_an_older_debt_is_409_case_stale(client, engine):
    case = _pending(client)
    run_eod(engine, date(2026, 7, 1))  # a month of penalty: the agreed instalment no longer fits
    response = post(
        client,
        f"/api/negotiation/cases/{case['case_id']}/approve",
        {"operator": "sup-1", "down_payment_reference": "UP-1", "business_date": "2026-07-01"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CASE_STALE"
    assert loan_row(engine, 1)["state"] == "OVERDUE"
