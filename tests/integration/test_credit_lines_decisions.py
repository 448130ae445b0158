"""A returning applicant's credit line reaches the next decision, on both databases: the line is
found by the ID number's blind index, the offer takes the larger of the policy's limit and the
line's (within the new tier's maximum), a rejection stays a rejection, the record keeps what the
line said so a replay reads nothing, and the simulator's returning borrowers get their stepped-up
limits."""

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import select, update

from lendcore.api.decision_schemas import DecisionRecord, DecisionResponse
from lendcore.decisioning.credit_line_tables import credit_lines
from lendcore.decisioning.decision_tables import decisions
from lendcore.decisioning.service import get_decision
from lendcore.kernel.money import parse_major
from lendcore.store.db import WRITE_OPTION, UnitOfWork
from lendcore.store.migrate import alembic_config, upgrade

from .test_credit_lines import BORROWER, START, _decision, _line, _open, _pay_instalment
from .test_decisions_support import make_setup


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


SMALL = {"product": "small_short_term", "term": 14}


def _stepped_to_1500(engine, setup):
    """A high-risk borrower on the small product (1 000 to start, ×1.5 after 3 on time): three
    14-day loans on one decision, each repaid on its due date, step the line to 1 500."""
    first = _decision(engine, setup, amount="1000.00", **SMALL)
    for n in range(3):
        _open(engine, first, 10 + n, start=START + timedelta(days=15 * n))
        _pay_instalment(engine, 10 + n, 1)
    assert _line(engine)["credit_limit"] == "1500.00"
    return first


def _context(engine, decision):
    with engine.connect() as connection:
        return connection.execute(
            select(decisions.c.context).where(
                decisions.c.decision_id == int(decision["decision_id"])
            )
        ).scalar_one()


def test_a_line_stepped_up_above_the_policy_limit_is_offered_on_the_next_application(engine, setup):
    _stepped_to_1500(engine, setup)
    again = _decision(engine, setup, amount="2000.00", **SMALL)  # the same person
    offer = again["offer"]
    assert (offer["credit_limit"], offer["amount"], offer["limit_source"]) == (
        "1500.00",
        "1500.00",
        "credit_line",
    )
    line = _line(engine)
    assert _context(engine, again)["credit_line"] == {
        "found": True,
        "borrower_id": str(BORROWER),
        "limit": "1500.00",
        "version": line["history"][-1]["version"],
    }
    # ... and the borrower can borrow it: the loan at 1 500 opens on the new decision.
    _open(engine, again, 20, start=START + timedelta(days=60))
    assert (_line(engine)["credit_limit"], _line(engine)["history"][-1]["kind"]) == (
        "1500.00",
        "REBASED",
    )


def test_the_line_is_capped_at_the_new_decisions_tier_maximum(engine, setup):
    instalment = _decision(engine, setup, term=12)  # high risk: a 20 000 line
    _open(engine, instalment, 1)
    small = _decision(engine, setup, amount="2000.00", **SMALL)  # small product: 2 000 at most
    offer = small["offer"]
    assert (offer["credit_limit"], offer["tier_max"], offer["limit_source"]) == (
        "2000.00",
        "2000.00",
        "credit_line",
    )


def test_a_line_below_the_policy_limit_does_not_lower_the_offer(engine, setup):
    small = _decision(engine, setup, amount="1000.00", **SMALL)
    _open(engine, small, 1)  # a 1 000 line
    instalment = _decision(engine, setup, term=12)
    offer = instalment["offer"]
    assert (offer["credit_limit"], offer["limit_source"]) == ("20000.00", "policy")


def test_a_rejected_applicant_with_a_line_is_still_rejected(engine, setup):
    _stepped_to_1500(engine, setup)
    rejected = _decision(
        engine, setup, amount="2000.00", **SMALL, **{"bureau.court_enforcements": 1}
    )
    assert (rejected["outcome"], rejected["offer"]) == ("REJECT", None)
    assert rejected["reasons"][0]["code"] == "COURT_ENFORCEMENT"


