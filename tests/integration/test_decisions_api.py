"""The decision endpoints over HTTP on both databases: a round trip (decide, read with the trace,
replay), 422 with nothing stored, Idempotency-Key, the review queue and verdicts, the blacklist,
and the OpenAPI document."""

import fcntl
import gc
import itertools
import os
import threading
import time

import pytest
from fastapi.testclient import TestClient

from lendcore.api import decisions as decisions_api
from lendcore.api.app import create_app
from lendcore.api.decisions import WRITER_WAITS
from lendcore.api.tables import idempotency_keys
from lendcore.decisioning.fraud import sha256_hasher
from lendcore.decisioning.service import DECISIONS, DecisionService
from lendcore.kernel.errors import ErrorCode, LendcoreError

from .racing import race
from .test_decisions_support import (
    APPLICATION,
    another_person,
    application,
    count,
    make_setup,
    stored_counts,
)

_keys = itertools.count(1)


@pytest.fixture
def client(engine, tmp_path):
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    with TestClient(app) as test_client:
        yield test_client


def post(client, url, body, key=None):
    return client.post(url, json=body, headers={"Idempotency-Key": key or f"k-{next(_keys)}"})


def test_decide_read_and_replay_round_trip(client):
    response = post(client, "/api/decisions", APPLICATION)
    assert response.status_code == 201, response.text
    decided = response.json()
    assert decided["outcome"] == "APPROVE" and decided["tier"] == "standard"
    assert {"limit", "term", "annual_rate", "apr_irr"} <= set(decided["offer"])
    assert decided["offer"]["amount"] == "50000.00" and decided["arm"] == "champion"
    assert any(reason["source"] == "model" for reason in decided["reasons"])
    shown = client.get(f"/api/decisions/{decided['decision_id']}")
    assert shown.status_code == 200
    recorded = shown.json()
    assert {k: recorded[k] for k in decided} == decided
    assert set(recorded["trace"]) == {"tier", "admission", "limits"}
    matched = [rule["id"] for step in recorded["trace"]["tier"] for rule in step.get("rules", [])]
    assert "insured_employee" in matched and "band_a" in matched
    assert recorded["inputs"]["applicant"]["phone"] == "138****1234"
    replay = client.post(f"/api/decisions/{decided['decision_id']}/replay")
    assert replay.status_code == 200
    assert replay.json()["equal"] is True and replay.json()["differences"] == []


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (application(**{"applicant": None}), "INVALID_REQUEST", "applicant"),
        (
            application(**{"applicant.birth_date": None, "applicant.age": -1}),
            "INVALID_REQUEST",
            "applicant.age",
        ),
        (application(product="payday_special"), "UNKNOWN_PRODUCT", "product"),
        (application(amount=5000.5), "INVALID_REQUEST", "amount"),
        (application(**{"credit_profile.score": 900}), "INVALID_REQUEST", "credit_profile"),
        (application(**{"applicant.birth_date": "2027-01-01"}), "INVALID_APPLICATION", None),
    ],
    ids=["missing-applicant", "age-1", "unknown-product", "float-amount", "own-score", "unborn"],
)
def test_a_bad_request_is_422_with_the_uniform_error_and_nothing_is_stored(
    client, engine, body, code, field
):
    response = post(client, "/api/decisions", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    if code == "INVALID_REQUEST":
        assert field in [f["field"] for f in error["details"]["fields"]]
    elif field is not None:
        assert error["details"]["field"] == field
    assert stored_counts(engine) == (0, 0)
    assert count(engine, idempotency_keys) == 0


def test_an_idempotency_key_replays_the_first_decision(client, engine):
    first = post(client, "/api/decisions", APPLICATION, key="same")
    again = post(client, "/api/decisions", APPLICATION, key="same")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replay") == "true"
    assert stored_counts(engine)[0] == 1
    reused = post(client, "/api/decisions", another_person(APPLICATION, 1), key="same")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    missing = client.post("/api/decisions", json=APPLICATION)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert stored_counts(engine)[0] == 1


def test_a_retried_decision_is_answered_from_its_stored_response_without_deciding_again(
    client, monkeypatch
):
    first = post(client, "/api/decisions", APPLICATION, key="retry")
    evaluated = []
    original = DecisionService.evaluate
    monkeypatch.setattr(
        DecisionService,
        "evaluate",
        lambda self, *args, **kwargs: evaluated.append(1) or original(self, *args, **kwargs),
    )
    again = post(client, "/api/decisions", APPLICATION, key="retry")
    assert again.headers.get("Idempotent-Replay") == "true" and again.json() == first.json()
    assert evaluated == []
    post(client, "/api/decisions", another_person(APPLICATION, 2), key="fresh")
    assert evaluated == [1]


@pytest.mark.parametrize("inline", ["0", "1"])
def test_sqlite_prepares_outside_the_write_transaction_postgresql_decides_inside_it(
    engine, tmp_path, monkeypatch, inline
):
    """The split exists for SQLite's one writer lock; PostgreSQL reads the facts once. Either
    way, in the event loop or in the decision thread."""
    monkeypatch.setenv("LENDCORE_DECISION_INLINE", inline)
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    gathered = []
    original = DecisionService._gather
    monkeypatch.setattr(
        DecisionService,
        "_gather",
        lambda self, *args, **kwargs: (
            gathered.append(kwargs.get("locked", False)) or original(self, *args, **kwargs)
        ),
    )
    how = "prepared" if engine.dialect.name == "sqlite" else "in_transaction"
    before = DECISIONS.value(channel="api", evaluation=how)
    with TestClient(app) as client:
        assert post(client, "/api/decisions", APPLICATION).status_code == 201
    assert DECISIONS.value(channel="api", evaluation=how) == before + 1
    # SQLite: the snapshot's reading only (nothing committed since); PostgreSQL: under the locks
    assert gathered == ([False] if engine.dialect.name == "sqlite" else [True])


def test_concurrent_posts_sharing_a_phone_see_each_other_on_postgresql(
    postgres_url, tmp_path, monkeypatch
):
    """Six real concurrent decisions (six decision threads, six PostgreSQL transactions) for six
    people with one phone: only the first recorded may pass the sharing rule."""
    from lendcore.store.db import make_engine

    # Six decision threads stand in for six served processes (each runs one inline decision at
    # a time): six transactions at once.
    monkeypatch.setenv("LENDCORE_DECISION_INLINE", "0")
    monkeypatch.setenv("LENDCORE_DECISION_THREADS", "6")
    engine = make_engine(postgres_url, pool_size=8)
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    bodies = []
    for n in range(6):
        body = another_person(APPLICATION, 200 + n)
        body["applicant"]["phone"] = APPLICATION["applicant"]["phone"]
        bodies.append(body)
    try:
        with TestClient(app) as test_client:

            def attempt(n, barrier):
                barrier.wait()
                response = post(test_client, "/api/decisions", bodies[n])
                assert response.status_code == 201, response.text
                return response.json()["outcome"]

            outcomes, errors = race(len(bodies), attempt)
    finally:
        engine.dispose()
    assert errors == []
    assert sorted(outcomes) == ["APPROVE"] + ["MANUAL_REVIEW"] * 5


def test_unknown_decisions_are_404(client):
    for response in (
        client.get("/api/decisions/987654321"),
        client.post("/api/decisions/987654321/replay"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "UNKNOWN_DECISION"


def test_the_review_queue_and_a_verdict_given_once(client):
    review = post(client, "/api/decisions", application(**{"device.is_proxy": True})).json()
    assert review["outcome"] == "MANUAL_REVIEW"
    queue = client.get("/api/reviews").json()
    assert [item["decision_id"] for item in queue["items"]] == [review["decision_id"]]
    verdict = {"operator": "op-1", "verdict": "APPROVE", "note": "called the applicant"}
    recorded = post(client, f"/api/reviews/{review['decision_id']}", verdict)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["final_outcome"] == "APPROVE"
    assert client.get("/api/reviews").json()["count"] == 0
    second = post(client, f"/api/reviews/{review['decision_id']}", {**verdict, "note": "again"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "VERDICT_ALREADY_RECORDED"
    shown = client.get(f"/api/decisions/{review['decision_id']}").json()
    assert shown["review"]["verdict"] == "APPROVE" and shown["review"]["operator"] == "op-1"
    bad = post(client, f"/api/reviews/{review['decision_id']}", {**verdict, "verdict": "MAYBE"})
    assert bad.status_code == 422


def test_a_verdict_on_an_approval_is_a_conflict(client):
    approved = post(client, "/api/decisions", APPLICATION).json()
    response = post(
        client, f"/api/reviews/{approved['decision_id']}", {"operator": "op", "verdict": "REJECT"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "NOT_UNDER_REVIEW"


def test_blacklist_management_over_http(client):
    entry = {"kind": "phone", "value": "+86 138 1234 1234", "reason": "confirmed fraud"}
    added = post(client, "/api/blacklist", entry)
    assert added.status_code == 201, added.text
    listed = client.get("/api/blacklist").json()
    assert listed["total"] == 1
    assert listed["items"][0]["identifier_hash"] == added.json()["identifier_hash"]
    assert "1234 1234" not in str(listed) and "13812341234" not in str(listed)
    duplicate = post(client, "/api/blacklist", {**entry, "value": "13812341234"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "BLACKLIST_ENTRY_EXISTS"
    rejected = post(client, "/api/decisions", APPLICATION).json()
    assert rejected["outcome"] == "REJECT" and rejected["reasons"][0]["code"] == "BLACKLISTED"
    removal = {"kind": "phone", "identifier_hash": added.json()["identifier_hash"]}
    removed = client.request("DELETE", "/api/blacklist", json=removal)
    assert removed.status_code == 200 and removed.json()["removed"]["kind"] == "phone"
    again = client.request("DELETE", "/api/blacklist", json=removal)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "UNKNOWN_BLACKLIST_ENTRY"
    assert client.get("/api/blacklist").json()["total"] == 0
    bad_kind = post(client, "/api/blacklist", {**entry, "kind": "email"})
    assert bad_kind.status_code == 422


def _decisioning_operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "decisioning" in operation.get("tags", []):
                yield f"{method.upper()} {path}", operation


def _reachable_components(schema):
    """Every component schema a decisioning request body or response refers to, following $ref
    through properties, items, additionalProperties, anyOf/oneOf/allOf."""
    components = schema["components"]["schemas"]
    seen: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            reference = node.get("$ref")
            if reference:
                name = reference.rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(components[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, operation in _decisioning_operations(schema):
        walk(operation.get("requestBody", {}))
        walk(operation["responses"])
    return {name: components[name] for name in seen}


def _properties(name, node, path=""):
    """(where, property schema) for every property of ``node``, nested inline objects too."""
    if not isinstance(node, dict):
        return
    for key, value in node.get("properties", {}).items():
        yield f"{name}{path}.{key}", value
        yield from _properties(name, value, f"{path}.{key}")
    for keyword in ("items", "additionalProperties"):
        yield from _properties(name, node.get(keyword), path)
    for keyword in ("anyOf", "oneOf", "allOf"):
        for option in node.get(keyword, []):
            yield from _properties(name, option, path)


def test_openapi_documents_every_field_of_every_decisioning_schema(client):
    schema = client.get("/openapi.json").json()
    reachable = _reachable_components(schema)
    # the walk reaches the request body, every response model and the uniform error body
    assert {
        "Application",
        "Applicant",
        "Bureau",
        "Device",
        "DecisionResponse",
        "DecisionOffer",
        "DecisionRecord",
        "DecisionReplay",
        "ApplicationQueued",
        "ApplicationStatus",
        "ReviewQueue",
        "BlacklistPage",
        "ErrorBody",
    } <= set(reachable)
    undocumented = [
        where
        for name, component in reachable.items()
        for where, prop in _properties(name, component)
        if not prop.get("description")
    ]
    assert undocumented == []
    models = [name for name, c in reachable.items() if "properties" in c]
    assert [name for name in models if not reachable[name].get("description")] == []


def test_openapi_documents_every_parameter_and_response_of_the_decisioning_routes(client):
    schema = client.get("/openapi.json").json()
    problems = []
    for where, operation in _decisioning_operations(schema):
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                problems.append(f"{where} parameter {parameter['name']}")
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            if "$ref" not in content.get("schema", {}):
                problems.append(f"{where} {status}: no model")
            elif status.startswith("4") and not content["schema"]["$ref"].endswith("/ErrorBody"):
                problems.append(f"{where} {status}: not the uniform error body")
        if "422" not in operation["responses"]:
            problems.append(f"{where}: no 422")
    assert problems == []


def test_openapi_documents_the_decision_request_body(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    body = schema["paths"]["/api/decisions"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/Application")
    application_schema = components["Application"]
    assert set(application_schema["required"]) >= {"product", "amount", "term", "applicant"}
    assert application_schema["properties"]["amount"]["type"] == "string"
    profile = application_schema["properties"]["credit_profile"]
    assert profile["additionalProperties"] is False
    assert "none" in profile["properties"]["checking_status"]["enum"]


def test_the_default_service_decides_with_the_keyed_blind_index(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("LENDCORE_KEY_FILE", str(tmp_path / "keys" / "keys.json"))
    monkeypatch.setenv("LENDCORE_POLICY_VERSIONS_DIR", str(tmp_path / "versions"))
    monkeypatch.setenv("LENDCORE_PRODUCT_VERSIONS_DIR", str(tmp_path / "product-versions"))
    with TestClient(create_app(engine)) as default_client:
        added = post(
            default_client,
            "/api/blacklist",
            {"kind": "id_number", "value": "110101199003071234", "reason": "identity theft"},
        )
        decided = post(default_client, "/api/decisions", APPLICATION)
    assert added.status_code == 201 and decided.status_code == 201, decided.text
    assert decided.json()["outcome"] == "REJECT"
    assert decided.json()["reasons"][0]["detail"] == "id_number"
    # keyed (HMAC under the local key file), not the sandbox salt
    assert added.json()["identifier_hash"] != sha256_hasher()("id_number", "110101199003071234")


def test_a_served_app_builds_its_decision_service_before_it_takes_a_request(
    engine, tmp_path, monkeypatch
):
    monkeypatch.setenv("LENDCORE_KEY_FILE", str(tmp_path / "keys" / "keys.json"))
    monkeypatch.setenv("LENDCORE_POLICY_VERSIONS_DIR", str(tmp_path / "versions"))
    monkeypatch.setenv("LENDCORE_PRODUCT_VERSIONS_DIR", str(tmp_path / "product-versions"))
    monkeypatch.setenv("LENDCORE_WARM_START", "1")  # as `lendcore api` sets it
    app = create_app(engine)
    assert getattr(app.state, "decisions", None) is None
    gc.unfreeze()
    try:
        with TestClient(app):  # the lifespan has run; no request yet
            assert isinstance(app.state.decisions, DecisionService)
            # and froze what it built: the collector no longer walks the warm heap
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("threads", ["0", "two", "-1"])
def test_a_bad_decision_thread_count_stops_the_app_at_start(engine, monkeypatch, threads):
    monkeypatch.setenv("LENDCORE_DECISION_THREADS", threads)
    with pytest.raises(LendcoreError) as caught:
        create_app(engine)
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT
    assert "LENDCORE_DECISION_THREADS" in caught.value.message


def test_decisions_run_in_the_configured_number_of_threads(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("LENDCORE_DECISION_THREADS", "3")
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    with TestClient(app) as test_client:
        assert post(test_client, "/api/decisions", APPLICATION).status_code == 201
    assert app.state.decision_limiter.total_tokens == 3


def test_an_inline_decision_waits_for_another_writer_off_the_event_loop(engine, tmp_path):
    """On SQLite a decision runs in the event loop; when another process holds the writer lock
    its recording waits in the decision thread, so the process still answers meanwhile."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer lock")
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    assert app.state.decision_inline
    waits = WRITER_WAITS.value()
    answered: list = []
    with TestClient(app) as test_client:
        fd = os.open(f"{os.path.abspath(engine.url.database)}-writer.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's unit of work would
        deciding = threading.Thread(
            target=lambda: answered.append(post(test_client, "/api/decisions", APPLICATION))
        )
        try:
            deciding.start()
            deadline = time.monotonic() + 10
            while WRITER_WAITS.value() == waits and time.monotonic() < deadline:
                time.sleep(0.01)
            assert WRITER_WAITS.value() == waits + 1  # the recording went to wait in the thread
            assert test_client.get("/api/health").status_code == 200  # the loop is free
            assert not answered  # the decision is still waiting for the lock
            assert stored_counts(engine) == (0, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        deciding.join(10)
    assert answered[0].status_code == 201, answered[0].text
    assert stored_counts(engine)[0] == 1


@pytest.mark.parametrize(("setting", "inline"), [(None, True), ("0", False), ("1", True)])
def test_where_decisions_run_follows_the_setting(engine, monkeypatch, setting, inline):
    if setting is None:  # the default: in the event loop, on either database
        monkeypatch.delenv("LENDCORE_DECISION_INLINE", raising=False)
    else:
        monkeypatch.setenv("LENDCORE_DECISION_INLINE", setting)
    assert create_app(engine).state.decision_inline is inline


def test_a_bad_inline_setting_stops_the_app_at_start(engine, monkeypatch):
    monkeypatch.setenv("LENDCORE_DECISION_INLINE", "yes")
    with pytest.raises(LendcoreError) as caught:
        create_app(engine)
    assert caught.value.code == ErrorCode.INVALID_ARGUMENT
    assert "LENDCORE_DECISION_INLINE" in caught.value.message


def test_an_inline_decision_retries_a_briefly_taken_writer_lock_without_a_thread(
    engine, tmp_path, monkeypatch
):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer lock")
    monkeypatch.setattr(decisions_api, "_WRITER_BACKOFF", (0.05,) * 200)  # 10 s of retries
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    waits = WRITER_WAITS.value()
    answered: list = []
    with TestClient(app) as test_client:
        fd = os.open(f"{os.path.abspath(engine.url.database)}-writer.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process records a decision
        deciding = threading.Thread(
            target=lambda: answered.append(post(test_client, "/api/decisions", APPLICATION))
        )
        try:
            deciding.start()
            time.sleep(0.3)
            assert test_client.get("/api/health").status_code == 200  # the loop is not blocked
            assert not answered
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)  # ... and is done
            os.close(fd)
        deciding.join(10)
    assert answered[0].status_code == 201, answered[0].text
    assert WRITER_WAITS.value() == waits  # recorded from the loop, no thread
    assert stored_counts(engine)[0] == 1


def test_inline_decisions_are_served_in_arrival_order_while_one_waits_for_the_writer(
    engine, tmp_path, monkeypatch
):
    """A decision waiting for the writer lock keeps its turn: the next one is not prepared
    meanwhile (which would push the waiting one later still)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer lock")
    monkeypatch.setattr(decisions_api, "_WRITER_BACKOFF", (0.05,) * 200)
    prepared: list[float] = []
    prepare = decisions_api._prepare_decision

    def watched(*args):
        prepared.append(time.monotonic())
        return prepare(*args)

    monkeypatch.setattr(decisions_api, "_prepare_decision", watched)
    app = create_app(engine)
    app.state.decisions = make_setup(tmp_path).service
    answered: list = []
    with TestClient(app) as test_client:
        fd = os.open(f"{os.path.abspath(engine.url.database)}-writer.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process is writing
        first = threading.Thread(
            target=lambda: answered.append(post(test_client, "/api/decisions", APPLICATION))
        )
        second = threading.Thread(
            target=lambda: answered.append(
                post(test_client, "/api/decisions", another_person(APPLICATION, 1))
            )
        )
        try:
            first.start()
            time.sleep(0.2)
            second.start()
            time.sleep(0.3)
            while_waiting = len(prepared)
        finally:
            released = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        first.join(10)
        second.join(10)
    assert while_waiting == 1  # the second waited for the first's turn
    assert [r.status_code for r in answered] == [201, 201]
    assert len(prepared) == 2 and prepared[1] >= released
