"""The fraud identifier index on the migrated schema of both databases: the SQL counts agree
with the in-memory reference, repeats change nothing, the 90-day window holds."""

from datetime import UTC, datetime, timedelta

import pytest

from lendcore.decisioning.fraud import (
    Identifier,
    IndexRow,
    identifier_counts,
    sha256_hasher,
)
from lendcore.decisioning.fraud_tables import identifier_facts_db, record_application_db
from lendcore.store.db import UnitOfWork

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HASH = sha256_hasher()


def _row(app, person, kind, value, ago):
    return IndexRow(app, person, kind, HASH(kind, value), NOW - ago)


def test_identifier_counts_in_sql_match_the_reference_on_both_databases(engine):
    rows = [
        _row(1, "p1", "device_id", "dev-farm", timedelta(hours=1)),
        _row(2, "p2", "device_id", "dev-farm", timedelta(days=3)),
        _row(3, "p2", "phone", "13800000000", timedelta(days=60)),
        _row(4, "me", "device_id", "dev-farm", timedelta(days=20)),
        _row(5, "p3", "device_id", "dev-farm", timedelta(days=91)),  # outside 90 days
    ]
    with UnitOfWork(engine) as uow:
        for r in rows:
            record_application_db(uow.connection, [r])
        record_application_db(uow.connection, rows[:1])  # a repeat changes nothing
        uow.commit()
    wanted = [
        Identifier("device_id", HASH("device_id", "dev-farm")),
        Identifier("phone", HASH("phone", "13800000000")),
        Identifier("ip", HASH("ip", "10.9.9.9")),
    ]
    args = {"application_id": 99, "applicant_key": "me", "at": NOW}
    with engine.connect() as connection:
        counted = identifier_facts_db(connection, wanted, **args).counts
    assert counted == identifier_counts(rows, wanted, **args)
    assert counted["device_id"]["other_apps_7d"] == 2


def _rows_read(connection) -> int:
    """Rows of the identifier index this transaction has read so far (PostgreSQL's own
    counters: sequential and index fetches)."""
    return connection.exec_driver_sql(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relid = 'fraud_identifier_index'::regclass"
    ).scalar_one()


def test_a_prepared_count_reads_only_its_identifiers_rows_however_full_the_window(engine):
    """psycopg prepares a statement it runs often, and PostgreSQL then plans it once for all
    parameters (a generic plan), from statistics that may date from when the index was small.
    The counts must still read the application's own identifiers' entries, not the whole 90-day
    window: 3,000 unrelated recent entries are not read (an OR of key pairs was planned as a scan
    of the created_at index and read all 9,009 in three counts)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared generic plans are PostgreSQL's")
    crowd = [
        _row(1000 + n, f"c{n}", "device_id", f"dev-{n}", timedelta(minutes=n)) for n in range(3000)
    ]
    shared = [_row(n, f"p{n}", "phone", "13800000000", timedelta(days=n)) for n in (1, 2, 3)]
    with UnitOfWork(engine) as uow:
        record_application_db(uow.connection, shared)
        uow.commit()
    with engine.connect() as connection:  # statistics from when the index was small
        connection.exec_driver_sql("ANALYZE fraud_identifier_index")
        connection.commit()
    with UnitOfWork(engine) as uow:
        record_application_db(uow.connection, crowd)
        uow.commit()
    wanted = [
        Identifier("phone", HASH("phone", "13800000000")),
        Identifier("device_id", HASH("device_id", "dev-mine")),
        Identifier("ip", HASH("ip", "10.9.9.9")),
    ]
    args = {"application_id": 99, "applicant_key": "me", "at": NOW}
    with engine.connect() as connection:
        connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        connection.connection.driver_connection.prepare_threshold = 0  # prepared at once
        before = _rows_read(connection)
        for _ in range(3):
            counted = identifier_facts_db(connection, wanted, **args).counts
        read = _rows_read(connection) - before
    assert counted["phone"]["other_apps_7d"] == 3
    assert counted["device_id"]["other_apps_90d"] == 0
    assert read <= 3 * len(shared), f"{read} index rows read for 3 counts"
