"""Entry point: registers the command modules and turns every error into one clear line."""

from __future__ import annotations

import typer
from typer.exceptions import Abort, Exit, TyperException

# Each module registers its commands on the shared app when imported.
from lendcore.cli import (  # noqa: F401
    audit_cmd,
    collections_cmd,
    credit_line_cmd,
    decide_cmd,
    decision_cmd,
    demo_cmd,
    hardship_case_cmd,
    hardship_cmd,
    investigations_cmd,
    model_cmd,
    pack_cmd,
    schedule_cmd,
    servicing_cmd,
    sim_cmd,
)
from lendcore.cli.common import app, fail
from lendcore.kernel.errors import LendcoreError


def main() -> None:
    command = typer.main.get_command(app)
    try:
        result = command.main(prog_name="lendcore", standalone_mode=False)
    except LendcoreError as exc:
        fail(str(exc.code), exc.message)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # help was printed; nothing went wrong
            raise SystemExit(0) from None
        fail("INVALID_ARGUMENT", " ".join(exc.format_message().split()))
    except Abort:
        fail("ABORTED", "aborted")
    except Exit as exc:
        raise SystemExit(exc.exit_code) from None
    if isinstance(result, int) and result:
        raise SystemExit(result)
