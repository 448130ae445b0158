"""Servicing endpoints: schedules, loans, repayments, reconciliation."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from lendcore.api.idempotency import run_idempotent
from lendcore.kernel.clock import SystemClock
from lendcore.kernel.money import parse_major
from lendcore.kernel.rates import parse_rate
from lendcore.ledger.reconcile import reconcile, reconciliation_document
from lendcore.products.caps import RateCap
from lendcore.schedule import DayCount, Method, PeriodUnit, ScheduleTerms, build_schedule, disclose
from lendcore.schedule.report import schedule_document
from lendcore.servicing.queries import loan_document
from lendcore.servicing.service import repay
from lendcore.store.db import UnitOfWork

router = APIRouter(prefix="/api", tags=["servicing"])
Yuan = Annotated[str, Field(pattern=r"^\d{1,12}(\.\d{1,2})?$", examples=["10000.00"])]
Rate = Annotated[str, Field(pattern=r"^\d(\.\d{1,8})?$", examples=["0.12"])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleRequest(_Body):
    """The `lendcore schedule` contract over HTTP."""

    principal: Yuan
    annual_rate: Rate
    periods: int = Field(ge=1, le=1200)
    method: Method
    period_unit: PeriodUnit = PeriodUnit.MONTH
    start: date
    first_due: date | None = None
    day_count: DayCount = DayCount.THIRTY_360
    upfront_fee: Yuan = "0"
    fee_per_period: Yuan = "0"
    cap: Rate = "0.24"


class RepaymentRequest(_Body):
    amount: Yuan
    business_date: date | None = Field(None, description="defaults to today (Asia/Shanghai)")


@router.post("/schedules", summary="还款计划与IRR披露 / Schedule with IRR disclosure")
def post_schedule(body: ScheduleRequest) -> dict[str, Any]:
    terms = ScheduleTerms(
        principal=parse_major(body.principal),
        annual_rate=parse_rate(body.annual_rate),
        periods=body.periods,
        method=body.method,
        start=body.start,
        period_unit=body.period_unit,
        first_due=body.first_due,
        day_count=body.day_count,
        upfront_fee=parse_major(body.upfront_fee),
        fee_per_period=parse_major(body.fee_per_period),
    )
    built = build_schedule(terms)
    disclosure = disclose(built)
    check = RateCap(parse_rate(body.cap)).check(disclosure.apr_irr)
    return schedule_document(built, disclosure, check.limit, check.compliant)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@router.get("/loans/{loan_id}", summary="贷款 / A loan with its schedule")
def get_loan(loan_id: int, request: Request) -> dict[str, Any]:
    with request.app.state.engine.connect() as connection:
        return loan_document(connection, loan_id)


@router.post(
    "/loans/{loan_id}/repayments",
    status_code=201,
    summary="还款 / Apply a repayment (Idempotency-Key required)",
)
def post_repayment(
    loan_id: int,
    body: RepaymentRequest,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)] = None,
) -> Any:
    engine = request.app.state.engine
    day = body.business_date or SystemClock().business_date()

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        assert idempotency_key
        result = repay(
            uow, loan_id, parse_major(body.amount), idempotency_key, day, SystemClock().now()
        )
        return 201, {
            "loan_id": loan_id,
            "state": str(result.state),
            "allocation": result.allocation,
        }

    return run_idempotent(
        engine,
        f"POST /api/loans/{loan_id}/repayments",
        idempotency_key,
        body.model_dump(mode="json"),
        work,
    )


@router.get("/ledger/reconcile", summary="对账 / Reconciliation and trial balance")
def get_reconcile(request: Request) -> dict[str, Any]:
    with request.app.state.engine.connect() as connection:
        return reconciliation_document(reconcile(connection))
