"""Builders shared by the collections integration tests (this module holds no tests).

Loans are inserted as rows with the days past due a test needs (``simulate.loan_row``) and the
instalments that explain it as of 2026-03-02 (``simulate.instalment_rows``, what the independent
checker reads): the gate service reads DPD and state, not how they came about. One test builds its loan through the real
servicing services instead (test_collections_service: a contact of a loan that is not overdue).
Times are Shanghai wall-clock text ("2026-03-02 10:00") so every boundary reads as the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, text

from lendcore.collections.alerts import Metrics, SandboxWebhook
from lendcore.collections.attempts import record_outcome
from lendcore.collections.contacts import SELF, ContactPoint, Vault, store_contact
from lendcore.collections.context import AttemptRequest, CollectionsContext, Decision, Purpose
from lendcore.collections.dialling import dial
from lendcore.collections.model import CallType, Channel, ContactScope, Outcome, Party
from lendcore.collections.ports import DialResult, SandboxSmsSender
from lendcore.collections.service import check_and_reserve
from lendcore.collections.simulate import borrower_row, instalment_rows, loan_row
from lendcore.collections.tables import audit_chain, collection_attempts
from lendcore.onboarding.tables import borrowers
from lendcore.privacy.keys import InMemoryKeyProvider
from lendcore.servicing.tables import instalments, loans
from lendcore.store.db import UnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
BORROWER_PHONE = "13812341234"
CONTACT_PHONE = "13998765432"


def at(text_: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=tz)


MORNING = at("2026-03-02 10:00")


@dataclass
class ScriptedDialer:
    """A dialer whose outcomes the test decides, in order (answered when the script runs out)."""

    outcomes: list[Outcome] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)  # to prove the port got the plaintext

    def dial(self, request: Any) -> DialResult:
        self.calls.append(request.attempt_id)
        self.numbers.append(request.phone)
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.ANSWERED
        ref = f"TEST-{len(self.calls)}"
        return DialResult(
            ref, "17000001234", outcome, f"rec://{ref}" if outcome is Outcome.ANSWERED else None
        )


def make_context(
    dialer: Any = None, packs_dir: Path | None = None, pack_code: str = "cn"
) -> CollectionsContext:
    return CollectionsContext(
        vault=Vault.from_provider(InMemoryKeyProvider()),
        dialer=dialer or ScriptedDialer(),
        sms=SandboxSmsSender(invalid_rate=0.0),
        webhook=SandboxWebhook(),
        metrics=Metrics(),
        pack_code=pack_code,
        packs_dir=packs_dir,
        qa_rate=0.5,
    )


def add_loan(
    engine: Engine,
    loan_id: int,
    dpd: int,
    *,
    borrower_id: int | None = None,
    zone: str = "Asia/Shanghai",
    state: str | None = None,
    with_borrower: bool = True,
) -> int:
    borrower_id = borrower_id or loan_id * 10
    created = at("2026-02-01 09:00")
    row = loan_row(borrower_id, loan_id, dpd, date(2026, 3, 2), created)
    if state:
        row["state"] = state
    with UnitOfWork(engine) as uow:
        if with_borrower:
            exists = uow.connection.execute(
                select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower_id)
            ).first()
            if exists is None:
                uow.connection.execute(
                    insert(borrowers).values(borrower_row(borrower_id, zone, created))
                )
        uow.connection.execute(insert(loans).values(row))
        uow.connection.execute(
            insert(instalments), instalment_rows(borrower_id, loan_id, dpd, date(2026, 3, 2))
        )
        uow.commit()
    return borrower_id


def add_contacts(
    engine: Engine,
    ctx: CollectionsContext,
    borrower_id: int,
    contacts: dict[str, ContactScope] | None = None,
    *,
    loan_id: int | None = None,
) -> None:
    """The borrower's own number plus third parties (default: c1 with overdue_collection)."""
    contacts = {"c1": ContactScope.OVERDUE_COLLECTION} if contacts is None else contacts
    consent = at("2026-01-01 09:00")
    with UnitOfWork(engine) as uow:
        store_contact(
            uow.connection,
            ctx.vault,
            ContactPoint(borrower_id, SELF, SELF, BORROWER_PHONE, "张三"),
            consent,
            "test",
        )
        for n, (contact_id, scope) in enumerate(contacts.items()):
            phone = CONTACT_PHONE[:-1] + str(n)
            point = ContactPoint(
                borrower_id, contact_id, "friend", phone, "李四", scope, consent, loan_id
            )
            store_contact(uow.connection, ctx.vault, point, consent, "test")
        uow.commit()


def request(
    loan_id: int,
    when: datetime = MORNING,
    *,
    party: Party = Party.BORROWER,
    contact_id: str | None = None,
    channel: Channel = Channel.CALL,
    call_type: CallType = CallType.COLLECTION,
    agent: str = "agent-1",
    trigger: str | None = "dpd_strategy",
    authorisation_ref: str | None = None,
    purpose: Purpose = Purpose.COLLECTION,
) -> AttemptRequest:
    if contact_id is not None:
        party = Party.CONTACT
    return AttemptRequest(
        loan_id=loan_id,
        agent_id=agent,
        party=party,
        channel=channel,
        call_type=call_type,
        trigger_reason=trigger,
        at=when,
        contact_id=contact_id,
        authorisation_ref=authorisation_ref,
        purpose=purpose,
    )


def check(engine: Engine, ctx: CollectionsContext, req: AttemptRequest) -> Decision:
    with UnitOfWork(engine) as uow:
        decision = check_and_reserve(uow, req, ctx)
        uow.commit()
    return decision


def call(
    engine: Engine,
    ctx: CollectionsContext,
    req: AttemptRequest,
    outcome: Outcome | None = None,
) -> Decision:
    """Check, dial and (for a connected call) report: a whole attempt. ``outcome`` is what the
    scripted dialer sees (refused: the dialer sees it connect, the agent reports refused)."""
    decision = check(engine, ctx, req)
    if not decision.allowed:
        return decision
    assert decision.grant_id is not None
    dialer = ctx.dialer
    if outcome is not None and isinstance(dialer, ScriptedDialer):
        dialer.outcomes.append(Outcome.ANSWERED if outcome is Outcome.REFUSED else outcome)
    result = dial(engine, decision.grant_id, req.agent_id, req.at, ctx)
    if result.status == "DIALED":
        with UnitOfWork(engine) as uow:
            record_outcome(
                uow,
                int(decision.attempt_id or 0),
                outcome if outcome in (Outcome.ANSWERED, Outcome.REFUSED) else Outcome.ANSWERED,
                req.at + timedelta(minutes=2),
                ctx,
            )
            uow.commit()
    return decision


def attempts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(collection_attempts).order_by(collection_attempts.c.requested_at)
        ).all()
    return [dict(r._mapping) for r in rows]


def audit_records(engine: Engine, kind: str | None = None) -> list[dict[str, Any]]:
    import json

    with engine.connect() as connection:
        query = select(audit_chain).order_by(audit_chain.c.seq)
        if kind:
            query = query.where(audit_chain.c.kind == kind)
        rows = connection.execute(query).all()
    return [{**r._mapping, "payload": json.loads(r.payload)} for r in rows]


def drop_audit_guards(engine: Engine) -> None:
    """What an attacker with DDL rights does first: remove the append-only triggers."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER audit_chain_no_update"))
            connection.execute(text("DROP TRIGGER audit_chain_no_delete"))
        else:
            connection.execute(
                text("ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_append_only")
            )
