"""`lendcore db upgrade`, `lendcore eod`, `lendcore ledger reconcile`, `lendcore loan show`,
`lendcore repay`."""

from __future__ import annotations

from datetime import date

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lendcore.batch.runner import run_eod
from lendcore.cli.common import app, console, print_json
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.money import parse_major
from lendcore.ledger.reconcile import reconcile, reconciliation_document
from lendcore.servicing.queries import loan_document
from lendcore.servicing.service import repay
from lendcore.store.db import UnitOfWork, database_url, make_engine
from lendcore.store.migrate import upgrade

db_app = typer.Typer(help="数据库 / Database schema", no_args_is_help=True)
ledger_app = typer.Typer(help="总账 / Ledger", no_args_is_help=True)
loan_app = typer.Typer(help="贷款 / Loans", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ledger_app, name="ledger")
app.add_typer(loan_app, name="loan")

DatabaseOption = typer.Option(
    None,
    "--database",
    help="database URL (default: $LENDCORE_DATABASE_URL or sqlite:///var/lendcore.db)",
)


def _date(text: str | None) -> date:
    if text is None:
        return SystemClock().business_date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(ErrorCode.INVALID_DATE, f"not a YYYY-MM-DD date: {text!r}") from None


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"--shard takes i/n, e.g. 0/2: {text!r}"
        ) from None
    if not 0 <= index < count:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"--shard needs 0 <= i < n: {text!r}")
    return index, count


def _engine(url: str | None):  # type: ignore[no-untyped-def]
    engine = make_engine(url or database_url())
    upgrade(engine)  # idempotent: brings a fresh or older database to the current schema
    return engine


@db_app.command("upgrade")
def db_upgrade(database: str = DatabaseOption) -> None:
    """建表/迁移到最新版本 / Create or migrate the schema to the latest revision."""
    engine = make_engine(database or database_url())
    upgrade(engine)
    console.print(
        f"数据库已是最新 / database at head: {engine.url.render_as_string(hide_password=True)}"
    )


