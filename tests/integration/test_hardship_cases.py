"""Hardship cases on the database: calculate -> submit -> approve books the plan and pauses
collection; breach and completion end the pause — on both databases.

The engine is replaced by a fixed plan document here (its own tests are in tests/unit/hardship),
so each assertion below is about the case lifecycle, not the optimiser's choice."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from lendcore.batch.runner import run_eod
from lendcore.collections.audit import iter_records
from lendcore.collections.tables import collection_loan_flags
from lendcore.hardship import service
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.kernel.money import format_major
from lendcore.ledger.reconcile import reconcile
from lendcore.servicing.service import repay
from lendcore.store.db import UnitOfWork

from .helpers import loan_row, make_loan

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)
DAY = date(2026, 6, 1)


def _fixed_engine(seen):
    def calculate(body, *, seed):
        seen.append(body)
        plans = [
            {
                "kind": kind,
                "down_payment": "500.00",
                "periods": periods,
                "installment": "0.00",
                "waiver": "20.00",
                "total_repayment": "0.00",
                "apr_irr": "0",
                "success_probability": p,
            }
            for kind, periods, p in (
                ("aggressive", 3, 0.7),
                ("balanced", 6, 0.8),
                ("conservative", 12, 0.9),
            )
        ]
        return {
            "eligible": True,
            "reasons": [],
            "stress": {"level": "green", "default_probability": 0.1},
            "plans": plans,
            "policy": {"id": "default", "version": "v1", "misses_allowed": 1},
        }

    return calculate


def _hardship_flag(engine, loan_id):
    with engine.connect() as connection:
        return connection.execute(
            select(collection_loan_flags.c.hardship_plan_active).where(
                collection_loan_flags.c.loan_id == loan_id
            )
        ).scalar_one_or_none()


def _case(engine, seen, loan_id=1):
    make_loan(engine, loan_id)
    run_eod(engine, date(2026, 5, 31))
    with UnitOfWork(engine) as uow:
        case = service.calculate_case(
            uow,
            {
                "loan_id": loan_id,
                "policy": "default",
                "monthly_net_income": "6000.00",
                "city": "北京",
            },
            _fixed_engine(seen),
            now=NOW,
            actor="agent-1",
        )
        uow.commit()
    return int(case["case_id"]), case


def _submit(engine, case_id, kind="balanced", consent=None):
    with UnitOfWork(engine) as uow:
        document = service.submit(
            uow,
            case_id,
            kind,
            consent or {"agreed": True, "channel": "oral", "recording_ref": "rec-1"},
            actor="agent-1",
            now=NOW,
        )
        uow.commit()
    return document


def _approve(engine, case_id):
    with UnitOfWork(engine) as uow:
        document = service.approve(uow, case_id, operator="sup-1", business_date=DAY, now=NOW)
        uow.commit()
    return document


def test_a_case_prices_the_loans_real_debt_and_is_kept(engine):
    seen = []
    case_id, case = _case(engine, seen)
    row = loan_row(engine, 1)
    assert case["status"] == "CALCULATED"
    assert seen[0]["debt"]["principal"] == format_major(row["principal_outstanding"])
    assert seen[0]["days_past_due"] == row["days_past_due"] > 90
    with engine.connect() as connection:
        stored = service.get_case(connection, case_id)
        kinds = [r.kind for page in iter_records(connection) for r in page]
    assert stored["status"] == "CALCULATED" and len(stored["result"]["plans"]) == 3
    assert "hardship.calculate" in kinds


def test_approval_restructures_pauses_collection_and_audits(engine):
    case_id, _ = _case(engine, [])
    assert _submit(engine, case_id)["status"] == "PENDING"
    document = _approve(engine, case_id)
    assert document["status"] == "ACTIVE"
    row = loan_row(engine, 1)
    assert row["state"] == "RESTRUCTURED" and row["days_past_due"] == 0
    assert len(document["restructure"]["schedule"]) == 6
    assert _hardship_flag(engine, 1) is True
    with engine.connect() as connection:
        assert reconcile(connection).ok
        kinds = [r.kind for page in iter_records(connection) for r in page]
    assert {"hardship.submit", "hardship.approve", "hardship.flag"} <= set(kinds)


def test_missing_more_instalments_than_allowed_breaches_the_plan(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id)
    plan = _approve(engine, case_id)["restructure"]["schedule"]
    first_due, second_due = (
        date.fromisoformat(plan[0]["due_date"]),
        date.fromisoformat(plan[1]["due_date"]),
    )
    run_eod(engine, first_due)
    with UnitOfWork(engine) as uow:  # one miss is allowed
        assert (
            service.check_plans(uow, date.fromordinal(first_due.toordinal() + 1), NOW)["breached"]
            == 0
        )
        uow.commit()
    assert _hardship_flag(engine, 1) is True
    run_eod(engine, second_due)
    with UnitOfWork(engine) as uow:  # the second miss breaches
        counts = service.check_plans(uow, date.fromordinal(second_due.toordinal() + 1), NOW)
        uow.commit()
    assert counts["breached"] == 1
    assert _hardship_flag(engine, 1) is False
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["status"] == "BREACHED"


def test_a_performing_plan_is_not_breached_and_a_repaid_one_completes(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id, kind="aggressive")
    plan = _approve(engine, case_id)["restructure"]["schedule"]
    for number, instalment in enumerate(plan):
        due = date.fromisoformat(instalment["due_date"])
        run_eod(engine, date.fromordinal(due.toordinal() - 1))
        with UnitOfWork(engine) as uow:
            repay(uow, 1, instalment["principal"], f"plan-{number}", due, NOW)
            uow.commit()
        with UnitOfWork(engine) as uow:
            counts = service.check_plans(uow, due, NOW)
            uow.commit()
        assert counts["breached"] == 0
    assert loan_row(engine, 1)["state"] == "SETTLED"
    assert counts["completed"] == 1
    assert _hardship_flag(engine, 1) is False


@pytest.mark.parametrize(
    ("kind", "consent", "code"),
    [
        ("reckless", None, ErrorCode.INVALID_ARGUMENT),
        ("balanced", {"agreed": False, "channel": "app"}, ErrorCode.INVALID_ARGUMENT),
        ("balanced", {"agreed": True, "channel": "oral"}, ErrorCode.INVALID_ARGUMENT),
    ],
)
def test_a_bad_submission_is_refused_and_the_case_stays_calculated(engine, kind, consent, code):
    case_id, _ = _case(engine, [])
    with pytest.raises(LendcoreError) as raised:
        _submit(engine, case_id, kind=kind, consent=consent)
    assert raised.value.code == code
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["status"] == "CALCULATED"


def test_a_case_is_approved_once(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id)
    _approve(engine, case_id)
    with pytest.raises(LendcoreError) as raised:
        _approve(engine, case_id)
    assert raised.value.code == ErrorCode.CASE_STATE_CONFLICT
    with pytest.raises(LendcoreError) as raised:
        _approve(engine, 424242)
    assert raised.value.code == ErrorCode.CASE_NOT_FOUND


def test_the_collections_gate_denies_while_the_plan_performs(engine):
    from sqlalchemy import insert

    from lendcore.collections.simulate import borrower_row
    from lendcore.onboarding.tables import borrowers

    from .test_collections_support import MORNING, add_contacts, check, make_context, request

    case_id, _ = _case(engine, [])
    with UnitOfWork(engine) as uow:
        uow.connection.execute(insert(borrowers).values(borrower_row(10, "Asia/Shanghai", NOW)))
        uow.commit()
    ctx = make_context()
    add_contacts(engine, ctx, 10, loan_id=1)
    before = check(engine, ctx, request(1, MORNING))  # 106 days past due: a call is lawful
    assert before.allowed, before.reasons
    _submit(engine, case_id)
    _approve(engine, case_id)
    later = MORNING + timedelta(days=1)
    after = check(engine, ctx, request(1, later, agent="agent-2"))
    assert not after.allowed and "HARDSHIP_PLAN_ACTIVE" in after.reasons
    contact = check(engine, ctx, request(1, later, contact_id="c1", agent="agent-3"))
    assert not contact.allowed and "HARDSHIP_PLAN_ACTIVE" in contact.reasons
