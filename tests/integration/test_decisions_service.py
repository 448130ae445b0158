"""The decision service on both databases: what a decision records, replay with the recorded
versions (after a policy edit, after the blacklist moved on, and catching a tampered record),
the fraud index and the blacklist at decision time, arms, and nothing stored for bad input."""

import json

import pytest
from sqlalchemy import select, update

from lendcore.decisioning.decision_tables import decisions
from lendcore.decisioning.experiments import Experiment
from lendcore.decisioning.fraud_tables import identifier_index
from lendcore.decisioning.rules import IDENTIFIER_KINDS
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.store.db import UnitOfWork

from .test_decisions_support import (
    APPLICATION,
    CHALLENGER_ONLY,
    CLEAR_IDENTIFIERS,
    HALF_AND_HALF,
    SHADOW,
    another_person,
    application,
    decide,
    edit,
    make_setup,
    stored_counts,
)


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


def _row(engine, decision_id):
    with engine.connect() as connection:
        return connection.execute(
            select(decisions).where(decisions.c.decision_id == int(decision_id))
        ).one()


def test_a_decision_is_answered_and_recorded_with_everything_a_replay_needs(engine, setup):
    document = decide(engine, setup.service, APPLICATION)
    assert document["outcome"] == "APPROVE"
    assert document["score"] == 625 and document["tier"] == "standard"
    assert document["offer"]["limit"] == "100000.00" and document["offer"]["amount"] == "50000.00"
    row = _row(engine, document["decision_id"])
    assert (row.outcome, row.product, row.amount_fen, row.term) == (
        "APPROVE",
        "consumer_instalment",
        5_000_000,
        12,
    )
    assert row.model_version == document["model_version"] and row.arm == "champion"
    assert row.policy_versions == document["policy_versions"]
    assert row.context["pd"] == document["pd"] and row.context["fraud"]["checked"] is True
    assert row.inputs["credit_profile"] == APPLICATION["credit_profile"]
    assert row.result["response"] == document
    assert row.result["trace"]["admission"]


def test_no_identifier_is_stored_in_clear(engine, setup):
    document = decide(engine, setup.service, APPLICATION)
    row = _row(engine, document["decision_id"])
    stored = json.dumps([row.inputs, row.context, row.result], ensure_ascii=False)
    for clear in CLEAR_IDENTIFIERS:
        assert clear not in stored
    assert row.inputs["applicant"]["phone"] == "138****1234"
    assert row.inputs["applicant"]["id_number"] == "110101********1234"


def test_the_model_reasons_are_in_the_answer_after_the_policy_reasons(engine, setup):
    body = application(**{"device.is_proxy": True, "credit_profile.checking_status": "lt_0"})
    document = decide(engine, setup.service, body)
    sources = [reason["source"] for reason in document["reasons"]]
    assert sources[0] == "policy" and document["reasons"][0]["code"] == "PROXY_OR_VPN"
    model = [reason for reason in document["reasons"] if reason["source"] == "model"]
    assert 1 <= len(model) <= 4 and sources == ["policy"] + ["model"] * len(model)
    assert model[0]["code"] == "R_CHECKING_STATUS" and model[0]["points_lost"] == 38


def test_replay_of_a_stored_decision_is_equal(engine, setup):
    document = decide(engine, setup.service, application(**{"device.is_proxy": True}))
    with engine.connect() as connection:
        replay = setup.service.replay(connection, int(document["decision_id"]))
    assert replay["equal"] is True and replay["differences"] == []
    assert replay["replayed"]["outcome"] == "MANUAL_REVIEW"
    assert replay["replayed"]["offer"] == document["offer"]


def test_replay_uses_the_recorded_policy_version_after_the_file_changed(engine, setup):
    body = application(**{"bureau.applications_90d": 9})
    first = decide(engine, setup.service, body)
    assert first["outcome"] == "APPROVE"
    # Same length on purpose: only the content (and so the hash) tells the versions apart.
    edit(setup.policies / "admission.json", '"> 10"', '"> 08"')
    second = decide(engine, setup.service, another_person(body, 1))
    assert second["outcome"] == "REJECT"  # the edit is live without a restart
    assert second["policy_versions"]["admission"] != first["policy_versions"]["admission"]
    for service in (setup.service, setup.restarted()):
        with engine.connect() as connection:
            replay = service.replay(connection, int(first["decision_id"]))
        assert replay["equal"] is True
        assert replay["replayed"]["outcome"] == "APPROVE"
        assert replay["replayed"]["policy_versions"] == first["policy_versions"]


