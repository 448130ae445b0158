"""The portfolio simulator's collections desk: every attempt through the real gate, on SQLite and
PostgreSQL. One small run per backend (200 borrowers, 60 days) is shared by the tests below,
which read what it left in the database; the days past due of every loan after every end of
day are recorded independently of the call log, through the simulator's ``on_day`` hook."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, insert, select, text

from lendcore.collections.checker import check_call_log
from lendcore.collections.context import ServiceReason, from_db, utc
from lendcore.collections.loader import get_pack
from lendcore.collections.model import Reason
from lendcore.collections.tables import audit_chain, collection_attempts, collection_contacts
from lendcore.servicing.tables import loans
from lendcore.sim.database import prepare_database
from lendcore.sim.report import full_report
from lendcore.sim.simulator import SimulationConfig, simulate

from .conftest import BACKENDS, POSTGRES_URL, _postgres_url

CONFIG = SimulationConfig(borrowers=200, days=60, seed=7)
BUSINESS_ZONE = ZoneInfo("Asia/Shanghai")
KNOWN_CODES = {str(r) for r in Reason} | {str(r) for r in ServiceReason}


def _run(engine, config=CONFIG):
    """The run, its report, and {(business date, loan): DPD} as the collections desk found it
    that morning: read after each end of day, before the next day's collections."""
    dpd_seen: dict[tuple[date, int], int] = {}

    def on_day(_index, point):
        with engine.connect() as connection:
            for loan_id, dpd in connection.execute(select(loans.c.loan_id, loans.c.days_past_due)):
                dpd_seen[point.day + timedelta(days=1), int(loan_id)] = int(dpd)

    result = simulate(engine, config, on_day)
    with engine.connect() as connection:
        report = full_report(connection, result)
    return report, dpd_seen


