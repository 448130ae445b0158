"""``lendcore collections investigation authorise|revoke|list``: the fraud-investigation
authorisations the gate's INVESTIGATION exception rests on (every change audited)."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from lendcore.cli.audit_cmd import DatabaseOption, open_engine
from lendcore.cli.collections_cmd import collections_app
from lendcore.cli.common import console, print_json
from lendcore.collections.flags import (
    authorise_investigation,
    list_investigations,
    revoke_investigation,
)
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.store.db import UnitOfWork

investigation_app = typer.Typer(
    help="调查授权 / Fraud-investigation authorisations", no_args_is_help=True
)
collections_app.add_typer(investigation_app, name="investigation")


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, f"not an ISO 8601 time: {text!r}"
        ) from None
    if moment.utcoffset() is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"the time needs an offset: {text!r}")
    return moment


def _show(document: dict[str, object], json_out: bool) -> None:
    if json_out:
        print_json(document)
    else:
        console.print(
            f"{document['reference']} loan {document['loan_id']}: {document['status']} "
            f"(expires {document['expires_at']})",
            highlight=False,
        )


@investigation_app.command("authorise")
def authorise_cmd(
    loan_id: int = typer.Option(..., "--loan"),
    reference: str = typer.Option(..., "--reference", help="the case reference calls quote"),
    authorised_by: str = typer.Option(..., "--authorised-by", help="the supervisor (audited)"),
    reason: str = typer.Option(..., "--reason"),
    expires_at: str | None = typer.Option(
        None, "--expires-at", help="ISO 8601 with offset (default: 30 days)"
    ),
    json_out: bool = typer.Option(False, "--json"),
    database: str = DatabaseOption,
) -> None:
    """记录调查授权 / Record an authorisation: INVESTIGATION calls quoting it pass until it
    expires or is revoked."""
    engine = open_engine(database)
    try:
        with UnitOfWork(engine) as uow:
            document = authorise_investigation(
                uow.connection, loan_id, reference, authorised_by, SystemClock().now(),
                reason=reason, expires_at=_moment(expires_at),
            )  # fmt: skip
            uow.commit()
    finally:
        engine.dispose()
    _show(document, json_out)


@investigation_app.command("revoke")
def revoke_cmd(
    loan_id: int = typer.Option(..., "--loan"),
    reference: str = typer.Option(..., "--reference"),
    revoked_by: str = typer.Option(..., "--by", help="who revokes (audited)"),
    reason: str = typer.Option(..., "--reason"),
    json_out: bool = typer.Option(False, "--json"),
    database: str = DatabaseOption,
) -> None:
    """撤销调查授权 / Revoke an authorisation: from now on the gate denies it."""
    engine = open_engine(database)
    try:
        with UnitOfWork(engine) as uow:
            document = revoke_investigation(
                uow.connection, loan_id, reference, revoked_by, SystemClock().now(), reason=reason
            )
            uow.commit()
    finally:
        engine.dispose()
    _show(document, json_out)


@investigation_app.command("list")
def list_cmd(
    loan_id: int | None = typer.Option(None, "--loan"),
    json_out: bool = typer.Option(False, "--json"),
    database: str = DatabaseOption,
) -> None:
    """调查授权列表 / The register, newest first, with each one's status now."""
    engine = open_engine(database)
    try:
        with engine.connect() as connection:
            rows = list_investigations(connection, SystemClock().now(), loan_id)
    finally:
        engine.dispose()
    if json_out:
        print_json(rows)
        return
    table = Table(title="调查授权 Investigation authorisations")
    for column in ("loan", "reference", "status", "authorised_by", "expires_at"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["loan_id"]), str(row["reference"]), str(row["status"]),
                      str(row["authorised_by"]), str(row["expires_at"]))  # fmt: skip
    console.print(table)
