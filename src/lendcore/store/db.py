"""Engines and the unit of work.

The embedded default is SQLite under ./var/ (``LENDCORE_DATABASE_URL`` overrides), so lendcore
runs on a fresh machine with nothing installed; PostgreSQL (psycopg 3) is the production database.

SQLite is set up for a batch system: WAL (readers never block the writer), foreign keys on,
a long busy timeout (two end-of-day workers take turns at the write lock instead of failing), and
every unit of work opened with BEGIN IMMEDIATE so a read-then-write transaction can never deadlock
on a lock upgrade. Plain reads (``engine.connect()``: reports, API GETs) use a deferred BEGIN and
read a WAL snapshot without ever queueing for the write lock.

Within one process, SQLite units of work also queue on a per-engine ``threading.RLock`` taken
before BEGIN IMMEDIATE and released when the unit of work ends: the API's worker threads then hand
the write lock over in order instead of polling SQLite's busy handler, which sleeps 1, 2, 5, 10 ...
100 ms between attempts even when the lock is already free (at 100 decisions/s that backoff alone
took the p99 from tens of milliseconds to seconds). It is reentrant, so a unit of work opened
inside another on the same thread behaves as before.

Across processes (``lendcore api --workers N``, end-of-day workers) the outermost acquisition also
takes an exclusive ``flock`` on ``<database>-writer.lock`` beside the database file: a process
waiting for another process's unit of work blocks in the kernel and wakes as soon as the lock is
released, instead of sleeping in SQLite's busy handler. Connections opened outside a unit of work
still fall back on the busy timeout. PostgreSQL takes no lock here.

The write-ahead log is checkpointed by a background thread after commits, outside the writer lock
(``store.checkpoint``), not inside the commit that fills it: that commit used to hold every queued
writer for the 10 ms a checkpoint takes.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from lendcore.store.checkpoint import AUTOCHECKPOINT_PAGES, JOURNAL_SIZE_LIMIT, WalCheckpointer

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
            f"wal_autocheckpoint={AUTOCHECKPOINT_PAGES}",
            f"journal_size_limit={JOURNAL_SIZE_LIMIT}",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


class WriterBusy(Exception):
    """``UnitOfWork(engine, wait=False)`` found SQLite's writer lock taken: nothing was begun.
    For a caller that must not block where it runs (an event loop) and waits elsewhere instead."""


class SqliteWriteLock:
    """One engine's writer lock: a reentrant thread lock, plus (for a database file) an
    exclusive ``flock`` held while any thread of this process is inside a unit of work."""

    def __init__(self, database: str | None) -> None:
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._path = f"{database}-writer.lock" if database else None
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: a forked child must open its own
        self.checkpointer = (
            WalCheckpointer(database, self._path) if database and self._path else None
        )

    def acquire(self, wait: bool = True) -> None:
        """Take the lock; ``wait=False``: raise :class:`WriterBusy` at once if another thread of
        this process or another process holds it."""
        if not self._thread_lock.acquire(blocking=wait):
            raise WriterBusy(self._path or "in-memory database")
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None or self._pid != os.getpid():
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    self._pid = os.getpid()
                if wait:
                    fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
                else:
                    try:
                        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise WriterBusy(self._path) from None
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, SqliteWriteLock] = weakref.WeakKeyDictionary()
_WRITE_LOCKS_GUARD = threading.Lock()


def _database_file(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database)


def sqlite_write_lock(engine: Engine) -> SqliteWriteLock:
    """The lock this SQLite engine's units of work queue on (one per engine)."""
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        with _WRITE_LOCKS_GUARD:
            lock = _WRITE_LOCKS.get(engine)
            if lock is None:
                lock = _WRITE_LOCKS[engine] = SqliteWriteLock(_database_file(engine))
    return lock


def is_sqlite(connection: Connection | Engine) -> bool:
    return connection.dialect.name == "sqlite"


