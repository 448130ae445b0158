"""The collections commands end to end: simulate, restore-agent, compliance report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from lendcore.cli.main import main
from lendcore.collections.dialling import dial
from lendcore.collections.tables import collection_agents

from .test_collections_support import MORNING, add_contacts, add_loan, make_context


def _run(monkeypatch, *args: str) -> None:
    monkeypatch.setattr("sys.argv", ["lendcore", *args])
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_cli_simulate_reports_zero_violations(tmp_path, monkeypatch, capsys):
    database = f"sqlite:///{tmp_path / 'sim.db'}"
    _run(monkeypatch, "collections", "simulate", "--loans", "20", "--days", "2", "--seed", "1",
         "--agents", "3", "--json", "--database", database)  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["loans"] == 20 and report["attempts"] > 0
    assert report["checker"]["violations"] == 0 and report["audit"]["verified"]


def test_cli_simulate_database_is_a_sqlite_file_and_database_url_postgresql(monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        _run(monkeypatch, "collections", "simulate", "--database", "postgresql://x/y")
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        _run(monkeypatch, "collections", "simulate", "--database-url", "sqlite:///x.db")
    assert exit_.value.code == 2


def test_cli_simulate_on_postgresql_with_the_us_pack(postgres_url, monkeypatch, capsys):
    _run(monkeypatch, "collections", "simulate", "--loans", "20", "--days", "2", "--seed", "1",
         "--agents", "3", "--pack", "us-regf", "--json",
         "--database-url", postgres_url)  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["pack"] == "us-regf" and report["attempts"] > 0
    assert report["checker"]["violations"] == 0 and report["audit"]["verified"]


def test_cli_restore_agent_lifts_a_suspension(engine, db_url, monkeypatch, capsys):
    ctx = make_context()
    add_contacts(engine, ctx, add_loan(engine, 1, 5))
    dial(engine, "forged-grant-xxxxxxxxxxxx", "mallory", MORNING, ctx)  # suspends mallory
    _run(monkeypatch, "collections", "restore-agent", "mallory", "--supervisor", "lead-1",
         "--database", _plain(db_url))  # fmt: skip
    assert "restored" in capsys.readouterr().out
    with engine.connect() as connection:
        agent = connection.execute(
            select(collection_agents).where(collection_agents.c.agent_id == "mallory")
        ).one()
    assert agent.status == "ACTIVE" and agent.restored_by == "lead-1"
    _run(monkeypatch, "compliance", "report", "--from", "2026-03-01", "--to", "2099-12-31",
         "--json", "--database", _plain(db_url))  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["decrypts_refused"] == 1 and report["suspensions"] == 1
    assert report["restorations"] == 1 and report["violations_by_kind"] == {
        "DECRYPT_WITHOUT_GRANT": 1
    }