@pytest.fixture(scope="module", params=BACKENDS)
def run(request, tmp_path_factory):
    """(engine, report, dpd_seen) of the small run on each backend, once per module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('simc') / 'lendcore.db'}"
        engine, _ = prepare_database(url)
        try:
            yield (engine, *_run(engine))
        finally:
            engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine, _ = prepare_database(_postgres_url(schema))
    try:
        yield (engine, *_run(engine))
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _attempts(engine):
    with engine.connect() as connection:
        return connection.execute(
            select(collection_attempts).order_by(collection_attempts.c.attempt_id)
        ).all()


def _collections(report):
    return report["simulation"]["collections"]


def test_the_desk_makes_attempts_through_the_gate_and_some_are_denied_with_reason_codes(run):
    _, report, _ = run
    c = _collections(report)
    assert c["attempts"] == c["allowed"] + c["denied"]
    assert c["allowed"] > 200 and c["denied"] > 0
    assert c["calls"] > 100 and c["sms_sent"] > 50 and c["connected"] > 20
    assert sum(c["denied_by_reason"].values()) >= c["denied"]  # a denial may have several
    assert set(c["denied_by_reason"]) <= KNOWN_CODES
    # The desk's over-eager re-dial of a third party within 48 hours is stopped by the gate.
    assert c["denied_by_reason"].get("CONTACT_INTERVAL", 0) > 0
    assert c["alerts"] == 0  # nothing the desk does is a violation attempt


def test_the_independent_checker_finds_zero_violations_in_the_call_log(run):
    engine, report, _ = run
    check = _collections(report)["independent_check"]
    rows = _attempts(engine)
    assert check == {"rows_checked": len(rows), "violations": 0, "by_rule": {}}
    assert len(rows) == _collections(report)["allowed"]


def test_the_checker_would_see_a_contact_call_at_dpd_2_in_this_call_log(run):
    """The zero above means something: the same checker, on this log plus one planted contact
    call a minute after a borrower call made at 1-3 days past due, reports the locked contact
    (days past due from servicing's instalments, not from the planted row, which claims 10)."""
    engine, _, _ = run
    victim = next(
        r for r in _attempts(engine)
        if r.party == "borrower" and r.channel == "call" and 1 <= r.days_past_due <= 3
    )  # fmt: skip
    planted = {
        **victim._mapping,
        "attempt_id": 9_000_000_000,
        "grant_id": "planted",
        "party": "contact",
        "contact_id": "c1",
        "days_past_due": 10,
        "requested_at": utc(from_db(victim.requested_at) + timedelta(minutes=1)),
        "audit_seq": None,
    }
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(insert(collection_attempts).values(planted))
        report = check_call_log(connection, get_pack("cn"))
        transaction.rollback()
    assert report.violations["CONTACTS_LOCKED"] == 1


def test_no_attempt_reaches_a_contact_of_a_loan_three_or_fewer_days_past_due(run):
    engine, _, dpd_seen = run
    contact_calls = [r for r in _attempts(engine) if r.party == "contact"]
    assert len(contact_calls) >= 5  # contacts were called: the check below is not vacuous
    for row in contact_calls:
        day = from_db(row.requested_at).astimezone(BUSINESS_ZONE).date()
        # Recorded after the previous end of day, independently of the call log.
        assert dpd_seen[day, int(row.loan_id)] > 3, (row.attempt_id, day)
        assert row.days_past_due == dpd_seen[day, int(row.loan_id)]


def test_borrower_calls_start_at_dpd_1_and_reminders_go_before_the_due_date(run):
    engine, _, dpd_seen = run
    kinds = Counter()
    for row in _attempts(engine):
        day = from_db(row.requested_at).astimezone(BUSINESS_ZONE).date()
        dpd = dpd_seen[day, int(row.loan_id)]
        if row.purpose == "reminder":
            assert (row.channel, row.party, dpd) == ("sms", "borrower", 0)
        else:
            assert dpd >= 1 and row.channel == "call"
        kinds[row.party, row.channel, row.purpose] += 1
    assert set(kinds) == {
        ("borrower", "sms", "reminder"),
        ("borrower", "call", "collection"),
        ("contact", "call", "collection"),
    }


def test_every_attempt_is_audited_like_production(run):
    engine, report, _ = run
    c = _collections(report)
    with engine.connect() as connection:
        records = Counter(
            kind
            for (kind,) in connection.execute(
                select(audit_chain.c.kind).where(
                    audit_chain.c.kind.in_(
                        ("gate.check", "contact.decrypt", "contact.dial", "sms.send")
                    )
                )
            )
        )
        checks = {
            row.seq: json.loads(row.payload)
            for row in connection.execute(
                select(audit_chain.c.seq, audit_chain.c.payload).where(
                    audit_chain.c.kind == "gate.check"
                )
            )
        }
    assert records["gate.check"] == c["attempts"]
    assert records["contact.decrypt"] == c["allowed"]
    assert records["contact.dial"] + records["sms.send"] == c["allowed"]
    for row in _attempts(engine):
        payload = checks[row.audit_seq]
        assert payload["allowed"] is True and payload["attempt_id"] == row.attempt_id


def test_contact_points_are_stored_encrypted_and_masked(run):
    engine, report, _ = run
    with engine.connect() as connection:
        rows = connection.execute(select(collection_contacts)).all()
    assert len(rows) == _collections(report)["contact_points"] > 200
    for row in rows:
        assert "****" in row.phone_masked and len(row.phone_masked) == 11
        assert len(row.phone_token) > 40 and not row.phone_token.isdigit()  # a token
        assert row.phone_index and row.name_token


def test_conversations_lead_to_some_catch_up_payments(run):
    _, report, _ = run
    simulation = report["simulation"]
    assert _collections(report)["promises_to_pay"] > 0
    assert simulation["catch_up_payments"] > 0 and simulation["catch_up_amount"] != "0.00"
    assert report["reconciliation"]["ok"]


def test_without_agents_the_simulator_runs_no_collections(tmp_path):
    engine, _ = prepare_database(f"sqlite:///{tmp_path / 'none.db'}")
    try:
        result = simulate(
            engine, SimulationConfig(borrowers=20, days=20, seed=3, collection_agents=0)
        )
        with engine.connect() as connection:
            stored = connection.execute(select(collection_contacts.c.borrower_id)).first()
    finally:
        engine.dispose()
    assert result.collections is None and stored is None
