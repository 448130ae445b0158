"""Contacts encrypted at rest, released only through a single-use grant (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select

from lendcore.collections.alerts import restore_agent
from lendcore.collections.contacts import SELF, default_key_provider, phone_context
from lendcore.collections.context import from_db
from lendcore.collections.dialling import dial
from lendcore.collections.loader import compliance_dir, replace_pack_file
from lendcore.collections.model import Outcome
from lendcore.collections.ports import DialerUnavailable
from lendcore.collections.tables import (
    collection_agents,
    collection_alerts,
    collection_contacts,
)
from lendcore.privacy.crypto import IndexKind, blind_index
from lendcore.privacy.keys import PrivacyError
from lendcore.store.db import UnitOfWork

from .test_collections_support import (
    BORROWER_PHONE,
    CONTACT_PHONE,
    MORNING,
    ScriptedDialer,
    add_contacts,
    add_loan,
    at,
    attempts,
    audit_records,
    check,
    make_context,
    request,
)


@pytest.fixture
def ctx():
    return make_context()


@pytest.fixture
def allowed(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    decision = check(engine, ctx, request(1))
    assert decision.allowed
    return decision


def _rows(engine):
    with engine.connect() as connection:
        return {r.contact_id: r for r in connection.execute(select(collection_contacts)).all()}


def test_phones_and_names_are_stored_only_encrypted(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    rows = _rows(engine)
    for row in rows.values():
        stored = " ".join(str(v) for v in row._mapping.values())
        assert BORROWER_PHONE not in stored and "张三" not in stored and "李四" not in stored
        assert row.phone_token.startswith("v1.") and row.name_token.startswith("v1.")
    assert rows[SELF].phone_masked == "138****1234"
    assert rows[SELF].phone_index == blind_index(
        "+86 138-1234-1234", ctx.vault.index_key, kind=IndexKind.PHONE
    )


def test_a_token_copied_to_another_contact_does_not_decrypt(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    rows = _rows(engine)
    token = rows[SELF].phone_token
    assert ctx.vault.cipher.decrypt(token, context=phone_context(borrower, SELF)) == BORROWER_PHONE
    with pytest.raises(PrivacyError):
        ctx.vault.cipher.decrypt(token, context=phone_context(borrower, "c1"))


def test_dial_hands_the_number_to_the_port_and_only_the_mask_to_the_agent(engine, ctx, allowed):
    result = dial(engine, allowed.grant_id, "agent-1", MORNING, ctx)
    assert result.status == "DIALED" and result.masked_number == "138****1234"
    assert result.virtual_number == "17000001234"
    assert ctx.dialer.numbers == [BORROWER_PHONE]  # the port got the plaintext ...
    assert BORROWER_PHONE not in repr(result)  # ... the agent did not
    [row] = attempts(engine)
    assert row["status"] == "DIALED" and row["grant_used_at"] is not None
    assert row["virtual_number"] == "17000001234" and row["recording_ref"] == "rec://TEST-1"


def test_every_decrypt_and_every_dial_is_audited_without_the_number(engine, ctx, allowed):
    dial(engine, allowed.grant_id, "agent-1", MORNING, ctx)
    [decrypt] = audit_records(engine, "contact.decrypt")
    [dialled] = audit_records(engine, "contact.dial")
    assert decrypt["payload"]["attempt_id"] == allowed.attempt_id
    assert decrypt["payload"]["field"] == "phone"
    assert dialled["payload"]["masked_number"] == "138****1234"
    for record in audit_records(engine):
        assert BORROWER_PHONE not in str(record["payload"])
        assert allowed.grant_id not in str(record["payload"])  # a grant is a bearer right


def test_a_grant_is_single_use(engine, ctx, allowed):
    assert dial(engine, allowed.grant_id, "agent-1", MORNING, ctx).status == "DIALED"
    again = dial(engine, allowed.grant_id, "agent-1", MORNING, ctx)
    assert (again.status, again.refusal) == ("REFUSED", "GRANT_USED")
    assert ctx.dialer.numbers == [BORROWER_PHONE]  # dialled once


def test_a_grant_is_bound_to_its_agent(engine, ctx, allowed):
    result = dial(engine, allowed.grant_id, "agent-2", MORNING, ctx)
    assert (result.status, result.refusal) == ("REFUSED", "WRONG_AGENT")
    assert ctx.dialer.numbers == []


def test_an_expired_grant_is_refused(engine, ctx, allowed):
    late = MORNING + ctx.grant_ttl
    result = dial(engine, allowed.grant_id, "agent-1", late, ctx)
    assert (result.status, result.refusal) == ("REFUSED", "GRANT_EXPIRED")


def test_a_grant_reserved_just_before_quiet_hours_expires_when_they_begin(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    assert check(engine, ctx, request(1, at("2026-03-02 20:58"))).allowed
    [row] = attempts(engine)
    assert from_db(row["grant_expires_at"]) <= at("2026-03-02 21:00")  # not 21:03


def test_a_dial_in_quiet_hours_is_refused_and_audited_though_reserved_before(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    decision = check(engine, ctx, request(1, at("2026-03-02 20:58")))
    result = dial(engine, decision.grant_id, "agent-1", at("2026-03-02 21:02"), ctx)
    assert (result.status, result.refusal) == ("REFUSED", "QUIET_HOURS")
    assert ctx.dialer.numbers == []  # the number never left the database
    [refused] = audit_records(engine, "contact.decrypt_refused")
    assert refused["payload"]["reason"] == "QUIET_HOURS"
    assert refused["payload"]["attempt_id"] == decision.attempt_id
    assert audit_records(engine, "contact.decrypt") == []
    assert attempts(engine)[0]["status"] == "RESERVED"


def test_a_dial_before_quiet_hours_within_the_grant_goes_through(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    decision = check(engine, ctx, request(1, at("2026-03-02 20:50")))
    # 20:54: the 5-minute grant ends at 20:55 (an expiry is exclusive, see the test above).
    result = dial(engine, decision.grant_id, "agent-1", at("2026-03-02 20:54"), ctx)
    assert result.status == "DIALED" and ctx.dialer.numbers == [BORROWER_PHONE]


def test_quiet_hours_are_checked_again_at_dial_time_under_the_pack_in_force(engine, tmp_path):
    # The pack is tightened between reservation and dial: the grant is still unexpired, but the
    # dial now falls in the new quiet hours and is refused.
    shutil.copy(compliance_dir() / "cn.yaml", tmp_path / "cn.yaml")
    ctx = make_context(packs_dir=tmp_path)
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    decision = check(engine, ctx, request(1, at("2026-03-02 20:50")))
    text = (tmp_path / "cn.yaml").read_text(encoding="utf-8")
    replace_pack_file(
        tmp_path / "cn.yaml", text.replace("start: '21:00'", "start: '20:51'", 1).encode()
    )
    result = dial(engine, decision.grant_id, "agent-1", at("2026-03-02 20:52"), ctx)
    assert (result.status, result.refusal) == ("REFUSED", "QUIET_HOURS")
    assert ctx.dialer.numbers == []


def test_decrypt_without_a_valid_grant_is_refused_audited_alerted_and_suspends(engine, ctx):
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    result = dial(engine, "forged-grant-id-xxxxxxxx", "mallory", MORNING, ctx)
    assert (result.status, result.refusal) == ("REFUSED", "UNKNOWN_GRANT")
    assert ctx.dialer.numbers == []
    [refused] = audit_records(engine, "contact.decrypt_refused")
    assert refused["actor"] == "mallory" and refused["payload"]["reason"] == "UNKNOWN_GRANT"
    with engine.connect() as connection:
        alert = connection.execute(select(collection_alerts)).one()
        agent = connection.execute(
            select(collection_agents).where(collection_agents.c.agent_id == "mallory")
        ).one()
    assert alert.kind == "DECRYPT_WITHOUT_GRANT"
    assert agent.status == "SUSPENDED"
    assert ctx.webhook.posted[0]["kind"] == "DECRYPT_WITHOUT_GRANT"
    assert ctx.metrics.alerts.value(kind="DECRYPT_WITHOUT_GRANT") == 1
    assert ctx.metrics.decrypts.value(result="refused") == 1
    # Suspended: even a legitimate request is now denied, until a supervisor restores.
    assert check(engine, ctx, request(1, agent="mallory")).reasons == ("AGENT_SUSPENDED",)
    with UnitOfWork(engine) as uow:
        assert restore_agent(uow.connection, "mallory", "supervisor-1", MORNING)
        uow.commit()
    assert check(engine, ctx, request(1, agent="mallory")).allowed
    assert [r["kind"] for r in audit_records(engine)][-2:] == ["agent.restored", "gate.check"]


def test_a_failed_webhook_never_undoes_the_alert(engine, ctx):
    ctx.webhook.fail = True
    dial(engine, "forged-grant-id-xxxxxxxx", "mallory", MORNING, ctx)
    with engine.connect() as connection:
        alert = connection.execute(select(collection_alerts)).one()
    assert alert.webhook_status == "FAILED"


def test_a_dialer_failure_is_recorded_and_the_attempt_keeps_counting(engine):
    class Down(ScriptedDialer):
        def dial(self, request):
            raise DialerUnavailable("503")

    ctx = make_context(dialer=Down())
    borrower = add_loan(engine, 1, 5)
    add_contacts(engine, ctx, borrower)
    decision = check(engine, ctx, request(1))
    result = dial(engine, decision.grant_id, "agent-1", MORNING, ctx)
    assert result.status == "FAILED" and result.error == "503"
    [row] = attempts(engine)
    assert row["status"] == "FAILED" and row["outcome"] is None
    assert audit_records(engine, "contact.dial")[0]["payload"]["status"] == "FAILED"


def test_an_unanswered_call_completes_with_the_dialers_outcome(engine, ctx, allowed):
    ctx.dialer.outcomes.append(Outcome.INVALID_NUMBER)
    result = dial(engine, allowed.grant_id, "agent-1", MORNING, ctx)
    assert (result.status, result.outcome) == ("COMPLETED", "invalid_number")


def test_a_contact_call_comes_with_a_script_that_does_not_state_the_debt(engine, ctx):
    borrower = add_loan(engine, 1, 10)
    add_contacts(engine, ctx, borrower)
    for n in range(3):  # the borrower is unreachable: three failed calls
        decision = check(engine, ctx, request(1, MORNING + timedelta(minutes=n)))
        ctx.dialer.outcomes.append(Outcome.UNANSWERED)
        dial(engine, decision.grant_id, "agent-1", MORNING + timedelta(minutes=n), ctx)
    decision = check(engine, ctx, request(1, MORNING + timedelta(hours=1), contact_id="c1"))
    result = dial(engine, decision.grant_id, "agent-1", MORNING + timedelta(hours=1), ctx)
    assert (
        result.masked_number == "139****5430" and ctx.dialer.numbers[-1] == CONTACT_PHONE[:-1] + "0"
    )
    assert result.script and "张*" in result.script
    for word in ("逾期", "欠款", "债", "元"):
        assert word not in result.script


def test_the_default_key_file_is_created_owner_only(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "lendcore-keys.json"
    monkeypatch.setenv("LENDCORE_KEY_FILE", str(path))
    provider = default_key_provider()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = default_key_provider()  # second use loads, never overwrites
    assert again.index_key() == provider.index_key()
