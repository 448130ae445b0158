"""An Idempotency-Key looked up in the read snapshot that prepared the work (``replay_stored``)
and recorded on the same connection (``run_idempotent(connection=..., absent_at=mark)``): the key
is not looked up again only if nothing was committed in between; a key that another request
stored in between is found, and its work is not done twice."""

from lendcore.api import idempotency
from lendcore.api.idempotency import replay_stored, run_idempotent
from lendcore.store.db import read_mark

SCOPE, KEY, BODY = "POST /test", "k-1", {"amount": "100.00"}


def _snapshot(connection):
    """Look the key up in a read snapshot and mark it, as a prepared decision does."""
    assert replay_stored(connection, SCOPE, KEY, BODY) is None
    mark = read_mark(connection)
    connection.rollback()
    return mark


def _work(done, status=201):
    def work(_uow):
        done.append(1)
        return status, {"n": len(done)}

    return work


def test_a_key_stored_in_between_is_replayed_and_the_work_is_not_done_again(engine):
    done = []
    with engine.connect() as connection:
        mark = _snapshot(connection)
        first = run_idempotent(engine, SCOPE, KEY, BODY, _work(done))  # another connection
        second = run_idempotent(
            engine, SCOPE, KEY, BODY, _work(done), connection=connection, absent_at=mark
        )
    assert done == [1]
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replay"] == "true" and second.body == first.body


def test_with_nothing_committed_in_between_the_key_is_not_looked_up_again(engine, monkeypatch):
    lookups = []
    stored = idempotency._stored
    monkeypatch.setattr(
        idempotency, "_stored", lambda *a: lookups.append(1) or stored(*a), raising=True
    )
    done = []
    with engine.connect() as connection:
        mark = _snapshot(connection)
        response = run_idempotent(
            engine, SCOPE, KEY, BODY, _work(done), connection=connection, absent_at=mark
        )
    assert done == [1] and response.status_code == 201
    # SQLite: the snapshot's lookup only; PostgreSQL has no mark and looks again
    assert lookups == ([1] if engine.dialect.name == "sqlite" else [1, 1])
    # and the key is stored: a retry is a replay
    retry = run_idempotent(engine, SCOPE, KEY, BODY, _work(done))
    assert done == [1] and retry.headers["Idempotent-Replay"] == "true"
