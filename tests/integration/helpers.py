"""Building loans for integration tests through the real services."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from lendcore.funding.ports import SandboxPaymentChannel
from lendcore.funding.service import disburse
from lendcore.kernel.clock import FixedClock
from lendcore.products.loader import LoadedProduct, load_products
from lendcore.schedule import Method
from lendcore.servicing.service import open_loan, sign_contract
from lendcore.servicing.tables import loans
from lendcore.store.db import UnitOfWork

PRODUCTS = load_products()
CONSUMER = PRODUCTS["consumer_instalment"]
SMALL = PRODUCTS["small_short_term"]
START = date(2026, 1, 15)


def make_loan(
    engine: Engine,
    loan_id: int,
    borrower_id: int | None = None,
    product: LoadedProduct = CONSUMER,
    principal: int = 1_200_000,
    term: int = 6,
    start: date = START,
    method: Method | None = None,
    disbursed: bool = True,
) -> int:
    clock = FixedClock.at_date(start)
    with UnitOfWork(engine) as uow:
        open_loan(
            uow,
            loan_id=loan_id,
            borrower_id=borrower_id or loan_id * 10,
            product=product,
            principal=principal,
            term=term,
            start=start,
            now=clock.now(),
            method=method,
        )
        sign_contract(uow, loan_id)
        uow.commit()
    if disbursed:
        disburse(engine, SandboxPaymentChannel(), loan_id, "6222020000001234", clock)
    return loan_id


def loan_row(engine: Engine, loan_id: int) -> dict:
    with engine.connect() as connection:
        return dict(
            connection.execute(select(loans).where(loans.c.loan_id == loan_id)).one()._mapping
        )
