"""SQLite units of work queue on one writer lock per database file, across processes: a unit of
work waits in the kernel (``flock`` on ``<db>-writer.lock``) while another process holds it, and
goes ahead as soon as it is released; nested units of work on one thread do not deadlock. A unit
of work that must not wait (``wait=False``, the event loop's) is refused with WriterBusy instead,
before it begins anything."""

import fcntl
import os
import threading

import pytest
from sqlalchemy import text

from lendcore.store.db import UnitOfWork, WriterBusy, make_engine


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE n (v INTEGER)"))
    return engine


def test_a_unit_of_work_waits_for_another_process_holding_the_writer_lock(tmp_path):
    engine = _engine(tmp_path)
    entered = threading.Event()
    fd = os.open(f"{tmp_path / 'locks.db'}-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's unit of work would

    def write() -> None:
        with UnitOfWork(engine) as uow:
            entered.set()
            uow.connection.execute(text("INSERT INTO n VALUES (1)"))
            uow.commit()

    worker = threading.Thread(target=write)
    worker.start()
    try:
        assert not entered.wait(0.3)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    worker.join(10)
    assert entered.is_set()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM n")).scalar_one() == 1
    engine.dispose()


def test_nested_units_of_work_on_one_thread_do_not_deadlock(tmp_path):
    engine = _engine(tmp_path)
    with UnitOfWork(engine) as outer:
        outer.connection.execute(text("INSERT INTO n VALUES (1)"))
        outer.commit()
        with UnitOfWork(engine) as inner:
            inner.connection.execute(text("INSERT INTO n VALUES (2)"))
            inner.commit()
    with UnitOfWork(engine) as after:  # the lock was released by the outermost exit
        after.connection.execute(text("INSERT INTO n VALUES (3)"))
        after.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM n")).scalar_one() == 3
    engine.dispose()


def test_a_unit_of_work_that_must_not_wait_is_refused_while_another_process_holds_the_lock(
    tmp_path,
):
    engine = _engine(tmp_path)
    fd = os.open(f"{tmp_path / 'locks.db'}-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's unit of work would
    try:
        with pytest.raises(WriterBusy), UnitOfWork(engine, wait=False) as uow:
            uow.connection.execute(text("INSERT INTO n VALUES (1)"))
            uow.commit()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    with UnitOfWork(engine, wait=False) as uow:  # free again: it goes ahead
        uow.connection.execute(text("INSERT INTO n VALUES (2)"))
        uow.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT v FROM n")).scalars().all() == [2]
    engine.dispose()


def test_a_unit_of_work_that_must_not_wait_is_refused_while_another_thread_is_writing(tmp_path):
    engine = _engine(tmp_path)
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with UnitOfWork(engine):
            inside.set()
            leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        with pytest.raises(WriterBusy):
            UnitOfWork(engine, wait=False).__enter__()
    finally:
        leave.set()
        holder.join(10)
    with UnitOfWork(engine) as outer:  # the holding thread itself is never refused (reentrant)
        outer.connection.execute(text("INSERT INTO n VALUES (1)"))
        outer.commit()
        with UnitOfWork(engine, wait=False) as inner:
            inner.connection.execute(text("INSERT INTO n VALUES (2)"))
            inner.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM n")).scalar_one() == 2
    engine.dispose()
