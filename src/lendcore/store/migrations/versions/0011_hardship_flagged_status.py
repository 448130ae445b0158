"""hardship cases: FLAGGED is a stored status (a statement with forgery signals, not yet cleared)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:30:00.000000

Before this revision the status check did not list FLAGGED, so a flagged case was stored as
INELIGIBLE with the STATEMENT_FLAGGED reason and no operator (and only shown as FLAGGED). Those
rows become FLAGGED here; a case whose flag an operator cleared (operator set) stays INELIGIBLE.
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BEFORE = ("INELIGIBLE", "CALCULATED", "PENDING", "REJECTED", "ACTIVE", "BREACHED", "COMPLETED")
_AFTER = ("INELIGIBLE", "FLAGGED", *_BEFORE[1:])
_NAME = "ck_hardship_cases_status"

# Only the columns the data step reads and writes (not the application's table: a migration
# must keep meaning what it meant when it was written).
_cases = sa.table(
    "hardship_cases",
    sa.column("case_id", sa.BigInteger()),
    sa.column("status", sa.String()),
    sa.column("operator", sa.String()),
    sa.column("result", sa.JSON()),
)


def _check(statuses: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(s) for s in statuses)})"


def _replace_check(statuses: tuple[str, ...]) -> None:
    # SQLite cannot alter a constraint: batch mode rebuilds the table (copying its rows and
    # indexes); PostgreSQL drops and adds the constraint in place.
    with op.batch_alter_table("hardship_cases", schema=None, recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f(_NAME), type_="check")
        batch_op.create_check_constraint(op.f(_NAME), _check(statuses))


def _is_flag_reason(result: Any) -> bool:
    if isinstance(result, str):  # a driver that hands JSON back as text
        result = json.loads(result)
    reasons = (result or {}).get("reasons") or []
    return any(isinstance(r, dict) and r.get("code") == "STATEMENT_FLAGGED" for r in reasons)


def _flagged_but_ineligible(connection: sa.Connection) -> list[int]:
    """INELIGIBLE, no operator, a STATEMENT_FLAGGED reason. The text match narrows the rows
    read (the JSON operators differ between the databases); the reasons decide."""
    rows = connection.execute(
        sa.select(_cases.c.case_id, _cases.c.result).where(
            _cases.c.status == "INELIGIBLE",
            _cases.c.operator.is_(None),
            sa.cast(_cases.c.result, sa.Text()).like("%STATEMENT_FLAGGED%"),
        )
    )
    return [int(row.case_id) for row in rows if _is_flag_reason(row.result)]


def _set_status(connection: sa.Connection, case_ids: list[int], status: str) -> None:
    for start in range(0, len(case_ids), 500):  # bounded IN lists
        chunk = case_ids[start : start + 500]
        connection.execute(
            sa.update(_cases).where(_cases.c.case_id.in_(chunk)).values(status=status)
        )


def upgrade() -> None:
    _replace_check(_AFTER)
    connection = op.get_bind()
    _set_status(connection, _flagged_but_ineligible(connection), "FLAGGED")


def downgrade() -> None:
    # Back to the old storage of a flagged case (the old code reads it as flagged) before the
    # old check, which would refuse FLAGGED, comes back.
    op.execute("UPDATE hardship_cases SET status = 'INELIGIBLE' WHERE status = 'FLAGGED'")
    _replace_check(_BEFORE)
