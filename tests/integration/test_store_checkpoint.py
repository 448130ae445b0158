"""SQLite's write-ahead log is checkpointed by a background thread, outside the writer lock
(``store.checkpoint``): a commit no longer checkpoints when the log passes 1,000 pages, the thread
keeps the log bounded even while readers never stop, and a restart that a long reader blocks
gives up quickly instead of holding writers."""

import sqlite3
import threading
import time

from sqlalchemy import text

from lendcore.store.checkpoint import WalCheckpointer
from lendcore.store.db import UnitOfWork, make_engine, sqlite_write_lock

PAGE_ROWS = 20  # rows of ~4 KB per commit: about 20 log pages


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE blob (v BLOB)"))
    return engine


def _commit_pages(engine, commits: int) -> None:
    for _ in range(commits):
        with UnitOfWork(engine) as uow:
            uow.connection.execute(
                text(
                    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < :n) "
                    "INSERT INTO blob SELECT randomblob(4000) FROM r"
                ),
                {"n": PAGE_ROWS},
            )
            uow.commit()


def _log_frames(path) -> int:
    with sqlite3.connect(path, timeout=0) as connection:  # a passive pass reports the log length
        return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def test_a_commit_does_not_checkpoint_when_the_log_passes_a_thousand_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(WalCheckpointer, "committed", lambda self: None)  # no background thread
    engine = _engine(tmp_path)
    _commit_pages(engine, 75)  # ~1,500 pages: SQLite's default would have checkpointed at 1,000
    assert _log_frames(tmp_path / "wal.db") >= 1400
    engine.dispose()


def test_the_thread_keeps_the_log_bounded_while_readers_never_stop(tmp_path):
    engine = _engine(tmp_path)
    checkpointer = sqlite_write_lock(engine).checkpointer
    checkpointer.interval, checkpointer.restart_pages = 0.0, 300
    stop = threading.Event()

    def read(offset: float) -> None:  # overlapping snapshots: some reader is always on the log
        time.sleep(offset)
        while not stop.is_set():
            with engine.connect() as connection:
                connection.execute(text("SELECT count(*) FROM blob")).scalar_one()
                time.sleep(0.004)
                connection.rollback()

    readers = [threading.Thread(target=read, args=(i * 0.002,)) for i in range(2)]
    for reader in readers:
        reader.start()
    try:
        _commit_pages(engine, 200)  # ~4,000 pages written in all
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    wal_bytes = (tmp_path / "wal.db-wal").stat().st_size
    assert checkpointer.restarts >= 1
    # never restarted, it would hold ~4,000 frames; restarted, ~300-1,000 on a quiet machine and
    # up to ~1,500 when the suite's other worker keeps the checkpoint thread waiting for the GIL
    assert wal_bytes < 2400 * 4120, wal_bytes
    engine.dispose()


def test_a_restart_blocked_by_a_long_reader_gives_up_and_frees_the_writers(tmp_path, monkeypatch):
    monkeypatch.setattr(WalCheckpointer, "committed", lambda self: None)  # we call checkpoint()
    engine = _engine(tmp_path)
    checkpointer = sqlite_write_lock(engine).checkpointer
    checkpointer.restart_pages = 10
    _commit_pages(engine, 2)
    reader = sqlite3.connect(tmp_path / "wal.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM blob").fetchone()  # holds its snapshot on the log
    connection = sqlite3.connect(tmp_path / "wal.db", timeout=0, isolation_level=None)
    try:
        started = time.monotonic()
        checkpointer.checkpoint(connection)
        assert time.monotonic() - started < 1.0
        assert checkpointer.restarts == 0
        _commit_pages(engine, 1)  # the writer lock was released
    finally:
        reader.execute("COMMIT")
        reader.close()
    checkpointer.checkpoint(connection)  # with the reader gone the restart goes through
    assert checkpointer.restarts == 1
    connection.close()
    engine.dispose()
