"""Integration fixtures: every test taking ``engine`` (or ``db_url``) runs on SQLite and, when
``LENDCORE_TEST_POSTGRES_URL`` is set, again on PostgreSQL in a schema of its own that is dropped
afterwards. CI sets the variable and checks the server answers, so the PostgreSQL half never
silently skips there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, create_engine, text

from lendcore.store.db import make_engine
from lendcore.store.migrate import upgrade

POSTGRES_URL = os.environ.get("LENDCORE_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _postgres_url(schema: str) -> str:
    assert POSTGRES_URL
    base = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def new_database(backend: str, directory) -> Iterator[str]:
    """A migrated, empty database of ``backend``; yields its URL, removes it afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / f'lendcore-{uuid.uuid4().hex[:8]}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin: Engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = _postgres_url(schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A migrated, empty database; yields its URL (for subprocesses and worker pools)."""
    with new_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def second_db_url(db_url: str, tmp_path) -> Iterator[str]:
    """Another empty database on the same backend as ``db_url`` (to compare two runs)."""
    backend = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    with new_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(db_url: str) -> str:
    """For tests that need real concurrent clients: PostgreSQL only."""
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrency tests run on PostgreSQL")
    return db_url
