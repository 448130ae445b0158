"""Credit lines on both databases: opened from the approved decision's offer when a loan is
opened, stepped up after N instalments paid on time (capped at the tier maximum), reset by a late
instalment the end of day reports, every change in the history, shown by the API and the CLI."""

import io
import json
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lendcore.api.app import create_app
from lendcore.batch.runner import run_eod
from lendcore.batch.tables import outbox
from lendcore.cli.main import main
from lendcore.decisioning.credit_lines import consume_overdue_events, credit_line_document
from lendcore.funding.ports import SandboxPaymentChannel
from lendcore.funding.service import disburse
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.kernel.ids import PARTITIONS
from lendcore.kernel.money import parse_major
from lendcore.servicing.repository import load_instalments
from lendcore.servicing.service import open_loan, repay, sign_contract
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

from .test_decisions_support import PRODUCTS, another_person, application, count, decide, make_setup

NOW = datetime(2026, 3, 1, 2, tzinfo=UTC)
START = date(2026, 3, 2)
BORROWER = 77
# High-risk applicants (no social-insurance record): the instalment product starts at 20 000 yuan
# with a 30 000 maximum, stepping ×1.2 after 6 on-time instalments; the small product starts at
# 1 000 yuan with a 2 000 maximum, stepping ×1.5 after 3.
HIGH_RISK = {"applicant.social_insurance": False}


@pytest.fixture
def setup(tmp_path):
    return make_setup(tmp_path)


def _decision(engine, setup, n=1, **changes):
    body = another_person(application(**{**HIGH_RISK, **changes}), n)
    return decide(engine, setup.service, body)


def _open(engine, decision, loan_id, borrower_id=BORROWER, start=START, principal=None):
    offer = decision["offer"]
    clock = FixedClock.at_date(start)
    with UnitOfWork(engine) as uow:
        open_loan(
            uow,
            loan_id=loan_id,
            borrower_id=borrower_id,
            product=PRODUCTS[offer["product"]],
            principal=principal or int(offer["amount"].replace(".", "")),
            term=int(offer["term"]),
            start=start,
            now=clock.now(),
            decision_id=int(decision["decision_id"]),
        )
        sign_contract(uow, loan_id)
        uow.commit()
    disburse(engine, SandboxPaymentChannel(), loan_id, "6222020000001234", clock)


def _instalment_loan(engine, setup, loan_id=1):
    decision = _decision(engine, setup, term=12)
    assert decision["offer"]["credit_limit"] == "20000.00"
    _open(engine, decision, loan_id)
    return decision


def _pay_instalment(engine, loan_id, seq, late_days=0, borrower_id=BORROWER):
    """Pay instalment ``seq`` in full on its due date (or ``late_days`` after it, penalty too),
    closing the days before the payment first, as production would."""
    with UnitOfWork(engine) as uow:
        row = load_instalments(uow, borrower_id, loan_id)[seq - 1]
    day = row["due_date"] + timedelta(days=late_days)
    run_eod(engine, day - timedelta(days=1))
    amount = sum(row[f"{c}_due"] - row[f"{c}_paid"] for c in ("principal", "interest", "fee"))
    with UnitOfWork(engine) as uow:
        if late_days:
            loan = uow.connection.execute(
                select(loans.c.penalty_receivable, loans.c.penalty_accrued).where(
                    loans.c.loan_id == loan_id
                )
            ).one()
            amount += loan.penalty_receivable + loan.penalty_accrued
        repay(uow, loan_id, amount, f"pay-{loan_id}-{seq}", day, NOW)
        uow.commit()


def _line(engine, borrower_id=BORROWER):
    with engine.connect() as connection:
        return credit_line_document(connection, borrower_id)


def _stepped_events(engine):
    with engine.connect() as connection:
        return connection.execute(
            select(outbox.c.borrower_id, outbox.c.amount).where(
                outbox.c.kind == "CREDIT_LIMIT_STEPPED_UP"
            )
        ).all()


def test_a_loan_opened_from_an_approved_decision_opens_the_line_on_its_offer(engine, setup):
    decision = _instalment_loan(engine, setup)
    line = _line(engine)
    assert (line["credit_limit"], line["initial_limit"], line["tier_max"]) == (
        "20000.00",
        "20000.00",
        "30000.00",
    )
    assert line["step_up"] == {"after": 6, "factor": "1.2"}
    assert (line["tier"], line["decision_id"]) == ("high_risk", decision["decision_id"])
    assert [e["kind"] for e in line["history"]] == ["OPENED"]


