"""HTTP API: the error shape, Idempotency-Key semantics, servicing endpoints — both databases."""

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from lendcore.api.app import create_app
from lendcore.batch.runner import run_eod

from .helpers import make_loan


@pytest.fixture
def client(engine):
    with TestClient(create_app(engine)) as test_client:
        yield test_client


def test_schedule_endpoint_meets_the_cli_contract(client):
    response = client.post(
        "/api/schedules",
        json={
            "principal": "10000",
            "annual_rate": "0.12",
            "periods": 12,
            "method": "equal_installment",
            "start": "2026-01-15",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["installments"][0]["total"] == "888.49"
    assert body["apr_irr"] == "0.1200" and body["cap"] == {"limit": "0.2400", "compliant": True}


@pytest.mark.parametrize(
    "change",
    [
        {"periods": 0},
        {"principal": "-5"},
        {"principal": "10.001"},
        {"method": "balloon"},
        {"surprise": 1},
    ],
)
def test_bad_schedule_requests_get_422_with_the_field(client, change):
    body = {
        "principal": "10000",
        "annual_rate": "0.12",
        "periods": 12,
        "method": "equal_installment",
        "start": "2026-01-15",
        **change,
    }
    response = client.post("/api/schedules", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST" and error["details"]["fields"]


def test_an_unknown_loan_is_404_with_a_code(client):
    response = client.get("/api/loans/424242")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_LOAN"


def test_a_repayment_needs_an_idempotency_key_and_stores_nothing_without_it(client, engine):
    make_loan(engine, 1)
    response = client.post("/api/loans/1/repayments", json={"amount": "100.00"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM repayments")).scalar() == 0


def test_a_retried_repayment_returns_the_first_response_and_applies_once(client, engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 20))
    request = {"amount": "100.00", "business_date": "2026-02-21"}
    first = client.post("/api/loans/1/repayments", json=request, headers={"Idempotency-Key": "a1"})
    again = client.post("/api/loans/1/repayments", json=request, headers={"Idempotency-Key": "a1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replay"] == "true"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM repayments")).scalar() == 1
    reused = client.post(
        "/api/loans/1/repayments",
        json={**request, "amount": "200.00"},
        headers={"Idempotency-Key": "a1"},
    )
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_repaying_a_loan_that_is_not_live_is_a_conflict_and_changes_nothing(client, engine):
    make_loan(engine, 1, disbursed=False)
    response = client.post(
        "/api/loans/1/repayments", json={"amount": "100.00"}, headers={"Idempotency-Key": "x"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "LOAN_NOT_LIVE"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM idempotency_keys")).scalar() == 0


def test_loan_and_reconciliation_endpoints(client, engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 2, 16))
    loan = client.get("/api/loans/1").json()
    assert loan["state"] == "OVERDUE" and loan["principal_outstanding"] == "12000.00"
    assert loan["instalments"][0]["interest_due"] == "180.00"
    assert client.get("/api/ledger/reconcile").json()["ok"] is True
    assert "/api/loans/{loan_id}/repayments" in client.get("/openapi.json").json()["paths"]
