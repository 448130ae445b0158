"""Statements sent together (``store.round_trips.send_together``): one pipeline on PostgreSQL,
one after another on SQLite. Either way a caller sees what sequential statements would show it:
the same rows in order, a transaction begun, an error raised as ``execute`` raises it and a
connection that works afterwards."""

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import JSON, Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import DBAPIError

from lendcore.store.db import UnitOfWork, make_engine
from lendcore.store.round_trips import array_literal, send_together

_CREATE = "CREATE TABLE rt_probe (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)"
_INSERT = text("INSERT INTO rt_probe (id, v) VALUES (:id, :v)")
_BY_ID = text("SELECT id, v FROM rt_probe WHERE id = :id")
_COUNT = text("SELECT count(*) AS n FROM rt_probe")


@pytest.fixture
def probe(engine):
    with engine.begin() as connection:
        connection.execute(text(_CREATE))
        connection.execute(_INSERT, [{"id": 1, "v": "one"}, {"id": 2, "v": "two"}])
    return engine


def test_reads_sent_together_return_each_statements_rows_in_order(probe):
    with probe.connect() as connection:
        by_id, none, count = send_together(
            connection, [(_BY_ID, {"id": 2}), (_BY_ID, {"id": 9}), (_COUNT, {})]
        )
    assert by_id == [{"id": 2, "v": "two"}]
    assert none == []
    assert count == [{"n": 2}]


def test_reads_sent_together_begin_a_transaction_as_execute_would(probe):
    with probe.connect() as connection:
        send_together(connection, [(_COUNT, {})])
        assert connection.in_transaction()
        connection.rollback()
        assert not connection.in_transaction()


def test_a_failing_statement_raises_its_own_error_and_leaves_the_connection_usable(probe):
    # In pipeline mode the statements after a failing one are answered "aborted": the caller
    # must get the failing statement's own error, and the pooled connection must leave pipeline
    # mode (a connection left in it answers every later SELECT with no rows).
    missing = text("SELECT v FROM rt_missing WHERE id = :id")  # an error on either database
    for _ in range(20):  # the answers arrive at varying moments: more than one try
        with pytest.raises(DBAPIError) as raised, UnitOfWork(probe) as uow:
            send_together(uow.connection, [(_COUNT, {}), (missing, {"id": 1}), (_COUNT, {})])
        assert "rt_missing" in str(raised.value.orig)
        with UnitOfWork(probe) as uow:
            assert uow.connection.execute(_COUNT).scalar() == 2
            assert send_together(uow.connection, [(_BY_ID, {"id": 1})]) == [[{"id": 1, "v": "one"}]]


def test_writes_sent_together_are_converted_and_stored_as_execute_would(probe):
    # an INSERT of a table with a JSON column: SQLAlchemy's converter serialises the document
    # (on PostgreSQL through the compiled statement's own converters, not connection.execute)
    docs = Table(
        "rt_docs", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON)
    )
    docs.create(probe)
    document = {"trace": [{"rule": "age", "ok": True}], "score": 612.5, "note": '引号"q'}
    with UnitOfWork(probe) as uow:
        written, read = send_together(
            uow.connection,
            [(insert(docs), {"id": 1, "doc": document}), (_BY_ID, {"id": 2})],
        )
        uow.commit()
    assert (written, read) == ([], [{"id": 2, "v": "two"}])
    with probe.connect() as connection:
        assert connection.execute(select(docs.c.doc)).scalar_one() == document


def test_a_list_of_parameter_sets_is_an_executemany_on_sqlite_and_refused_on_postgresql(probe):
    many = [{"id": 5, "v": "five"}, {"id": 6, "v": "six"}]
    with UnitOfWork(probe) as uow:
        if probe.dialect.name == "postgresql":
            with pytest.raises(TypeError, match="one parameter set"):
                send_together(uow.connection, [(_INSERT, many)])
            return
        send_together(uow.connection, [(_INSERT, many)])
        uow.commit()
    with probe.connect() as connection:
        assert connection.execute(_COUNT).scalar() == 4


# PostgreSQL text cannot hold NUL; anything else, including the literal's own syntax (quotes,
# backslashes, commas, braces, spaces, the word NULL), must come back as it went.
_TEXTS = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), _TEXTS, st.sampled_from(["NULL", '"', "\\", "{,}"]))))
def test_an_array_literal_reads_back_as_the_values_it_was_made_of(postgres_url, values):
    as_array = text("SELECT CAST(:values AS varchar[]) AS a")
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            rows = send_together(connection, [(as_array, {"values": array_literal(values)})])
    finally:
        engine.dispose()
    assert rows == [[{"a": values}]]


def test_an_array_literal_of_integers_and_times_casts_to_their_types(postgres_url):
    engine = make_engine(postgres_url)
    at = datetime(2026, 3, 1, 2, 0, 0, 123456, tzinfo=UTC)
    statement = text("SELECT CAST(:ids AS bigint[]) AS ids, CAST(:ats AS timestamptz[]) AS ats")
    params = {"ids": array_literal([2**40, -7, None]), "ats": array_literal([at.isoformat()])}
    with engine.connect() as connection:
        rows = send_together(connection, [(statement, params)])
    engine.dispose()
    assert rows == [[{"ids": [2**40, -7, None], "ats": [at]}]]
