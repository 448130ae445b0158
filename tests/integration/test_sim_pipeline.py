"""The simulator's applicants go through the decision pipeline, and its borrowers in hardship
through the negotiation service — on both databases."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import func, select

from lendcore.collections.tables import collection_attempts
from lendcore.decisioning.decision_tables import decision_reviews, decisions
from lendcore.hardship.tables import hardship_cases
from lendcore.servicing.tables import loans
from lendcore.sim.html import render_html
from lendcore.sim.report import full_report
from lendcore.sim.simulator import SimulationConfig, simulate


def _utc(moment):
    """Stored times are UTC: naive on SQLite, aware on PostgreSQL."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_every_loan_starts_as_a_recorded_decision_and_hardship_plans_are_booked(engine):
    result = simulate(engine, SimulationConfig(borrowers=250, days=110, seed=3))
    with engine.connect() as connection:
        report = full_report(connection, result)
        recorded = connection.execute(
            select(decisions.c.outcome, func.count()).group_by(decisions.c.outcome)
        ).all()
        verdicts = connection.execute(select(func.count()).select_from(decision_reviews)).scalar()
        opened = connection.execute(select(func.count()).select_from(loans)).scalar()
        cases = connection.execute(select(hardship_cases)).all()
        states = dict(connection.execute(select(loans.c.loan_id, loans.c.state)).all())
        attempts = connection.execute(
            select(collection_attempts.c.loan_id, collection_attempts.c.requested_at).where(
                collection_attempts.c.purpose != "reminder"  # a due-date reminder is not collection
            )
        ).all()
    underwriting = report["simulation"]["underwriting"]
    by_outcome = dict(recorded)
    # every application is a decision row; every loan came from an approval or a review approval
    assert sum(by_outcome.values()) == underwriting["applications"]
    assert by_outcome.get("REJECT", 0) > 0 and by_outcome.get("APPROVE", 0) > 0
    assert verdicts == by_outcome.get("MANUAL_REVIEW", 0)
    assert opened == underwriting["funded"]
    assert report["reconciliation"]["ok"]

    hardship = report["simulation"]["hardship"]
    assert hardship["taken_up"] >= 1, hardship
    booked = [c for c in cases if c.status in ("ACTIVE", "COMPLETED", "BREACHED")]
    assert len(booked) == hardship["taken_up"]
    # cured (repaid), breached and still performing are counted apart; only repaid is cured
    assert hardship["completed"] + hardship["breached"] + hardship["performing"] == len(booked)
    assert hardship["cure_rate"] == round(hardship["completed"] / hardship["taken_up"], 4)
    for case in booked:  # a down payment is booked only against its receipt
        dp = case.restructure["down_payment"]
        assert (case.restructure["down_payment_reference"] is not None) == (dp > 0)
    for case in booked:
        assert case.restructure["new_principal"] > 0
    html = render_html(report)
    assert f"more than {hardship['policy']['days_past_due_over']} days past due" in html
    assert hardship["policy"] == {"id": "early", "days_past_due_over": 30}
    for case in (c for c in cases if c.status == "ACTIVE"):
        assert states[case.loan_id] in ("RESTRUCTURED", "OVERDUE")
        # collection paused: no attempt on the loan after the plan was approved
        approved = _utc(case.updated_at)
        later = [
            a for a in attempts if a.loan_id == case.loan_id and _utc(a.requested_at) > approved
        ]
        assert later == []
