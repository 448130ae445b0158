"""The gate service against a real database (SQLite and PostgreSQL): one rule per test.

The pure gate's own rules are tested at their boundaries in tests/unit/test_collections_gate_*;
these tests prove the service feeds it the right facts from the database, reserves atomically,
audits every check and adds its own rules (suspension, agent cap, consent, reminders)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lendcore.collections.alerts import restore_agent
from lendcore.collections.contacts import withdraw_consent
from lendcore.collections.context import Purpose
from lendcore.collections.flags import authorise_investigation, set_hardship_plan
from lendcore.collections.loader import compliance_dir
from lendcore.collections.model import CallType, Channel, ContactScope, Outcome, Party
from lendcore.collections.service import check_and_reserve, precheck
from lendcore.collections.simulate import borrower_row
from lendcore.collections.tables import collection_agents, collection_alerts
from lendcore.onboarding.tables import borrowers
from lendcore.store.db import UnitOfWork

from .helpers import make_loan
from .test_collections_support import (
    MORNING,
    add_contacts,
    add_loan,
    at,
    attempts,
    audit_records,
    call,
    check,
    make_context,
    request,
)


@pytest.fixture
def ctx():
    return make_context()


def _overdue(engine, ctx, loan_id=1, dpd=5, contacts=None):
    borrower = add_loan(engine, loan_id, dpd)
    add_contacts(engine, ctx, borrower, contacts)
    return borrower


def test_allowed_check_reserves_an_attempt_with_a_grant_and_audits_it(engine, ctx):
    _overdue(engine, ctx)
    decision = check(engine, ctx, request(1))
    assert decision.allowed and decision.reasons == ()
    assert decision.grant_id and decision.masked_number == "138****1234"
    [row] = attempts(engine)
    assert row["status"] == "RESERVED" and row["attempt_id"] == decision.attempt_id
    assert row["grant_id"] == decision.grant_id and row["grant_used_at"] is None
    assert row["trigger_reason"] == "dpd_strategy" and row["call_type"] == "COLLECTION"
    [record] = audit_records(engine, "gate.check")
    assert record["seq"] == decision.audit_seq == row["audit_seq"]
    payload = record["payload"]
    assert payload["allowed"] is True and payload["reasons"] == []
    assert payload["pack_version"] == ctx.pack().version == decision.pack_version
    assert payload["facts"]["days_past_due"] == 5


def test_denied_check_is_audited_with_every_reason_and_reserves_nothing(engine, ctx):
    _overdue(engine, ctx, dpd=2)
    decision = check(engine, ctx, request(1, at("2026-03-02 21:30"), contact_id="c1"))
    assert not decision.allowed
    assert set(decision.reasons) >= {"QUIET_HOURS", "CONTACTS_LOCKED"}
    assert attempts(engine) == []
    [record] = audit_records(engine, "gate.check")
    assert record["payload"]["allowed"] is False
    assert record["payload"]["reasons"] == list(decision.reasons)


def test_quiet_hours_use_the_debtors_zone_from_the_borrower_row(engine, ctx):
    borrower = add_loan(engine, 1, 5, zone="Asia/Urumqi")
    add_contacts(engine, ctx, borrower)
    # 22:30 in Beijing is 20:30 in Urumqi: allowed there.
    assert check(engine, ctx, request(1, at("2026-03-02 22:30"))).allowed
    assert check(engine, ctx, request(1, at("2026-03-02 23:00"), agent="a2")).reasons == (
        "QUIET_HOURS",
    )


def test_any_exception_denies_with_gate_error_and_is_still_audited(engine, ctx, monkeypatch):
    _overdue(engine, ctx)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("lendcore.collections.service.load_history", broken)
    decision = check(engine, ctx, request(1))
    assert (decision.allowed, decision.reasons) == (False, ("GATE_ERROR",))
    assert attempts(engine) == []
    [record] = audit_records(engine, "gate.check")
    assert record["payload"]["reasons"] == ["GATE_ERROR"]
    assert record["payload"]["error"] == "RuntimeError"


def test_a_malformed_request_is_denied_and_still_audited(engine, ctx):
    _overdue(engine, ctx)
    naive = replace(request(1), at=MORNING.replace(tzinfo=None))  # no offset: never guessed
    assert check(engine, ctx, naive).reasons == ("GATE_ERROR",)
    assert audit_records(engine, "gate.check")[0]["payload"]["error"] == "ValueError"


def test_a_failure_after_the_audit_record_still_denies_and_reserves_nothing(
    engine, ctx, monkeypatch
):
    _overdue(engine, ctx)
    # The attempt insert (after the gate.check record) fails: nothing may be reserved.
    monkeypatch.setattr("lendcore.collections.service._INSERT_ATTEMPT", None)
    decision = check(engine, ctx, request(1))
    assert decision.reasons == ("GATE_ERROR",)
    assert attempts(engine) == []
    assert audit_records(engine, "gate.check")[-1]["payload"]["reasons"] == ["GATE_ERROR"]


def test_unknown_loan_is_denied_and_audited(engine, ctx):
    decision = check(engine, ctx, request(999))
    assert decision.reasons == ("UNKNOWN_LOAN",)
    assert audit_records(engine, "gate.check")[0]["payload"]["loan_id"] == 999


def test_missing_debtor_time_zone_is_a_missing_fact_not_a_pass(engine, ctx):
    borrower = add_loan(engine, 1, 5, with_borrower=False)
    add_contacts(engine, ctx, borrower)
    assert check(engine, ctx, request(1)).reasons == ("MISSING_FACTS",)


def test_contact_must_exist_for_the_loan(engine, ctx):
    _overdue(engine, ctx)
    assert "UNKNOWN_CONTACT" in check(engine, ctx, request(1, contact_id="nobody")).reasons


def test_contact_bound_to_another_loan_is_unknown_for_this_one(engine, ctx):
    borrower = add_loan(engine, 1, 10)
    add_loan(engine, 2, 10, borrower_id=borrower)
    add_contacts(engine, ctx, borrower, {"c9": ContactScope.OVERDUE_COLLECTION}, loan_id=2)
    assert "UNKNOWN_CONTACT" in check(engine, ctx, request(1, contact_id="c9")).reasons


def test_withdrawn_consent_denies_from_the_moment_it_is_withdrawn(engine, ctx):
    borrower = _overdue(engine, ctx, dpd=10)
    for n in range(3):  # the borrower is unreachable: contacts unlock
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    with UnitOfWork(engine) as uow:
        withdraw_consent(uow.connection, borrower, "c1", at("2026-03-02 10:30"), "borrower")
        uow.commit()
    assert check(engine, ctx, request(1, at("2026-03-02 10:20"), contact_id="c1")).allowed
    later = check(engine, ctx, request(1, at("2026-03-04 10:40"), contact_id="c1", agent="b"))
    assert "NO_CONSENT" in later.reasons


def test_consent_scope_comes_from_the_contact_row(engine, ctx):
    _overdue(engine, ctx, dpd=10, contacts={"e1": ContactScope.EMERGENCY})
    for n in range(3):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    assert check(engine, ctx, request(1, at("2026-03-02 11:00"), contact_id="e1")).reasons == (
        "CONSENT_SCOPE",
    )


def test_contacts_unlock_after_three_unanswered_borrower_calls_in_the_database(engine, ctx):
    _overdue(engine, ctx, dpd=4)
    for n in range(2):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    two = check(engine, ctx, request(1, at("2026-03-02 11:00"), contact_id="c1"))
    assert two.reasons == ("CONTACTS_LOCKED",)
    call(engine, ctx, request(1, MORNING + timedelta(minutes=2)), Outcome.UNANSWERED)
    assert check(engine, ctx, request(1, at("2026-03-02 11:00"), contact_id="c1")).allowed


def test_dpd_three_is_borrower_only_and_dpd_four_unlocks_contacts(engine, ctx):
    borrower = add_loan(engine, 1, 3)
    add_contacts(engine, ctx, borrower)
    add_loan(engine, 2, 4, borrower_id=borrower)
    for n in range(3):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    assert check(engine, ctx, request(1, at("2026-03-02 11:00"), contact_id="c1")).reasons == (
        "CONTACTS_LOCKED",
    )
    assert check(engine, ctx, request(2, at("2026-03-02 11:00"), contact_id="c1")).allowed


def test_an_answered_borrower_call_locks_contacts_again(engine, ctx):
    _overdue(engine, ctx, dpd=10)
    for n in range(3):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    call(engine, ctx, request(1, MORNING + timedelta(minutes=5)), Outcome.ANSWERED)
    assert "CONTACTS_LOCKED" in check(engine, ctx, request(1, contact_id="c1")).reasons


def test_same_contact_is_not_called_again_within_48_hours(engine, ctx):
    _overdue(engine, ctx, dpd=10)
    for n in range(3):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    first = at("2026-03-02 11:00")
    assert call(engine, ctx, request(1, first, contact_id="c1"), Outcome.UNANSWERED).allowed
    near = check(engine, ctx, request(1, first + timedelta(hours=47, minutes=59), contact_id="c1"))
    assert "CONTACT_INTERVAL" in near.reasons
    assert check(engine, ctx, request(1, first + timedelta(hours=48), contact_id="c1")).allowed


def test_a_refusing_contact_is_never_contacted_again(engine, ctx):
    _overdue(engine, ctx, dpd=10)
    for n in range(3):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    call(engine, ctx, request(1, at("2026-03-02 11:00"), contact_id="c1"), Outcome.REFUSED)
    later = check(engine, ctx, request(1, at("2026-03-10 11:00"), contact_id="c1"))
    assert "CONTACT_REFUSED" in later.reasons


def test_three_connected_conversations_a_day_per_debtor(engine, ctx):
    _overdue(engine, ctx)
    for n in range(3):
        call(engine, ctx, request(1, MORNING + timedelta(hours=n)), Outcome.ANSWERED)
    assert "DEBTOR_DAILY_CAP" in check(engine, ctx, request(1, at("2026-03-02 15:00"))).reasons
    assert check(engine, ctx, request(1, at("2026-03-03 09:00"))).allowed


def test_six_unanswered_dials_a_day_per_number(engine, ctx):
    _overdue(engine, ctx)
    for n in range(6):
        call(engine, ctx, request(1, MORNING + timedelta(minutes=10 * n)), Outcome.UNANSWERED)
    assert "NUMBER_DAILY_DIALS" in check(engine, ctx, request(1, at("2026-03-02 15:00"))).reasons


def test_a_reservation_not_yet_dialled_counts_both_ways(engine, ctx):
    _overdue(engine, ctx)
    for n in range(2):
        call(engine, ctx, request(1, MORNING + timedelta(hours=n)), Outcome.ANSWERED)
    pending = check(engine, ctx, request(1, at("2026-03-02 13:00")))  # reserved, not dialled
    assert pending.allowed
    # It may still connect: a 4th conversation must not be possible meanwhile.
    blocked = check(engine, ctx, request(1, at("2026-03-02 13:01"), agent="agent-2"))
    assert "DEBTOR_DAILY_CAP" in blocked.reasons


def test_an_expired_unused_grant_frees_its_slot(engine, ctx):
    _overdue(engine, ctx)
    for n in range(2):
        call(engine, ctx, request(1, MORNING + timedelta(hours=n)), Outcome.ANSWERED)
    assert check(engine, ctx, request(1, at("2026-03-02 13:00"))).allowed  # never dialled
    later = at("2026-03-02 13:00") + ctx.grant_ttl + timedelta(minutes=2)
    assert check(engine, ctx, request(1, later, agent="agent-2")).allowed


def test_hardship_plan_pauses_collection(engine, ctx):
    _overdue(engine, ctx)
    with UnitOfWork(engine) as uow:
        set_hardship_plan(uow.connection, 1, True, "hardship-desk", MORNING)
        uow.commit()
    assert check(engine, ctx, request(1)).reasons == ("HARDSHIP_PLAN_ACTIVE",)


def test_a_restructured_loan_counts_as_a_performing_hardship_plan(engine, ctx):
    borrower = add_loan(engine, 1, 5, state="RESTRUCTURED")
    add_contacts(engine, ctx, borrower)
    assert "HARDSHIP_PLAN_ACTIVE" in check(engine, ctx, request(1)).reasons


def test_missing_trigger_reason_is_denied(engine, ctx):
    _overdue(engine, ctx)
    assert check(engine, ctx, request(1, trigger="  ")).reasons == ("TRIGGER_REASON_REQUIRED",)


def test_authorised_investigation_may_call_a_contact_of_a_current_loan(engine, ctx):
    _overdue(engine, ctx, dpd=0)
    with UnitOfWork(engine) as uow:
        authorise_investigation(uow.connection, 1, "FRAUD-2026-001", "supervisor-1", MORNING)
        uow.commit()
    req = request(1, contact_id="c1", call_type=CallType.INVESTIGATION, trigger="fraud_case")
    wrong = check(engine, ctx, replace(req, authorisation_ref="FRAUD-OTHER", agent_id="x"))
    assert "INVESTIGATION_NOT_AUTHORISED" in wrong.reasons
    assert check(engine, ctx, replace(req, authorisation_ref="FRAUD-2026-001")).allowed


def test_contact_of_a_loan_that_is_not_overdue_is_blocked_alerted_and_suspends_the_agent(
    engine, ctx
):
    # Built through the real services: a freshly disbursed loan is current (DPD 0).
    make_loan(engine, 7, borrower_id=70)
    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            borrowers.insert().values(borrower_row(70, "Asia/Shanghai", MORNING))
        )
        uow.commit()
    add_contacts(engine, ctx, 70)
    decision = check(engine, ctx, request(7, contact_id="c1", agent="rogue"))
    assert "NOT_OVERDUE" in decision.reasons and decision.alert_id is not None
    with engine.connect() as connection:
        agent = connection.execute(
            select(collection_agents).where(collection_agents.c.agent_id == "rogue")
        ).one()
        alert = connection.execute(select(collection_alerts)).one()
    assert agent.status == "SUSPENDED" and agent.suspended_reason == "CONTACT_OF_CURRENT_LOAN"
    assert alert.kind == "CONTACT_OF_CURRENT_LOAN" and alert.webhook_status == "SENT"
    assert ctx.webhook.posted[0]["agent_id"] == "rogue"
    assert ctx.metrics.alerts.value(kind="CONTACT_OF_CURRENT_LOAN") == 1
    kinds = [r["kind"] for r in audit_records(engine)]
    assert kinds[-3:] == ["gate.check", "alert.raised", "agent.suspended"]


def test_a_suspended_agent_is_denied_until_a_supervisor_restores_them(engine, ctx):
    _overdue(engine, ctx)
    add_loan(engine, 2, 0)
    check(engine, ctx, request(2, contact_id="c1", agent="rogue"))  # violation: suspended
    assert check(engine, ctx, request(1, agent="rogue")).reasons == ("AGENT_SUSPENDED",)
    with UnitOfWork(engine) as uow:
        with pytest.raises(Exception, match="own permission"):
            restore_agent(uow.connection, "rogue", "rogue", MORNING)
        assert restore_agent(uow.connection, "rogue", "supervisor-1", MORNING)
        uow.commit()
    assert check(engine, ctx, request(1, agent="rogue")).allowed


def test_routine_denials_raise_no_alert(engine, ctx):
    _overdue(engine, ctx, dpd=2)
    decision = check(engine, ctx, request(1, at("2026-03-02 23:00"), contact_id="c1"))
    assert decision.alert_id is None
    with engine.connect() as connection:
        assert connection.execute(select(collection_alerts)).first() is None


def test_per_agent_daily_cap_from_the_pack(engine, tmp_path):
    packs = tmp_path / "compliance"
    packs.mkdir()
    source = (compliance_dir() / "cn.yaml").read_text(encoding="utf-8")
    capped = source.replace("  agent_daily_cap:\n    max: 300", "  agent_daily_cap:\n    max: 2")
    assert capped != source
    (packs / "cn.yaml").write_text(capped, encoding="utf-8")
    ctx = make_context(packs_dir=Path(packs))
    for loan_id in (1, 2, 3):
        _overdue(engine, ctx, loan_id=loan_id)
    assert check(engine, ctx, request(1)).allowed
    assert check(engine, ctx, request(2)).allowed
    assert check(engine, ctx, request(3)).reasons == ("AGENT_DAILY_CAP",)
    assert check(engine, ctx, request(3, agent="agent-2")).allowed
    assert check(engine, ctx, request(3, at("2026-03-03 09:00"))).allowed  # a new day


def test_reminder_sms_before_due_waives_only_the_overdue_rules(engine, ctx):
    _overdue(engine, ctx, dpd=0)
    reminder = request(1, channel=Channel.SMS, purpose=Purpose.REMINDER, trigger="DUE_SOON")
    assert check(engine, ctx, reminder).allowed
    night = replace(reminder, at=at("2026-03-02 22:00"))
    assert check(engine, ctx, night).reasons == ("QUIET_HOURS",)
    assert "REMINDER_SCOPE" in check(engine, ctx, replace(reminder, channel=Channel.CALL)).reasons
    contact = replace(reminder, party=Party.CONTACT, contact_id="c1", channel=Channel.SMS)
    assert "REMINDER_SCOPE" in check(engine, ctx, contact).reasons


def test_precheck_answers_without_writing_anything(engine, ctx):
    _overdue(engine, ctx)
    with engine.connect() as connection:
        decision = precheck(connection, request(1, agent="new-agent"), ctx)
    assert decision.allowed and decision.masked_number == "138****1234"
    assert attempts(engine) == [] and audit_records(engine, "gate.check") == []
    with engine.connect() as connection:
        assert connection.execute(select(collection_agents)).first() is None


def test_check_and_reserve_shares_the_callers_transaction(engine, ctx):
    _overdue(engine, ctx)
    with UnitOfWork(engine) as uow:
        assert check_and_reserve(uow, request(1), ctx).allowed
        # no commit: the unit of work rolls back, and with it the reservation and its audit
    assert attempts(engine) == [] and audit_records(engine, "gate.check") == []
