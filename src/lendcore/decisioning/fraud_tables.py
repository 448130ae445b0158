"""The identifier index behind the fraud graph and the identifier blacklist: tables and queries.

Values are blind indexes (keyed hashes, :mod:`lendcore.privacy.crypto`), never plaintext: the
graph links applications that share a phone or a device without anyone being able to read the
phone. Both tables are looked up *by identifier*, across borrowers, so they are the exception to
borrower_id-first keys: on Citus they are distributed by ``identifier_hash`` (a global secondary
index co-located by value), and every look-up names the hash, so it hits one shard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Index,
    String,
    Table,
    and_,
    case,
    distinct,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from lendcore.decisioning.fraud import (
    HUB_DEGREES,
    WINDOW_LENGTHS,
    Identifier,
    IndexRow,
    as_utc,
    merge_counts,
    with_hub_flag,
)
from lendcore.decisioning.rules import WINDOWS
from lendcore.store.metadata import metadata

_KINDS = "identifier_kind IN ('id_number', 'phone', 'device_id', 'ip', 'bank_card')"

# One row per (identifier, application): the bipartite application–identifier graph's edges.
identifier_index = Table(
    "fraud_identifier_index",
    metadata,
    Column("identifier_kind", String(16), primary_key=True),
    Column("identifier_hash", String(64), primary_key=True),
    Column("application_id", BigInteger, primary_key=True, autoincrement=False),
    # The person behind the application: the blind index of the ID number, so two accounts of
    # one person count as one applicant.
    Column("applicant_key", String(64), nullable=False),
    Column("borrower_id", BigInteger),  # the applying account, when there is one
    Column("created_at", DateTime(timezone=True), nullable=False),  # UTC
    CheckConstraint(_KINDS, name="identifier_kind"),
    # Decision-time window counts: equality on (kind, hash), range on created_at.
    Index(
        "ix_fraud_identifier_index_kind_hash_created_at",
        "identifier_kind",
        "identifier_hash",
        "created_at",
    ),
    # The ring batch reads a time window of the whole index.
    Index("ix_fraud_identifier_index_created_at", "created_at"),
    Index("ix_fraud_identifier_index_application_id", "application_id"),
)

identifier_blacklist = Table(
    "fraud_identifier_blacklist",
    metadata,
    Column("identifier_kind", String(16), primary_key=True),
    Column("identifier_hash", String(64), primary_key=True),
    Column("reason", String(200), nullable=False),
    Column("source", String(40), nullable=False),  # internal, court list, partner ...
    Column("created_at", DateTime(timezone=True), nullable=False),  # UTC
    CheckConstraint(_KINDS, name="identifier_kind"),
)


def _db_time(connection: Connection, moment: datetime) -> datetime:
    # SQLite keeps no offset: every stored timestamp is naive UTC. PostgreSQL gets an aware UTC.
    utc = as_utc(moment)
    return utc.replace(tzinfo=None) if connection.dialect.name == "sqlite" else utc


def identifier_counts_db(
    connection: Connection,
    identifiers: Sequence[Identifier],
    *,
    application_id: int,
    applicant_key: str,
    at: datetime,
    hub_degrees: Mapping[str, int] = HUB_DEGREES,
) -> dict[str, dict[str, Any]]:
    """:func:`identifier_counts` as one grouped SQL query on the identifier index."""
    t = identifier_index
    until = _db_time(connection, at)
    columns = []
    for window, length in WINDOW_LENGTHS.items():
        since = _db_time(connection, at - length)
        columns.append(
            func.count(distinct(case((t.c.created_at >= since, t.c.application_id)))).label(
                f"other_apps_{window}"
            )
        )
        other_person = and_(t.c.created_at >= since, t.c.applicant_key != applicant_key)
        columns.append(
            func.count(distinct(case((other_person, t.c.applicant_key)))).label(
                f"other_applicants_{window}"
            )
        )
    statement = (
        select(t.c.identifier_kind, t.c.identifier_hash, *columns)
        .where(
            or_(
                *(
                    and_(t.c.identifier_kind == i.kind, t.c.identifier_hash == i.value_hash)
                    for i in identifiers
                )
            ),
            t.c.created_at >= _db_time(connection, at - WINDOW_LENGTHS["90d"]),
            t.c.created_at <= until,
            t.c.application_id != application_id,
        )
        .group_by(t.c.identifier_kind, t.c.identifier_hash)
    )
    found = {
        (r.identifier_kind, r.identifier_hash): r._mapping for r in connection.execute(statement)
    }
    result: dict[str, dict[str, Any]] = {}
    for identifier in sorted(identifiers, key=lambda i: (i.kind, i.value_hash)):
        row = found.get((identifier.kind, identifier.value_hash))
        counts: dict[str, Any] = {
            name: int(row[name]) if row is not None else 0
            for window in WINDOWS
            for name in (f"other_apps_{window}", f"other_applicants_{window}")
        }
        merge_counts(result, identifier.kind, with_hub_flag(identifier.kind, counts, hub_degrees))
    return result


def _insert(connection: Connection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def record_application_db(
    connection: Connection, rows: Sequence[IndexRow], borrower_id: int | None = None
) -> None:
    """Add an application's identifiers to the index; a repeated call changes nothing."""
    if not rows:
        return
    statement = _insert(connection, identifier_index).on_conflict_do_nothing()
    connection.execute(
        statement,
        [
            {
                "identifier_kind": r.kind,
                "identifier_hash": r.value_hash,
                "application_id": r.application_id,
                "applicant_key": r.applicant_key,
                "borrower_id": borrower_id,
                "created_at": _db_time(connection, r.created_at),
            }
            for r in rows
        ],
    )


def load_index_rows(connection: Connection, since: datetime, until: datetime) -> list[IndexRow]:
    t = identifier_index
    statement = select(t).where(
        t.c.created_at >= _db_time(connection, since), t.c.created_at <= _db_time(connection, until)
    )
    return [
        IndexRow(
            r.application_id,
            r.applicant_key,
            r.identifier_kind,
            r.identifier_hash,
            r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
        )
        for r in connection.execute(statement)
    ]


@dataclass(frozen=True)
class DatabaseBlacklist:
    connection: Connection

    def first_hit(self, identifiers: Sequence[Identifier]) -> Identifier | None:
        t = identifier_blacklist
        statement = select(t.c.identifier_kind, t.c.identifier_hash).where(
            or_(
                *(
                    and_(t.c.identifier_kind == i.kind, t.c.identifier_hash == i.value_hash)
                    for i in identifiers
                )
            )
        )
        listed = {
            (r.identifier_kind, r.identifier_hash) for r in self.connection.execute(statement)
        }
        return next((i for i in identifiers if (i.kind, i.value_hash) in listed), None)