@app.command()
def eod(
    business_date: str = typer.Option(
        None, "--date", help="营业日 business date to close up to (default: today, Asia/Shanghai)"
    ),
    workers: int = typer.Option(1, min=1, max=64, help="worker processes"),
    shard: str = typer.Option("0/1", help="this machine's share i/n of the chunks"),
    database: str = DatabaseOption,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """日终批处理 / End-of-day: accrual, due and overdue, penalty, buckets, events. Restartable."""
    target = _date(business_date)
    engine = _engine(database)
    with Progress(
        TextColumn("日终 EOD"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=json_out,
        transient=False,
    ) as progress:
        task = progress.add_task("chunks", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = run_eod(
            engine, target, workers=workers, shard=_shard(shard), on_progress=on_progress
        )
    document = {
        "target_date": target.isoformat(),
        "days": summary.days,
        "chunks": summary.chunks,
        "loan_days": summary.loan_days,
        "seconds": round(summary.seconds, 3),
        "loans_per_second": round(summary.loans_per_second, 1),
        "workers": workers,
    }
    # The end of day's completion step (batch.runner.complete_day): None while other shards
    # still have loans open for the date.
    document["hardship_plans"] = summary.hardship_plans
    if json_out:
        print_json(document)
    else:
        console.print(
            f"已关账至 closed through {target}: {summary.loan_days} 笔·日 loan-days, {summary.days} 天 days, "
            f"{summary.chunks} 块 chunks, {summary.seconds:.2f}s ({summary.loans_per_second:,.0f} loan-days/s)"
        )


@ledger_app.command("reconcile")
def ledger_reconcile(
    database: str = DatabaseOption, json_out: bool = typer.Option(False, "--json")
) -> None:
    """对账 / Prove every loan's balances equal its ledger balances; print the trial balance.
    Exit status 1 when anything disagrees."""
    engine = _engine(database)
    with engine.connect() as connection:
        result = reconcile(connection)
    document = reconciliation_document(result)
    if json_out:
        print_json(document)
    else:
        table = Table(title="试算平衡表 Trial balance", show_footer=True)
        table.add_column("科目 Account")
        table.add_column("名称 Name")
        table.add_column("借方 Debit", justify="right", footer=document["total_debit"])
        table.add_column("贷方 Credit", justify="right", footer=document["total_credit"])
        table.add_column("余额 Balance", justify="right")
        for row in document["trial_balance"]:
            table.add_row(
                row["account"],
                f"{row['name_zh']} {row['name_en']}",
                row["debit"],
                row["credit"],
                row["balance"],
            )
        console.print(table)
        verdict = "[green]一致 RECONCILED[/]" if result.ok else "[bold red]不一致 MISMATCH[/]"
        console.print(
            f"{verdict}: {result.loans_checked} 笔贷款 loans checked, "
            f"{len(result.ledger_mismatches)} ledger / {len(result.schedule_mismatches)} schedule mismatches"
        )
    if not result.ok:
        raise SystemExit(1)


@loan_app.command("show")
def loan_show(
    loan_id: int = typer.Argument(..., help="贷款编号 loan id"),
    database: str = DatabaseOption,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """贷款详情与还款计划 / A loan's balances and its schedule with what is paid."""
    with _engine(database).connect() as connection:
        document = loan_document(connection, loan_id)
    if json_out:
        print_json(document)
        return
    console.print(
        f"贷款 Loan {loan_id} · {document['state']} ({document['order_status']}) · "
        f"逾期天数 DPD {document['days_past_due']} · {document['bucket']} · "
        f"剩余本金 principal {document['principal_outstanding']}"
    )
    table = Table()
    for column in (
        "#",
        "还款日 Due",
        "本金 Principal",
        "利息 Interest",
        "费用 Fee",
        "已还本金 Paid P",
        "已还利息 Paid I",
        "已还费用 Paid F",
    ):
        table.add_column(column, justify="right")
    for r in document["instalments"]:
        table.add_row(
            str(r["seq"]),
            r["due_date"],
            r["principal_due"],
            r["interest_due"],
            r["fee_due"],
            r["principal_paid"],
            r["interest_paid"],
            r["fee_paid"],
        )
    console.print(table)


@app.command("repay")
def repay_cmd(
    loan_id: int = typer.Option(..., help="贷款编号 loan id"),
    amount: str = typer.Option(..., help="金额 amount in yuan"),
    key: str = typer.Option(..., help="幂等键 idempotency key: the same key never applies twice"),
    business_date: str = typer.Option(None, "--date", help="营业日 business date of the payment"),
    database: str = DatabaseOption,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """还款 / Apply a repayment through the product's allocation waterfall."""
    engine = _engine(database)
    clock = SystemClock()
    with UnitOfWork(engine) as uow:
        result = repay(uow, loan_id, parse_major(amount), key, _date(business_date), clock.now())
        uow.commit()
    document = {
        "loan_id": loan_id,
        "state": str(result.state),
        "duplicate": result.duplicate,
        "allocation": result.allocation,
    }
    if json_out:
        print_json(document)
    else:
        console.print(
            f"已入账 applied: loan {loan_id} → {result.state}"
            f"{' (重复请求 duplicate: nothing changed)' if result.duplicate else ''}"
        )
        console.print(result.allocation)


__all__ = ["LendcoreError"]


@app.command("api")
def api_cmd(
    host: str = typer.Option("127.0.0.1", help="bind address"),
    port: int = typer.Option(8000, help="port"),
    workers: int = typer.Option(1, min=1, max=64, help="worker processes 进程数"),
    database: str = DatabaseOption,
) -> None:
    """HTTP API 服务 / Serve the HTTP API (OpenAPI at /docs)."""
    from lendcore.api.serve import serve

    serve(host, port, database or database_url(), workers)
