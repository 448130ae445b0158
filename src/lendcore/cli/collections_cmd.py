"""``lendcore collections check`` (what-if contact gate), ``packs``, and the database-backed
``restore-agent``, ``worklist`` and ``simulate``."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from lendcore.cli.audit_cmd import DatabaseOption, open_engine
from lendcore.cli.common import app, console, print_json
from lendcore.collections.alerts import restore_agent
from lendcore.collections.context import default_context
from lendcore.collections.facts import parse_facts
from lendcore.collections.gate import evaluate
from lendcore.collections.loader import get_pack, load_packs
from lendcore.collections.model import REASON_TEXT, Reason
from lendcore.collections.pack import CompiledPack
from lendcore.collections.simulate import SimulationConfig, scratch_engine, simulate
from lendcore.collections.strategy import build_worklist
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import format_major
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork
from lendcore.store.migrate import upgrade

collections_app = typer.Typer(
    help="催收联系合规 / Collections contact compliance", no_args_is_help=True
)
app.add_typer(collections_app, name="collections")


def _read_stdin() -> str:
    # An empty stdin is a missing document, never an implicit "no facts, so allow".
    text = sys.stdin.read()
    if not text.strip():
        raise ValidationError(
            ErrorCode.INVALID_FACTS, "no facts on stdin (expected a JSON document)"
        )
    return text


@collections_app.command()
def check(json_out: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """模拟检查一次联系（事实从标准输入读取） / What-if: may this contact be made? Facts on stdin."""
    code, facts = parse_facts(_read_stdin())
    pack = get_pack(code)
    result = evaluate(pack, facts)
    if json_out:
        print_json(
            {
                "allowed": result.allowed,
                "reasons": [str(r) for r in result.reasons],
                "pack_version": result.pack_version,
            }
        )
        return
    if result.allowed:
        console.print("[bold green]准许 ALLOWED[/]")
    else:
        console.print("[bold red]拒绝 DENIED[/]")
        for reason in result.reasons:
            zh, en = REASON_TEXT.get(Reason(reason), ("", ""))
            console.print(f"  {reason}  {zh} / {en}", highlight=False)
    console.print(f"规则包 pack: {result.pack_version}", highlight=False)


def _pack_row(pack: CompiledPack) -> dict[str, Any]:
    rules = pack.pack.rules
    return {
        "code": pack.code,
        "name": {"zh-CN": pack.pack.name.zh_CN, "en": pack.pack.name.en},
        "jurisdiction": pack.pack.jurisdiction,
        "version": pack.pack.version,
        "effective_from": pack.pack.effective_from.isoformat(),
        "version_hash": pack.version_hash,
        "pack_version": pack.version,
        "rules": [name for name in type(rules).model_fields if getattr(rules, name) is not None],
    }


@collections_app.command()
def packs(json_out: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """合规规则包列表 / List the compliance packs in policies/compliance with their versions."""
    rows = [_pack_row(p) for p in load_packs().values()]
    if json_out:
        print_json(rows)
        return
    table = Table(title="合规规则包 Compliance packs")
    for column in ("代码 Code", "名称 Name", "辖区 Jurisdiction", "生效 Effective", "版本 Version"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["code"],
            f"{r['name']['zh-CN']} / {r['name']['en']}",
            r["jurisdiction"],
            r["effective_from"],
            f"v{r['version']} {r['version_hash'][:12]}",
        )
    console.print(table)


# ---- database-backed commands (the gate service, strategy, simulation) -------------------


def _date(text: str | None) -> date:
    if text is None:
        return SystemClock().business_date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(ErrorCode.INVALID_DATE, f"not a YYYY-MM-DD date: {text!r}") from None


@collections_app.command("restore-agent")
def restore_agent_cmd(
    agent_id: str = typer.Argument(..., help="the suspended agent"),
    supervisor: str = typer.Option(..., "--supervisor", help="who restores (audited)"),
    database: str = DatabaseOption,
) -> None:
    """恢复坐席催收权限 / Restore an agent suspended by a violation alert (supervisor only)."""
    engine = open_engine(database)
    try:
        with UnitOfWork(engine) as uow:
            restored = restore_agent(uow.connection, agent_id, supervisor, SystemClock().now())
            uow.commit()
    finally:
        engine.dispose()
    if restored:
        console.print(f"已恢复 restored: {agent_id} (by {supervisor})", highlight=False)
    else:
        console.print(f"{agent_id} 未被停权 was not suspended; nothing changed", highlight=False)


@collections_app.command("worklist")
def worklist_cmd(
    day: str = typer.Option(None, "--date", help="工作日 YYYY-MM-DD (default: today)"),
    agents: int = typer.Option(5, "--agents", min=1, max=10_000, help="number of agents"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
    database: str = DatabaseOption,
) -> None:
    """每日催收工作清单 / Today's worklist per agent from end-of-day events and loan state,
    every item pre-checked by the gate, ordered by priority."""
    target = _date(day)
    names = [f"agent-{n:03d}" for n in range(1, agents + 1)]
    engine = open_engine(database)
    try:
        worklist = build_worklist(engine, target, names, default_context())
    finally:
        engine.dispose()
    document = worklist.to_dict()
    if json_out:
        print_json(document)
        return
    console.print(
        f"工作清单 worklist {document['date']}: {document['items']} items for {agents} agents "
        f"({document['candidates']} candidates, {len(document['unassigned'])} unassigned)",
        highlight=False,
    )
    table = Table()
    columns = ("坐席 Agent", "贷款 Loan", "对象 Party", "渠道 Channel", "触发 Trigger")
    for column in (*columns, "账龄 Bucket", "逾期额 Overdue", "号码 Number"):
        table.add_column(column)
    for agent, items in document["agents"].items():
        for item in items:
            table.add_row(
                agent,
                str(item["loan_id"]),
                item["party"] + (f":{item['contact_id']}" if item["contact_id"] else ""),
                item["channel"],
                item["trigger_reason"],
                item["bucket"],
                format_major(item["amount_overdue"]),
                item["masked_number"] or "",
            )
    console.print(table)
    if document["skipped_by_reason"]:
        skipped = ", ".join(f"{k} {v}" for k, v in document["skipped_by_reason"].items())
        console.print(f"闸门预检排除 pre-check left out: {skipped}", highlight=False)


@collections_app.command("simulate")
def simulate_cmd(
    days: int = typer.Option(30, "--days", min=1, max=366),
    loans: int = typer.Option(2000, "--loans", min=1, max=200_000),
    seed: int = typer.Option(7, "--seed"),
    agents: int = typer.Option(40, "--agents", min=1, max=10_000),
    pack: str = typer.Option("cn", "--pack", help="compliance pack: cn | us-regf"),
    database: str = typer.Option(
        "sqlite:///var/collections-sim.db",
        "--database",
        help="a SQLite file, deleted and recreated (the simulation's scratch database)",
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        help="a PostgreSQL database to simulate in instead: it must hold no loans yet",
    ),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """催收模拟 / An aggressive dialler against the gate over delinquent loans, then an
    independent check of the call log (must find zero violations)."""
    get_pack(pack)  # an unknown pack is a clear error before anything is created
    engine = _simulation_engine(database, database_url)
    config = SimulationConfig(loans=loans, days=days, seed=seed, agents=agents, pack=pack)
    try:
        if json_out:
            report = simulate(engine, config)
        else:
            with Progress(
                TextColumn("模拟 simulating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                task = progress.add_task("days", total=days)
                report = simulate(
                    engine, config, lambda done, _total: progress.update(task, completed=done)
                )
    finally:
        engine.dispose()
    document = report.to_dict()
    if json_out:
        print_json(document)
    else:
        _print_simulation(document)
    if document["checker"]["violations"]:
        raise SystemExit(1)


def _simulation_engine(database: str, database_url: str | None) -> Any:
    if database_url is not None:
        if not database_url.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT, "--database-url takes a PostgreSQL URL"
            )
        engine = scratch_engine(database_url)
        upgrade(engine)
        with engine.connect() as connection:
            if connection.execute(select(func.count()).select_from(loans)).scalar_one():
                engine.dispose()
                raise ValidationError(
                    ErrorCode.INVALID_ARGUMENT,
                    "the simulation needs a database without loans / 模拟需要空数据库",
                )
        return engine
    if not database.startswith("sqlite:///"):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "--database is a SQLite file; use --database-url for PostgreSQL",
        )
    path = Path(database.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = scratch_engine(database)
    upgrade(engine)
    return engine


def _print_simulation(document: dict[str, Any]) -> None:
    console.print(
        f"{document['loans']} loans × {document['days']} days: {document['attempts']} attempts, "
        f"{document['allowed']} allowed, {document['denied']} denied, "
        f"{document['alerts']} violations blocked ({document['seconds']} s)",
        highlight=False,
    )
    table = Table(title="拒绝原因 Denied by reason")
    table.add_column("原因 Reason")
    table.add_column("次数 Count", justify="right")
    for reason, count in document["denied_by_reason"].items():
        table.add_row(reason, str(count))
    console.print(table)
    checker = document["checker"]
    colour = "green" if not checker["violations"] else "red"
    console.print(
        f"[bold {colour}]独立核查 independent checker: {checker['violations']} violations[/] "
        f"in {checker['rows_checked']} call-log rows; audit chain "
        f"{'intact' if document['audit']['verified'] else 'BROKEN'} "
        f"({document['audit']['records']} records)",
        highlight=False,
    )
