"""``lendcore hardship approve`` and ``clear-flag``: an operator's decisions on a case from the
command line, through the same case service as the API (same checks, same audit entries)."""

from __future__ import annotations

import typer

from lendcore.cli.common import console, print_json
from lendcore.cli.hardship_cmd import hardship_app
from lendcore.cli.servicing_cmd import DatabaseOption, _date, _engine
from lendcore.hardship import service
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.money import format_major
from lendcore.store.db import UnitOfWork


@hardship_app.command("approve")
def approve_cmd(
    case_id: int = typer.Argument(..., help="协商案件号 / the case id"),
    operator: str = typer.Option(..., "--operator", help="审批人 / the operator's id"),
    note: str = typer.Option("", "--note", help="审批意见 / the operator's note"),
    down_payment_reference: str = typer.Option(
        None,
        "--down-payment-reference",
        help="首付款回单号 / the payment channel's receipt serial (required with a down payment)",
    ),
    business_date: str = typer.Option(None, "--date", help="营业日 YYYY-MM-DD (default: today)"),
    database: str = DatabaseOption,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """批准并重组 / Approve a PENDING case: restructure the loan, pause collection."""
    engine = _engine(database)
    with UnitOfWork(engine) as uow:
        case = service.approve(
            uow,
            case_id,
            operator=operator,
            business_date=_date(business_date),
            now=SystemClock().now(),
            note=note,
            down_payment_reference=down_payment_reference,
        )
        uow.commit()
    if json_out:
        print_json(case)
        return
    booked = case["restructure"]
    console.print(
        f"案件 case {case['case_id']}: {case['status']} · 新本金 new principal "
        f"{format_major(booked['new_principal'])} · {len(booked['schedule'])} 期 periods",
        highlight=False,
    )


@hardship_app.command("clear-flag")
def clear_flag_cmd(
    case_id: int = typer.Argument(..., help="协商案件号 / the case id"),
    operator: str = typer.Option(..., "--operator", help="核查人 / the operator's id"),
    note: str = typer.Option(..., "--note", help="核查说明 / what was checked"),
    database: str = DatabaseOption,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """解除流水标记 / Clear a FLAGGED case after reviewing its statements (audited)."""
    engine = _engine(database)
    with UnitOfWork(engine) as uow:
        case = service.clear_flag(
            uow, case_id, operator=operator, note=note, now=SystemClock().now()
        )
        uow.commit()
    if json_out:
        print_json(case)
        return
    console.print(f"案件 case {case['case_id']}: {case['status']} (flag cleared)", highlight=False)
