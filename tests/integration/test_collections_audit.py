"""The audit chain in the database: append-only, linear under concurrency, and every kind of
tampering (edit, delete, reorder, insert, a consistent rewrite) found and named, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from lendcore.collections.audit import AuditEntry, append, read_head, verify_table
from lendcore.collections.tables import audit_chain
from lendcore.privacy.chain import ChainHead, record_hash
from lendcore.store.db import UnitOfWork, make_engine

from .test_collections_support import MORNING, drop_audit_guards


def _fill(engine, count=6):
    with UnitOfWork(engine) as uow:
        append(
            uow.connection,
            [
                AuditEntry(MORNING + timedelta(seconds=n), "gate.check", f"agent-{n}", {"n": n})
                for n in range(1, count + 1)
            ],
        )
        uow.commit()


def _verify(engine, anchors=()):
    with engine.connect() as connection:
        return verify_table(connection, anchors)


def _sql(engine, *statements):
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_an_intact_chain_verifies_and_its_head_is_the_last_record(engine):
    _fill(engine)
    result = _verify(engine)
    assert result.ok and result.records == 6
    with engine.connect() as connection:
        assert read_head(connection) == result.verified
    assert result.verified.seq == 6


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_chain SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_chain"]
)
def test_the_database_refuses_to_change_or_delete_audit_records(engine, statement):
    _fill(engine)
    with pytest.raises(DBAPIError, match="AUDIT_APPEND_ONLY"):
        _sql(engine, statement)
    assert _verify(engine).ok


def test_an_edited_record_is_found_and_named(engine):
    _fill(engine)
    drop_audit_guards(engine)
    with engine.begin() as connection:
        connection.execute(
            audit_chain.update().where(audit_chain.c.seq == 3).values(payload='{"n":99}')
        )
    result = _verify(engine)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 3, "EDITED")
    assert result.record == {
        "seq": 3,
        "at": result.record["at"],
        "kind": "gate.check",
        "actor": "agent-3",
    }
    assert result.verified.seq == 2


def test_a_deleted_record_is_found(engine):
    _fill(engine)
    drop_audit_guards(engine)
    _sql(engine, "DELETE FROM audit_chain WHERE seq = 4")
    result = _verify(engine)
    assert (result.first_bad_seq, result.problem) == (4, "SEQ_GAP")


def test_a_cut_tail_is_found_against_the_head_row(engine):
    _fill(engine)
    drop_audit_guards(engine)
    _sql(engine, "DELETE FROM audit_chain WHERE seq >= 5")
    result = _verify(engine)
    assert (result.first_bad_seq, result.problem) == (5, "TRUNCATED")


def test_reordered_records_are_found(engine):
    _fill(engine)
    drop_audit_guards(engine)
    _sql(
        engine,
        "UPDATE audit_chain SET seq = -1 WHERE seq = 2",
        "UPDATE audit_chain SET seq = 2 WHERE seq = 3",
        "UPDATE audit_chain SET seq = 3 WHERE seq = -1",
    )
    result = _verify(engine)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, "EDITED")


def test_a_record_inserted_in_the_middle_is_found(engine):
    _fill(engine)
    drop_audit_guards(engine)
    with engine.connect() as connection:
        two = connection.execute(select(audit_chain).where(audit_chain.c.seq == 2)).one()
    for seq in (6, 5, 4, 3):  # make room at 3, one row at a time (primary key)
        _sql(engine, f"UPDATE audit_chain SET seq = {seq + 1} WHERE seq = {seq}")
    # A well-formed forgery: it links to record 2 and hashes correctly.
    at, payload = two.at, {"forged": True}
    forged = record_hash(3, at, "gate.check", "mallory", payload, two.hash)
    with engine.begin() as connection:
        connection.execute(
            insert(audit_chain).values(
                seq=3,
                at=at,
                kind="gate.check",
                actor="mallory",
                payload=json.dumps(payload),
                prev_hash=two.hash,
                hash=forged,
            )
        )
    result = _verify(engine)
    # The forgery itself is consistent; the record it displaced no longer is.
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 4, "EDITED")
    assert result.verified.seq == 3


def test_a_consistent_rewrite_of_the_tail_is_caught_by_an_exported_anchor(engine):
    _fill(engine)
    anchor = _verify(engine).verified  # exported by `lendcore audit head`
    drop_audit_guards(engine)
    with engine.connect() as connection:
        rows = connection.execute(select(audit_chain).order_by(audit_chain.c.seq)).all()
    prev = rows[2].hash  # rewrite 4..6 consistently: every hash recomputed
    _sql(engine, "DELETE FROM audit_chain WHERE seq >= 4")
    with engine.begin() as connection:
        for row in rows[3:]:
            payload = {"n": -1}
            digest = record_hash(row.seq, row.at, row.kind, row.actor, payload, prev)
            connection.execute(
                insert(audit_chain).values(
                    seq=row.seq,
                    at=row.at,
                    kind=row.kind,
                    actor=row.actor,
                    payload=json.dumps(payload),
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
    assert _verify(engine).ok  # internally consistent (the head row moved with it)
    result = _verify(engine, [anchor])
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 6, "ANCHOR_MISMATCH")


def test_concurrent_writers_keep_the_chain_linear(engine, db_url):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers by design; the PostgreSQL half proves the lock")
    workers = 8
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []
    pool = make_engine(db_url, pool_size=workers, max_overflow=0)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(15):
                with UnitOfWork(pool) as uow:
                    append(uow.connection, [AuditEntry(MORNING, "t", f"w{n}", {"i": i})])
                    uow.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.dispose()
    assert errors == []
    result = _verify(engine)
    assert result.ok and result.records == workers * 15


def test_cli_verify_names_the_broken_record_and_exits_1(db_url, engine, capsys):
    from lendcore.cli.main import main

    _fill(engine)
    drop_audit_guards(engine)
    _sql(engine, "UPDATE audit_chain SET actor = 'someone-else' WHERE seq = 5")
    with pytest.raises(SystemExit) as exit_:
        _run(main, ["audit", "verify", "--json", "--database", _plain(db_url)])
    assert exit_.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["problem"] == "EDITED" and report["first_bad_seq"] == 5
    assert report["record"]["actor"] == "someone-else"


def test_cli_head_exports_an_anchor_that_verify_accepts(db_url, engine, capsys):
    from lendcore.cli.main import main

    _fill(engine)
    _run(main, ["audit", "head", "--database", _plain(db_url)])
    anchor = capsys.readouterr().out.strip()
    assert anchor.startswith("6:") and len(anchor) == 66
    _run(main, ["audit", "verify", "--anchor", anchor, "--database", _plain(db_url)])
    assert "intact" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        _run(main, ["audit", "verify", "--anchor", "9:" + "0" * 64, "--database", _plain(db_url)])
    assert exit_.value.code == 1


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _run(main, args):
    import sys

    saved = sys.argv
    sys.argv = ["lendcore", *args]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        sys.argv = saved


def test_verify_reads_in_pages(engine):
    _fill(engine, 25)
    with engine.connect() as connection:
        assert verify_table(connection, page=7).ok
        assert verify_table(connection, [ChainHead(10, "0" * 64)], page=7).problem == (
            "ANCHOR_MISMATCH"
        )
