"""Hardship negotiation over HTTP with the real engine, on both databases: calculate on a loan's
ledger debt, submit with consent, approve -> the loan is restructured on the plan's terms;
policies are queryable; bad requests store nothing."""

import base64
import itertools
from datetime import date

import pytest
from fastapi.testclient import TestClient

from lendcore.api.app import create_app
from lendcore.batch.runner import run_eod
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
        {"operator": "sup-1", "note": "income evidence checked"},
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


@pytest.mark.parametrize(
    "body",
    [
        {**CALCULATE, "debt": {"principal": "100.00"}},  # a loan and a debt
        {k: v for k, v in CALCULATE.items() if k != "monthly_net_income"},  # no income source
        {**CALCULATE, "household_size": 0},
        {**CALCULATE, "policy": "no-such-policy"},
        {**CALCULATE, "monthly_net_income": "-100.00"},
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
    ],
    ids=[
        "loan-and-debt",
        "no-income",
        "household-0",
        "unknown-policy",
        "negative-income",
        "empty-statement",
    ],
)
def test_a_bad_calculation_request_stores_no_case(client, engine, body):
    response = post(client, "/api/negotiation/calculate", body)
    assert response.status_code == 422, response.text
    assert "code" in response.json()["error"]
    assert count(engine, hardship_cases) == 0


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


def test_policies_are_listed_and_filtered(client):
    listed = client.get("/api/policy/query").json()
    assert {p["id"] for p in listed["policies"]} >= {"default"}
    only = client.get("/api/policy/query", params={"id": "default"}).json()
    assert [p["id"] for p in only["policies"]] == ["default"]
