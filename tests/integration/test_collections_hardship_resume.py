"""Collection resumes after a hardship plan is BREACHED: the gate denies a borrower call while
the plan performs (HARDSHIP_PLAN_ACTIVE) and allows it again once the end-of-day breaches it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from lendcore.batch.runner import run_eod
from lendcore.collections.simulate import borrower_row
from lendcore.hardship.tables import hardship_cases
from lendcore.onboarding.tables import borrowers
from lendcore.servicing.tables import loans

from .test_collections_support import add_contacts, check, make_context, request
from .test_hardship_cases import NOW, _approve, _case, _submit


def _call(engine, ctx, day):
    when = datetime.combine(day, time(10), ZoneInfo("Asia/Shanghai"))
    return check(engine, ctx, request(1, when, agent=f"agent-{day:%m%d}"))


def test_collection_resumes_after_the_plan_is_breached(engine):
    ctx = make_context()
    case_id, _ = _case(engine, [])
    with engine.connect() as connection:
        borrower_id = connection.execute(
            select(loans.c.borrower_id).where(loans.c.loan_id == 1)
        ).scalar_one()
    with engine.begin() as connection:  # the borrower record: the debtor's time zone
        if connection.execute(select(borrowers.c.borrower_id)).first() is None:
            connection.execute(insert(borrowers).values(
                borrower_row(int(borrower_id), "Asia/Shanghai", NOW)))  # fmt: skip
    add_contacts(engine, ctx, int(borrower_id), {})
    _submit(engine, case_id)
    plan = _approve(engine, case_id)["restructure"]["schedule"]
    first_due, second_due = (date.fromisoformat(plan[i]["due_date"]) for i in (0, 1))
    run_eod(engine, first_due + timedelta(days=1))
    paused = _call(engine, ctx, first_due + timedelta(days=2))
    assert not paused.allowed and "HARDSHIP_PLAN_ACTIVE" in paused.reasons
    run_eod(engine, second_due + timedelta(days=1))  # its completion step checks the plans
    with engine.connect() as connection:
        status = connection.execute(
            select(hardship_cases.c.status).where(hardship_cases.c.case_id == case_id)
        ).scalar_one()
    assert status == "BREACHED"
    resumed = _call(engine, ctx, second_due + timedelta(days=2))
    assert resumed.allowed, resumed.reasons
