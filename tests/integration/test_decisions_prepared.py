"""A decision prepared on a read snapshot (outside the write transaction) and recorded inside it,
on both databases: recorded as prepared when the facts are unchanged, evaluated again when any of
them moved in between (a blacklist entry, an application sharing an identifier), never a write
while preparing, and a queued application's id still answered from its record."""

import pytest

from lendcore.decisioning.service import DECISIONS
from lendcore.store.db import UnitOfWork, make_engine

from .racing import race
from .test_decisions_support import (
    APPLICATION,
    another_person,
    decide,
    make_setup,
    stored_counts,
)


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


def _prepare(engine, service, body, **kwargs):
    with engine.connect() as connection:
        return service.prepare(connection, body, **kwargs)


def _record(engine, service, body, prepared, channel="api"):
    with UnitOfWork(engine) as uow:
        document = service.decide(uow, body, channel=channel, prepared=prepared)
        uow.commit()
    return document


def _on_one_connection(engine, service, body, between=lambda: None):
    """Prepared and recorded on one connection, as POST /api/decisions does; ``between`` runs
    after the snapshot ends and before the recording begins."""
    with engine.connect() as connection:
        prepared = service.prepare(connection, body)
        connection.rollback()
        between()
        with UnitOfWork(engine, connection=connection) as uow:
            document = service.decide(uow, body, channel="api", prepared=prepared)
            uow.commit()
    return prepared, document


def _count_gathers(monkeypatch, service):
    """A list that grows by one each time ``service`` reads the facts."""
    reads = []
    gather = service._gather
    monkeypatch.setattr(service, "_gather", lambda *a, **k: reads.append(1) or gather(*a, **k))
    return reads


def _counted(evaluation):
    return DECISIONS.value(channel="api", evaluation=evaluation)


def test_preparing_writes_nothing(engine, setup):
    _prepare(engine, setup.service, APPLICATION)
    assert stored_counts(engine) == (0, 0)


def test_unchanged_facts_record_the_prepared_evaluation_as_it_is(engine, setup, monkeypatch):
    prepared = _prepare(engine, setup.service, APPLICATION)
    before = _counted("prepared")

    def no_second_evaluation(*_args, **_kwargs):
        raise AssertionError("evaluated again although the facts did not move")

    monkeypatch.setattr(setup.service, "evaluate", no_second_evaluation)
    document = _record(engine, setup.service, APPLICATION, prepared)
    assert document["outcome"] == prepared.evaluation.decision.outcome == "APPROVE"
    assert document["application_id"] == str(prepared.application_id)
    assert _counted("prepared") == before + 1
    assert stored_counts(engine) == (1, 5)


def test_on_one_sqlite_connection_with_nothing_committed_the_facts_are_not_read_again(
    engine, setup, monkeypatch
):
    if engine.dialect.name != "sqlite":
        pytest.skip("the read mark is SQLite's data_version")
    reads = _count_gathers(monkeypatch, setup.service)
    before = _counted("prepared")
    prepared, document = _on_one_connection(engine, setup.service, APPLICATION)
    assert reads == [1]  # the snapshot's, none in the recording transaction
    assert document["outcome"] == prepared.evaluation.decision.outcome == "APPROVE"
    assert _counted("prepared") == before + 1
    assert stored_counts(engine) == (1, 5)  # the identifiers were indexed all the same


