"""Hardship use cases on the database: calculate (and keep) a case, submit the plan a borrower
accepted, an operator's approval that books it, rejection, and the daily plan check.

Lifecycle of a case (``hardship_cases.status``)::

    calculate -> CALCULATED --submit--> PENDING --approve--> ACTIVE --breach--> BREACHED
             \\-> INELIGIBLE                   \\--reject--> REJECTED  \\--repaid--> COMPLETED
             \\-> FLAGGED --clear-flag--> INELIGIBLE

A statement with forgery signals makes the case FLAGGED: its signals and reasons go into the
audit entry, and further calculations for the same loan are refused (``CASE_FLAGGED``) until an
operator has reviewed the evidence and cleared the flag with a note (:func:`clear_flag`,
audited), which moves it to INELIGIBLE with the operator and note on it: the cleared case
stays without a plan, a new calculation starts afresh.

Approval books exactly the plan the borrower agreed to: if the loan owes something other than
the debt the case was priced on, it is refused with ``CASE_STALE`` (recalculate); a plan with a
down payment needs the payment channel's receipt reference, used once only.

Approval is where money moves: :func:`lendcore.servicing.restructure.restructure` books the
plan (waiver, capitalisation, down payment, new schedule) and collections pauses for the loan
(the gate's ``HARDSHIP_PLAN_ACTIVE``). A breach — more missed plan instalments than the policy
allows — ends the pause. Every step appends to the audit chain in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update

from lendcore.collections.audit import AuditEntry, append
from lendcore.collections.service import set_hardship_plan
from lendcore.hardship.case_checks import (
    FLAGGED,
    check_reference,
    flag_document,
    flag_reasons,
    is_flagged,
    priced_debt,
    refuse_if_flagged,
)
from lendcore.hardship.plan_check import DEFAULT_MISSES_ALLOWED as DEFAULT_MISSES_ALLOWED
from lendcore.hardship.plan_check import check_plans as check_plans
from lendcore.hardship.tables import hardship_cases
from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError
from lendcore.kernel.ids import SnowflakeIds
from lendcore.kernel.money import format_major, parse_major
from lendcore.servicing.restructure import RestructureTerms, current_debt, restructure
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

# calculate(request, *, seed) -> the engine's document (lendcore.hardship.calculate).
Calculator = Callable[..., dict[str, Any]]

_IDS = SnowflakeIds()


def _utc(moment: datetime) -> datetime:
    """Stored times are UTC (SQLite keeps no offset: an aware local time would be stored as
    its wall-clock reading)."""
    return moment.astimezone(UTC)


def _not_found(case_id: int) -> ValidationError:
    return ValidationError(
        ErrorCode.CASE_NOT_FOUND, f"no hardship case {case_id}", {"case_id": case_id}
    )


def _conflict(case_id: int, status: str, wanted: str) -> PolicyViolation:
    return PolicyViolation(
        ErrorCode.CASE_STATE_CONFLICT,
        f"case {case_id} is {status}, not {wanted}",
        {"case_id": case_id, "status": status},
    )


def _load(connection: Connection, case_id: int, *, lock: bool = False) -> Any:
    query = select(hardship_cases).where(hardship_cases.c.case_id == case_id)
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise _not_found(case_id)
    return row


def case_document(row: Any) -> dict[str, Any]:
    return {
        "case_id": str(row.case_id),
        "status": row.status,
        "flag": flag_document(row),
        "loan_id": None if row.loan_id is None else str(row.loan_id),
        "policy": {"id": row.policy_id, "version": row.policy_version},
        "plan_kind": row.plan_kind,
        "plan": row.plan,
        "consent": row.consent,
        "operator": row.operator,
        "decision_note": row.decision_note,
        "restructure": row.restructure,
        "breach": row.breach,
        "result": row.result,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def get_case(connection: Connection, case_id: int) -> dict[str, Any]:
    return case_document(_load(connection, case_id))


def _summarise_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of a request: statements by name and size only, never their content."""
    kept = {k: v for k, v in request.items() if k != "statements"}
    if request.get("statements"):
        kept["statements"] = [
            {"filename": name, "bytes": len(content)} for name, content in request["statements"]
        ]
    return kept


