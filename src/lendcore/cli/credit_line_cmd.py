"""`lendcore credit-line show --borrower ID [--json]`: a borrower's credit line and its history."""

from __future__ import annotations

import typer
from rich.table import Table

from lendcore.cli.common import app, console, print_json
from lendcore.decisioning.credit_lines import credit_line_document
from lendcore.store.db import database_url, make_engine
from lendcore.store.migrate import upgrade

credit_line_app = typer.Typer(help="授信额度 / Credit lines", no_args_is_help=True)
app.add_typer(credit_line_app, name="credit-line")


@credit_line_app.command("show")
def credit_line_show(
    borrower: int = typer.Option(..., "--borrower", help="借款人编号 borrower id"),
    database: str = typer.Option(
        None,
        "--database-url",
        help="database URL (default: $LENDCORE_DATABASE_URL or sqlite:///var/lendcore.db)",
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """授信额度与变更历史 / The borrower's credit line and every change to it."""
    engine = make_engine(database or database_url())
    upgrade(engine)
    with engine.connect() as connection:
        document = credit_line_document(connection, borrower)
    if json_out:
        print_json(document)
        return
    console.print(
        f"借款人 Borrower {borrower} · {document['product']} · {document['tier']} · "
        f"额度 limit {document['credit_limit']} / 上限 max {document['tier_max']} · "
        f"按时 on time {document['on_time_count']}/{document['step_up']['after']} "
        f"(×{document['step_up']['factor']}) · 逾期 late {document['late_total']}"
    )
    table = Table()
    for column in (
        "#",
        "事件 Event",
        "营业日 Date",
        "额度前 Before",
        "额度后 After",
        "按时 On time",
    ):
        table.add_column(column)
    for event in document["history"]:
        table.add_row(
            str(event["version"]),
            event["kind"],
            event["business_date"],
            event["limit_before"],
            event["limit_after"],
            f"{event['on_time_before']} → {event['on_time_after']}",
        )
    console.print(table)
