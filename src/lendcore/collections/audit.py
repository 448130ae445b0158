"""The audit chain in the database: append under a lock, read in order, verify.

:mod:`lendcore.privacy.chain` is the pure part (hashing, linking, verifying); this module stores
it. Appending locks the single ``audit_chain_head`` row (``FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers), so seq and prev_hash stay linear however many
processes write; an insert trigger moves the head row to the new last record. Services collect a use case's entries and append them once, at the end: the
head lock is then held only from that append to the commit, and every record of a use case
lands or none does.

Verification reads the table in seq order, page by page, and names the first record that is
edited, inserted, deleted or moved. The head row is checked as an anchor kept inside the
database (it catches a cut tail); anchors exported with ``lendcore audit head`` and passed back
catch someone who rewrote the table *and* the head row consistently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from lendcore.collections.tables import audit_chain, audit_chain_head
from lendcore.privacy.chain import (
    GENESIS_HEAD,
    ChainHead,
    ChainRecord,
    canonical_json,
    link,
    verify,
)

PAGE = 10_000  # records verified per read: bounded memory for any table size


@dataclass(frozen=True)
class AuditEntry:
    """A record to append; seq and hashes are assigned at append time."""

    at: datetime
    kind: str  # gate.check, contact.decrypt, contact.dial, alert.raised ...
    actor: str  # the agent, supervisor or "system" that caused it
    payload: Mapping[str, Any]


def audit_time(moment: datetime) -> str:
    """UTC, microseconds always: one spelling per instant, and text order is time order."""
    if moment.utcoffset() is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_HEAD = select(audit_chain_head.c.seq, audit_chain_head.c.hash).where(audit_chain_head.c.id == 1)
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_INSERT = insert(audit_chain)


def append(connection: Connection, entries: Sequence[AuditEntry]) -> list[int]:
    """Append ``entries`` in order under the head lock; their seqs. Commit is the caller's."""
    if not entries:
        return []
    query = _HEAD if connection.dialect.name == "sqlite" else _HEAD_FOR_UPDATE
    row = connection.execute(query).one()
    # link() reads only seq and hash from its predecessor.
    prev = ChainRecord(int(row.seq), "", "", "", {}, "", str(row.hash))
    rows: list[dict[str, Any]] = []
    for entry in entries:
        prev = link(
            prev if prev.seq else None,
            at=audit_time(entry.at),
            kind=entry.kind,
            actor=entry.actor,
            payload=entry.payload,
        )
        rows.append(
            {
                "seq": prev.seq,
                "at": prev.at,
                "kind": prev.kind,
                "actor": prev.actor,
                "payload": canonical_json(prev.payload).decode("utf-8"),
                "prev_hash": prev.prev_hash,
                "hash": prev.hash,
            }
        )
    # One row is a plain execute (a list would take the slower executemany path); a trigger
    # moves the head row (migration 0003).
    connection.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
    return [int(r["seq"]) for r in rows]


def read_head(connection: Connection) -> ChainHead:
    """The head row: the last appended record's (seq, hash) as the writer recorded it."""
    row = connection.execute(_HEAD).one()
    return ChainHead(int(row.seq), str(row.hash))


def _to_record(row: Any) -> ChainRecord:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {"unreadable": row.payload}  # hashes differently: verify reports EDITED
    if not isinstance(payload, dict):
        payload = {"not_an_object": payload}
    return ChainRecord(int(row.seq), row.at, row.kind, row.actor, payload, row.prev_hash, row.hash)


def iter_records(
    connection: Connection, *, after_seq: int = 0, page: int = PAGE
) -> Iterator[list[ChainRecord]]:
    """Pages of records in seq order (keyset pagination: no OFFSET scans)."""
    last = after_seq
    while True:
        rows = connection.execute(
            select(audit_chain)
            .where(audit_chain.c.seq > last)
            .order_by(audit_chain.c.seq)
            .limit(page)
        ).all()
        if not rows:
            return
        records = [_to_record(r) for r in rows]
        yield records
        last = records[-1].seq


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    records: int  # records read
    verified: ChainHead  # last position proven intact
    head_row: ChainHead
    first_bad_seq: int | None = None
    problem: str | None = None  # a ChainProblem, or INSERTED (records past the head row)
    detail: str = ""
    record: dict[str, Any] | None = field(default=None)  # the record named, when it exists

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "verified": {"seq": self.verified.seq, "hash": self.verified.hash},
            "head_row": {"seq": self.head_row.seq, "hash": self.head_row.hash},
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "detail": self.detail,
            "record": self.record,
        }


def verify_table(
    connection: Connection, anchors: Iterable[ChainHead] = (), *, page: int = PAGE
) -> AuditVerification:
    """Verify the whole table against the chain, the head row and any exported anchors."""
    head_row = read_head(connection)
    wanted = {a.seq: a for a in anchors}
    wanted_seqs = set(wanted) | {head_row.seq}
    seen: dict[int, str] = {0: GENESIS_HEAD.hash}
    trusted = GENESIS_HEAD
    count = 0
    for records in iter_records(connection, page=page):
        count += len(records)
        result = verify(records, after=trusted)
        if not result.ok:
            return _broken(
                connection,
                count,
                result.verified,
                head_row,
                result.first_bad_seq,
                str(result.problem),
                result.detail,
            )
        for record in records:
            if record.seq in wanted_seqs:
                seen[record.seq] = record.hash
        trusted = result.verified
    end = trusted
    checks = sorted({*wanted.values(), head_row})
    for anchor in checks:
        label = "head row" if anchor == head_row and anchor.seq not in wanted else "anchor"
        if anchor.seq > end.seq:
            detail = f"{label} at seq {anchor.seq}, chain ends at {end.seq}: records deleted"
            return _broken(connection, count, end, head_row, end.seq + 1, "TRUNCATED", detail)
        if seen.get(anchor.seq) != anchor.hash:
            detail = f"{label} at seq {anchor.seq} does not match: rewritten"
            return _broken(connection, count, end, head_row, anchor.seq, "ANCHOR_MISMATCH", detail)
    if end.seq > head_row.seq:
        detail = f"records after the head row (seq {head_row.seq}) were not appended by lendcore"
        return _broken(connection, count, end, head_row, head_row.seq + 1, "INSERTED", detail)
    return AuditVerification(True, count, end, head_row)


def _broken(
    connection: Connection,
    count: int,
    verified: ChainHead,
    head_row: ChainHead,
    seq: int | None,
    problem: str,
    detail: str,
) -> AuditVerification:
    named = None
    if seq is not None:
        row = connection.execute(select(audit_chain).where(audit_chain.c.seq == seq)).first()
        if row is not None:
            named = {"seq": int(row.seq), "at": row.at, "kind": row.kind, "actor": row.actor}
    return AuditVerification(False, count, verified, head_row, seq, problem, detail, named)


def records_between(
    connection: Connection, start: datetime, end: datetime, kinds: Sequence[str] | None = None
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, actor, payload) of records with start <= at < end, in seq order."""
    query = (
        select(audit_chain.c.kind, audit_chain.c.actor, audit_chain.c.payload)
        .where(audit_chain.c.at >= audit_time(start), audit_chain.c.at < audit_time(end))
        .order_by(audit_chain.c.seq)
    )
    if kinds:
        query = query.where(audit_chain.c.kind.in_(list(kinds)))
    for row in connection.execute(query):
        yield row.kind, row.actor, json.loads(row.payload)