def test_another_persons_application_does_not_see_the_line(engine, setup):
    _stepped_to_1500(engine, setup)
    stranger = _decision(engine, setup, 2, amount="2000.00", **SMALL)
    assert (stranger["offer"]["credit_limit"], stranger["offer"]["limit_source"]) == (
        "1000.00",
        "policy",
    )
    assert _context(engine, stranger)["credit_line"]["found"] is False


def test_replay_after_the_line_changed_again_gives_the_original_offer(engine, setup):
    _stepped_to_1500(engine, setup)
    drawn = _decision(engine, setup, amount="2000.00", **SMALL)
    with UnitOfWork(engine) as uow:  # the line moves on (another step-up)
        uow.connection.execute(
            update(credit_lines)
            .where(credit_lines.c.borrower_id == BORROWER)
            .values(credit_limit=200_000, version=credit_lines.c.version + 1)
        )
        uow.commit()
    with engine.connect() as connection:
        replay = setup.service.replay(connection, int(drawn["decision_id"]))
    assert replay["equal"] is True, replay["differences"]
    assert replay["replayed"]["offer"]["credit_limit"] == "1500.00"
    # a new decision reads the line as it is now
    assert _decision(engine, setup, amount="2000.00", **SMALL)["offer"]["credit_limit"] == "2000.00"


def test_the_response_and_the_record_with_a_line_match_their_documented_models(engine, setup):
    _stepped_to_1500(engine, setup)
    drawn = _decision(engine, setup, amount="2000.00", **SMALL)
    DecisionResponse.model_validate(drawn)
    with engine.connect() as connection:
        record = get_decision(connection, int(drawn["decision_id"]))
    DecisionRecord.model_validate(record)
    step = record["trace"]["credit_line"][0]["values"]
    assert (step["line_limit"], step["policy_limit"], step["offered_limit"]) == (
        "1500.00",
        "1000.00",
        "1500.00",
    )


def test_a_line_keeps_its_decisions_applicant_key_and_migration_0010_backfills_it(engine, setup):
    decision = _decision(engine, setup, amount="1000.00", **SMALL)
    _open(engine, decision, 1)
    key_of = select(credit_lines.c.applicant_key).where(credit_lines.c.borrower_id == BORROWER)
    with engine.connect() as connection:
        expected = connection.execute(
            select(decisions.c.applicant_key).where(
                decisions.c.decision_id == int(decision["decision_id"])
            )
        ).scalar_one()
        assert connection.execute(key_of).scalar_one() == expected
    config = alembic_config(engine)
    connection = engine.connect().execution_options(**{WRITE_OPTION: True})
    with connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(key_of).scalar_one() == expected


def test_the_simulators_returning_borrowers_are_offered_their_stepped_up_lines(engine):
    from lendcore.sim.simulator import SimulationConfig, simulate

    config = SimulationConfig(
        borrowers=300,
        days=120,
        seed=5,
        collection_agents=0,
        hardship=False,
        reborrow_share=1.0,
        product_weights={"small_short_term": 1.0},
    )
    simulate(engine, config)
    with engine.connect() as connection:
        rows = connection.execute(select(decisions.c.context, decisions.c.result)).all()
    drawn = [
        r
        for r in rows
        if (r.result["response"]["offer"] or {}).get("limit_source") == "credit_line"
    ]
    assert drawn, "no returning borrower was offered a stepped-up line"
    for row in drawn:
        offer = row.result["response"]["offer"]
        line = parse_major(row.context["credit_line"]["limit"])
        policy = parse_major(row.result["trace"]["credit_line"][0]["values"]["policy_limit"])
        assert parse_major(offer["credit_limit"]) == min(line, parse_major(offer["tier_max"]))
        assert parse_major(offer["credit_limit"]) > policy
