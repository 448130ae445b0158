"""``lendcore schedule``, ``lendcore quote`` and ``lendcore products``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

import typer
from rich.table import Table

from lendcore.cli.common import app, console, print_json
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.kernel.money import format_major, parse_major
from lendcore.kernel.rates import format_rate, parse_rate
from lendcore.products.caps import DEFAULT_CAP, RateCap
from lendcore.products.loader import get_product, load_products
from lendcore.products.quote import quote
from lendcore.schedule import (
    DayCount,
    Method,
    PeriodUnit,
    Schedule,
    ScheduleTerms,
    build_schedule,
    disclose,
)
from lendcore.schedule.disclosure import Disclosure
from lendcore.schedule.report import schedule_document

E = TypeVar("E", bound=StrEnum)


def _date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            ErrorCode.INVALID_DATE, f"{field} is not a YYYY-MM-DD date: {text!r}"
        ) from None


def _choice(enum: type[E], value: str, code: ErrorCode, field: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ValidationError(code, f"{field} must be one of {allowed}: {value!r}") from None


def show_schedule(
    schedule: Schedule, disclosure: Disclosure, limit: Decimal, compliant: bool, title: str
) -> None:
    table = Table(title=title, show_footer=True)
    columns = (
        "期数 Period",
        "还款日 Due",
        "本金 Principal",
        "利息 Interest",
        "费用 Fee",
        "合计 Total",
        "剩余本金 Remaining",
    )
    footers = (
        "",
        "合计",
        format_major(schedule.total_principal),
        format_major(schedule.total_interest),
        format_major(sum(i.fee for i in schedule.installments)),
        format_major(schedule.total_repayment),
        "",
    )
    for name, footer in zip(columns, footers, strict=True):
        table.add_column(name, footer=footer, justify="right")
    for i in schedule.installments:
        table.add_row(
            str(i.period),
            i.due_date.isoformat(),
            format_major(i.principal),
            format_major(i.interest),
            format_major(i.fee),
            format_major(i.total),
            format_major(i.remaining_principal),
        )
    console.print(table)
    verdict = "[green]合规 compliant[/]" if compliant else "[bold red]超过上限 ABOVE CAP[/]"
    console.print(
        f"到手金额 amount received {format_major(disclosure.amount_received)}  ·  "
        f"名义年利率 nominal {format_rate(disclosure.nominal_rate)}  ·  "
        f"IRR 年化利率 APR {format_rate(disclosure.apr_irr)}  ·  上限 cap {format_rate(limit)} {verdict}"
    )
    for warning in disclosure.warnings:
        console.print(
            f"[bold red]警告 warning[/]: {warning} — 法定本金 legal principal "
            f"{format_major(disclosure.legal_principal)} (民法典第670条 Civil Code Art. 670)"
        )


@app.command()
def schedule(
    principal: str = typer.Option(..., help="本金 principal in yuan, e.g. 10000 or 10000.50"),
    annual_rate: str = typer.Option(
        ..., help="名义年利率 nominal annual rate as a fraction, 0.12 = 12%"
    ),
    periods: int = typer.Option(
        ..., help="期数 number of periods (for bullet: term length in units)"
    ),
    method: str = typer.Option(
        ..., help="equal_installment | equal_principal | interest_first | bullet"
    ),
    period_unit: str = typer.Option("month", help="month | week | day"),
    start: str = typer.Option(None, help="起息日 start date YYYY-MM-DD (default: today)"),
    first_due: str = typer.Option(
        None, help="首个还款日 first due date; a broken first period if not one period after start"
    ),
    day_count: str = typer.Option("30_360", help="act365 | act360 | 30_360"),
    upfront_fee: str = typer.Option(
        "0", help="放款时扣除的费用 fee withheld at disbursement, yuan"
    ),
    fee_per_period: str = typer.Option("0", help="每期费用 fee added to every instalment, yuan"),
    upfront_interest: str = typer.Option(
        "0", help="砍头息 interest withheld at disbursement (unlawful; reported)"
    ),
    cap: str = typer.Option(str(DEFAULT_CAP), help="年化上限 all-in IRR cap (≤ 0.36)"),
    lpr: str = typer.Option(None, help="一年期LPR: also cap at 4 × LPR"),
    json_out: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """还款计划与IRR年化利率披露 / Repayment schedule with IRR rate disclosure."""
    terms = ScheduleTerms(
        principal=parse_major(principal),
        annual_rate=parse_rate(annual_rate, field="annual rate"),
        periods=periods,
        method=_choice(Method, method, ErrorCode.UNKNOWN_METHOD, "method"),
        start=_date(start, "start") or date.today(),
        period_unit=_choice(PeriodUnit, period_unit, ErrorCode.INVALID_ARGUMENT, "period unit"),
        first_due=_date(first_due, "first due"),
        day_count=_choice(DayCount, day_count, ErrorCode.UNKNOWN_DAY_COUNT, "day count"),
        upfront_fee=parse_major(upfront_fee),
        fee_per_period=parse_major(fee_per_period),
    )
    rate_cap = RateCap(parse_rate(cap, field="cap"), parse_rate(lpr, field="lpr") if lpr else None)
    built = build_schedule(terms)
    disclosure = disclose(built, upfront_interest=parse_major(upfront_interest))
    check = rate_cap.check(disclosure.apr_irr)
    if json_out:
        print_json(schedule_document(built, disclosure, check.limit, check.compliant))
    else:
        show_schedule(
            built,
            disclosure,
            check.limit,
            check.compliant,
            f"还款计划 Repayment schedule — {terms.method}",
        )


@app.command("quote")
def quote_cmd(
    product: str = typer.Option(..., help="产品代码 product code (see `lendcore products`)"),
    amount: str = typer.Option(..., help="金额 amount in yuan"),
    term: int = typer.Option(..., help="期限 term in the product's unit"),
    method: str = typer.Option(None, help="repayment method (default: the product's first)"),
    rate: str = typer.Option(None, help="annual rate (default: the product's maximum)"),
    start: str = typer.Option(None, help="start date YYYY-MM-DD (default: today)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """按产品报价（超过利率上限则拒绝） / Quote a product offer; refused above the rate cap."""
    loaded = get_product(product)
    offer = quote(
        loaded.product,
        parse_major(amount),
        term,
        _date(start, "start") or date.today(),
        method=_choice(Method, method, ErrorCode.UNKNOWN_METHOD, "method") if method else None,
        rate=parse_rate(rate) if rate else None,
    )
    if json_out:
        document = schedule_document(
            offer.schedule, offer.disclosure, offer.cap.limit, offer.cap.compliant
        )
        print_json({"product": product, "product_version": loaded.version_hash, **document})
    else:
        show_schedule(
            offer.schedule,
            offer.disclosure,
            offer.cap.limit,
            offer.cap.compliant,
            f"{loaded.product.name.zh_CN} {loaded.product.name.en}",
        )


@app.command()
def products(json_out: bool = typer.Option(False, "--json")) -> None:
    """产品列表 / List the products in policies/products."""
    loaded = load_products()
    rows: list[dict[str, Any]] = [
        {
            "code": p.product.code,
            "name": {"zh-CN": p.product.name.zh_CN, "en": p.product.name.en},
            "amount": [format_major(p.product.amount.min), format_major(p.product.amount.max)],
            "term": [p.product.term.min, p.product.term.max, str(p.product.term.unit)],
            "methods": [str(m) for m in p.product.methods],
            "rate": [format_rate(p.product.rate.min), format_rate(p.product.rate.max)],
            "version_hash": p.version_hash,
        }
        for p in loaded.values()
    ]
    if json_out:
        print_json(rows)
        return
    table = Table(title="产品 Products")
    for column in (
        "代码 Code",
        "名称 Name",
        "金额 Amount",
        "期限 Term",
        "方式 Methods",
        "利率 Rate",
        "版本 Version",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["code"],
            f"{r['name']['zh-CN']} / {r['name']['en']}",
            "–".join(r["amount"]),
            f"{r['term'][0]}–{r['term'][1]} {r['term'][2]}",
            ", ".join(r["methods"]),
            "–".join(r["rate"]),
            r["version_hash"][:12],
        )
    console.print(table)
