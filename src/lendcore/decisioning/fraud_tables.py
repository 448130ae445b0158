"""The identifier index behind the fraud graph and the identifier blacklist: tables and queries.

Values are blind indexes (keyed hashes, :mod:`lendcore.privacy.crypto`), never plaintext: the
graph links applications that share a phone or a device without anyone being able to read the
phone. Both tables are looked up *by identifier*, across borrowers, so they are the exception to
borrower_id-first keys: on Citus they are distributed by ``identifier_hash`` (a global secondary
index co-located by value), and every look-up names the hash, so it hits one shard.
"""

from __future__ import annotations

import zlib
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
    TextClause,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects import sqlite

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
from lendcore.store.round_trips import Statement, array_literal, send_together

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


def _identifier_match(n: int) -> str:
    """``(kind, hash)`` equal to one of ``n`` bound pairs (``:kind_<i>``, ``:hash_<i>``)."""
    pairs = (f"(identifier_kind = :kind_{i} AND identifier_hash = :hash_{i})" for i in range(n))
    return "(" + " OR ".join(pairs) + ")"


def _identifier_params(identifiers: Sequence[Identifier]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, identifier in enumerate(identifiers):
        params[f"kind_{i}"] = identifier.kind
        params[f"hash_{i}"] = identifier.value_hash
    return params


# The look-ups are built once per number of identifiers, as text with bound parameters: composing a
# fresh expression per decision (and computing its cache key, which even a reused select() does
# on every execution) cost ~40 times the query itself on SQLite. The timestamps are bound with the
# column's type (naive UTC text on SQLite, as stored).
_COUNTS: dict[int, TextClause] = {}
_BLACKLIST: dict[int, TextClause] = {}


def _count_columns(alias: str = "") -> str:
    columns = []
    for window in WINDOW_LENGTHS:
        since = f"{alias}created_at >= :since_{window}"
        columns.append(
            f"count(DISTINCT CASE WHEN {since} THEN {alias}application_id END) "
            f"AS other_apps_{window}"
        )
        columns.append(
            f"count(DISTINCT CASE WHEN {since} AND {alias}applicant_key != :applicant_key "
            f"THEN {alias}applicant_key END) AS other_applicants_{window}"
        )
    return ", ".join(columns)


def _with_time_types(statement: TextClause) -> TextClause:
    created_at = identifier_index.c.created_at.type
    return statement.bindparams(
        *(bindparam(f"since_{window}", type_=created_at) for window in WINDOW_LENGTHS),
        bindparam("until", type_=created_at),
    )


def _counts_statement(n: int) -> TextClause:
    """SQLite: one grouped scan of the ``n`` identifiers' index entries (an OR of key pairs)."""
    statement = _COUNTS.get(n)
    if statement is not None:
        return statement
    statement = _with_time_types(
        text(
            f"SELECT identifier_kind, identifier_hash, {_count_columns()} "
            f"FROM {identifier_index.name} "
            f"WHERE {_identifier_match(n)} AND created_at >= :since_90d AND created_at <= :until "
            "AND application_id != :application_id "
            "GROUP BY identifier_kind, identifier_hash"
        )
    )
    return _COUNTS.setdefault(n, statement)


# PostgreSQL: the identifiers as two arrays, each counted in a LATERAL sub-query that can only be
# driven by the (kind, hash, created_at) index. psycopg prepares a statement it has run five times
# and PostgreSQL then plans it once for any parameters (a generic plan), from statistics that may
# date from when the index was small and with a range on created_at guessed to keep 0.5 % of the
# rows: for the OR form above that plan was a scan of
# ix_fraud_identifier_index_created_at over the whole 90-day window, filtering the identifiers
# out of it -- a count whose cost grew with every application indexed (0.66 ms at 2,500 rows,
# 4.6 ms at 15,000, measured in docs/performance.md), seconds at a lender's volume. Here each
# identifier's count reads its own index entries, whatever the plan. One statement text for any
# number of identifiers. Whether each identifier is blacklisted comes with it (a primary-key
# probe of the blacklist): the decision's facts in one round trip, not two.
_PG_COUNTS = _with_time_types(
    text(
        "SELECT q.identifier_kind, q.identifier_hash, c.*, "
        f"EXISTS (SELECT 1 FROM {identifier_blacklist.name} AS b "
        "WHERE b.identifier_kind = q.identifier_kind AND b.identifier_hash = q.identifier_hash) "
        "AS listed "
        "FROM unnest(CAST(:kinds AS varchar[]), CAST(:hashes AS varchar[])) "
        "AS q(identifier_kind, identifier_hash) "
        f"CROSS JOIN LATERAL (SELECT {_count_columns('i.')} FROM {identifier_index.name} AS i "
        "WHERE i.identifier_kind = q.identifier_kind AND i.identifier_hash = q.identifier_hash "
        "AND i.created_at >= :since_90d AND i.created_at <= :until "
        "AND i.application_id != :application_id) AS c"
    )
)


# PostgreSQL advisory locks of identifiers live in their own key space (two-int4 form).
_IDENTIFIER_LOCK_SPACE = zlib.crc32(b"lendcore.identifier") - 2**31
_LOCK_IDENTIFIERS = text(
    "SELECT pg_advisory_xact_lock(:space, k) FROM unnest(CAST(:keys AS integer[])) AS k"
)


def lock_statement(connection: Connection, identifiers: Sequence[Identifier]) -> Statement | None:
    """The locks to take before the counts are read in a transaction that will index this
    application: on PostgreSQL, a transaction-scoped advisory lock per identifier, in key order
    (two decisions never wait on each other in a cycle). Two concurrent applications sharing a
    phone or a device then decide one after the other, and the second counts the first: without
    it, each would read the index before the other commits and both would pass the sharing rules
    (the burst a ring uses). The counts must be a later statement (PostgreSQL takes a statement's
    snapshot when it starts, before its locks). SQLite needs none (None): its units of work hold
    the database's one writer lock. Keys are 32 bits: an unrelated identifier may share one and
    wait a moment, never more."""
    if connection.dialect.name != "postgresql" or not identifiers:
        return None
    keys = sorted({zlib.crc32(f"{i.kind}:{i.value_hash}".encode()) - 2**31 for i in identifiers})
    return _LOCK_IDENTIFIERS, {"space": _IDENTIFIER_LOCK_SPACE, "keys": array_literal(keys)}


@dataclass(frozen=True)
class IdentifierFacts:
    """What the database says of an application's identifiers: the window counts (as
    :func:`~lendcore.decisioning.fraud.identifier_counts`) and the first blacklisted one."""

    counts: dict[str, dict[str, Any]]
    blacklist_hit: Identifier | None


def identifier_facts_db(
    connection: Connection,
    identifiers: Sequence[Identifier],
    *,
    application_id: int,
    applicant_key: str,
    at: datetime,
    hub_degrees: Mapping[str, int] = HUB_DEGREES,
) -> IdentifierFacts:
    """:func:`~lendcore.decisioning.fraud.identifier_counts` in SQL, and the blacklist hit: one
    statement on PostgreSQL, the two look-ups (local calls) on SQLite."""
    statement = facts_statement(
        connection, identifiers, application_id=application_id, applicant_key=applicant_key, at=at
    )
    rows = send_together(connection, [statement])[0] if statement is not None else []
    return facts_of_rows(connection, identifiers, rows, hub_degrees)


def facts_statement(
    connection: Connection,
    identifiers: Sequence[Identifier],
    *,
    application_id: int,
    applicant_key: str,
    at: datetime,
) -> Statement | None:
    """The count statement of :func:`identifier_facts_db` (None without identifiers), to send
    with others (:func:`~lendcore.store.round_trips.send_together`); its rows go to
    :func:`facts_of_rows`. On PostgreSQL it also reads the blacklist."""
    if not identifiers:
        return None
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        params: dict[str, Any] = {
            "kinds": array_literal(i.kind for i in identifiers),
            "hashes": array_literal(i.value_hash for i in identifiers),
        }
    else:
        params = _identifier_params(identifiers)
    params.update(
        {f"since_{w}": _db_time(connection, at - n) for w, n in WINDOW_LENGTHS.items()},
        until=_db_time(connection, at),
        applicant_key=applicant_key,
        application_id=application_id,
    )
    return (_PG_COUNTS if postgres else _counts_statement(len(identifiers))), params


def facts_of_rows(
    connection: Connection,
    identifiers: Sequence[Identifier],
    rows: Sequence[Mapping[str, Any]],
    hub_degrees: Mapping[str, int] = HUB_DEGREES,
) -> IdentifierFacts:
    """The facts from :func:`facts_statement`'s rows; on SQLite the blacklist is looked up here
    (a local call: its count statement does not read it)."""
    found = {(r["identifier_kind"], r["identifier_hash"]): r for r in rows}
    if connection.dialect.name == "postgresql":
        hit = next(
            (i for i in identifiers if found.get((i.kind, i.value_hash), {}).get("listed")), None
        )
    else:
        hit = DatabaseBlacklist(connection).first_hit(identifiers)
    return IdentifierFacts(_counts_of(identifiers, found, hub_degrees), hit)


def _counts_of(
    identifiers: Sequence[Identifier],
    found: Mapping[tuple[str, str], Any],
    hub_degrees: Mapping[str, int],
) -> dict[str, dict[str, Any]]:
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


_SQLITE_RECORD = sqlite.insert(identifier_index).on_conflict_do_nothing()  # built once

# PostgreSQL: an application's rows as arrays, one INSERT ... SELECT FROM unnest (one statement
# executed once, where an executemany runs the insert once per row in a pipeline).
_PG_RECORD = text(
    f"INSERT INTO {identifier_index.name} (identifier_kind, identifier_hash, application_id, "
    "applicant_key, borrower_id, created_at) "
    "SELECT * FROM unnest(CAST(:kinds AS varchar[]), CAST(:hashes AS varchar[]), "
    "CAST(:application_ids AS bigint[]), CAST(:applicant_keys AS varchar[]), "
    "CAST(:borrower_ids AS bigint[]), CAST(:created_ats AS timestamptz[])) "
    "ON CONFLICT DO NOTHING"
)


def record_statement(
    connection: Connection, rows: Sequence[IndexRow], borrower_id: int | None = None
) -> Statement | None:
    """:func:`record_application_db`'s statement, to send with others
    (:func:`~lendcore.store.round_trips.send_together`); None without rows. PostgreSQL: one
    INSERT of arrays; SQLite: an executemany of the rows."""
    if not rows:
        return None
    if connection.dialect.name == "postgresql":
        return _PG_RECORD, {
            "kinds": array_literal(r.kind for r in rows),
            "hashes": array_literal(r.value_hash for r in rows),
            "application_ids": array_literal(r.application_id for r in rows),
            "applicant_keys": array_literal(r.applicant_key for r in rows),
            "borrower_ids": array_literal([borrower_id] * len(rows)),
            "created_ats": array_literal(as_utc(r.created_at).isoformat() for r in rows),
        }
    return _SQLITE_RECORD, [
        {
            "identifier_kind": r.kind,
            "identifier_hash": r.value_hash,
            "application_id": r.application_id,
            "applicant_key": r.applicant_key,
            "borrower_id": borrower_id,
            "created_at": _db_time(connection, r.created_at),
        }
        for r in rows
    ]


def record_application_db(
    connection: Connection, rows: Sequence[IndexRow], borrower_id: int | None = None
) -> None:
    """Add an application's identifiers to the index; a repeated call changes nothing."""
    statement = record_statement(connection, rows, borrower_id)
    if statement is not None:
        connection.execute(statement[0], statement[1])


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
        if not identifiers:
            return None
        n = len(identifiers)
        statement = _BLACKLIST.get(n)
        if statement is None:
            statement = _BLACKLIST.setdefault(
                n,
                text(
                    "SELECT identifier_kind, identifier_hash "
                    f"FROM {identifier_blacklist.name} WHERE {_identifier_match(n)}"
                ),
            )
        listed = {
            (r.identifier_kind, r.identifier_hash)
            for r in self.connection.execute(statement, _identifier_params(identifiers))
        }
        return next((i for i in identifiers if (i.kind, i.value_hash) in listed), None)