def calculate_case(
    uow: UnitOfWork,
    request: Mapping[str, Any],
    calculator: Calculator,
    *,
    now: datetime,
    actor: str,
    seed: int | None = None,
) -> dict[str, Any]:
    """Run the engine and keep the case. With a ``loan_id`` the debt and days past due are read
    from the loan (the ledger's balances), so a plan is always priced on what is really owed."""
    body = dict(request)
    loan_id = body.pop("loan_id", None)
    borrower_id = None
    if loan_id is not None:
        loan_id = int(loan_id)
        refuse_if_flagged(uow.connection, loan_id)
        debt = current_debt(uow, loan_id)
        loan = uow.connection.execute(
            select(loans.c.borrower_id, loans.c.days_past_due).where(loans.c.loan_id == loan_id)
        ).one()
        borrower_id = int(loan.borrower_id)
        body["debt"] = {
            "principal": format_major(debt.principal),
            "interest": format_major(debt.interest),
            "penalty": format_major(debt.penalty),
            "fees": format_major(debt.fee),
        }
        body["days_past_due"] = int(loan.days_past_due)
    case_id = _IDS.next_id()
    result = calculator(body, seed=case_id if seed is None else seed)
    if flag_reasons(result):
        status = FLAGGED
    elif result.get("eligible") and result.get("plans"):
        status = "CALCULATED"
    else:
        status = "INELIGIBLE"
    policy = result.get("policy") or {}
    uow.connection.execute(
        insert(hardship_cases).values(
            case_id=case_id,
            borrower_id=borrower_id,
            loan_id=loan_id,
            status=status,
            policy_id=str(policy.get("id", body.get("policy", ""))),
            policy_version=str(policy.get("version", "")),
            request=_summarise_request(body),
            result=result,
            misses_allowed=policy.get("misses_allowed"),
            created_at=_utc(now),
            updated_at=_utc(now),
        )
    )
    append(
        uow.connection,
        [
            AuditEntry(
                now,
                "hardship.calculate",
                actor,
                {
                    "case_id": case_id,
                    "loan_id": loan_id,
                    "status": status,
                    "reasons": result.get("reasons", []),
                    "signals": (result.get("statements") or {}).get("signals", []),
                    "stress": result.get("stress"),
                    "plans": [p.get("kind") for p in result.get("plans", [])],
                    "policy": policy,
                },
            )
        ],
    )
    return {"case_id": str(case_id), "status": status, **result}


def clear_flag(
    uow: UnitOfWork, case_id: int, *, operator: str, note: str, now: datetime
) -> dict[str, Any]:
    """An operator reviewed a flagged case's statements: the flag is cleared — FLAGGED becomes
    INELIGIBLE, as the case still offers no plan (audited with the signals and the note) — and
    the loan may be calculated again."""
    row = _load(uow.connection, case_id, lock=True)
    if not is_flagged(row):
        raise _conflict(case_id, row.status, FLAGGED)
    if not note.strip():
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            "解除标记需填写核查说明 / clearing a flag needs the operator's note",
            {"field": "note"},
        )
    uow.connection.execute(
        update(hardship_cases)
        .where(hardship_cases.c.case_id == case_id)
        .values(
            status="INELIGIBLE", operator=operator, decision_note=note[:500], updated_at=_utc(now)
        )
    )
    signals = (row.result.get("statements") or {}).get("signals", [])
    _audit(
        uow,
        now,
        "hardship.clear_flag",
        operator,
        case_id,
        loan_id=None if row.loan_id is None else int(row.loan_id),
        signals=[s.get("code") for s in signals],
        note=note[:500],
    )
    return get_case(uow.connection, case_id)


