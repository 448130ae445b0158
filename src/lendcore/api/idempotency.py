"""Idempotency-Key for POSTs: the first response to a key is stored in the same transaction as
the work; a retry with the same key and the same body gets that response back; the same key with
a different body is refused (IDEMPOTENCY_KEY_REUSED) — it is a client bug, not a retry.

The stored key is looked up inside the unit of work, before the work, on the same connection (one
checkout, one transaction). Exactly once either way: on SQLite the unit of work holds the write
lock from its BEGIN IMMEDIATE, so a duplicate waits and then finds the key; on PostgreSQL two
concurrent duplicates may both miss it and both do the work, but the second's key insert waits
for the first to commit, fails on the primary key and rolls its work back, and it replays the
first's stored response. A decision looks its key up in the read snapshot it is prepared on and
records on the same connection: on SQLite, if nothing was committed since that snapshot
(``store.db.unchanged_since``), the key is still absent and the lookup is not repeated."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from lendcore.api.errors import error_body
from lendcore.api.tables import idempotency_keys
from lendcore.store.db import ReadMark, UnitOfWork, unchanged_since
from lendcore.store.round_trips import send_together

# Built once, executed with parameters (cached compiled statements).
_LOOKUP = select(idempotency_keys).where(
    idempotency_keys.c.scope == bindparam("scope"), idempotency_keys.c.key == bindparam("key")
)
_INSERT = insert(idempotency_keys)


def _hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def key_required() -> JSONResponse:
    return JSONResponse(
        error_body("IDEMPOTENCY_KEY_REQUIRED", "this request needs an Idempotency-Key header"), 400
    )


def replay_stored(
    connection: Connection, scope: str, key: str, request_body: Any
) -> JSONResponse | None:
    """The stored response to a key already used, read outside any unit of work, or None.

    For endpoints that do costly work before their unit of work (a decision is prepared on a read
    snapshot): a retry answers from here without redoing it. Only an early exit: a key that is not
    stored yet is looked up again inside the unit of work by ``run_idempotent``."""
    stored = _stored(connection, scope, key)
    return None if stored is None else _replay(stored, _hash(request_body))


def run_idempotent(
    engine: Any,
    scope: str,
    key: str | None,
    request_body: Any,
    work: Callable[[UnitOfWork], tuple[int, Any]],
    *,
    wait: bool = True,
    connection: Connection | None = None,
    absent_at: ReadMark | None = None,
) -> JSONResponse:
    """Run ``work`` (returning status and a JSON-able body) at most once per (scope, key).
    ``wait=False``: :class:`~lendcore.store.db.WriterBusy` if SQLite's writer lock is taken
    (raised before anything is read or written). ``connection``: the unit of work runs on it
    (see :class:`~lendcore.store.db.UnitOfWork`). ``absent_at``: the key was looked up on that
    connection and not found when this mark was taken (:func:`replay_stored` in the snapshot
    that prepared the work); if nothing has changed since, it is not looked up again."""
    if not key:
        return key_required()
    digest = _hash(request_body)
    try:
        with UnitOfWork(engine, wait=wait, connection=connection) as uow:
            absent = unchanged_since(uow.connection, absent_at)
            stored = None if absent else _stored(uow.connection, scope, key)
            if stored is None:
                status, body = work(uow)
                uow.connection.execute(
                    _INSERT,
                    {
                        "scope": scope,
                        "key": key,
                        "request_hash": digest,
                        "status_code": status,
                        "body": json.dumps(body, default=str),
                        "created_at": datetime.now(UTC),
                    },
                )
                uow.commit()
            # else: a retry; leaving without commit writes nothing
    except IntegrityError:  # a concurrent request with the same key won
        with engine.connect() as connection:
            stored = _stored(connection, scope, key)
        if stored is None:
            raise
    if stored is not None:
        return _replay(stored, digest)
    return JSONResponse(body, status)


def _stored(connection: Connection, scope: str, key: str) -> Any:
    # send_together: on PostgreSQL the transaction's BEGIN goes in the same round trip
    rows = send_together(connection, [(_LOOKUP, {"scope": scope, "key": key})])[0]
    return rows[0] if rows else None


def _replay(stored: Any, digest: str) -> JSONResponse:
    if stored["request_hash"] != digest:
        return JSONResponse(
            error_body(
                "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different body"
            ),
            422,
        )
    return JSONResponse(
        json.loads(stored["body"]), stored["status_code"], headers={"Idempotent-Replay": "true"}
    )
