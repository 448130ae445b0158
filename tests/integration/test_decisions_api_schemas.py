"""The decisioning endpoints answer exactly what their OpenAPI document says, on both databases.

Each real response is validated against the model its operation documents for that status (read
from ``/openapi.json``, so a route that points at the wrong model fails too); the models forbid
extra fields, so a field added to a document without being documented fails here."""

import itertools

import pytest
from dramatiq.brokers.stub import StubBroker
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from lendcore.api import decision_schemas
from lendcore.api.app import create_app
from lendcore.api.errors import ErrorBody
from lendcore.decisioning.inputs import mask_application
from lendcore.decisioning.queue import ApplicationQueue
from lendcore.privacy.crypto import FieldCipher
from lendcore.privacy.keys import InMemoryKeyProvider

from .test_decisions_support import APPLICATION, SHADOW, another_person, application, make_setup

_keys = itertools.count(1)
MODELS: dict[str, type[BaseModel]] = {
    name: value
    for name, value in vars(decision_schemas).items()
    if isinstance(value, type) and issubclass(value, BaseModel)
} | {"ErrorBody": ErrorBody}


@pytest.fixture
def client(engine, tmp_path):
    app = create_app(engine)
    # the shadow experiment: records carry shadow scores and an experiment draw
    app.state.decisions = make_setup(tmp_path, SHADOW).service
    queue = ApplicationQueue(
        engine,
        app.state.decisions.decide,
        mask_application,
        FieldCipher(InMemoryKeyProvider()),
        broker=StubBroker(),
    )
    app.state.applications = queue
    queue.start(threads=1)
    with TestClient(app) as test_client:
        yield test_client
    queue.stop()


def _documented(client, method, template, status):
    operation = client.get("/openapi.json").json()["paths"][template][method]
    reference = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return MODELS[reference["$ref"].rsplit("/", 1)[-1]]


def _check(client, method, template, response):
    """The response validates against the model documented for its status; returns the body."""
    model = _documented(client, method, template, response.status_code)
    model.model_validate(response.json())
    return response.json()


def _post(client, url, body=None):
    return client.post(url, json=body, headers={"Idempotency-Key": f"s-{next(_keys)}"})


def test_decision_responses_match_their_documented_models(client):
    decided = _check(client, "post", "/api/decisions", _post(client, "/api/decisions", APPLICATION))
    assert decided["offer"] is not None  # an approval with its offer
    rejected = _post(client, "/api/decisions", application(**{"bureau.court_enforcements": 1}))
    assert _check(client, "post", "/api/decisions", rejected)["offer"] is None
    shown = client.get(f"/api/decisions/{decided['decision_id']}")
    assert _check(client, "get", "/api/decisions/{decision_id}", shown)["shadow"]
    shown_rejected = client.get(f"/api/decisions/{rejected.json()['decision_id']}")
    assert (
        "limits"
        not in _check(client, "get", "/api/decisions/{decision_id}", shown_rejected)["trace"]
    )
    replay = client.post(f"/api/decisions/{decided['decision_id']}/replay")
    assert _check(client, "post", "/api/decisions/{decision_id}/replay", replay)["equal"] is True


def test_review_responses_match_their_documented_models(client):
    review = _post(client, "/api/decisions", application(**{"device.is_proxy": True})).json()
    queue = _check(client, "get", "/api/reviews", client.get("/api/reviews"))
    assert queue["count"] == 1
    verdict = {"operator": "op-1", "verdict": "APPROVE", "note": "called"}
    url = f"/api/reviews/{review['decision_id']}"
    assert _check(client, "post", "/api/reviews/{decision_id}", _post(client, url, verdict))
    shown = client.get(f"/api/decisions/{review['decision_id']}")
    assert _check(client, "get", "/api/decisions/{decision_id}", shown)["review"]
    again = _post(client, url, verdict)
    assert again.status_code == 409
    _check(client, "post", "/api/reviews/{decision_id}", again)


def test_blacklist_responses_match_their_documented_models(client):
    entry = {"kind": "phone", "value": "13812341234", "reason": "confirmed fraud"}
    added = _post(client, "/api/blacklist", entry)
    assert added.status_code == 201
    _check(client, "post", "/api/blacklist", added)
    assert _check(client, "get", "/api/blacklist", client.get("/api/blacklist"))["total"] == 1
    blocked = _post(client, "/api/decisions", APPLICATION)
    assert _check(client, "post", "/api/decisions", blocked)["reasons"][0]["detail"] == "phone"
    duplicate = _post(client, "/api/blacklist", entry)
    assert duplicate.status_code == 409
    _check(client, "post", "/api/blacklist", duplicate)
    removal = {"kind": "phone", "value": "13812341234"}
    removed = client.request("DELETE", "/api/blacklist", json=removal)
    assert removed.status_code == 200
    _check(client, "delete", "/api/blacklist", removed)
    missing = client.request("DELETE", "/api/blacklist", json=removal)
    assert missing.status_code == 404
    _check(client, "delete", "/api/blacklist", missing)


def test_application_responses_match_their_documented_models(client):
    queued = _post(client, "/api/applications", APPLICATION)
    assert queued.status_code == 202
    _check(client, "post", "/api/applications", queued)
    # valid at the edge, refused by the decision (born after the decision date): FAILED
    unborn = another_person(application(**{"applicant.birth_date": "2027-01-01"}), 3)
    failed = _post(client, "/api/applications", unborn)
    assert failed.status_code == 202, failed.text
    client.app.state.applications.drain()
    template = "/api/applications/{application_id}"
    done = _check(client, "get", template, client.get(queued.json()["status_url"]))
    assert done["status"] == "DONE" and done["decision"]["outcome"] == "APPROVE"
    refused = _check(client, "get", template, client.get(failed.json()["status_url"]))
    assert refused["status"] == "FAILED" and refused["error"]["code"] == "INVALID_APPLICATION"


def test_error_responses_match_the_documented_error_body(client):
    bad = _post(client, "/api/decisions", application(**{"applicant": None}))
    assert bad.status_code == 422
    assert _check(client, "post", "/api/decisions", bad)["error"]["code"] == "INVALID_REQUEST"
    unknown = _post(client, "/api/decisions", application(product="payday_special"))
    assert _check(client, "post", "/api/decisions", unknown)["error"]["code"] == "UNKNOWN_PRODUCT"
    no_key = client.post("/api/decisions", json=APPLICATION)
    assert no_key.status_code == 400
    _check(client, "post", "/api/decisions", no_key)
    for method, template, url in (
        ("get", "/api/decisions/{decision_id}", "/api/decisions/987654321"),
        ("post", "/api/decisions/{decision_id}/replay", "/api/decisions/987654321/replay"),
        ("get", "/api/applications/{application_id}", "/api/applications/987654321"),
    ):
        response = client.request(method.upper(), url)
        assert response.status_code == 404, url
        _check(client, method, template, response)


def test_an_undocumented_field_fails_the_documented_model(client):
    decided = _post(client, "/api/decisions", APPLICATION).json()
    with pytest.raises(ValidationError, match="surprise"):
        decision_schemas.DecisionResponse.model_validate({**decided, "surprise": 1})
    with pytest.raises(ValidationError, match="surprise"):
        offer = {**decided["offer"], "surprise": 1}
        decision_schemas.DecisionResponse.model_validate({**decided, "offer": offer})
