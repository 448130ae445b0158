"""``lendcore simulate`` (a synthetic portfolio through the real services) and ``lendcore report``
(the portfolio report of any lendcore database)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from lendcore.cli.common import app, console, err_console, print_json
from lendcore.collections.contacts import Vault, default_key_provider
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.sim.database import prepare_database, sqlite_path
from lendcore.sim.html import write_html
from lendcore.sim.report import full_report
from lendcore.sim.simulator import DailyPoint, SimulationConfig, simulate
from lendcore.sim.terminal import print_report
from lendcore.store.db import database_url, make_engine

DEFAULT_HTML = "var/report.html"


@contextmanager
def _reachable(url: str) -> Iterator[None]:
    """A database that cannot be reached is one clear line, not a traceback."""
    try:
        yield
    except OperationalError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"cannot use database {shown}: {reason}"
        ) from None


def _start(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_DATE, f"start is not a YYYY-MM-DD date: {text!r}"
        ) from None


@app.command("simulate")
def simulate_cmd(
    borrowers: int = typer.Option(3000, help="借款人数 number of synthetic borrowers"),
    days: int = typer.Option(120, help="模拟天数 days to simulate (one end of day each)"),
    seed: int = typer.Option(7, help="随机种子 seed: the same seed gives the same report"),
    start: str = typer.Option("2026-01-01", help="首个营业日 first business date YYYY-MM-DD"),
    database: str = typer.Option(
        None, help="数据库 URL (default: $LENDCORE_DATABASE_URL or sqlite:///var/lendcore.db)"
    ),
    reset: bool = typer.Option(
        False, "--reset", help="PostgreSQL: drop and recreate lendcore's tables if it holds data"
    ),
    reject_rate: float = typer.Option(0.01, help="沙箱放款拒绝率 sandbox payout reject rate"),
    collection_agents: int = typer.Option(
        4, help="催收坐席数 collection agents working the daily worklist (0: no collections)"
    ),
    underwriting: bool = typer.Option(
        True,
        "--underwriting/--no-underwriting",
        help="授信决策 every loan starts as an application through the decision pipeline",
    ),
    hardship: bool = typer.Option(
        True, "--hardship/--no-hardship", help="困难协商 offer plans to borrowers in hardship"
    ),
    html: str = typer.Option(DEFAULT_HTML, help="HTML 报告路径 where to write the HTML report"),
    no_html: bool = typer.Option(False, "--no-html", help="不写 HTML do not write the HTML report"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """模拟合成资产组合并出报告 / Simulate a synthetic portfolio end to end, then report on it.

    SQLite: the database file is deleted and recreated. PostgreSQL: refused when the database
    holds data, unless --reset. Contact data is encrypted under the local key file
    ($LENDCORE_KEY_FILE or var/keys/), as the API and the collections commands read it."""
    config = SimulationConfig(
        borrowers=borrowers,
        days=days,
        seed=seed,
        start=_start(start),
        reject_rate=reject_rate,
        collection_agents=collection_agents,
        underwriting=underwriting,
        hardship=hardship,
    )
    url = database or database_url()
    with _reachable(url):
        engine, note = prepare_database(url, reset=reset)
    out = err_console if json_out else console
    out.print(f"[dim]{note}[/]")
    try:
        progress = Progress(
            TextColumn("模拟 simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )
        with progress:
            task = progress.add_task("", total=config.days)

            def on_day(done: int, point: DailyPoint) -> None:
                progress.update(
                    task,
                    completed=done,
                    description=f"{point.day} · 在贷 live {point.live} · 逾期 overdue {point.overdue}",
                )

            vault = Vault.from_provider(default_key_provider()) if collection_agents else None
            result = simulate(engine, config, on_day, vault=vault)
        with engine.connect() as connection:
            document = full_report(connection, result)
    finally:
        engine.dispose()
    written = None if no_html else write_html(document, Path(html))
    timing = (
        f"用时 elapsed {result.seconds:.1f} s for {config.borrowers} borrowers × {config.days} days"
        f" ({result.stats.loans_opened} loans, {result.stats.repayments} repayments)"
    )
    if json_out:
        print_json(document)
        err_console.print(timing)
    else:
        print_report(console, document)
        console.print(timing)
    if written:
        out.print(f"HTML 报告 report: {written}")


@app.command("report")
def report_cmd(
    database: str = typer.Option(
        None, help="数据库 URL (default: $LENDCORE_DATABASE_URL or sqlite:///var/lendcore.db)"
    ),
    html: str = typer.Option(None, help="也写 HTML 报告 also write the HTML report to this path"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """资产组合报告 / Portfolio report of an existing database: states, buckets, income,
    roll rates, trial balance, reconciliation."""
    url = database or database_url()
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None and not path.exists():
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT,
                f"no database at {path}; run `lendcore simulate` first",
            )
    engine = make_engine(url)
    try:
        with _reachable(url), engine.connect() as connection:
            if not inspect(connection).has_table("loans"):
                raise ValidationError(
                    ErrorCode.INVALID_ARGUMENT,
                    "the database has no lendcore schema; run `lendcore simulate` first",
                )
            document = full_report(connection)
    finally:
        engine.dispose()
    if json_out:
        print_json(document)
    else:
        print_report(console, document)
    if html:
        written = write_html(document, Path(html))
        (err_console if json_out else console).print(f"HTML 报告 report: {written}")
