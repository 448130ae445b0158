"""The runner: shards agree on chunk boundaries whatever has already been closed, and a failed
run is recorded as FAILED."""

from datetime import date

import pytest
from sqlalchemy import text

from lendcore.batch import runner
from lendcore.batch.runner import plan, run_eod

from .helpers import make_loan


def test_shards_cut_the_same_chunks_before_and_after_part_of_the_run(engine):
    for loan_id in range(1, 9):
        make_loan(engine, loan_id)
    whole = plan(engine, date(2026, 2, 1), target_chunk_loans=2).chunks
    shards = [plan(engine, date(2026, 2, 1), 2, (i, 3)).chunks for i in range(3)]
    assert sorted(c for s in shards for c in s) == whole
    run_eod(engine, date(2026, 2, 1), shard=(0, 3), target_chunk_loans=2)
    later = [plan(engine, date(2026, 2, 1), 2, (i, 3)).chunks for i in range(1, 3)]
    assert later == shards[1:]  # boundaries unchanged although shard 0's loans are closed


def test_a_run_that_fails_is_recorded_as_failed(engine, monkeypatch):
    make_loan(engine, 1)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "close_chunk", broken)
    with pytest.raises(RuntimeError):
        run_eod(engine, date(2026, 2, 1))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT status FROM eod_runs")).scalar() == "FAILED"
