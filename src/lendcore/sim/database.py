"""A fresh database for a simulation run.

SQLite: the file is the simulator's own scratch space (``var/lendcore.db`` by default), so it is
deleted and recreated, then migrated. PostgreSQL may hold real data, so the simulator refuses a
database that has any rows unless the caller says ``reset`` explicitly; a reset downgrades the
schema to nothing with the migrations themselves (they also drop the journal triggers and their
functions), drops any lendcore table left behind, and migrates again to head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.store.db import make_engine
from lendcore.store.migrate import alembic_config, upgrade
from lendcore.store.schema import metadata

# A database "holds data" when any of these has a row (every loan, borrower, posting or batch
# run leaves one), or when a table lendcore does not know has one (somebody else's data). Other
# lendcore tables may be seeded by the migrations themselves (the chart of accounts, the audit
# chain's genesis head) and say nothing about whether a portfolio lives here.
PORTFOLIO_TABLES = frozenset(
    {
        "borrowers",
        "loans",
        "instalments",
        "journal_entries",
        "disbursements",
        "repayments",
        "bucket_snapshots",
        "eod_runs",
        "outbox",
    }
)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def tables_with_rows(engine: Engine) -> list[str]:
    """Tables of the connection's default schema whose rows mean the database is in use."""
    with engine.connect() as connection:
        names = sorted(inspect(connection).get_table_names())
        quote = connection.dialect.identifier_preparer.quote
        watched = [
            name
            for name in names
            if name in PORTFOLIO_TABLES
            or (name not in metadata.tables and name != "alembic_version")
        ]
        return [
            name
            for name in watched
            if connection.execute(text(f"SELECT 1 FROM {quote(name)} LIMIT 1")).first()
        ]


def reset_schema(engine: Engine) -> None:
    """Drop lendcore's schema from the engine's default schema (never other tables)."""
    with engine.connect() as connection:
        versioned = inspect(connection).has_table("alembic_version")
    if versioned:
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
    metadata.drop_all(engine, checkfirst=True)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def prepare_database(url: str, reset: bool = False) -> tuple[Engine, str]:
    """An engine on a freshly migrated, empty database, and a line saying what was done."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        note = "in-memory SQLite"
        if path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            note = f"重建 recreated SQLite file {path}"
        engine = make_engine(url)
        upgrade(engine)
        return engine, note
    if backend != "postgresql":
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"the simulator runs on SQLite or PostgreSQL, not {backend}"
        )
    engine = make_engine(url)
    try:
        busy = tables_with_rows(engine)
        if busy and not reset:
            raise LendcoreError(
                ErrorCode.INVALID_ARGUMENT,
                f"database is not empty ({len(busy)} tables hold rows: {', '.join(busy[:5])}); "
                "pass --reset to drop and recreate lendcore's tables",
            )
        note = "PostgreSQL: empty database, migrated"
        if reset:
            reset_schema(engine)
            note = f"PostgreSQL: --reset dropped and recreated lendcore's tables ({len(busy)} held rows)"
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine, note
