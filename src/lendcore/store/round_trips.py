"""Fewer round trips to PostgreSQL: statements sent together in psycopg's pipeline mode.

A round trip to a PostgreSQL server on the same machine costs more than most statements on a hot
path cost to run: the client waits while the server process is woken, and is woken in turn. On
the 2-core build machine (a VM) a bare ``SELECT 1`` takes ~220 µs when the two processes sit on
different cores, ~85 µs on the same one; a decision's statements themselves run in 30-300 µs.
psycopg's pipeline mode sends several statements without waiting for each answer; the server
runs them in order, each with its own snapshot as if sent one by one, and answers them together.

:func:`send_together` sends a few statements in one round trip — reads, statements whose rows
nobody reads (advisory locks), writes — and returns each one's rows as mappings. A transaction's
``BEGIN`` goes with them when they are its first statements. A decision makes five round trips
where it made nine: ``BEGIN`` with the Idempotency-Key look-up; the identifier locks, the counts
and the credit line; the index rows and the decision record; the stored key; ``COMMIT``. The
pipeline is opened and closed inside the call: on an error every answer has been read and the
connection has left pipeline mode, so the error is raised as ``connection.execute`` would raise
it and the pooled connection works as before (the transaction is aborted, as after any failed
statement).

Writes are not queued until the ``COMMIT``, though that would save another round trip: a
pipeline left open across a unit of work, with psycopg 3.3, left connections in pipeline mode
after a failed write (every later ``SELECT`` answered with no rows) and raised
``PipelineAborted`` instead of the write's own error, in more than half of 300 tries
(2026-12-06). Keeping the pipeline's life inside one function avoids all of it.

On SQLite (or any other dialect) the statements simply run one after another: an embedded
database has no round trip to save. The statements are SQLAlchemy constructs (module-level
constants), compiled once for the dialect and the parameter names; the parameters are converted
by SQLAlchemy's own converters (a JSON column's value is serialised) and go to psycopg.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

# a statement and its parameters (a list of them: an executemany, on SQLite only)
Statement = tuple[Executable, Mapping[str, Any] | list[Mapping[str, Any]]]
Rows = list[dict[str, Any]]

# (statement, its parameter names) -> its SQL for the PostgreSQL dialect and the converters of
# the parameters a SQLAlchemy type converts (JSON); the statements are module-level constants
_COMPILED: dict[tuple[int, tuple[str, ...]], tuple[Executable, str, dict[str, Any]]] = {}


def is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _compiled(
    connection: Connection, statement: Executable, names: tuple[str, ...]
) -> tuple[str, dict[str, Any]]:
    key = (id(statement), names)
    cached = _COMPILED.get(key)
    if cached is not None and cached[0] is statement:
        return cached[1], cached[2]
    # column_keys: an INSERT of the columns given, as connection.execute would compile it
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(names))  # type: ignore[attr-defined]
    processors = dict(compiled._bind_processors)  # SQLAlchemy's own converters (JSON)
    _COMPILED[key] = (statement, compiled.string, processors)
    return compiled.string, processors


def _driver_params(processors: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    if not processors:
        return dict(params)
    return {k: processors[k](v) if k in processors else v for k, v in params.items()}


def send_together(connection: Connection, statements: Sequence[Statement]) -> list[Rows]:
    """Run ``statements`` in order on ``connection`` (inside its transaction, if any) and return
    the rows of each as dicts (an empty list for a statement that returns none: a write, a
    lock). On PostgreSQL they are sent in one pipeline: one round trip. Parameters are converted
    as ``connection.execute`` converts them (a JSON column's value is serialised). An error is
    raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError` subclass, as
    ``connection.execute`` would raise it, and nothing after the failing statement has run.
    Elsewhere the statements run one by one; a list of parameter sets is an executemany."""
    if not is_postgres(connection):
        results: list[Rows] = []
        for statement, params in statements:
            if isinstance(params, list):
                result = connection.execute(statement, [dict(p) for p in params])
            else:
                result = connection.execute(statement, dict(params))
            results.append([dict(row._mapping) for row in result] if result.returns_rows else [])
        return results
    import psycopg
    from psycopg.rows import dict_row

    if not connection.in_transaction():
        connection.begin()  # as connection.execute would (autobegin): the caller ends it
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    prepared = []
    for statement, params in statements:
        if isinstance(params, list):
            raise TypeError("send_together on PostgreSQL takes one parameter set a statement")
        sql, processors = _compiled(connection, statement, tuple(params))
        prepared.append((sql, _driver_params(processors, params)))
    cursors = [driver.cursor(row_factory=dict_row) for _ in statements]
    sql, params = "", {}
    try:
        with driver.pipeline():
            for cursor, (sql, params) in zip(cursors, prepared, strict=True):
                cursor.execute(sql, params)  # queued, not sent
        # leaving the pipeline sent everything and read every answer
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
    finally:
        for cursor in cursors:
            cursor.close()


def array_literal(values: Iterable[object]) -> str:
    """``values`` as a PostgreSQL array literal (``{"a","b",NULL}``), for a parameter the
    statement casts (``CAST(:kinds AS varchar[])``). psycopg adapts a Python list by looking at
    its elements to choose a type, in Python, on every execution: ~30 µs of client CPU for a
    statement with three short arrays on the build machine, where a string goes as it is (the
    same statement with literals: 28 against 55-62 µs). Every element is quoted and escaped
    (``"`` and ``\\``), so any text is safe; ``None`` is ``NULL``; other values go as ``str()``
    (ints, ISO datetimes)."""
    return "{" + ",".join(_element(v) for v in values) + "}"


def _element(value: object) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
