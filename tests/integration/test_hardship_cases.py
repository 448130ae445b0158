"""Hardship cases on the database: calculate -> submit -> approve books the plan and pauses
collection; breach and completion end the pause — on both databases.

The real engine prices the cases (policy ``default``, the loan's ledger debt, a declared income
of 6,000 yuan in Beijing, seed 11): aggressive 4 × 2,578.90 after a down payment of 2,578.90,
balanced 16 × 805.91 with none, conservative 60 periods. Its choices are tested in
tests/unit/hardship; here the assertions are about the case lifecycle on real plans."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from lendcore.batch.runner import run_eod
from lendcore.collections.audit import iter_records
from lendcore.collections.tables import collection_loan_flags
from lendcore.hardship import service
from lendcore.hardship.api_support import calculator
from lendcore.kernel.clock import FixedClock
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.kernel.money import format_major, parse_major
from lendcore.ledger.reconcile import reconcile
from lendcore.ledger.tables import journal_entries
from lendcore.servicing.service import repay
from lendcore.store.db import UnitOfWork

from .helpers import loan_row, make_loan

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)
DAY = date(2026, 6, 1)


def _recording_engine(seen):
    real = calculator(FixedClock.at_date(DAY))

    def calculate(body, *, seed):
        seen.append(body)
        return real(body, seed=seed)

    return calculate


def _hardship_flag(engine, loan_id):
    with engine.connect() as connection:
        return connection.execute(
            select(collection_loan_flags.c.hardship_plan_active).where(
                collection_loan_flags.c.loan_id == loan_id
            )
        ).scalar_one_or_none()


def _case(engine, seen, loan_id=1, make=True):
    if make:
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
                "proof_of_hardship": True,
            },
            _recording_engine(seen),
            now=NOW,
            actor="agent-1",
            seed=11,
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


def _approve(engine, case_id, reference=None, day=DAY):
    with UnitOfWork(engine) as uow:
        document = service.approve(
            uow,
            case_id,
            operator="sup-1",
            business_date=day,
            now=NOW,
            down_payment_reference=reference,
        )
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
    assert len(document["restructure"]["schedule"]) == 16
    assert document["restructure"]["schedule"][0]["principal"] == parse_major(
        document["plan"]["installment"]
    )
    assert _hardship_flag(engine, 1) is True
    with engine.connect() as connection:
        assert reconcile(connection).ok
        kinds = [r.kind for page in iter_records(connection) for r in page]
    assert {"hardship.submit", "hardship.approve", "hardship.flag"} <= set(kinds)


def test_run_eod_itself_breaches_a_plan_with_more_misses_than_allowed(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id)
    plan = _approve(engine, case_id)["restructure"]["schedule"]
    first_due, second_due = (date.fromisoformat(plan[i]["due_date"]) for i in (0, 1))
    first = run_eod(engine, first_due)  # one miss is allowed
    assert first.hardship_plans == {"checked": 1, "breached": 0, "completed": 0}
    assert _hardship_flag(engine, 1) is True
    second = run_eod(engine, second_due)  # the second miss breaches: no other call needed
    assert second.hardship_plans is not None and second.hardship_plans["breached"] == 1
    assert _hardship_flag(engine, 1) is False
    with engine.connect() as connection:
        case = service.get_case(connection, case_id)
    assert case["status"] == "BREACHED"
    assert case["breach"] == {"business_date": str(second_due + timedelta(days=1)), "missed": 2,
                              "allowed": 1}  # fmt: skip


def test_the_plan_check_is_idempotent(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id)
    plan = _approve(engine, case_id)["restructure"]["schedule"]
    second_due = date.fromisoformat(plan[1]["due_date"])
    run_eod(engine, second_due)
    rerun = run_eod(engine, second_due)  # nothing left to close: the completion step again
    assert rerun.hardship_plans == {"checked": 0, "breached": 0, "completed": 0}
    with UnitOfWork(engine) as uow:
        again = service.check_plans(uow, second_due + timedelta(days=1), NOW)
        uow.commit()
    assert again["breached"] == 0
    with engine.connect() as connection:
        kinds = [r.kind for page in iter_records(connection) for r in page]
    assert kinds.count("hardship.breached") == 1


def _borrowers_in_two_halves():
    """Borrower ids whose partitions fall in different halves of the 1,024 (two chunks when a
    chunk holds one loan)."""
    from lendcore.kernel.ids import PARTITIONS, partition_of

    low = next(b for b in range(10, 10_000, 10) if partition_of(b) < PARTITIONS // 2)
    high = next(b for b in range(10, 10_000, 10) if partition_of(b) >= PARTITIONS // 2)
    return low, high


def test_with_shards_the_run_that_completes_the_day_checks_the_plans(engine):
    low, high = _borrowers_in_two_halves()
    make_loan(engine, 2, borrower_id=high)
    case_id, _ = _case(engine, [], loan_id=1)  # borrower 10: see the assertion below
    assert low == 10
    _submit(engine, case_id)
    plan = _approve(engine, case_id)["restructure"]["schedule"]
    second_due = date.fromisoformat(plan[1]["due_date"])
    shard_0 = run_eod(engine, second_due, shard=(0, 2), target_chunk_loans=1)
    assert shard_0.hardship_plans is None  # loan 2 (the other chunk) is still open
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["status"] == "ACTIVE"
    shard_1 = run_eod(engine, second_due, shard=(1, 2), target_chunk_loans=1)
    assert shard_1.hardship_plans is not None and shard_1.hardship_plans["breached"] == 1
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["status"] == "BREACHED"


def test_a_performing_plan_is_not_breached_and_a_repaid_one_completes(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id, kind="aggressive")
    plan = _approve(engine, case_id, reference="UP20260601-0001")["restructure"]["schedule"]
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


def test_approval_refuses_a_plan_priced_on_a_debt_that_has_changed(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id)
    run_eod(engine, date(2026, 7, 1))  # a month of penalty interest after the plan was priced
    before = loan_row(engine, 1)
    with pytest.raises(LendcoreError) as raised:
        _approve(engine, case_id, day=date(2026, 7, 1))
    assert raised.value.code == ErrorCode.CASE_STALE
    assert (
        raised.value.details["owed_now"]["penalty"] > raised.value.details["priced_on"]["penalty"]
    )
    assert loan_row(engine, 1) == before
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["status"] == "PENDING"


def test_a_plan_with_a_down_payment_needs_the_receipt_reference(engine):
    case_id, _ = _case(engine, [])
    _submit(engine, case_id, kind="aggressive")  # a down payment of 2,578.90
    before = loan_row(engine, 1)
    with pytest.raises(LendcoreError) as raised:
        _approve(engine, case_id)
    assert raised.value.code == ErrorCode.DOWN_PAYMENT_REFERENCE_REQUIRED
    assert loan_row(engine, 1) == before


def test_the_receipt_reference_is_kept_on_the_case_and_on_the_cash_entry(engine):
    case_id, case = _case(engine, [])
    _submit(engine, case_id, kind="aggressive")
    document = _approve(engine, case_id, reference="UP20260601-0001")
    assert document["restructure"]["down_payment_reference"] == "UP20260601-0001"
    with engine.connect() as connection:
        entries = connection.execute(
            select(journal_entries.c.kind, journal_entries.c.reference)
            .where(journal_entries.c.loan_id == 1)
            .order_by(journal_entries.c.seq)
        ).all()
        assert reconcile(connection).ok
    assert [tuple(e) for e in entries[-2:]] == [
        ("RESTRUCTURE", f"hardship:{case_id}"),
        ("DOWN_PAYMENT", "UP20260601-0001"),
    ]
    aggressive = next(p for p in case["plans"] if p["kind"] == "aggressive")
    assert document["restructure"]["down_payment"] == parse_major(aggressive["down_payment"])


def test_a_receipt_reference_is_used_once(engine):
    make_loan(engine, 2)
    first, _ = _case(engine, [], loan_id=1)
    second, _ = _case(engine, [], loan_id=2, make=False)
    for case_id in (first, second):
        _submit(engine, case_id, kind="aggressive")
    _approve(engine, first, reference="UP-1")
    before = loan_row(engine, 2)
    with pytest.raises(LendcoreError) as raised:
        _approve(engine, second, reference="UP-1")
    assert raised.value.code == ErrorCode.DOWN_PAYMENT_REFERENCE_USED
    assert loan_row(engine, 2) == before
    assert _approve(engine, second, reference="UP-2")["status"] == "ACTIVE"


def test_the_submitted_case_keeps_the_script_of_the_chosen_plan(engine):
    case_id, case = _case(engine, [])
    document = _submit(engine, case_id, kind="conservative")
    assert document["plan"]["script"] == case["scripts"]["conservative"]
    assert document["plan"]["script"]["plan"] == "conservative"


def _set_misses_allowed(engine, case_id, allowed):
    from sqlalchemy import update

    from lendcore.hardship.tables import hardship_cases

    with UnitOfWork(engine) as uow:
        uow.connection.execute(
            update(hardship_cases)
            .where(hardship_cases.c.case_id == case_id)
            .values(misses_allowed=allowed)
        )
        uow.commit()


def test_a_policy_that_allows_no_miss_breaches_on_the_first(engine):
    make_loan(engine, 1)
    run_eod(engine, date(2026, 6, 20))  # 126 days past due: over consumer-instalment's 120
    day = date(2026, 6, 21)
    with UnitOfWork(engine) as uow:
        case = service.calculate_case(
            uow,
            {"loan_id": 1, "policy": "consumer-instalment", "monthly_net_income": "6000.00",
             "city": "北京", "proof_of_hardship": True},
            calculator(FixedClock.at_date(day)),
            now=NOW,
            actor="agent-1",
            seed=11,
        )  # fmt: skip
        uow.commit()
    assert case["status"] == "CALCULATED", case["reasons"]
    assert case["policy"]["misses_allowed"] == 0
    case_id = int(case["case_id"])
    _submit(engine, case_id, kind="conservative")
    plan = next(p for p in case["plans"] if p["kind"] == "conservative")
    reference = "UP-0" if parse_major(plan["down_payment"]) else None
    schedule = _approve(engine, case_id, reference=reference, day=day)["restructure"]["schedule"]
    run_eod(engine, date.fromisoformat(schedule[0]["due_date"]))
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["breach"]["missed"] == 1


def test_a_case_allowing_two_misses_breaches_on_the_third(engine):
    case_id, _ = _case(engine, [])
    _set_misses_allowed(engine, case_id, 2)
    _submit(engine, case_id)
    schedule = _approve(engine, case_id)["restructure"]["schedule"]
    dues = [date.fromisoformat(i["due_date"]) for i in schedule[:3]]
    assert run_eod(engine, dues[1]).hardship_plans["breached"] == 0  # two misses: allowed
    assert _hardship_flag(engine, 1) is True
    assert run_eod(engine, dues[2]).hardship_plans["breached"] == 1
    with engine.connect() as connection:
        assert service.get_case(connection, case_id)["breach"] == {
            "business_date": str(dues[2] + timedelta(days=1)), "missed": 3, "allowed": 2}  # fmt: skip


def _cli(monkeypatch, *args):
    from lendcore.cli.main import main

    monkeypatch.setattr("sys.argv", ["lendcore", *args])
    try:
        main()
    except SystemExit as exc:
        return exc.code
    return 0


def test_the_cli_approves_with_the_receipt_and_refuses_without(engine, db_url, monkeypatch, capsys):
    import json

    case_id, _ = _case(engine, [])
    _submit(engine, case_id, kind="aggressive")
    base = ["hardship", "approve", str(case_id), "--operator", "sup-1", "--database", db_url]
    assert _cli(monkeypatch, *base, "--date", "2026-06-01") == 2
    assert "DOWN_PAYMENT_REFERENCE_REQUIRED" in capsys.readouterr().err
    code = _cli(monkeypatch, *base, "--date", "2026-06-01", "--json",
                "--down-payment-reference", "UP-CLI-1")  # fmt: skip
    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "ACTIVE"
    assert shown["restructure"]["down_payment_reference"] == "UP-CLI-1"
