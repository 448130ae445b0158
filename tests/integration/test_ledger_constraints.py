"""The database itself refuses an unbalanced, amended or rewritten journal."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lendcore.store.db import UnitOfWork

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def _insert_entry(uow, seq, lines):
    for number, (account, debit, credit) in enumerate(lines, start=1):
        uow.connection.execute(
            text(
                "INSERT INTO journal_lines (borrower_id, loan_id, seq, line_no, account, debit, "
                "credit) VALUES (1, 1, :seq, :n, :a, :d, :c)"
            ),
            {"seq": seq, "n": number, "a": account, "d": debit, "c": credit},
        )
    uow.connection.execute(
        text(
            "INSERT INTO journal_entries (borrower_id, loan_id, seq, kind, business_date, "
            "created_at) VALUES (1, 1, :seq, 'TEST', :d, :now)"
        ),
        {"seq": seq, "d": date(2026, 1, 15).isoformat(), "now": NOW},
    )


def test_a_balanced_entry_is_accepted(engine):
    with UnitOfWork(engine) as uow:
        _insert_entry(uow, 1, [("1121", 500, 0), ("1001", 0, 500)])
        uow.commit()
    with engine.connect() as connection:  # committed: the header and both lines are there
        assert connection.execute(text("SELECT count(*) FROM journal_entries")).scalar() == 1
        lines = connection.execute(
            text("SELECT account, debit, credit FROM journal_lines ORDER BY line_no")
        ).all()
    assert [tuple(line) for line in lines] == [("1121", 500, 0), ("1001", 0, 500)]


def test_an_unbalanced_entry_is_refused_by_the_database(engine):
    with pytest.raises(DBAPIError, match="UNBALANCED_ENTRY"), UnitOfWork(engine) as uow:
        _insert_entry(uow, 1, [("1121", 500, 0), ("1001", 0, 499)])
        uow.commit()  # PostgreSQL checks at commit (deferred); SQLite at the header
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM journal_lines")).scalar() == 0


def test_a_one_line_entry_is_refused(engine):
    with pytest.raises(DBAPIError, match="UNBALANCED_ENTRY"), UnitOfWork(engine) as uow:
        _insert_entry(uow, 1, [("1121", 500, 0)])
        uow.commit()


def test_journal_lines_cannot_be_updated_or_deleted(engine):
    with UnitOfWork(engine) as uow:
        _insert_entry(uow, 1, [("1121", 500, 0), ("1001", 0, 500)])
        uow.commit()
    for statement in (
        "UPDATE journal_lines SET debit = 600 WHERE line_no = 1",
        "DELETE FROM journal_lines",
        "DELETE FROM journal_entries",
    ):
        with pytest.raises(DBAPIError, match="JOURNAL_APPEND_ONLY"), UnitOfWork(engine) as uow:
            uow.connection.execute(text(statement))
            uow.commit()


def test_a_posted_entry_cannot_be_amended_with_another_line(engine):
    with UnitOfWork(engine) as uow:
        _insert_entry(uow, 1, [("1121", 500, 0), ("1001", 0, 500)])
        uow.commit()
    with (
        pytest.raises(DBAPIError, match=r"ENTRY_SEALED|UNBALANCED_ENTRY"),
        UnitOfWork(engine) as uow,
    ):
        uow.connection.execute(
            text(
                "INSERT INTO journal_lines (borrower_id, loan_id, seq, line_no, account, debit, "
                "credit) VALUES (1, 1, 1, 3, '6011', 0, 100)"
            )
        )
        uow.commit()


def test_a_line_must_be_one_sided(engine):
    with pytest.raises(DBAPIError), UnitOfWork(engine) as uow:
        _insert_entry(uow, 1, [("1121", 500, 500), ("1001", 0, 0)])
        uow.commit()