def test_replay_prices_with_the_recorded_product_version_after_the_product_file_changed(
    engine, setup
):
    first = decide(engine, setup.service, APPLICATION)
    assert first["offer"]["annual_rate"] == "0.1000"  # the limits row's rate, inside the product's
    # Within the cap; the product's minimum rate now binds above the limits row's 10%.
    edit(setup.products / "consumer_instalment.yaml", 'min: "0.0720"', 'min: "0.1100"')
    restarted = setup.restarted()  # a new process loads the edited product
    second = decide(engine, restarted, another_person(APPLICATION, 1))
    assert second["offer"]["annual_rate"] == "0.1100"
    assert second["offer"]["product_version"] != first["offer"]["product_version"]
    for service in (setup.service, restarted):
        with engine.connect() as connection:
            replay = service.replay(connection, int(first["decision_id"]))
        assert replay["equal"] is True, replay["differences"]
        assert replay["replayed"]["offer"] == first["offer"]


def test_replay_refuses_a_product_version_that_is_no_longer_kept(engine, setup):
    first = decide(engine, setup.service, APPLICATION)
    edit(setup.products / "consumer_instalment.yaml", 'min: "0.0720"', 'min: "0.1100"')
    (setup.product_versions / f"{first['offer']['product_version']}.yaml").unlink()
    with pytest.raises(LendcoreError) as caught, engine.connect() as connection:
        setup.restarted().replay(connection, int(first["decision_id"]))
    assert caught.value.code is ErrorCode.UNKNOWN_PRODUCT


def test_replay_reports_a_record_that_no_longer_matches_its_versions(engine, setup):
    document = decide(engine, setup.service, APPLICATION)
    row = _row(engine, document["decision_id"])
    tampered = {**row.context, "bureau": {**row.context["bureau"], "court_enforcements": 1}}
    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            update(decisions)
            .where(decisions.c.decision_id == row.decision_id)
            .values(context=tampered)
        )
        uow.commit()
    with engine.connect() as connection:
        replay = setup.service.replay(connection, row.decision_id)
    assert replay["equal"] is False
    fields = {difference["field"] for difference in replay["differences"]}
    assert {"outcome", "reasons", "offer"} <= fields
    assert replay["replayed"]["outcome"] == "REJECT"


# Where each identifier kind enters the request body (the bank card is the applicant's optional
# disbursement card). Parametrised over IDENTIFIER_KINDS: a new kind without a body path fails.
_BODY_PATH = {
    "id_number": ("applicant", "id_number"),
    "phone": ("applicant", "phone"),
    "device_id": ("device", "device_id"),
    "ip": ("device", "ip"),
    "bank_card": ("applicant", "bank_card"),
}


@pytest.mark.parametrize("kind", IDENTIFIER_KINDS)
def test_a_blacklist_hit_on_any_identifier_rejects_and_replay_never_rereads_the_blacklist(
    engine, setup, kind
):
    part, field = _BODY_PATH[kind]
    value = APPLICATION[part][field]
    with UnitOfWork(engine) as uow:
        setup.service.blacklist_add(uow, kind, value, reason="fraud", source="t")
        uow.commit()
    document = decide(engine, setup.service, APPLICATION)
    assert document["outcome"] == "REJECT"
    assert (document["reasons"][0]["code"], document["reasons"][0]["detail"]) == (
        "BLACKLISTED",
        kind,
    )
    with UnitOfWork(engine) as uow:
        setup.service.blacklist_remove(uow, kind, value=value)
        uow.commit()
    with engine.connect() as connection:
        replay = setup.service.replay(connection, int(document["decision_id"]))
    assert replay["equal"] is True and replay["replayed"]["outcome"] == "REJECT"
    assert decide(engine, setup.service, another_person(APPLICATION, 5))["outcome"] == "APPROVE"


def test_a_blacklisted_phone_matches_however_it_is_written(engine, setup):
    with UnitOfWork(engine) as uow:
        setup.service.blacklist_add(uow, "phone", "+86 138 1234 1234", reason="fraud", source="t")
        uow.commit()
    document = decide(engine, setup.service, APPLICATION)  # "13812341234"
    assert document["outcome"] == "REJECT"
    assert document["reasons"][0]["detail"] == "phone"


def test_identifiers_are_indexed_and_a_shared_phone_goes_to_review(engine, setup):
    first = decide(engine, setup.service, APPLICATION)
    with engine.connect() as connection:
        kinds = connection.execute(
            select(identifier_index.c.identifier_kind).where(
                identifier_index.c.application_id == int(first["application_id"])
            )
        ).scalars()
        assert sorted(kinds) == ["bank_card", "device_id", "id_number", "ip", "phone"]
    other = another_person(APPLICATION, 7)
    other["applicant"]["phone"] = APPLICATION["applicant"]["phone"]
    second = decide(engine, setup.service, other)
    assert second["outcome"] == "MANUAL_REVIEW"
    assert [r["code"] for r in second["reasons"] if r["source"] == "policy"] == ["PHONE_SHARED"]


