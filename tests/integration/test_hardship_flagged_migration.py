"""Migration 0011 on both databases: the status check allows FLAGGED (and still refuses what it
did), and the flagged cases stored before it — INELIGIBLE with the STATEMENT_FLAGGED reason and
no operator — become FLAGGED; its downgrade turns them back."""

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from lendcore.hardship.tables import hardship_cases
from lendcore.store.db import WRITE_OPTION
from lendcore.store.migrate import alembic_config, upgrade

NOW = datetime(2026, 6, 1, 2, tzinfo=UTC)
FLAG_REASON = {"code": "STATEMENT_FLAGGED", "signals": ["BALANCE_MISMATCH"]}
OTHER_REASON = {"code": "DPD_BELOW_THRESHOLD"}


def _to(engine, revision):
    """Migrate ``engine``'s database up or down to ``revision``."""
    if revision == "head":
        upgrade(engine)
        return
    config = alembic_config(engine)
    connection = engine.connect().execution_options(**{WRITE_OPTION: True})
    with connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _insert(engine, case_id, status, reasons, operator=None):
    with engine.begin() as connection:
        connection.execute(
            insert(hardship_cases).values(
                case_id=case_id,
                loan_id=7,
                status=status,
                policy_id="default",
                policy_version="1",
                request={"policy": "default"},
                result={"eligible": False, "reasons": reasons, "plans": []},
                operator=operator,
                decision_note=None if operator is None else "bank confirmed the export",
                created_at=NOW,
                updated_at=NOW,
            )
        )


def _statuses(engine):
    with engine.connect() as connection:
        rows = connection.execute(select(hardship_cases.c.case_id, hardship_cases.c.status))
        return {int(row.case_id): row.status for row in rows}


@pytest.fixture
def at_0010(engine):
    """The database at revision 0010 with three INELIGIBLE cases: a flagged one (the stand-in
    of before 0011), one whose flag an operator cleared, and one not eligible for another
    reason."""
    _to(engine, "0010")
    _insert(engine, 1, "INELIGIBLE", [FLAG_REASON])
    _insert(engine, 2, "INELIGIBLE", [FLAG_REASON], operator="sup-1")
    _insert(engine, 3, "INELIGIBLE", [OTHER_REASON])
    return engine


def test_0011_stores_an_uncleared_flagged_case_as_flagged(at_0010):
    _to(at_0010, "head")
    assert _statuses(at_0010) == {1: "FLAGGED", 2: "INELIGIBLE", 3: "INELIGIBLE"}


def test_the_downgrade_of_0011_stores_a_flagged_case_as_ineligible_again(at_0010):
    _to(at_0010, "head")
    _insert(at_0010, 4, "FLAGGED", [FLAG_REASON])  # flagged after the upgrade
    _to(at_0010, "0010")
    assert set(_statuses(at_0010).values()) == {"INELIGIBLE"}


def test_before_0011_the_status_check_refuses_flagged(at_0010):
    with pytest.raises(IntegrityError):
        _insert(at_0010, 5, "FLAGGED", [FLAG_REASON])


def test_after_0011_the_status_check_allows_flagged_and_still_refuses_an_unknown_status(engine):
    _insert(engine, 5, "FLAGGED", [FLAG_REASON])
    with pytest.raises(IntegrityError):
        _insert(engine, 6, "UNKNOWN", [OTHER_REASON])
    _to(engine, "0010")  # and the downgraded check still refuses it (SQLite rebuilds the table)
    with pytest.raises(IntegrityError):
        _insert(engine, 6, "UNKNOWN", [OTHER_REASON])


@pytest.mark.parametrize("revision", ["head", "0010"])
def test_replacing_the_check_keeps_the_tables_indexes(engine, revision):
    _to(engine, "0010")
    _to(engine, revision)
    names = {i["name"] for i in inspect(engine).get_indexes("hardship_cases")}
    assert {"ix_hardship_cases_loan_id", "ix_hardship_cases_status"} <= names
