"""Checks the case service makes before it acts: whether a case is flagged (a statement with
forgery signals, not yet cleared by an operator), the debt a case was priced on, and the down
payment's receipt reference. Read-only: each either returns or raises a coded error."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, text

from lendcore.hardship.tables import hardship_cases
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.money import format_major, parse_major
from lendcore.servicing.restructure import Debt

FLAGGED = "FLAGGED"
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")


def _fen(text: Any) -> int:
    return parse_major(str(text))


def flag_reasons(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r for r in result.get("reasons", []) if r.get("code") == "STATEMENT_FLAGGED"]


def is_flagged(row: Any) -> bool:
    """A flagged case not yet cleared (clearing moves it to INELIGIBLE)."""
    return bool(row.status == FLAGGED)


def flag_document(row: Any) -> dict[str, Any] | None:
    if not flag_reasons(row.result):
        return None
    statements = row.result.get("statements") or {}
    cleared = None
    if row.operator is not None:
        cleared = {
            "operator": row.operator,
            "note": row.decision_note,
            "at": row.updated_at.isoformat(),
        }
    return {"signals": statements.get("signals", []), "cleared": cleared}


def refuse_if_flagged(connection: Connection, loan_id: int) -> None:
    """Fail closed: while a flagged case of the loan is not cleared, no new calculation (a
    declared income would otherwise walk round the forged statement at once)."""
    flagged = connection.execute(
        select(hardship_cases.c.case_id)
        .where(hardship_cases.c.loan_id == loan_id, hardship_cases.c.status == FLAGGED)
        .order_by(hardship_cases.c.case_id)
        .limit(1)
    ).scalar()
    if flagged is not None:
        raise PolicyViolation(
            ErrorCode.CASE_FLAGGED,
            "该贷款的银行流水被标记为疑似篡改，需人工核查并解除后方可重新测算 / a statement for "
            "this loan was flagged: an operator must review it and clear the flag first",
            {"loan_id": loan_id, "flagged_case_id": str(flagged)},
        )


def priced_debt(request: Mapping[str, Any]) -> Debt:
    """The loan's debt when the case was calculated (kept in the case's request)."""
    debt = request["debt"]
    return Debt(
        principal=_fen(debt.get("principal", "0")),
        interest=_fen(debt.get("interest", "0")),
        fee=_fen(debt.get("fees", "0")),
        penalty=_fen(debt.get("penalty", "0")),
    )


def check_reference(connection: Connection, down_payment: int, reference: str | None) -> None:
    if not down_payment:
        if reference:
            raise ValidationError(
                ErrorCode.INVALID_ARGUMENT,
                "该方案无首付款，不应提供回单号 / the plan has no down payment: no receipt "
                "reference is expected",
                {"field": "down_payment_reference"},
            )
        return
    if not reference:
        raise ValidationError(
            ErrorCode.DOWN_PAYMENT_REFERENCE_REQUIRED,
            "首付款需提供支付渠道回单号 / the plan's down payment needs the payment channel's "
            "receipt reference (down_payment_reference)",
            {"field": "down_payment_reference", "down_payment": format_major(down_payment)},
        )
    if not REFERENCE.match(reference):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "回单号格式不正确 / the receipt reference must be 1-64 letters, digits or _.:/-",
            {"field": "down_payment_reference"},
        )
    if connection.dialect.name == "postgresql":
        # Two approvals with the same receipt at once: the second waits for the first's commit
        # and then finds the reference taken (there is no unique column to lean on).
        key = int.from_bytes(hashlib.sha256(reference.encode()).digest()[:8], "big", signed=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    used = connection.execute(
        select(hardship_cases.c.case_id).where(
            hardship_cases.c.restructure["down_payment_reference"].as_string() == reference
        )
    ).first()
    if used is not None:
        raise PolicyViolation(
            ErrorCode.DOWN_PAYMENT_REFERENCE_USED,
            "该回单号已用于另一笔首付款 / this receipt reference was already used for a down "
            "payment",
            {"field": "down_payment_reference", "case_id": str(used.case_id)},
        )