def test_n_minus_one_on_time_instalments_leave_the_limit_as_it_was(engine, setup):
    _instalment_loan(engine, setup)
    for seq in range(1, 6):
        _pay_instalment(engine, 1, seq)
    line = _line(engine)
    assert (line["credit_limit"], line["on_time_count"]) == ("20000.00", 5)
    assert _stepped_events(engine) == []


def test_the_nth_on_time_instalment_steps_the_limit_up_by_the_factor(engine, setup):
    _instalment_loan(engine, setup)
    for seq in range(1, 7):
        _pay_instalment(engine, 1, seq)
    line = _line(engine)
    assert (line["credit_limit"], line["on_time_count"], line["step_ups"]) == ("24000.00", 0, 1)
    stepped = line["history"][-1]
    assert (stepped["kind"], stepped["limit_before"], stepped["limit_after"]) == (
        "STEPPED_UP",
        "20000.00",
        "24000.00",
    )
    assert stepped["details"]["rule"] == {"after": 6, "factor": "1.2"}
    assert [tuple(e) for e in _stepped_events(engine)] == [(BORROWER, 400_000)]


def test_step_ups_stop_at_the_tier_maximum(engine, setup):
    decision = _decision(engine, setup, product="small_short_term", amount="1000.00", term=14)
    for n in range(6):  # six 14-day bullet loans on the one decision, each repaid on its due date
        start = START + timedelta(days=15 * n)
        _open(engine, decision, 10 + n, start=start)
        _pay_instalment(engine, 10 + n, 1)
    line = _line(engine)
    assert (line["credit_limit"], line["step_ups"]) == ("2000.00", 2)  # 1000 → 1500 → 2250 capped
    assert [e["limit_after"] for e in line["history"] if e["kind"] == "STEPPED_UP"] == [
        "1500.00",
        "2000.00",
    ]


def test_a_late_instalment_resets_the_count_toward_the_next_step(engine, setup):
    _instalment_loan(engine, setup)
    for seq in (1, 2, 3):
        _pay_instalment(engine, 1, seq)
    _pay_instalment(engine, 1, 4, late_days=3)  # overdue for three days first
    for seq in (5, 6, 7):
        _pay_instalment(engine, 1, seq)
    line = _line(engine)
    # six instalments paid on time, but never six in a row: no step-up
    assert (line["credit_limit"], line["on_time_total"], line["on_time_count"]) == (
        "20000.00",
        6,
        3,
    )
    late = [e for e in line["history"] if e["kind"] == "LATE"]
    assert len(late) == 1 and line["late_total"] == 1
    assert (late[0]["on_time_before"], late[0]["on_time_after"], late[0]["loan_id"]) == (3, 0, "1")
    assert late[0]["outbox_event_id"] is not None


def test_the_end_of_day_counts_a_late_instalment_once_however_often_it_runs(engine, setup):
    _instalment_loan(engine, setup)
    _pay_instalment(engine, 1, 1, late_days=2)
    with engine.connect() as connection:
        day = connection.execute(
            select(outbox.c.business_date).where(outbox.c.kind == "BECAME_OVERDUE")
        ).scalar_one()
    with UnitOfWork(engine) as uow:
        assert consume_overdue_events(uow.connection, day, (0, PARTITIONS), NOW) == 0
        uow.commit()
    assert _line(engine)["late_total"] == 1


def test_the_history_numbers_every_change_in_order(engine, setup):
    _instalment_loan(engine, setup)
    _pay_instalment(engine, 1, 1, late_days=2)
    for seq in range(2, 8):
        _pay_instalment(engine, 1, seq)
    history = _line(engine)["history"]
    assert [(e["version"], e["kind"]) for e in history] == [
        (1, "OPENED"),
        (2, "LATE"),
        (3, "STEPPED_UP"),
    ]


def test_a_new_decision_rebases_the_line_and_keeps_what_repayments_earned(engine, setup):
    first = _decision(engine, setup, product="small_short_term", amount="1000.00", term=14)
    for n in range(3):
        _open(engine, first, 10 + n, start=START + timedelta(days=15 * n))
        _pay_instalment(engine, 10 + n, 1)
    assert _line(engine)["credit_limit"] == "1500.00"
    again = _decision(engine, setup, 2, product="small_short_term", amount="1000.00", term=14)
    _open(engine, again, 20, start=START + timedelta(days=60))
    line = _line(engine)
    assert (line["credit_limit"], line["decision_id"]) == ("1500.00", again["decision_id"])
    assert line["history"][-1]["kind"] == "REBASED"


