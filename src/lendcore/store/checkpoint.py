"""WAL checkpoints for SQLite, taken off the writer's path.

By default SQLite checkpoints inside the commit that takes the write-ahead log past 1,000 pages:
that commit copies the log back into the database and syncs it while the unit of work still holds
the writer lock (``store.db``), so every writer queued behind it waits too. Measured under the
API at 200 decisions/s, those commits took 10-12 ms against a usual 1-2 ms, and the requests
queued behind them made the latency tail.

Here each process runs one background thread per database file instead:

- after a committed unit of work (at most once per ``interval``) the thread is woken and runs
  ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection, without the writer lock: a passive
  checkpoint copies what no reader still needs and never blocks readers or writers;
- a passive checkpoint alone cannot bound the log: SQLite starts the log again from its beginning
  only when a writer finds everything copied and no reader on it, which steady reads may never
  allow. So when the log holds ``restart_pages`` or more after the passive pass, the thread takes
  the writer lock and runs ``PRAGMA wal_checkpoint(RESTART)`` with a short busy timeout: little is
  left to copy by then, and if a long reader keeps it from finishing it gives up and tries again
  on a later commit rather than hold writers back;
- the connections keep SQLite's own automatic checkpoint, raised to ``AUTOCHECKPOINT_PAGES``, as
  a safety net for writes that come in faster than the thread keeps up with, and a journal size
  limit so a log that grew in a big batch is cut back once it restarts.

The thread is a daemon, opens a plain ``sqlite3`` connection (it needs no engine) and ends after
``idle`` seconds without a commit; the next commit starts it again. A forked child starts its own.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

AUTOCHECKPOINT_PAGES = 8000  # SQLite's own checkpoint in the commit, only as a safety net (~32 MB)
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes a restarted log file is cut back to


class WalCheckpointer:
    """The background checkpoints of one SQLite database file in this process."""

    def __init__(
        self,
        database: str,
        writer_lock_path: str,
        *,
        interval: float = 0.1,
        restart_pages: int = 2000,
        restart_busy_ms: int = 20,
        idle: float = 5.0,
    ) -> None:
        self.database = database
        self.writer_lock_path = writer_lock_path
        self.interval = interval
        self.restart_pages = restart_pages
        self.restart_busy_ms = restart_busy_ms
        self.idle = idle
        self.passive = 0  # checkpoints run, for tests and the curious
        self.restarts = 0
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._last = 0.0

    def committed(self) -> None:
        """A unit of work on this database committed: checkpoint soon (cheap when called often)."""
        now = time.monotonic()
        if now - self._last < self.interval and self._pid == os.getpid():
            return
        self._last = now
        with self._guard:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._wake = threading.Event()
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._wake,),
                    name="lendcore-wal-checkpoint",
                    daemon=True,
                )
                self._thread.start()
            self._wake.set()

    def _run(self, wake: threading.Event) -> None:
        connection = sqlite3.connect(
            self.database, timeout=0, isolation_level=None, check_same_thread=False
        )
        try:
            while True:
                if not wake.wait(self.idle):
                    with self._guard:
                        if not wake.is_set():  # no commit came in while we decided to stop
                            self._thread = None
                            return
                wake.clear()
                self.checkpoint(connection)
        except Exception:  # never let a checkpoint failure reach the application
            log.exception("wal checkpoint thread stopped")
            with self._guard:
                self._thread = None
        finally:
            connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        """One passive pass; a restart under the writer lock when the log has grown long."""
        try:
            _busy, frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.OperationalError:  # another process is checkpointing: it does the work
            return
        self.passive += 1
        if frames < self.restart_pages:
            return
        fd = os.open(self.writer_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # our own fd: this excludes this process's writers too
            connection.execute(f"PRAGMA busy_timeout={self.restart_busy_ms}")
            try:
                busy, _frames, _copied = connection.execute(
                    "PRAGMA wal_checkpoint(RESTART)"
                ).fetchone()
            except sqlite3.OperationalError:
                busy = 1
            finally:
                connection.execute("PRAGMA busy_timeout=0")
            if not busy:
                self.restarts += 1
        finally:
            os.close(fd)  # closing the only fd on the open file releases the flock