def test_on_postgresql_the_facts_are_always_read_again(engine, setup, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL has no read mark")
    reads = _count_gathers(monkeypatch, setup.service)
    _on_one_connection(engine, setup.service, APPLICATION)
    assert reads == [1, 1]


def test_on_one_connection_a_blacklist_entry_committed_in_between_rejects(engine, setup):
    def blacklist_the_device():  # another connection (the one above is checked out)
        with UnitOfWork(engine) as uow:
            setup.service.blacklist_add(
                uow, "device_id", APPLICATION["device"]["device_id"], reason="fraud", source="t"
            )
            uow.commit()

    before = _counted("reevaluated")
    prepared, document = _on_one_connection(
        engine, setup.service, APPLICATION, blacklist_the_device
    )
    assert prepared.evaluation.decision.outcome == "APPROVE"
    assert document["outcome"] == "REJECT"
    assert _counted("reevaluated") == before + 1


def test_on_one_connection_an_ip_verdict_that_changed_in_between_is_taken(engine, setup):
    """The IP reputation lives outside the database: nothing committed, yet it is asked again."""
    from lendcore.decisioning.fraud import IpRisk, IpVerdict

    class Flagged:
        risk = IpRisk.CLEAN

        def check(self, _ip):
            return IpVerdict(self.risk, "test list")

    reputation = setup.service.ip_reputation = Flagged()

    def flag():
        reputation.risk = IpRisk.VPN

    prepared, document = _on_one_connection(engine, setup.service, APPLICATION, flag)
    assert prepared.evaluation.decision.outcome == "APPROVE"
    assert document["outcome"] == "MANUAL_REVIEW"
    assert [r["code"] for r in document["reasons"] if r["source"] == "policy"] == ["PROXY_OR_VPN"]


def test_a_blacklist_entry_made_after_preparing_rejects(engine, setup):
    prepared = _prepare(engine, setup.service, APPLICATION)
    assert prepared.evaluation.decision.outcome == "APPROVE"
    with UnitOfWork(engine) as uow:
        setup.service.blacklist_add(
            uow, "device_id", APPLICATION["device"]["device_id"], reason="fraud", source="t"
        )
        uow.commit()
    before = _counted("reevaluated")
    document = _record(engine, setup.service, APPLICATION, prepared)
    assert document["outcome"] == "REJECT"
    assert (document["reasons"][0]["code"], document["reasons"][0]["detail"]) == (
        "BLACKLISTED",
        "device_id",
    )
    assert _counted("reevaluated") == before + 1
    # the record is the decision made on the fresh facts, and it replays as such
    with engine.connect() as connection:
        replay = setup.service.replay(connection, int(document["decision_id"]))
        assert setup.service.get(connection, int(document["decision_id"]))["context"][
            "blacklist_hit"
        ]
    assert replay["equal"] is True and replay["replayed"]["outcome"] == "REJECT"


def test_an_application_sharing_the_phone_recorded_in_between_is_counted(engine, setup):
    other = another_person(APPLICATION, 7)
    other["applicant"]["phone"] = APPLICATION["applicant"]["phone"]
    # both prepared before either is recorded: neither saw the other
    first = _prepare(engine, setup.service, APPLICATION)
    second = _prepare(engine, setup.service, other)
    assert second.evaluation.decision.outcome == "APPROVE"
    assert _record(engine, setup.service, APPLICATION, first)["outcome"] == "APPROVE"
    document = _record(engine, setup.service, other, second)
    assert document["outcome"] == "MANUAL_REVIEW"
    assert [r["code"] for r in document["reasons"] if r["source"] == "policy"] == ["PHONE_SHARED"]


def test_a_queued_id_prepared_again_returns_its_recorded_decision(engine, setup):
    first = decide(engine, setup.service, APPLICATION, application_id=42, channel="async")
    prepared = _prepare(engine, setup.service, APPLICATION, application_id=42)
    assert _record(engine, setup.service, APPLICATION, prepared, channel="async") == first
    assert stored_counts(engine)[0] == 1


def test_concurrent_applications_sharing_a_phone_see_each_other(postgres_url, tmp_path):
    """Real concurrent clients on PostgreSQL: six people with one phone, each prepared (and each
    seeing no one else) before any is recorded, then all recorded at once. Only the first to
    record may pass the sharing rule; every later one counts the earlier ones."""
    engine = make_engine(postgres_url, pool_size=8)
    service = make_setup(tmp_path).service
    bodies = []
    for n in range(6):
        body = another_person(APPLICATION, 100 + n)
        body["applicant"]["phone"] = APPLICATION["applicant"]["phone"]
        bodies.append(body)

    def attempt(n, barrier):
        prepared = _prepare(engine, service, bodies[n])
        assert prepared.evaluation.decision.outcome == "APPROVE"
        barrier.wait()
        return _record(engine, service, bodies[n], prepared)["outcome"]

    try:
        outcomes, errors = race(len(bodies), attempt)
    finally:
        engine.dispose()
    assert errors == []
    assert sorted(outcomes) == ["APPROVE"] + ["MANUAL_REVIEW"] * 5
