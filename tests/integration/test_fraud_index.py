"""The fraud identifier index on the migrated schema of both databases: the SQL counts agree
with the in-memory reference, repeats change nothing, the 90-day window holds."""

from datetime import UTC, datetime, timedelta

from lendcore.decisioning.fraud import (
    Identifier,
    IndexRow,
    identifier_counts,
    sha256_hasher,
)
from lendcore.decisioning.fraud_tables import identifier_counts_db, record_application_db
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
        counted = identifier_counts_db(connection, wanted, **args)
    assert counted == identifier_counts(rows, wanted, **args)
    assert counted["device_id"]["other_apps_7d"] == 2