@dataclass(frozen=True)
class ReadMark:
    """Where one SQLite connection's reads stood (:func:`read_mark`)."""

    dbapi_connection: Any
    data_version: int  # PRAGMA data_version: moves when another connection commits
    total_changes: int  # rows this connection itself has changed since it opened


def _sqlite3_connection(connection: Connection) -> Any:
    return connection.connection.driver_connection  # the sqlite3.Connection


def read_mark(connection: Connection) -> ReadMark | None:
    """A mark of what ``connection`` reads now (inside a read transaction: of its snapshot), to
    tell later whether anything has changed since (:func:`unchanged_since`). None on other
    databases than SQLite, where nothing this cheap exists: callers read again."""
    if not is_sqlite(connection):
        return None
    dbapi = _sqlite3_connection(connection)
    (version,) = dbapi.execute("PRAGMA data_version").fetchone()
    return ReadMark(dbapi, version, dbapi.total_changes)


def unchanged_since(connection: Connection, mark: ReadMark | None) -> bool:
    """Whether ``connection`` reads exactly what it read when ``mark`` was taken: the same SQLite
    connection, no commit by any other connection (SQLite's ``data_version``) and no change of
    its own (``total_changes``) in between. False whenever that cannot be told. A mark taken in
    a read transaction and checked after ``BEGIN IMMEDIATE`` proves that the write transaction
    would read what the snapshot read."""
    if mark is None or not is_sqlite(connection):
        return False
    dbapi = _sqlite3_connection(connection)
    if dbapi is not mark.dbapi_connection or dbapi.total_changes != mark.total_changes:
        return False
    (version,) = dbapi.execute("PRAGMA data_version").fetchone()
    return bool(version == mark.data_version)


class UnitOfWork:
    """One use case, one transaction: ``with UnitOfWork(engine) as uow: ... uow.commit()``.
    Leaving the block without commit rolls back, so a failed use case changes nothing.

    On SQLite, entering takes the writer lock (:class:`SqliteWriteLock`) and waits for it;
    ``wait=False`` raises :class:`WriterBusy` instead when it is taken. ``connection``: run on
    this open connection of ``engine`` (not in a transaction), which the caller keeps and closes;
    by default the unit of work checks out its own."""

    def __init__(self, engine: Engine, *, wait: bool = True, connection: Connection | None = None):
        self.engine = engine
        self._wait = wait
        self._borrowed = connection
        self._connection: Connection | None = None
        self._committed = False
        self._lock: SqliteWriteLock | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("unit of work is not open")
        return self._connection

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def __enter__(self) -> UnitOfWork:
        lock = sqlite_write_lock(self.engine) if self.sqlite else None
        if lock is not None:
            lock.acquire(wait=self._wait)
        try:
            self._connection = self._open().execution_options(**{WRITE_OPTION: True})
            try:
                self._connection.begin()
            except BaseException:
                self._close(self._connection)
                self._connection = None
                raise
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        self._lock = lock
        return self

    def _open(self) -> Connection:
        if self._borrowed is None:
            return self.engine.connect()
        if self._borrowed.engine is not self.engine or self._borrowed.in_transaction():
            raise RuntimeError("a unit of work needs an idle connection of its own engine")
        return self._borrowed

    def _close(self, connection: Connection) -> None:
        if connection is self._borrowed:
            connection.execution_options(**{WRITE_OPTION: False})  # the caller's again
        else:
            connection.close()

    def commit(self) -> None:
        self.connection.commit()
        self._committed = True

    def __exit__(self, *exc: object) -> None:
        connection = self.connection
        try:
            if not self._committed:
                connection.rollback()
        finally:
            try:
                self._close(connection)
            finally:
                self._connection = None
                lock, self._lock = self._lock, None
                if lock is not None:
                    lock.release()
                    if self._committed and lock.checkpointer is not None:
                        lock.checkpointer.committed()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[UnitOfWork]:
    with UnitOfWork(engine) as uow:
        yield uow
