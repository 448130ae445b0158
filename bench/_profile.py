"""Where an in-process end-of-day run spends its time: each statement of batch/eod_sql.py, the
commits (on PostgreSQL they include the deferred journal-balance trigger), the rest."""

from __future__ import annotations

import re
import time
from dataclasses import fields
from typing import Any

from sqlalchemy import Engine, event

from lendcore.batch.eod_sql import build_statements


def bytes_written() -> int:
    """This process's bytes written to disk so far (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/io") as io:
            return next(int(line.split()[1]) for line in io if line.startswith("write_bytes"))
    except (OSError, StopIteration):
        return 0


_PLACEHOLDER = re.compile(r"%\(\w+\)s|(?<!:):\w+|\?")


def _normal(sql: str) -> str:
    return " ".join(_PLACEHOLDER.sub("?", sql).split())


class StatementTimer:
    def __init__(self, engine: Engine):
        statements = build_statements(engine.dialect.name == "sqlite")
        self.names: dict[str, str] = {}
        for field in fields(statements):
            sql = getattr(statements, field.name)
            if sql:
                self.names[_normal(sql)] = field.name
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.rows: dict[str, int] = {}
        self.written: dict[str, int] = {}
        self._started: list[tuple[float, int]] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _before(*_: Any) -> None:
            self._started.append((time.perf_counter(), bytes_written()))

        @event.listens_for(engine, "after_cursor_execute")
        def _after(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            name = self.names.get(_normal(statement), "other statements")
            started, written = self._started.pop()
            self._add(name, started, written, max(cursor.rowcount, 0))

        commit = engine.dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            started, written = time.perf_counter(), bytes_written()
            commit(dbapi_connection)
            self._add("commit", started, written, 0)

        engine.dialect.do_commit = timed_commit  # type: ignore[method-assign]

    def _add(self, name: str, started: float, written: int, rows: int) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.written[name] = self.written.get(name, 0) + bytes_written() - written
        self.calls[name] = self.calls.get(name, 0) + 1
        self.rows[name] = self.rows.get(name, 0) + rows

    def report(self, total: float) -> list[str]:
        """One line per step. 'MiB written' (SQLite only) is what this process wrote to disk
        during the step: SQLite writes its WAL and checkpoints at commit, so it all shows there;
        PostgreSQL's writes happen in the server."""
        show_written = any(self.written.values())
        written = f" {'MiB written':>11}" if show_written else ""
        lines = [f"{'step':<18} {'seconds':>8} {'share':>6} {'calls':>6} {'rows':>10}{written}"]
        for name, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            written = f" {self.written[name] / 2**20:>11,.0f}" if show_written else ""
            lines.append(
                f"{name:<18} {seconds:>8.2f} {seconds / total:>6.0%} {self.calls[name]:>6} "
                f"{self.rows[name]:>10,}{written}"
            )
        rest = total - sum(self.seconds.values())
        lines.append(f"{'python, pool':<18} {rest:>8.2f} {rest / total:>6.0%}")
        return lines