@pytest.mark.parametrize(
    "body",
    [
        application(**{"applicant.birth_date": None, "applicant.age": -1}),
        application(**{"bureau": None}),
        application(product="payday_special"),
        application(**{"credit_profile.score": 900}),
        application(**{"credit_profile.checking_status": "plenty"}),
        application(**{"applicant.birth_date": "2027-01-01"}),  # after the decision date
    ],
    ids=["age-1", "missing-bureau", "unknown-product", "own-score", "bad-code", "unborn"],
)
def test_bad_input_raises_and_stores_nothing(engine, setup, body):
    with pytest.raises(LendcoreError) as caught, UnitOfWork(engine) as uow:
        setup.service.decide(uow, body, channel="api")
        uow.commit()  # never reached: nothing may be left to commit either
    assert caught.value.code in {ErrorCode.INVALID_APPLICATION, ErrorCode.UNKNOWN_PRODUCT}
    assert stored_counts(engine) == (0, 0)


def test_a_decided_application_id_returns_its_decision(engine, setup):
    first = decide(engine, setup.service, APPLICATION, application_id=42, channel="async")
    again = decide(engine, setup.service, APPLICATION, application_id=42, channel="async")
    assert again == first
    assert stored_counts(engine)[0] == 1


def test_the_challenger_arm_decides_with_the_challenger_model(engine, tmp_path):
    setup = make_setup(tmp_path, CHALLENGER_ONLY)
    document = decide(engine, setup.service, APPLICATION)
    challenger = setup.service.models.current().arms["challenger"]
    assert document["arm"] == "challenger" and document["model_kind"] == "challenger"
    assert document["model_version"] == challenger.version
    assert document["score"] == challenger.score(APPLICATION["credit_profile"]).score
    with engine.connect() as connection:
        assert setup.service.replay(connection, int(document["decision_id"]))["equal"] is True


def test_a_shadow_arm_is_scored_and_logged_but_not_acted_on(engine, tmp_path):
    setup = make_setup(tmp_path, SHADOW)
    document = decide(engine, setup.service, APPLICATION)
    assert document["arm"] == "champion" and document["model_kind"] == "scorecard"
    with engine.connect() as connection:
        recorded = setup.service.get(connection, int(document["decision_id"]))
    [shadow] = recorded["shadow"]
    assert shadow["arm"] == "challenger" and shadow["model_kind"] == "challenger"
    assert shadow["score"] != document["score"]
    assert recorded["experiment"]["shadow"] is True
    # recorded without reasons (no TreeSHAP on the decision's path); reading computes them with
    # the recorded version from the recorded profile: the reasons the challenger gives
    assert _row(engine, document["decision_id"]).result["shadow"][0]["reasons"] is None
    challenger = setup.service.models.version(shadow["model_version"], "challenger")
    expected = challenger.score(APPLICATION["credit_profile"]).reasons
    assert expected and shadow["reasons"] == [r.to_dict() for r in expected]


def test_arms_follow_the_application_id_in_every_process(engine, tmp_path):
    setup = make_setup(tmp_path, HALF_AND_HALF)
    experiment = Experiment.from_dict(HALF_AND_HALF)
    arms = {}
    for application_id in range(1, 13):
        document = decide(
            engine,
            setup.service,
            another_person(APPLICATION, application_id),
            application_id=application_id,
        )
        arms[application_id] = document["arm"]
        assert document["arm"] == experiment.assign(application_id).arm
    assert set(arms.values()) == {"champion", "challenger"}
    restarted = setup.restarted()
    for application_id, arm in arms.items():
        scoring = restarted.models.score(application_id, APPLICATION["credit_profile"])
        assert scoring.acted.arm == arm


def test_on_postgresql_a_decision_record_is_compressed_with_lz4(engine, setup):
    # migration 0012: ~8.7 KB of JSON per record, compressed on every insert; lz4 costs the
    # server about half pglz's CPU. Checked on a stored value, not on the column's setting.
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores JSON as text, uncompressed")
    document = decide(engine, setup.service, APPLICATION)
    with engine.connect() as connection:
        offered = connection.exec_driver_sql(
            "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
        if "lz4" not in offered:
            pytest.skip("this PostgreSQL was built without lz4: the migration keeps pglz")
        method = connection.exec_driver_sql(
            "SELECT pg_column_compression(result) FROM decisions WHERE decision_id = %(id)s",
            {"id": int(document["decision_id"])},
        ).scalar()
    assert method == "lz4"
