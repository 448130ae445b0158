"""The batch pre-check (worklists) gives exactly the verdicts of the one-at-a-time pre-check."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lendcore.collections.context import AttemptRequest, Purpose
from lendcore.collections.model import CallType, Channel, Party
from lendcore.collections.service import check_and_reserve, precheck, precheck_many
from lendcore.collections.simulate import SimulationConfig, simulate
from lendcore.collections.simulate_portfolio import SimulationCases
from lendcore.collections.tables import collection_attempts
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

from .test_collections_support import make_context

DAY = date(2026, 3, 5)  # the day after the simulated days below


def _requests(loan_ids, moments):
    kinds = [
        (Party.BORROWER, Channel.CALL, None, Purpose.COLLECTION),
        (Party.BORROWER, Channel.SMS, None, Purpose.COLLECTION),
        (Party.BORROWER, Channel.SMS, None, Purpose.REMINDER),
        (Party.CONTACT, Channel.CALL, "c1", Purpose.COLLECTION),
        (Party.CONTACT, Channel.CALL, "c2", Purpose.COLLECTION),
        (Party.CONTACT, Channel.CALL, "c3", Purpose.COLLECTION),
        (Party.CONTACT, Channel.CALL, "nobody", Purpose.COLLECTION),
    ]
    return [
        AttemptRequest(
            loan_id=loan_id,
            agent_id=agent,
            party=party,
            channel=channel,
            call_type=CallType.COLLECTION,
            trigger_reason="precheck test",
            at=moment,
            contact_id=contact,
            purpose=purpose,
        )
        for loan_id in loan_ids
        for moment in moments
        for party, channel, contact, purpose in kinds
        for agent in ("worklist", "desk-001")
    ]


def test_precheck_many_agrees_with_precheck_on_every_request(engine):
    # A call log with history of every kind: an aggressive dialler's three days (answered,
    # unanswered, refused, invalid numbers, SMS, denials, a suspended agent)...
    # (No investigation cases and no cures: a contact of a loan not overdue would suspend desk-001.)
    no_investigations = SimulationCases(investigation_share=0, unauthorised_share=0)
    simulate(engine, SimulationConfig(loans=25, days=3, seed=11, agents=3, campaign_share=0.6,
                                      cure_chance=0, cases=no_investigations))  # fmt: skip
    ctx = make_context()
    with engine.connect() as connection:
        loan_ids = [int(i) for i in connection.execute(select(loans.c.loan_id)).scalars()]
    shanghai, urumqi = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Urumqi")
    # ... plus reservations never dialled (outcome unknown: judged both ways), of contacts
    # wherever the gate allows one, then of borrowers (a pending borrower call would lock them).
    morning = datetime.combine(DAY, time(9, 30), shanghai)
    reservations = sorted(_requests(loan_ids, [morning]), key=lambda r: r.party is Party.BORROWER)
    with UnitOfWork(engine) as uow:
        for request in reservations:
            if request.agent_id == "desk-001" and request.channel is Channel.CALL:
                check_and_reserve(uow, request, ctx)
        uow.commit()
    with engine.connect() as connection:
        pending = connection.execute(
            select(collection_attempts.c.party).where(collection_attempts.c.status == "RESERVED")
        ).scalars()
        assert {"borrower", "contact"} <= set(pending)  # the pending cases are exercised
    moments = [
        datetime.combine(DAY, time(10), shanghai),
        datetime.combine(DAY, time(10), urumqi),
        datetime.combine(DAY, time(21, 30), shanghai),
        datetime.combine(DAY, time(9, 31), shanghai) + timedelta(minutes=5),
    ]
    requests = _requests([*loan_ids, 999_999], moments)
    with engine.connect() as connection:
        one_by_one = [precheck(connection, r, ctx) for r in requests]
        batch = precheck_many(connection, requests, ctx)
    assert batch == one_by_one
    reasons = {reason for d in batch for reason in d.reasons}
    # The comparison covers allowed and denied verdicts of many kinds.
    assert any(d.allowed for d in batch)
    assert {"QUIET_HOURS", "CONTACTS_LOCKED", "UNKNOWN_LOAN", "UNKNOWN_CONTACT"} <= reasons


def test_precheck_many_denies_a_malformed_request_alone(engine):
    ctx = make_context()
    aware = datetime.combine(DAY, time(10), ZoneInfo("Asia/Shanghai"))
    good, naive = _requests([1], [aware])[:2]
    naive = AttemptRequest(**{**naive.__dict__, "at": aware.replace(tzinfo=None)})
    with engine.connect() as connection:
        decisions = precheck_many(connection, [good, naive], ctx)
    assert decisions[0].reasons == ("UNKNOWN_LOAN",)
    assert decisions[1].reasons == ("GATE_ERROR",)
