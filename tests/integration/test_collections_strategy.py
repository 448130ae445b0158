"""The daily worklist from end-of-day events and loan state, every item pre-checked by the gate."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from lendcore.batch.tables import outbox
from lendcore.collections.flags import set_hardship_plan
from lendcore.collections.loader import compliance_dir
from lendcore.collections.model import ContactScope, Outcome
from lendcore.collections.strategy import build_worklist
from lendcore.store.db import UnitOfWork

from .test_collections_support import (
    MORNING,
    add_contacts,
    add_loan,
    audit_records,
    call,
    make_context,
    request,
)

DAY = date(2026, 3, 3)


def _event(engine, loan_id, borrower_id, kind, dpd=0):
    with engine.begin() as connection:
        connection.execute(
            insert(outbox).values(
                borrower_id=borrower_id,
                loan_id=loan_id,
                kind=kind,
                business_date=DAY - timedelta(days=1),
                days_past_due=dpd,
            )
        )


@pytest.fixture
def portfolio(engine):
    ctx = make_context()
    scopes = {"c1": ContactScope.OVERDUE_COLLECTION, "e1": ContactScope.EMERGENCY}
    due_soon = add_loan(engine, 1, 0)
    add_contacts(engine, ctx, due_soon)
    _event(engine, 1, due_soon, "DUE_SOON")
    new = add_loan(engine, 2, 1)
    add_contacts(engine, ctx, new)
    _event(engine, 2, new, "BECAME_OVERDUE", 1)
    add_contacts(engine, ctx, add_loan(engine, 3, 45))  # M2: the worst bucket here
    unreachable = add_loan(engine, 4, 10)
    add_contacts(engine, ctx, unreachable, scopes)
    for n in range(3):
        call(engine, ctx, request(4, MORNING + timedelta(minutes=n)), Outcome.UNANSWERED)
    add_contacts(engine, ctx, add_loan(engine, 5, 10), scopes)  # borrower reachable
    add_contacts(engine, ctx, add_loan(engine, 6, 12))
    with UnitOfWork(engine) as uow:
        set_hardship_plan(uow.connection, 6, True, "desk", MORNING)
        uow.commit()
    add_loan(engine, 7, 0)  # current, nothing due soon: nobody to contact
    return ctx


def _items(worklist):
    return [item for items in worklist.agents.values() for item in items]


def test_worklist_has_reminders_borrower_calls_and_only_unlocked_contacts(engine, portfolio):
    worklist = build_worklist(engine, DAY, ["agent-001", "agent-002"], portfolio)
    kinds = {(i.loan_id, i.party, i.contact_id, i.channel, i.purpose) for i in _items(worklist)}
    assert kinds == {
        (1, "borrower", None, "sms", "reminder"),
        (2, "borrower", None, "call", "collection"),
        (3, "borrower", None, "call", "collection"),
        (4, "borrower", None, "call", "collection"),
        (4, "contact", "c1", "call", "collection"),
        (5, "borrower", None, "call", "collection"),
    }
    # Borrower reachable: loan 5's two contacts, loan 3's and loan 6's one.
    assert worklist.skipped["CONTACTS_LOCKED"] == 4
    assert worklist.skipped["CONSENT_SCOPE"] >= 1  # loan 4's emergency contact
    assert worklist.skipped["HARDSHIP_PLAN_ACTIVE"] == 2  # loan 6: borrower and contact
    triggers = {i.loan_id: i.trigger_reason for i in _items(worklist) if i.party == "borrower"}
    assert triggers[2] == "BECAME_OVERDUE" and triggers[3] == "DPD_45"
    assert triggers[1].startswith("DUE_SOON:")


def test_worklist_is_ordered_by_bucket_then_amount_with_reminders_last(engine, portfolio):
    worklist = build_worklist(engine, DAY, ["agent-001"], portfolio)
    order = [(i.loan_id, i.party) for i in worklist.agents["agent-001"]]
    assert order[0] == (3, "borrower")  # M2 before M1
    assert order[-1] == (1, "borrower")  # the reminder
    assert order.index((4, "borrower")) + 1 == order.index((4, "contact"))


def test_a_debtors_items_stay_with_one_agent(engine, portfolio):
    worklist = build_worklist(engine, DAY, ["agent-001", "agent-002", "agent-003"], portfolio)
    owners = {}
    for agent, items in worklist.agents.items():
        for item in items:
            assert owners.setdefault(item.loan_id, agent) == agent == item.agent_id


def test_worklist_respects_the_per_agent_daily_cap(engine, portfolio, tmp_path):
    packs = tmp_path / "compliance"
    packs.mkdir()
    source = (compliance_dir() / "cn.yaml").read_text(encoding="utf-8")
    capped = source.replace("  agent_daily_cap:\n    max: 300", "  agent_daily_cap:\n    max: 2")
    (packs / "cn.yaml").write_text(capped, encoding="utf-8")
    capped_ctx = replace(portfolio, packs_dir=Path(packs))
    worklist = build_worklist(engine, DAY, ["agent-001"], capped_ctx)
    assert len(worklist.agents["agent-001"]) == 2
    assert len(worklist.unassigned) == 4


def test_building_a_worklist_is_audited_and_reserves_nothing(engine, portfolio):
    before = len(audit_records(engine))
    worklist = build_worklist(engine, DAY, ["agent-001"], portfolio)
    records = audit_records(engine)
    assert len(records) == before + 1 and records[-1]["kind"] == "strategy.worklist"
    assert records[-1]["payload"]["items"] == len(_items(worklist))


def test_cli_worklist_json(engine, db_url, portfolio, monkeypatch, tmp_path, capsys):
    from lendcore.cli.main import main

    monkeypatch.setenv("LENDCORE_KEY_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setattr("lendcore.cli.collections_cmd.default_context", lambda: portfolio)
    url = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    monkeypatch.setattr(
        "sys.argv",
        ["lendcore", "collections", "worklist", "--date", DAY.isoformat(), "--agents", "2",
         "--json", "--database", url],
    )  # fmt: skip
    main()
    document = json.loads(capsys.readouterr().out)
    assert document["items"] == 6 and set(document["agents"]) == {"agent-001", "agent-002"}