def test_a_loan_on_a_rejected_decision_is_refused_and_opens_nothing(engine, setup):
    rejected = _decision(engine, setup, **{"applicant.birth_date": "2010-01-01"})
    assert rejected["outcome"] == "REJECT"
    with pytest.raises(LendcoreError) as caught, UnitOfWork(engine) as uow:
        open_loan(
            uow,
            loan_id=1,
            borrower_id=BORROWER,
            product=PRODUCTS["small_short_term"],
            principal=100_000,
            term=14,
            start=START,
            now=NOW,
            decision_id=int(rejected["decision_id"]),
        )
    assert caught.value.code is ErrorCode.DECISION_NOT_APPROVED
    assert count(engine, loans) == 0


def test_a_principal_above_the_line_is_refused(engine, setup):
    decision = _decision(engine, setup, product="small_short_term", amount="1000.00", term=14)
    with pytest.raises(LendcoreError) as caught:
        _open(engine, decision, 1, principal=150_000)
    assert caught.value.code is ErrorCode.AMOUNT_OUT_OF_RANGE


def test_the_api_returns_the_line_and_a_404_with_a_code_for_a_borrower_without_one(engine, setup):
    _instalment_loan(engine, setup)
    with TestClient(create_app(engine)) as client:
        found = client.get(f"/api/credit-lines/{BORROWER}")
        missing = client.get("/api/credit-lines/424242")
        malformed = client.get("/api/credit-lines/abc")
    assert found.status_code == 200 and found.json()["credit_limit"] == "20000.00"
    assert found.json()["history"][0]["kind"] == "OPENED"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "UNKNOWN_CREDIT_LINE"
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "INVALID_REQUEST"


def _cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(sys, "argv", ["lendcore", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_shows_the_line_as_json_and_exits_2_without_one(
    engine, setup, db_url, monkeypatch, capsys
):
    _instalment_loan(engine, setup)
    code, out, _ = _cli(
        monkeypatch,
        capsys,
        "credit-line",
        "show",
        "--borrower",
        str(BORROWER),
        "--json",
        "--database-url",
        db_url,
    )
    assert code == 0 and json.loads(out)["tier_max"] == "30000.00"
    code, _, err = _cli(
        monkeypatch, capsys, "credit-line", "show", "--borrower", "424242", "--database-url", db_url
    )
    assert code == 2 and "UNKNOWN_CREDIT_LINE" in err


def test_the_simulators_on_time_borrowers_step_up_and_the_report_counts_them(engine):
    from lendcore.decisioning.credit_line_tables import credit_line_events, credit_lines
    from lendcore.sim.simulator import SimulationConfig, simulate

    config = SimulationConfig(
        borrowers=300,
        days=120,
        seed=5,
        collection_agents=0,
        hardship=False,
        reborrow_share=1.0,  # every on-time small borrower comes back: lines have time to grow
        product_weights={"small_short_term": 1.0},
    )
    summary = simulate(engine, config).underwriting.to_dict()["credit_lines"]
    with engine.connect() as connection:
        stepped = connection.execute(
            select(credit_lines.c.borrower_id).where(credit_lines.c.step_ups > 0)
        ).all()
        history = connection.execute(
            select(credit_line_events.c.borrower_id).where(
                credit_line_events.c.kind == "STEPPED_UP"
            )
        ).all()
    assert summary["stepped_up"] == len(stepped) > 0
    assert parse_major(summary["average_limit_after"]) > parse_major(
        summary["average_limit_before"]
    )
    assert len(history) == len(_stepped_events(engine)) >= len(stepped)


def test_a_rerun_counts_only_the_late_events_its_line_has_not_consumed(engine, setup):
    """A rerun of a closed day that closes a loan opened after the first run (here booked with
    an earlier start, so it falls overdue on that same day) counts that loan's lateness once and
    the already-consumed event not again."""
    decision = _instalment_loan(engine, setup)
    with UnitOfWork(engine) as uow:
        due = load_instalments(uow, BORROWER, 1)[0]["due_date"]
    day = due + timedelta(days=1)  # loan 1 falls overdue
    run_eod(engine, day)
    assert _line(engine)["late_total"] == 1
    _open(engine, decision, 2, principal=300_000)  # same start: due, and overdue, on the same days
    run_eod(engine, day)
    line = _line(engine)
    late = [e for e in line["history"] if e["kind"] == "LATE"]
    assert line["late_total"] == 2
    assert [e["loan_id"] for e in late] == ["1", "2"]
