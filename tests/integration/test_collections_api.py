"""HTTP: contact attempts through the gate, outcomes, the QA queue, SMS -- both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from lendcore.api.app import create_app
from lendcore.collections import context as context_module
from lendcore.collections.attempts import audit_status_of
from lendcore.collections.model import Outcome
from lendcore.kernel.clock import FixedClock

from .test_collections_support import (
    BORROWER_PHONE,
    MORNING,
    ScriptedDialer,
    add_contacts,
    add_loan,
    at,
    attempts,
    audit_records,
    make_context,
)

URL = "/api/collections/contact-attempts"


@pytest.fixture
def ctx():
    return make_context(ScriptedDialer())


@pytest.fixture
def clock():
    return FixedClock(MORNING)


@pytest.fixture
def client(engine, ctx, clock):
    app = create_app(engine)
    app.state.collections = ctx
    app.state.clock = clock
    borrower = add_loan(engine, 1, 10)
    add_contacts(engine, ctx, borrower)
    with TestClient(app) as test_client:
        yield test_client


def _body(**change):
    return {
        "loan_id": 1,
        "agent_id": "agent-1",
        "party": "borrower",
        "channel": "call",
        "call_type": "COLLECTION",
        "trigger_reason": "DPD_10",
        **change,
    }


def _post(client, key, **change):
    return client.post(URL, json=_body(**change), headers={"Idempotency-Key": key})


def test_an_allowed_call_returns_the_masked_and_virtual_number_never_the_real_one(client):
    response = _post(client, "k1")
    assert response.status_code == 201
    body = response.json()
    assert body["masked_number"] == "138****1234" and body["virtual_number"] == "17000001234"
    assert body["status"] == "DIALED" and body["audit_status"] == "AUDITED"
    assert body["trigger_reason"] == "DPD_10" and body["call_type"] == "COLLECTION"
    assert isinstance(body["attempt_id"], str) and body["pack_version"].startswith("cn@")
    assert BORROWER_PHONE not in response.text and "grant" not in response.text


def test_a_denied_attempt_is_403_with_every_reason(client, clock):
    clock.current = at("2026-03-02 21:30")
    response = _post(client, "k1", party="contact", contact_id="c1")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "CONTACT_DENIED"
    assert error["details"]["reasons"] == ["QUIET_HOURS", "CONTACTS_LOCKED"]
    assert error["details"]["explained"][0]["zh"]
    assert error["details"]["audit_seq"] >= 1


def test_a_retry_with_the_same_key_replays_and_dials_once(client, ctx):
    first = _post(client, "same")
    again = _post(client, "same")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replay"] == "true"
    assert len(ctx.dialer.calls) == 1


def test_the_same_key_with_another_body_is_refused(client):
    _post(client, "same")
    response = _post(client, "same", trigger_reason="other")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_key_still_in_progress_gets_409(client, engine):
    from sqlalchemy import insert

    from lendcore.api.collections import ATTEMPTS_SCOPE, IN_PROGRESS, AttemptBody, _digest
    from lendcore.api.tables import idempotency_keys

    with engine.begin() as connection:
        connection.execute(
            insert(idempotency_keys).values(
                scope=ATTEMPTS_SCOPE,
                key="busy",
                request_hash=_digest(AttemptBody(**_body()).model_dump(mode="json")),
                status_code=IN_PROGRESS,
                body="{}",
                created_at=MORNING,
            )
        )
    response = _post(client, "busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS"


def test_idempotency_key_is_required(client):
    response = client.post(URL, json=_body())
    assert response.status_code == 400


def test_an_sms_is_sent_from_a_template_and_logged(client, ctx):
    response = _post(client, "sms", channel="sms")
    assert response.status_code == 201
    assert response.json()["status"] == "COMPLETED"
    [(_attempt, text, delivered)] = ctx.sms.sent
    assert "逾期10天" in text and delivered
    assert audit_records(client.app.state.engine, "sms.send")


def test_outcome_of_a_connected_call_and_the_qa_queue(client, ctx):
    ctx.qa_rate = 1.0
    attempt = _post(client, "k1").json()["attempt_id"]
    response = client.post(
        f"{URL}/{attempt}/outcome",
        json={"outcome": "refused", "recording_ref": "rec://x", "notes": "asked not to call"},
        headers={"Idempotency-Key": "o1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "refused" and body["status"] == "COMPLETED"
    assert body["qa_status"] == "PENDING" and body["masked_number"] == "138****1234"
    queue = client.get("/api/collections/qa-queue").json()
    assert [item["attempt_id"] for item in queue["items"]] == [attempt]
    assert queue["items"][0]["recording_ref"] == "rec://x"
    log = client.get(f"{URL}/{attempt}").json()
    assert log["audit_status"] == "AUDITED" and "grant_id" not in log


def test_a_connected_call_cannot_be_reported_unanswered(client):
    attempt = _post(client, "k1").json()["attempt_id"]
    response = client.post(
        f"{URL}/{attempt}/outcome", json={"outcome": "unanswered"}, headers={"Idempotency-Key": "o"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "OUTCOME_CONFLICT"


def test_outcome_of_an_unknown_attempt_is_404(client):
    response = client.post(
        f"{URL}/12345/outcome", json={"outcome": "answered"}, headers={"Idempotency-Key": "o"}
    )
    assert response.status_code == 404
    assert client.get(f"{URL}/12345").status_code == 404


def test_a_third_party_call_comes_with_a_script_that_does_not_state_the_debt(client, ctx, clock):
    for n in range(3):
        ctx.dialer.outcomes.append(Outcome.UNANSWERED)
        clock.current = MORNING + timedelta(minutes=n)
        assert _post(client, f"b{n}").status_code == 201
    clock.current = MORNING + timedelta(hours=1)
    response = _post(client, "c1", party="contact", contact_id="c1")
    assert response.status_code == 201, response.text
    script = response.json()["script"]
    assert script and "逾期" not in script and "欠" not in script
    assert len([a for a in attempts(client.app.state.engine) if a["party"] == "contact"]) == 1


@pytest.mark.parametrize(
    "change", [{"party": "cousin"}, {"party": "contact"}, {"agent_id": ""}, {"loan_id": 0}]
)
def test_bad_requests_are_422_and_reach_no_gate(client, change):
    response = _post(client, "bad", **change)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert audit_records(client.app.state.engine, "gate.check") == []


def test_the_audit_status_is_read_from_the_attempts_audit_record(engine, client):
    response = _post(client, "k-audit")
    assert response.json()["audit_status"] == "AUDITED"
    attempt_id = int(response.json()["attempt_id"])
    [check_record] = audit_records(engine, "gate.check")
    [dial_record] = audit_records(engine, "contact.dial")
    with engine.connect() as connection:
        assert audit_status_of(connection, attempt_id, check_record["seq"]) == "AUDITED"
        assert audit_status_of(connection, attempt_id, dial_record["seq"]) == "MISMATCH"
        assert audit_status_of(connection, attempt_id, 10_000) == "MISSING"
        assert audit_status_of(connection, attempt_id, None) == "MISSING"
    shown = client.get(f"{URL}/{attempt_id}").json()
    assert shown["audit_status"] == "AUDITED"


def test_with_the_kms_provider_selected_but_unreachable_every_attempt_is_denied_and_audited(
    engine, monkeypatch
):
    # Contacts stored under a local key; the process then runs with LENDCORE_KEY_PROVIDER=kms,
    # which has no adapter: nothing is decrypted, the denial is audited with the reason.
    add_contacts(engine, make_context(), add_loan(engine, 1, 10))
    monkeypatch.setenv("LENDCORE_KEY_PROVIDER", "kms")
    monkeypatch.setenv("LENDCORE_KMS_KEY_URI", "kms://cn-shanghai/lendcore")
    monkeypatch.setattr(context_module, "_default", None)
    app = create_app(engine)  # no test context: the process default, built from the setting
    app.state.clock = FixedClock(MORNING)
    with TestClient(app) as kms_client:
        response = _post(kms_client, "k-kms")
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reasons"] == ["GATE_ERROR"]
    [record] = audit_records(engine, "gate.check")
    assert record["payload"]["allowed"] is False
    assert record["payload"]["error_code"] == "KMS_UNAVAILABLE"
    assert audit_records(engine, "contact.decrypt") == [] and attempts(engine) == []
    assert BORROWER_PHONE not in response.text
