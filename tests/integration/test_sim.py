"""The portfolio simulator and report, through the real services, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from lendcore.cli.common import app
from lendcore.kernel.errors import LendcoreError
from lendcore.sim.behaviour import Profile
from lendcore.sim.database import prepare_database
from lendcore.sim.html import render_html
from lendcore.sim.report import full_report
from lendcore.sim.simulator import SimulationConfig, simulate

from .conftest import BACKENDS, POSTGRES_URL, _postgres_url

SMALL = SimulationConfig(borrowers=60, days=75, seed=7)


def run(engine, config=SMALL):
    result = simulate(engine, config)
    with engine.connect() as connection:
        return full_report(connection, result)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small run on a SQLite database of its own: what every backend must reproduce."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'reference.db'}"
    engine, _ = prepare_database(url)
    try:
        return run(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def simulated(request, tmp_path_factory):
    """(url, report) of the small run on each backend, once per module: a simulation is the
    slow part, and every test below only reads its outcome. Same backends and PostgreSQL schema
    isolation as conftest's ``db_url``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'lendcore.db'}"
        engine, _ = prepare_database(url)
        try:
            yield url, run(engine)
        finally:
            engine.dispose()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = _postgres_url(schema)
    engine, _ = prepare_database(url)
    try:
        yield url, run(engine)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_a_small_simulation_reconciles_and_balances(simulated):
    _, report = simulated
    assert report["reconciliation"]["ok"], report["reconciliation"]
    assert report["reconciliation"]["loans_checked"] > 25
    trial = report["trial_balance"]
    assert trial["balanced"] and trial["total_debit"] == trial["total_credit"]
    assert [a["account"] for a in trial["accounts"]] == [
        "1001", "1121", "1131", "1132", "1133", "1901", "2241", "6011", "6021", "6031", "6701",
        "6702",
    ]  # fmt: skip


def test_a_small_simulation_has_loans_in_several_states(simulated):
    states = simulated[1]["loans"]["by_state"]
    for state in ("ACTIVE", "OVERDUE", "SETTLED"):
        assert states[state]["loans"] > 0, state


def test_the_same_seed_gives_the_same_report_on_every_backend(simulated, reference):
    assert simulated[1] == reference


def test_the_simulator_runs_on_a_migrated_empty_database(engine):
    report = run(engine, SimulationConfig(borrowers=10, days=20, seed=5))
    underwriting = report["simulation"]["underwriting"]
    assert report["reconciliation"]["ok"] and underwriting["applications"] >= 10
    assert report["loans"]["total"] == underwriting["funded"] >= 1


def test_a_different_seed_gives_a_different_report(tmp_path, reference):
    engine, _ = prepare_database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        other = run(engine, SimulationConfig(borrowers=60, days=75, seed=8))
    finally:
        engine.dispose()
    assert other["reconciliation"]["ok"]
    assert other["loans"] != reference["loans"]


def test_report_command_on_the_database_gives_the_simulation_figures(simulated):
    url, simulated_report = simulated
    result = CliRunner().invoke(app, ["report", "--database", url, "--json"])
    assert result.exit_code == 0, result.output
    from_database = json.loads(result.stdout)
    assert from_database["simulation"] is None
    assert {k: v for k, v in simulated_report.items() if k != "simulation"} == {
        k: v for k, v in from_database.items() if k != "simulation"
    }


def test_roll_rates_follow_loans_from_one_month_end_to_the_next(reference):
    periods = reference["roll_rates"]
    assert [(p["from"], p["to"]) for p in periods] == [("2026-01-31", "2026-02-28")]
    for row in periods[0]["buckets"]:
        assert sum(row["to"].values()) == row["loans"]
    m0 = periods[0]["buckets"][0]
    assert m0["roll_rate"] == f"{m0['to'].get('M1', 0) / m0['loans']:.4f}"


def test_loans_past_the_write_off_threshold_are_written_off(tmp_path):
    engine, _ = prepare_database(f"sqlite:///{tmp_path / 'wo.db'}")
    config = SimulationConfig(
        borrowers=12,
        days=70,
        seed=3,
        profile_weights=((Profile.DEFAULTER, 1),),
        origination_window=0.2,
        write_off_after_days=15,
    )
    try:
        report = run(engine, config)
    finally:
        engine.dispose()
    assert report["loans"]["by_state"]["WRITTEN_OFF"]["loans"] > 0
    assert report["write_off_expense"] == report["simulation"]["written_off_amount"] != "0.00"
    assert report["reconciliation"]["ok"]


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_the_html_report_says_synthetic_and_draws_its_charts(reference):
    page = render_html(reference)
    parser = _Parser()
    parser.feed(page)
    assert parser.tags.count("svg") == 4  # buckets, states, trend, application scores
    assert "SYNTHETIC" in page and "合成数据" in page
    assert "Live loans by bucket" in page and "Outstanding principal and overdue share" in page
    assert "Credit decisions" in page and "Application scores" in page


def test_simulate_command_recreates_the_sqlite_file_and_writes_json_and_html(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    html = tmp_path / "out" / "report.html"
    args = ["simulate", "--borrowers", "15", "--days", "35", "--database", url, "--json"]
    first = CliRunner().invoke(app, [*args, "--html", str(html)])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(app, [*args, "--no-html"])
    assert json.loads(first.stdout) == json.loads(second.stdout)  # a fresh file each time
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_postgres_with_data_is_refused_without_reset(postgres_url):
    engine, _ = prepare_database(postgres_url)
    simulate(engine, SimulationConfig(borrowers=3, days=3))
    engine.dispose()
    with pytest.raises(LendcoreError, match="--reset"):
        prepare_database(postgres_url)
    engine, note = prepare_database(postgres_url, reset=True)
    try:
        with engine.connect() as connection:
            report = full_report(connection)
    finally:
        engine.dispose()
    assert "--reset" in note
    assert report["loans"]["total"] == 0 and report["borrowers"]["total"] == 0
