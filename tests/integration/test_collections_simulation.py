"""The aggressive-dialler simulation finds zero violations; the independent checker does find
violations planted in a call log; the compliance report adds up."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert

from lendcore.cli.audit_cmd import compliance_report
from lendcore.collections.checker import check_call_log
from lendcore.collections.context import utc
from lendcore.collections.loader import get_pack
from lendcore.collections.simulate import SimulationConfig, simulate
from lendcore.collections.tables import collection_attempts

from .test_collections_support import SHANGHAI, at

SMALL = SimulationConfig(loans=30, days=3, seed=3, agents=6, campaign_share=0.5)


def test_simulation_with_an_aggressive_dialler_has_zero_violations(engine):
    report = simulate(engine, SMALL).to_dict()
    assert report["attempts"] > 200 and report["allowed"] > 0 and report["denied"] > 0
    assert report["denied_by_reason"]["QUIET_HOURS"] > 0  # it did dial at night
    assert report["denied_by_reason"]["CONTACTS_LOCKED"] > 0  # and called locked contacts
    assert report["checker"]["violations"] == 0, report["checker"]
    assert report["checker"]["rows_checked"] == report["allowed"]
    assert report["audit"]["verified"]


def test_simulation_blocks_rogue_calls_and_suspends(tmp_path):
    from lendcore.collections.simulate import scratch_engine
    from lendcore.store.migrate import upgrade

    engine = scratch_engine(f"sqlite:///{tmp_path / 'sim.db'}")
    upgrade(engine)
    config = SimulationConfig(
        loans=60, days=4, seed=5, agents=4, campaign_share=0.3, cure_chance=0.2, rogue_chance=1.0
    )
    report = simulate(engine, config).to_dict()
    engine.dispose()
    assert report["alerts"] > 0 and report["denied_by_reason"]["NOT_OVERDUE"] > 0
    assert report["agents_restored"] > 0  # the morning supervisor
    assert report["checker"]["violations"] == 0


_ROW = 0


def _log(connection, when: datetime, *, party="borrower", contact=None, outcome="unanswered",
         dpd=10, borrower=1, channel="call", status="COMPLETED"):  # fmt: skip
    global _ROW
    _ROW += 1
    connection.execute(
        insert(collection_attempts).values(
            borrower_id=borrower,
            attempt_id=_ROW,
            loan_id=borrower,
            agent_id="a",
            agent_day=when.date(),
            party=party,
            contact_id=contact,
            channel=channel,
            call_type="COLLECTION",
            purpose="collection",
            trigger_reason="planted",
            requested_at=utc(when),
            debtor_timezone="Asia/Shanghai",
            days_past_due=dpd,
            pack_version="cn@test",
            status=status,
            grant_id=f"g{_ROW}",
            grant_expires_at=utc(when + timedelta(minutes=5)),
            outcome=outcome if status == "COMPLETED" else None,
        )
    )


@pytest.mark.parametrize(
    ("rule", "plant"),
    [
        ("QUIET_HOURS", lambda c: _log(c, at("2026-03-02 21:00"))),
        ("NOT_OVERDUE", lambda c: _log(c, at("2026-03-02 10:00"), dpd=0)),
        (
            "CONTACT_WHILE_BORROWER_REACHABLE",
            lambda c: [
                _log(c, at("2026-03-02 10:00")),
                _log(c, at("2026-03-02 10:01")),
                _log(c, at("2026-03-02 10:05"), party="contact", contact="c1"),
            ],
        ),
        (
            "CONTACT_BEFORE_DPD",
            lambda c: [
                *[_log(c, at(f"2026-03-02 10:0{n}"), dpd=3) for n in range(3)],
                _log(c, at("2026-03-02 11:00"), party="contact", contact="c1", dpd=3),
            ],
        ),
        (
            "CONTACT_INTERVAL",
            lambda c: [
                *[_log(c, at(f"2026-03-02 10:0{n}")) for n in range(3)],
                _log(c, at("2026-03-02 11:00"), party="contact", contact="c1"),
                _log(c, at("2026-03-04 10:59"), party="contact", contact="c1"),
            ],
        ),
        (
            "DEBTOR_DAILY_CONVERSATIONS",
            lambda c: [_log(c, at(f"2026-03-02 1{n}:00"), outcome="answered") for n in range(4)],
        ),
        (
            "NUMBER_DAILY_DIALS",
            lambda c: [_log(c, at(f"2026-03-02 1{n}:00")) for n in range(7)],
        ),
        (
            "CONTACT_AFTER_REFUSAL",
            lambda c: [
                *[_log(c, at(f"2026-03-02 10:0{n}")) for n in range(3)],
                _log(c, at("2026-03-02 11:00"), party="contact", contact="c1", outcome="refused"),
                _log(c, at("2026-03-09 11:00"), party="contact", contact="c1"),
            ],
        ),
    ],
)
def test_the_independent_checker_finds_planted_violations(engine, rule, plant):
    with engine.begin() as connection:
        plant(connection)
    with engine.connect() as connection:
        report = check_call_log(connection, get_pack("cn"))
    assert report.violations[rule] >= 1, report.to_dict()


def test_the_checker_passes_a_clean_log(engine):
    with engine.begin() as connection:
        for n in range(3):
            _log(connection, at(f"2026-03-02 10:0{n}"))
        _log(connection, at("2026-03-02 11:00"), party="contact", contact="c1")
        _log(connection, at("2026-03-04 11:00"), party="contact", contact="c1")
    with engine.connect() as connection:
        assert check_call_log(connection, get_pack("cn")).to_dict()["violations"] == 0


def test_compliance_report_counts_checks_denials_alerts_and_decrypts(engine):
    simulate(engine, SimulationConfig(loans=30, days=2, seed=9, agents=3, campaign_share=0.5,
                                      cure_chance=0.3, rogue_chance=1.0))  # fmt: skip
    report = compliance_report(engine, date(2026, 3, 1), date(2026, 3, 31), SHANGHAI)
    assert report["checks"] == report["allowed"] + report["denied"] > 0
    assert sum(report["checks_by_party"].values()) == report["checks"]
    assert report["decrypts"] == report["allowed"]  # every allowed attempt was dialled once
    assert report["dials"] + report["sms_sent"] == report["decrypts"]
    assert report["violations_blocked"] == report["alerts"] == report["suspensions"]
    assert report["audit_chain"]["ok"]
    empty = compliance_report(engine, date(2026, 4, 1), date(2026, 4, 2), SHANGHAI)
    assert empty["checks"] == 0
    json.dumps(report)
