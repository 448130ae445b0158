"""Engines and the unit of work.

The embedded default is SQLite under ./var/ (``LENDCORE_DATABASE_URL`` overrides), so lendcore
runs on a fresh machine with nothing installed; PostgreSQL (psycopg 3) is the production database.

SQLite is set up for a batch system: WAL (readers never block the writer), foreign keys on,
a long busy timeout (two end-of-day workers take turns at the write lock instead of failing), and
every unit of work opened with BEGIN IMMEDIATE so a read-then-write transaction can never deadlock
on a lock upgrade. Plain reads (``engine.connect()``: reports, API GETs) use a deferred BEGIN and
read a WAL snapshot without ever queueing for the write lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

DEFAULT_URL = "sqlite:///var/lendcore.db"
WRITE_OPTION = "lendcore_writes"  # execution option: this connection's transactions write


def database_url() -> str:
    return os.environ.get("LENDCORE_DATABASE_URL", DEFAULT_URL)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 120}, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "busy_timeout=120000",
            "synchronous=NORMAL",
            "cache_size=-200000",
            "temp_store=MEMORY",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def is_sqlite(connection: Connection | Engine) -> bool:
    return connection.dialect.name == "sqlite"


class UnitOfWork:
    """One use case, one transaction: ``with UnitOfWork(engine) as uow: ... uow.commit()``.
    Leaving the block without commit rolls back, so a failed use case changes nothing."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._connection: Connection | None = None
        self._committed = False

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("unit of work is not open")
        return self._connection

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def __enter__(self) -> UnitOfWork:
        self._connection = self.engine.connect().execution_options(**{WRITE_OPTION: True})
        self._connection.begin()
        return self

    def commit(self) -> None:
        self.connection.commit()
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        connection = self.connection
        try:
            if not self._committed:
                connection.rollback()
        finally:
            connection.close()
            self._connection = None


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[UnitOfWork]:
    with UnitOfWork(engine) as uow:
        yield uow
