"""The manual-review queue and verdicts, and blacklist management, on both databases."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from lendcore.decisioning.decision_tables import decision_reviews
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.store.db import UnitOfWork

from .test_decisions_support import APPLICATION, another_person, application, decide, make_setup

REVIEW = application(**{"device.is_proxy": True})  # PROXY_OR_VPN: a manual review


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


def _verdict(engine, service, decision_id, verdict="APPROVE", operator="op-1", note="ok"):
    with UnitOfWork(engine) as uow:
        result = service.record_verdict(uow, int(decision_id), operator, verdict, note)
        uow.commit()
    return result


def _queue(engine, service, limit=50):
    with engine.connect() as connection:
        return service.review_queue(connection, limit)


def test_the_queue_lists_manual_reviews_without_a_verdict_oldest_first(engine, setup):
    later = decide(engine, setup.service, REVIEW)
    setup.clock.advance(timedelta(hours=-2))  # decided after, but made two hours earlier
    earlier = decide(engine, setup.service, another_person(REVIEW, 1))
    decide(engine, setup.service, another_person(APPLICATION, 2))  # an approval: not queued
    queue = _queue(engine, setup.service)
    assert [item["decision_id"] for item in queue] == [earlier["decision_id"], later["decision_id"]]
    assert queue[0]["reasons"][0]["code"] == "PROXY_OR_VPN"
    assert queue[0]["amount"] == "50000.00" and queue[0]["offer"] is not None
    assert [i["decision_id"] for i in _queue(engine, setup.service, 1)] == [earlier["decision_id"]]


def test_a_verdict_is_recorded_once_and_leaves_the_queue(engine, setup):
    document = decide(engine, setup.service, REVIEW)
    recorded = _verdict(engine, setup.service, document["decision_id"], "reject", note="docs")
    assert (recorded["verdict"], recorded["final_outcome"]) == ("REJECT", "REJECT")
    assert _queue(engine, setup.service) == []
    with pytest.raises(LendcoreError) as caught:
        _verdict(engine, setup.service, document["decision_id"], "APPROVE", operator="op-2")
    assert caught.value.code is ErrorCode.VERDICT_ALREADY_RECORDED
    assert caught.value.details["review"]["operator"] == "op-1"
    with engine.connect() as connection:
        rows = connection.execute(select(decision_reviews)).all()
        shown = setup.service.get(connection, int(document["decision_id"]))
    assert [(r.verdict, r.operator, r.note) for r in rows] == [("REJECT", "op-1", "docs")]
    assert shown["outcome"] == "MANUAL_REVIEW"  # the machine's decision stays as it was
    assert shown["review"]["verdict"] == "REJECT"


def test_only_a_manual_review_takes_a_verdict(engine, setup):
    approved = decide(engine, setup.service, APPLICATION)
    with pytest.raises(LendcoreError) as caught:
        _verdict(engine, setup.service, approved["decision_id"])
    assert caught.value.code is ErrorCode.NOT_UNDER_REVIEW
    with pytest.raises(LendcoreError) as caught:
        _verdict(engine, setup.service, 123456789)
    assert caught.value.code is ErrorCode.UNKNOWN_DECISION


@pytest.mark.parametrize(
    ("verdict", "operator"), [("MAYBE", "op-1"), ("APPROVE", ""), ("APPROVE", "x" * 65)]
)
def test_a_malformed_verdict_is_refused(engine, setup, verdict, operator):
    document = decide(engine, setup.service, REVIEW)
    with pytest.raises(LendcoreError) as caught:
        _verdict(engine, setup.service, document["decision_id"], verdict, operator)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert len(_queue(engine, setup.service)) == 1


def test_blacklist_entries_are_hashes_listed_newest_first_and_removable_by_hash(engine, setup):
    service = setup.service
    with UnitOfWork(engine) as uow:
        first = service.blacklist_add(uow, "phone", "13812341234", reason="fraud", source="ops")
        uow.commit()
    setup.clock.advance(timedelta(minutes=5))
    with UnitOfWork(engine) as uow:
        service.blacklist_add(uow, "device_id", "device-x", reason="farm", source="ops")
        uow.commit()
    with engine.connect() as connection:
        listed = service.blacklist_list(connection)
        phones = service.blacklist_list(connection, kind="phone")
    assert listed["total"] == 2
    assert [item["kind"] for item in listed["items"]] == ["device_id", "phone"]
    assert "13812341234" not in str(listed)
    assert first["identifier_hash"] == service.hasher("phone", "138 1234 1234")
    assert phones["items"] == [first]
    with UnitOfWork(engine) as uow, pytest.raises(LendcoreError) as caught:
        service.blacklist_add(uow, "phone", "+8613812341234", reason="again", source="ops")
    assert caught.value.code is ErrorCode.BLACKLIST_ENTRY_EXISTS
    with UnitOfWork(engine) as uow:
        removed = service.blacklist_remove(uow, "phone", identifier_hash=first["identifier_hash"])
        uow.commit()
    assert removed == first
    with UnitOfWork(engine) as uow, pytest.raises(LendcoreError) as caught:
        service.blacklist_remove(uow, "phone", value="13812341234")
    assert caught.value.code is ErrorCode.UNKNOWN_BLACKLIST_ENTRY


@pytest.mark.parametrize(
    ("kind", "value"), [("email", "a@b.c"), ("ip", "not-an-ip"), ("phone", "  ")]
)
def test_a_blacklist_entry_needs_a_known_kind_and_a_valid_value(engine, setup, kind, value):
    with UnitOfWork(engine) as uow, pytest.raises(LendcoreError) as caught:
        setup.service.blacklist_add(uow, kind, value, reason="r", source="s")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
