"""Investigation authorisations through the API and the CLI: recorded, listed, revoked, expired;
the gate honours each (INVESTIGATION_NOT_AUTHORISED once expired or revoked); every change is
in the audit chain."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from lendcore.api.app import create_app
from lendcore.cli.main import main
from lendcore.collections.model import CallType
from lendcore.kernel.clock import FixedClock

from .test_collections_support import (
    MORNING,
    add_contacts,
    add_loan,
    audit_records,
    check,
    make_context,
    request,
)


@pytest.fixture
def ctx():
    return make_context()


@pytest.fixture
def client(engine, ctx):
    app = create_app(engine)
    app.state.collections = ctx
    app.state.clock = FixedClock(MORNING - timedelta(hours=1))
    add_contacts(engine, ctx, add_loan(engine, 1, 0))  # not overdue: only an investigation
    with TestClient(app) as test_client:
        yield test_client


def _investigate(engine, ctx, when=MORNING, ref="FRAUD-1"):
    req = request(1, when, contact_id="c1", call_type=CallType.INVESTIGATION,
                  authorisation_ref=ref, agent=f"inv-{when:%H%M%S}-{ref}")  # fmt: skip
    return check(engine, ctx, req)


def _authorise(client, **change):
    body = {"loan_id": 1, "reference": "FRAUD-1", "authorised_by": "sup-1",
            "reason": "identity fraud suspected", **change}  # fmt: skip
    return client.post("/api/collections/investigations", json=body)


def test_an_authorisation_recorded_through_the_api_lets_an_investigation_call_a_contact(
    engine, ctx, client
):
    response = _authorise(client)
    assert response.status_code == 201 and response.json()["status"] == "ACTIVE"
    assert _investigate(engine, ctx).allowed
    assert [
        r["payload"]["reference"] for r in audit_records(engine, "investigation.authorised")
    ] == ["FRAUD-1"]


def test_an_expired_authorisation_is_not_authorised(engine, ctx, client):
    _authorise(client, expires_at=(MORNING + timedelta(minutes=30)).isoformat())
    assert _investigate(engine, ctx, MORNING).allowed
    late = _investigate(engine, ctx, MORNING + timedelta(minutes=31), "FRAUD-1")
    assert not late.allowed and "INVESTIGATION_NOT_AUTHORISED" in late.reasons


def test_a_revoked_authorisation_is_not_authorised_and_the_revocation_is_audited(
    engine, ctx, client
):
    _authorise(client)
    response = client.request("DELETE", "/api/collections/investigations/1/FRAUD-1",
                              json={"revoked_by": "sup-2", "reason": "case closed"})  # fmt: skip
    assert response.status_code == 200 and response.json()["status"] == "REVOKED"
    denied = _investigate(engine, ctx)
    assert not denied.allowed and "INVESTIGATION_NOT_AUTHORISED" in denied.reasons
    assert audit_records(engine, "investigation.revoked")[0]["actor"] == "sup-2"


def test_the_list_shows_each_authorisations_status(client):
    _authorise(client)
    _authorise(client, reference="FRAUD-2")  # supersedes FRAUD-1
    items = {i["reference"]: i["status"] for i in client.get(
        "/api/collections/investigations", params={"loan_id": 1}).json()["items"]}  # fmt: skip
    assert items == {"FRAUD-1": "REVOKED", "FRAUD-2": "ACTIVE"}


@pytest.mark.parametrize(
    "change",
    [
        {"loan_id": 999},
        {"reason": ""},
        {"expires_at": "2020-01-01T00:00:00+00:00"},
        {"expires_at": "2026-04-01T00:00:00"},
    ],
)
def test_a_bad_authorisation_is_a_4xx_that_records_nothing(engine, client, change):
    assert 400 <= _authorise(client, **change).status_code < 500
    assert client.get("/api/collections/investigations").json()["count"] == 0
    assert audit_records(engine, "investigation.authorised") == []


def test_revoking_an_unknown_authorisation_is_a_4xx(client):
    response = client.request("DELETE", "/api/collections/investigations/1/NOPE",
                              json={"revoked_by": "sup-2", "reason": "x"})  # fmt: skip
    assert 400 <= response.status_code < 500


def _run(monkeypatch, *args):
    monkeypatch.setattr("sys.argv", ["lendcore", *args])
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise


def test_the_cli_authorises_lists_and_revokes(engine, db_url, monkeypatch, capsys):
    add_loan(engine, 1, 0)
    url = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    _run(monkeypatch, "collections", "investigation", "authorise", "--loan", "1", "--reference",
         "FRAUD-9", "--authorised-by", "sup-1", "--reason", "fraud", "--json",
         "--database", url)  # fmt: skip
    assert json.loads(capsys.readouterr().out)["status"] == "ACTIVE"
    _run(monkeypatch, "collections", "investigation", "revoke", "--loan", "1", "--reference",
         "FRAUD-9", "--by", "sup-2", "--reason", "closed", "--json", "--database", url)  # fmt: skip
    assert json.loads(capsys.readouterr().out)["status"] == "REVOKED"
    _run(monkeypatch, "collections", "investigation", "list", "--json", "--database", url)
    assert [i["status"] for i in json.loads(capsys.readouterr().out)] == ["REVOKED"]
