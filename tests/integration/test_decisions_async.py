"""Asynchronous applications: POST /api/applications queues (202 + status URL), a dramatiq
worker decides, the status shows the decision; bad input queues nothing; a redelivered message
decides nothing twice; the body never waits in clear. On both databases, with the in-process
broker; against RabbitMQ too when one answers on 127.0.0.1:5672."""

import itertools
import json
import socket
import time

import pytest
from dramatiq.brokers.stub import StubBroker
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendcore.api.app import create_app
from lendcore.decisioning.decision_tables import decision_applications, decisions
from lendcore.decisioning.inputs import mask_application
from lendcore.decisioning.queue import ApplicationQueue, make_broker
from lendcore.privacy.crypto import FieldCipher
from lendcore.privacy.keys import InMemoryKeyProvider

from .test_decisions_support import APPLICATION, another_person, count, make_setup

_keys = itertools.count(1)


def _queue(engine, service, broker=None):
    return ApplicationQueue(
        engine,
        service.decide,
        mask_application,
        FieldCipher(InMemoryKeyProvider()),
        broker=broker or StubBroker(),
    )


@pytest.fixture
def app(engine, tmp_path):
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    app.state.applications = _queue(engine, app.state.decisions)
    app.state.applications.start(threads=1)
    yield app
    app.state.applications.stop()


def _post(client, body, key=None):
    return client.post(
        "/api/applications", json=body, headers={"Idempotency-Key": key or f"a-{next(_keys)}"}
    )


def test_an_application_is_queued_then_decided(app, engine):
    with TestClient(app) as client:
        response = _post(client, APPLICATION)
        assert response.status_code == 202, response.text
        queued = response.json()
        assert queued["status"] == "QUEUED"
        assert response.headers["Location"] == queued["status_url"]
        app.state.applications.drain()
        status = client.get(queued["status_url"]).json()
    assert status["status"] == "DONE", status
    assert status["decision"]["outcome"] == "APPROVE"
    assert status["decision"]["application_id"] == queued["application_id"]
    with engine.connect() as connection:
        kept = connection.execute(select(decision_applications.c.body)).scalar_one()
    assert kept["applicant"]["phone"] == "138****1234"  # masked once decided


def test_a_bad_application_is_refused_and_nothing_is_queued(app, engine):
    body = json.loads(json.dumps(APPLICATION))
    body["applicant"]["age"], body["applicant"]["birth_date"] = -1, None
    with TestClient(app) as client:
        response = _post(client, body)
    assert response.status_code == 422
    assert count(engine, decision_applications) == 0 and count(engine, decisions) == 0


def test_the_body_waits_encrypted(engine, tmp_path):
    queue = _queue(engine, make_setup(tmp_path).service)  # no worker: the row stays QUEUED
    queue.submit(APPLICATION)
    with engine.connect() as connection:
        row = connection.execute(select(decision_applications)).one()
    assert row.status == "QUEUED"
    assert "13812341234" not in json.dumps(row.body) and "encrypted" in row.body


def test_a_redelivered_message_decides_nothing_twice(engine, tmp_path):
    service = make_setup(tmp_path).service
    queue = _queue(engine, service)
    application_id = queue.submit(another_person(APPLICATION, 3))
    queue.work(application_id)
    queue.work(application_id)  # the broker redelivers
    assert count(engine, decisions) == 1
    assert queue.status(application_id)["status"] == "DONE"


def _rabbitmq_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _rabbitmq_answers(), reason="no RabbitMQ on 127.0.0.1:5672")
def test_applications_go_through_rabbitmq(engine, tmp_path):
    service = make_setup(tmp_path).service
    broker = make_broker("amqp://guest:guest@127.0.0.1:5672/%2F")
    queue = _queue(engine, service, broker=broker)
    ids = [queue.submit(another_person(APPLICATION, n)) for n in range(5)]
    queue.start(threads=2)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(queue.status(i)["status"] == "DONE" for i in ids):
                break
            time.sleep(0.2)
    finally:
        queue.stop()
    assert [queue.status(i)["status"] for i in ids] == ["DONE"] * 5


def test_an_unknown_application_is_404(app):
    with TestClient(app) as client:
        response = client.get("/api/applications/424242")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_APPLICATION"
