"""A read mark (``store.db.read_mark``) tells whether a SQLite connection would read now what it
read in an earlier snapshot: only if no other connection committed in between, the connection
changed nothing itself, and it is the same connection. A unit of work can run on such a borrowed
connection and gives it back idle. Other databases have no mark: nothing is ever "unchanged"."""

import pytest
from sqlalchemy import text

from lendcore.store.db import UnitOfWork, make_engine, read_mark, unchanged_since


@pytest.fixture
def sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mark.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE n (v INTEGER)"))
    yield engine
    engine.dispose()


def _insert(engine, value):
    with UnitOfWork(engine) as uow:
        uow.connection.execute(text("INSERT INTO n VALUES (:v)"), {"v": value})
        uow.commit()


def _marked(connection):
    """A mark taken in a read snapshot, which then ends (as a prepared decision's does)."""
    connection.execute(text("SELECT count(*) FROM n")).scalar_one()
    mark = read_mark(connection)
    connection.rollback()
    return mark


def test_nothing_committed_since_the_snapshot_is_unchanged_inside_a_write_transaction(sqlite):
    with sqlite.connect() as connection:
        mark = _marked(connection)
        with UnitOfWork(sqlite, connection=connection) as uow:
            assert unchanged_since(uow.connection, mark)


def test_a_commit_by_another_connection_after_the_snapshot_is_a_change(sqlite):
    with sqlite.connect() as connection:
        mark = _marked(connection)
        _insert(sqlite, 1)  # another connection of the pool: this one is checked out
        with UnitOfWork(sqlite, connection=connection) as uow:
            assert not unchanged_since(uow.connection, mark)


def test_the_mark_is_the_snapshot_s_even_if_another_commit_lands_before_it_is_taken(sqlite):
    """Taken inside the read transaction, the mark describes that snapshot: a commit that lands
    after the snapshot began, before the mark, is still seen as a change afterwards."""
    with sqlite.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM n")).scalar_one() == 0
        _insert(sqlite, 1)
        assert connection.execute(text("SELECT count(*) FROM n")).scalar_one() == 0  # snapshot
        mark = read_mark(connection)
        connection.rollback()
        with UnitOfWork(sqlite, connection=connection) as uow:
            assert uow.connection.execute(text("SELECT count(*) FROM n")).scalar_one() == 1
            assert not unchanged_since(uow.connection, mark)


def test_a_change_made_by_the_connection_itself_is_a_change(sqlite):
    with sqlite.connect() as connection:
        mark = _marked(connection)
        with UnitOfWork(sqlite, connection=connection) as uow:
            uow.connection.execute(text("INSERT INTO n VALUES (1)"))
            assert not unchanged_since(uow.connection, mark)
            uow.commit()
        with UnitOfWork(sqlite, connection=connection) as uow:
            assert not unchanged_since(uow.connection, mark)


def test_another_connection_cannot_vouch_for_a_mark(sqlite):
    with sqlite.connect() as first, sqlite.connect() as second:
        mark = _marked(first)
        assert not unchanged_since(second, mark)
        assert not unchanged_since(first, None)


def test_a_borrowed_connection_is_given_back_idle_and_open(sqlite):
    with sqlite.connect() as connection:
        with UnitOfWork(sqlite, connection=connection) as uow:
            uow.connection.execute(text("INSERT INTO n VALUES (7)"))
            uow.commit()
        assert not connection.closed and not connection.in_transaction()
        with UnitOfWork(sqlite, connection=connection) as uow:  # not committed: rolled back
            uow.connection.execute(text("INSERT INTO n VALUES (8)"))
        assert connection.execute(text("SELECT v FROM n")).scalars().all() == [7]
        connection.rollback()


def test_a_connection_in_a_transaction_cannot_be_borrowed(sqlite):
    with sqlite.connect() as connection:
        connection.execute(text("SELECT 1"))
        with (
            pytest.raises(RuntimeError, match="idle connection"),
            UnitOfWork(sqlite, connection=connection),
        ):
            pass
        connection.rollback()
    _insert(sqlite, 1)  # the refused unit of work released the writer lock


def test_postgresql_has_no_mark(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            assert read_mark(connection) is None
            assert not unchanged_since(connection, None)
    finally:
        engine.dispose()
