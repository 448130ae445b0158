"""Rules as data through the API: a decision policy or a compliance pack edited over HTTP is
validated, live on the next call without a restart, audited; a bad edit changes nothing; a
decision made before the edit still replays under its own version — on both databases."""

import itertools
import json
import shutil

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lendcore.api.app import create_app
from lendcore.cli import app
from lendcore.collections.audit import iter_records
from lendcore.collections.loader import compliance_dir, load_pack_file

from .test_collections_support import (
    add_contacts,
    add_loan,
    at,
    audit_records,
    check,
    make_context,
    request,
)
from .test_decisions_support import application, make_setup

_keys = itertools.count(1)


@pytest.fixture
def setup(engine, tmp_path):
    app = create_app(engine)
    built = make_setup(tmp_path)
    app.state.decisions = built.service
    packs = tmp_path / "compliance"
    shutil.copytree(compliance_dir(), packs)
    app.state.compliance_dir = packs
    with TestClient(app) as client:
        yield client, built, packs


def _decide(client, body):
    response = client.post(
        "/api/decisions", json=body, headers={"Idempotency-Key": f"r-{next(_keys)}"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _audit_kinds(engine):
    with engine.connect() as connection:
        return [r.kind for page in iter_records(connection) for r in page]


def test_a_policy_edited_through_the_api_is_live_and_old_decisions_replay(setup, engine):
    client, _, _ = setup
    older = application(**{"applicant.age": 58, "applicant.birth_date": None})
    before = _decide(client, older)
    assert before["outcome"] == "APPROVE"
    current = client.get("/api/rules/decision/admission").json()
    graph = current["document"]
    text = json.dumps(graph).replace('"> 60"', '"> 55"')
    edited = client.put(
        "/api/rules/decision/admission",
        json={"document": json.loads(text), "operator": "risk-1", "note": "age 55"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["old_version"] == current["version"] != edited.json()["version"]
    again = _decide(
        client,
        application(
            **{
                "applicant.age": 58,
                "applicant.birth_date": None,
                "applicant.id_number": "110101199003079999",
                "applicant.phone": "13900009999",
                "applicant.bank_card": "6222029999999999999",
                "device.device_id": "dev-9999",
            }
        ),
    )
    assert again["outcome"] == "REJECT"
    assert any(r["code"] == "AGE_OUT_OF_RANGE" for r in again["reasons"])
    replay = client.post(f"/api/decisions/{before['decision_id']}/replay").json()
    assert replay["equal"] is True  # under its own, older version
    assert "rules.decision_policy" in _audit_kinds(engine)


def test_a_bad_policy_edit_is_refused_and_changes_nothing(setup):
    client, built, _ = setup
    original = (built.policies / "admission.json").read_bytes()
    response = client.put(
        "/api/rules/decision/admission",
        json={"document": {"nodes": "not a graph"}, "operator": "risk-1", "note": "oops"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_POLICY"
    assert (built.policies / "admission.json").read_bytes() == original


def _put_pack(client, text, note="edit"):
    return client.put(
        "/api/rules/compliance/cn", json={"yaml": text, "operator": "legal-1", "note": note}
    )


def test_a_stricter_pack_edited_through_the_api_is_what_the_gate_uses_next(setup, engine):
    client, _, packs = setup
    ctx = make_context(packs_dir=packs)
    add_contacts(engine, ctx, add_loan(engine, 1, 5))
    assert check(engine, ctx, request(1, at("2026-03-02 20:40"))).allowed
    current = client.get("/api/rules/compliance/cn").json()
    assert load_pack_file(packs / "cn.yaml").version_hash == current["version"]
    edited_yaml = current["yaml"].replace("start: '21:00'", "start: '20:30'", 1)
    assert edited_yaml != current["yaml"]
    response = _put_pack(client, edited_yaml, "quiet from 20:30")
    assert response.status_code == 200, response.text
    version = response.json()["version"]
    assert load_pack_file(packs / "cn.yaml").version_hash == version
    assert "rules.compliance_pack" in _audit_kinds(engine)
    after = check(engine, ctx, request(1, at("2026-03-02 20:45"), agent="agent-2"))
    assert after.reasons == ("QUIET_HOURS",) and after.pack_version == f"cn@{version}"


def _without_section(text, name, following):
    return text[: text.index(f"  {name}:\n")] + text[text.index(f"  {following}:\n") :]


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        # later calls: the law's 22:00 is not in the file, so there is no line to delete
        (lambda t: t.replace("start: '21:00'", "start: '23:30'", 1), "PACK_BEYOND_LEGAL_BOUND"),
        (lambda t: t.replace("    max: 3\n", "    max: 9\n", 1), "PACK_BEYOND_LEGAL_BOUND"),
        (
            lambda t: _without_section(t, "debtor_daily_conversations", "debtor_daily_attempts"),
            "PACK_BEYOND_LEGAL_BOUND",
        ),
        # a legal_* line of its own, claiming a laxer law, is refused too: it binds nothing
        (
            lambda t: t.replace(
                "start: '21:00'\n",
                "start: '23:30'\n    legal_bound: {start: '23:30', end: '08:00'}\n",
                1,
            ),
            "INVALID_PACK",
        ),
        (lambda t: t.replace("jurisdiction: CN", "jurisdiction: XX", 1), "UNKNOWN_JURISDICTION"),
    ],
    ids=[
        "later-quiet-hours",
        "more-conversations",
        "cap-deleted",
        "own-legal-bound",
        "jurisdiction",
    ],
)
def test_a_pack_edit_laxer_than_the_law_is_refused_and_changes_nothing(setup, engine, edit, code):
    client, _, packs = setup
    original = (packs / "cn.yaml").read_bytes()
    current = client.get("/api/rules/compliance/cn").json()
    unlawful = edit(current["yaml"])
    assert unlawful != current["yaml"]
    response = _put_pack(client, unlawful, "laxer")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert (packs / "cn.yaml").read_bytes() == original
    assert "rules.compliance_pack" not in _audit_kinds(engine)


def test_a_candidate_policy_runs_as_a_challenger_arm_and_replays(engine, tmp_path):
    """Register a stricter admission policy as a candidate, pin it on an arm that takes every
    application: decisions use it, the live file is untouched, replay gives the same result."""
    app = create_app(engine)
    built = make_setup(tmp_path / "a")
    app.state.decisions = built.service
    with TestClient(app) as client:
        graph = client.get("/api/rules/decision/admission").json()
        stricter = json.loads(json.dumps(graph["document"]).replace('"> 60"', '"> 55"'))
        registered = client.post(
            "/api/rules/decision/admission/candidates",
            json={"document": stricter, "operator": "risk-1", "note": "age 55 as challenger"},
        )
        assert registered.status_code == 201, registered.text
        candidate = registered.json()["version"]
        assert client.get("/api/rules/decision/admission").json()["version"] == graph["version"]

    experiment = {
        "key": "policy-challenger",
        "champion": "champion",
        "shadow": False,
        "shares": {"champion": 0.0, "strict": 1.0},
        "arms": {
            "champion": {"kind": "scorecard"},
            "strict": {"kind": "scorecard", "policies": {"admission": candidate}},
        },
    }
    challenged = make_setup(tmp_path / "b", experiment)
    challenged.service.engine.store.versions = built.versions  # the candidate's version store
    app.state.decisions = challenged.service
    with TestClient(app) as client:
        decided = _decide(
            client, application(**{"applicant.age": 58, "applicant.birth_date": None})
        )
        assert decided["arm"] == "strict" and decided["outcome"] == "REJECT"
        assert decided["policy_versions"]["admission"] == candidate
        replay = client.post(f"/api/decisions/{decided['decision_id']}/replay").json()
        assert replay["equal"] is True


def test_the_exact_pack_a_past_check_used_is_readable_after_an_api_edit(
    setup, engine, tmp_path, monkeypatch
):
    monkeypatch.setenv("LENDCORE_PACK_VERSIONS_DIR", str(tmp_path / "pack-versions"))
    client, _, packs = setup
    ctx = make_context(packs_dir=packs)
    add_contacts(engine, ctx, add_loan(engine, 1, 5))
    original = (packs / "cn.yaml").read_text(encoding="utf-8")
    check(engine, ctx, request(1, at("2026-03-02 10:00")))
    edited = original.replace("    max: 6\n", "    max: 5\n", 1)
    assert _put_pack(client, edited, "fewer unanswered dials").status_code == 200
    [record] = [r for r in audit_records(engine, "gate.check")]
    used = record["payload"]["pack_version"]
    shown = CliRunner().invoke(app, ["collections", "pack", "show", "--version", used, "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert document["yaml"] == original and document["pack_version"] == used
    assert (packs / "cn.yaml").read_text(encoding="utf-8") == edited