def submit(
    uow: UnitOfWork,
    case_id: int,
    plan_kind: str,
    consent: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """The borrower chose ``plan_kind`` and consented (an oral agreement needs its recording
    reference): the case waits for an operator."""
    row = _load(uow.connection, case_id, lock=True)
    if row.status != "CALCULATED":
        raise _conflict(case_id, row.status, "CALCULATED")
    plans = {p["kind"]: p for p in row.result.get("plans", [])}
    if plan_kind not in plans:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"case {case_id} offers no {plan_kind!r} plan",
            {"offered": sorted(plans)},
        )
    if consent.get("agreed") is not True:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, "the borrower's consent is required")
    if consent.get("channel") == "oral" and not consent.get("recording_ref"):
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT, "an oral agreement needs the call recording reference"
        )
    kept_consent = {**consent, "recorded_at": now.isoformat()}
    uow.connection.execute(
        update(hardship_cases)
        .where(hardship_cases.c.case_id == case_id)
        .values(
            status="PENDING",
            plan_kind=plan_kind,
            # The plan as offered, with the script for it (what the agent read to the borrower).
            plan={**plans[plan_kind], "script": (row.result.get("scripts") or {}).get(plan_kind)},
            consent=kept_consent,
            updated_at=_utc(now),
        )
    )
    _audit(uow, now, "hardship.submit", actor, case_id, plan_kind=plan_kind, consent=kept_consent)
    return get_case(uow.connection, case_id)


def _fen(text: Any) -> int:
    return parse_major(str(text))


def approve(
    uow: UnitOfWork,
    case_id: int,
    *,
    operator: str,
    business_date: date,
    now: datetime,
    note: str = "",
    annual_rate: Decimal = Decimal(0),
    down_payment_reference: str | None = None,
) -> dict[str, Any]:
    """Book the accepted plan: restructure the loan, pause collection, mark the case ACTIVE.
    ``down_payment_reference`` is the payment channel's receipt serial for the plan's down
    payment (required when there is one, refused when there is none, used once only)."""
    row = _load(uow.connection, case_id, lock=True)
    if row.status != "PENDING":
        raise _conflict(case_id, row.status, "PENDING")
    if row.loan_id is None:
        raise ValidationError(
            ErrorCode.INVALID_ARGUMENT,
            f"case {case_id} was calculated on an explicit debt: there is no loan to restructure",
        )
    plan = row.plan
    if _fen(plan.get("fee_per_period", "0")):
        raise ValidationError(
            ErrorCode.INVALID_RESTRUCTURE,
            "a plan with a fee per period cannot be booked: restructured loans charge no fees",
        )
    down_payment = _fen(plan["down_payment"])
    check_reference(uow.connection, down_payment, down_payment_reference)
    terms = RestructureTerms(
        down_payment=down_payment,
        periods=int(plan["periods"]),
        waiver=_fen(plan["waiver"]),
        annual_rate=Decimal(str(plan.get("annual_rate", annual_rate))),
        principal_reduction_allowed=bool(plan.get("principal_reduction_allowed", False)),
        reference=f"hardship:{case_id}",
        down_payment_reference=down_payment_reference if down_payment else None,
        expected_debt=priced_debt(row.request),
    )
    booked = restructure(uow, int(row.loan_id), terms, business_date, now)
    set_hardship_plan(uow.connection, int(row.loan_id), True, operator, now)
    uow.connection.execute(
        update(hardship_cases)
        .where(hardship_cases.c.case_id == case_id)
        .values(
            status="ACTIVE",
            operator=operator,
            decision_note=note[:500],
            restructure=booked.to_dict(),
            first_plan_seq=booked.first_seq,
            updated_at=_utc(now),
        )
    )
    _audit(
        uow,
        now,
        "hardship.approve",
        operator,
        case_id,
        loan_id=int(row.loan_id),
        new_principal=booked.new_principal,
        waived=booked.waived,
        down_payment=booked.down_payment,
        down_payment_reference=booked.down_payment_reference,
    )
    return get_case(uow.connection, case_id)


def reject(
    uow: UnitOfWork, case_id: int, *, operator: str, note: str, now: datetime
) -> dict[str, Any]:
    row = _load(uow.connection, case_id, lock=True)
    if row.status != "PENDING":
        raise _conflict(case_id, row.status, "PENDING")
    uow.connection.execute(
        update(hardship_cases)
        .where(hardship_cases.c.case_id == case_id)
        .values(
            status="REJECTED", operator=operator, decision_note=note[:500], updated_at=_utc(now)
        )
    )
    _audit(uow, now, "hardship.reject", operator, case_id, note=note[:500])
    return get_case(uow.connection, case_id)


def _audit(
    uow: UnitOfWork, now: datetime, kind: str, actor: str, case_id: int, **payload: Any
) -> None:
    append(uow.connection, [AuditEntry(now, kind, actor, {"case_id": case_id, **payload})])
