"""The aggressive-dialler simulation finds zero violations, on both packs, and denies every case
it tries; the compliance report adds up. (The checker finding planted violations:
test_collections_checker.)"""

from __future__ import annotations

import json
from datetime import date

import pytest

from lendcore.cli.audit_cmd import compliance_report
from lendcore.collections.simulate import SimulationConfig, simulate
from lendcore.collections.simulate_portfolio import SimulationCases

from .test_collections_support import SHANGHAI

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


@pytest.mark.parametrize("pack", ["cn", "us-regf"])
def test_simulation_denies_every_case_the_dialler_tries_and_has_zero_violations(engine, pack):
    """Hardship plans, investigations with and without authorisation, consent withdrawn and
    contacts who refused: the aggressive dialler tries them all; the gate denies each, and the
    independent checker finds nothing it let through."""
    config = SimulationConfig(
        loans=60, days=6, seed=11, agents=12, campaign_share=0.6, pack=pack, refuse_rate=0.3,
        cases=SimulationCases(hardship_share=0.1, investigation_share=0.1,
                              unauthorised_share=0.05, withdraw_chance=0.05),
    )  # fmt: skip
    report = simulate(engine, config).to_dict()
    denied = report["denied_by_reason"]
    for reason in ("HARDSHIP_PLAN_ACTIVE", "INVESTIGATION_NOT_AUTHORISED", "NO_CONSENT",
                   "CONSENT_SCOPE", "CONTACT_REFUSED"):  # fmt: skip
        assert denied.get(reason, 0) > 0, (reason, denied)
    assert report["attempts_by_case"]["investigation"] > 0
    assert report["checker"]["violations"] == 0, report["checker"]
    assert report["checker"]["rows_checked"] == report["allowed"]
    assert report["audit"]["verified"] and report["pack"] == pack


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
