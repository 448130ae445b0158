"""A synthetic loan portfolio for bench/eod.py, bulk-loaded without the per-loan services.

Each loan is one of a few thousand *templates*: a real schedule from ``build_schedule`` (the
product's own terms, as ``quote``/``open_loan`` would build it) put into the state the end-of-day
would have left it in after closing the day before the benchmarked day: instalments due before
then either paid (current loans) or, for ~8% of loans, the last 1-4 of them unpaid — with the
due amounts, receivables, penalty memo, days past due, bucket and journal_seq that those days of
end-of-day, repayments and month ends would have produced. Templates go into two small tables;
the loans and instalments are then expanded set-based (``INSERT ... SELECT`` joining a seed table
of ids), so a million loans load in a minute or two.

Start dates are spread uniformly, so ~1/30 of the monthly loans have an instalment falling due
on the benchmarked day, and the 7-30-day bullet loans add a few more.

Not written: journal rows for disbursements, repayments and earlier due dates (journal_seq counts
them, so new entries get the numbers they would get), the disbursement and repayment rows and
the outbox history. The end-of-day never reads any of them.
"""

from __future__ import annotations

import calendar
import random
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, Table, insert, text

from lendcore.kernel.ids import PARTITIONS
from lendcore.kernel.rates import format_rate
from lendcore.products.caps import RateCap
from lendcore.products.loader import LoadedProduct, load_products
from lendcore.products.quote import product_cap, terms_for
from lendcore.schedule import Installment, Method, build_schedule, disclose
from lendcore.servicing.model import bucket_for
from lendcore.servicing.service import to_ppm
from lendcore.servicing.tables import instalments, loans

BORROWER_BASE = 7_000_000_000
LOAN_BASE = 9_000_000_000
SHANGHAI = ZoneInfo("Asia/Shanghai")

# (term, weight) per product; principals in fen; annual rates.
CONSUMER_TERMS = ((3, 3), (6, 4), (12, 3))
CONSUMER_PRINCIPALS = (300_000, 1_200_000, 5_000_000)
CONSUMER_RATES = (Decimal("0.1200"), Decimal("0.1800"))
SMALL_TERMS = ((7, 1), (14, 2), (21, 1), (30, 2))
SMALL_PRINCIPALS = (50_000, 100_000, 200_000)
SMALL_SHARE = 0.10
OVERDUE_SHARE = 0.08
UNPAID_WEIGHTS = ((1, 60), (2, 20), (3, 12), (4, 8))  # instalments unpaid, for overdue loans

TEMPLATE_LOAN_COLUMNS = [
    c.name for c in loans.columns if c.name not in ("borrower_id", "loan_id", "partition_key")
]
TEMPLATE_INSTALMENT_COLUMNS = [
    c.name for c in instalments.columns if c.name not in ("borrower_id", "loan_id")
]

_bench_metadata = MetaData()
template_loans = Table(
    "bench_tpl_loans",
    _bench_metadata,
    Column("tpl_id", Integer, primary_key=True, autoincrement=False),
    *(Column(c.name, c.type) for c in loans.columns if c.name in TEMPLATE_LOAN_COLUMNS),
)
template_instalments = Table(
    "bench_tpl_instalments",
    _bench_metadata,
    Column("tpl_id", Integer, primary_key=True, autoincrement=False),
    *(
        Column(c.name, c.type, primary_key=c.name == "seq", autoincrement=False)
        for c in instalments.columns
        if c.name in TEMPLATE_INSTALMENT_COLUMNS
    ),
)
seeds = Table(
    "bench_seed",
    _bench_metadata,
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("borrower_id", BigInteger, nullable=False),
    Column("loan_id", BigInteger, nullable=False),
    Column("partition_key", Integer, nullable=False),
    Column("tpl_id", Integer, nullable=False),
)


def partition_of_fast(borrower_id: int) -> int:
    """kernel.ids.partition_of, inlined for a million calls."""
    return zlib.crc32(str(borrower_id).encode()) % PARTITIONS


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _is_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


def _daily_penalty(overdue: int, penalty_ppm: int) -> int:
    return (overdue * penalty_ppm * 2 + 365_000_000) // 730_000_000  # as eod_sql, half-up


@dataclass(frozen=True)
class Shape:
    product: str
    principal: int
    term: int
    method: Method
    rate: Decimal
    start: date


class Templates:
    """Schedules built once per shape; one template per (shape, instalments unpaid)."""

    def __init__(self, closed: date):
        self.closed = closed  # the last business date every loan is closed for
        self.products: dict[str, LoadedProduct] = load_products()
        self.loan_rows: list[dict[str, Any]] = []
        self.instalment_rows: list[dict[str, Any]] = []
        self._ids: dict[tuple[Shape, int], int] = {}
        self._schedules: dict[Shape, tuple[Any, str]] = {}

    def template_id(self, shape: Shape, unpaid: int) -> int:
        key = (shape, unpaid)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._ids) + 1
            self._build(found, shape, unpaid)
        return found

    def past_due_count(self, shape: Shape) -> tuple[int, int]:
        """(instalments due by the closed date, instalments)."""
        schedule, _ = self._schedule(shape)
        past = sum(1 for i in schedule.installments if i.due_date <= self.closed)
        return past, len(schedule.installments)

    def _schedule(self, shape: Shape) -> tuple[Any, str]:
        cached = self._schedules.get(shape)
        if cached is None:
            product = self.products[shape.product].product
            schedule = build_schedule(
                terms_for(
                    product, shape.principal, shape.term, shape.method, shape.rate, shape.start
                )
            )
            cached = self._schedules[shape] = (schedule, format_rate(disclose(schedule).apr_irr))
        return cached

    def _build(self, tpl_id: int, shape: Shape, unpaid: int) -> None:
        loaded = self.products[shape.product]
        product = loaded.product
        schedule, apr = self._schedule(shape)
        terms = schedule.terms
        closed = self.closed
        rows: list[Installment] = list(schedule.installments)
        past = [i for i in rows if i.due_date <= closed]
        unpaid_rows = past[len(past) - unpaid :] if unpaid else []
        unpaid_seqs = {i.period for i in unpaid_rows}
        penalty_ppm = to_ppm(
            min(product.penalty_rate, product_cap(product, RateCap()).effective_limit)
        )

        # One entry for the disbursement, one per instalment paid (the repayment posts its
        # interest and fee), one per instalment left unpaid (the end-of-day's DUE entry).
        journal_seq = 1 + len(past)
        penalty_accrued = penalty_receivable = 0
        if unpaid_rows:  # replay the end-of-day penalty steps over the overdue days
            for k in range(1, (closed - unpaid_rows[0].due_date).days + 1):
                day = unpaid_rows[0].due_date + timedelta(days=k)
                overdue = sum(i.principal + i.interest for i in unpaid_rows if i.due_date < day)
                penalty_accrued += _daily_penalty(overdue, penalty_ppm)
                if any(i.due_date == day for i in unpaid_rows):  # crystallised by the DUE entry
                    penalty_receivable += penalty_accrued
                    penalty_accrued = 0
                if _is_month_end(day) and penalty_accrued:
                    penalty_receivable += penalty_accrued
                    penalty_accrued = 0
                    journal_seq += 1

        current = next((i for i in rows if i.due_date > closed), None)
        if current is None:
            period_start, due_date, interest, seq = rows[-1].due_date, None, 0, len(rows) + 1
            accrued = 0
        else:
            period_start, due_date = current.start, current.due_date
            interest, seq = current.interest, current.period
            period_days = (due_date - period_start).days
            elapsed = (closed - period_start).days + 1
            if elapsed <= 0 or period_days <= 0:
                accrued = 0
            elif elapsed >= period_days:
                accrued = interest
            else:
                accrued = (interest * elapsed * 2 + period_days) // (2 * period_days)
        oldest = unpaid_rows[0].due_date if unpaid_rows else None
        dpd = (closed - oldest).days if oldest else 0
        self.loan_rows.append(
            {
                "tpl_id": tpl_id,
                "product_code": product.code,
                "product_version": loaded.version_hash,
                "state": "OVERDUE" if dpd > 0 else "ACTIVE",
                "method": str(terms.method),
                "period_unit": str(terms.period_unit),
                "day_count": str(terms.day_count),
                "rounding": str(terms.rounding),
                "annual_rate": str(terms.annual_rate),
                "annual_rate_ppm": to_ppm(terms.annual_rate),
                "penalty_rate_ppm": penalty_ppm,
                "apr_irr": apr,
                "prepayment_rule": product.prepayment.recompute
                if product.prepayment.allowed
                else "not_allowed",
                "waterfall": ",".join(product.waterfall),
                "principal": terms.principal,
                "upfront_fee": terms.upfront_fee,
                "fee_per_period": terms.fee_per_period,
                "principal_outstanding": sum(
                    i.principal for i in rows if i.due_date > closed or i.period in unpaid_seqs
                ),
                "interest_receivable": sum(i.interest for i in unpaid_rows),
                "fee_receivable": sum(i.fee for i in unpaid_rows),
                "penalty_receivable": penalty_receivable,
                "overpayment": 0,
                "accrued_interest": accrued,
                "penalty_accrued": penalty_accrued,
                "due_principal": sum(i.principal for i in unpaid_rows),
                "due_interest": sum(i.interest for i in unpaid_rows),
                "due_fee": sum(i.fee for i in unpaid_rows),
                "current_seq": seq,
                "current_period_start": period_start,
                "current_due_date": due_date,
                "current_interest": interest,
                "oldest_unpaid_due_date": oldest,
                "days_past_due": dpd,
                "bucket": bucket_for(dpd),
                "last_closed_business_date": closed,
                "journal_seq": journal_seq,
                "start_date": terms.start,
                "maturity_date": schedule.maturity,
                "disbursed_on": terms.start,
                "closed_on": None,
                "created_at": datetime.combine(terms.start, clock_time(9), SHANGHAI),
            }
        )
        for i in rows:
            due = i.due_date <= closed
            paid = due and i.period not in unpaid_seqs
            self.instalment_rows.append(
                {
                    "tpl_id": tpl_id,
                    "seq": i.period,
                    "period_start": i.start,
                    "due_date": i.due_date,
                    "year_frac_num": i.fraction.numerator,
                    "year_frac_den": i.fraction.denominator,
                    "principal_due": i.principal,
                    "interest_due": i.interest,
                    "fee_due": i.fee,
                    "principal_paid": i.principal if paid else 0,
                    "interest_paid": i.interest if paid else 0,
                    "fee_paid": i.fee if paid else 0,
                    "interest_posted": i.interest if due else 0,
                    "fee_posted": i.fee if due else 0,
                }
            )


def _starts(closed: date, first_start: date) -> list[date]:
    return [first_start + timedelta(days=k) for k in range((closed - first_start).days + 2)]


def _shapes(day: date) -> list[tuple[Shape, float]]:
    """Every loan shape live on ``day`` with its weight in the portfolio: start dates uniform
    over the window in which a loan of that term is still running on ``day``."""
    closed = day - timedelta(days=1)
    shapes: list[tuple[Shape, float]] = []
    consumer_weight = sum(w for _, w in CONSUMER_TERMS)
    for term, weight in CONSUMER_TERMS:
        starts = _starts(closed, _add_months(day, -term))
        share = (1 - SMALL_SHARE) * weight / consumer_weight / len(starts)
        share /= len(CONSUMER_PRINCIPALS) * len(CONSUMER_RATES)
        for start in starts:
            for principal in CONSUMER_PRINCIPALS:
                for rate in CONSUMER_RATES:
                    for method, method_share in (
                        (Method.EQUAL_INSTALLMENT, 0.8),
                        (Method.INTEREST_FIRST, 0.2),
                    ):
                        shapes.append(
                            (
                                Shape("consumer_instalment", principal, term, method, rate, start),
                                share * method_share,
                            )
                        )
    small_weight = sum(w for _, w in SMALL_TERMS)
    for term, weight in SMALL_TERMS:
        starts = _starts(closed, day - timedelta(days=term))
        share = SMALL_SHARE * weight / small_weight / len(starts) / len(SMALL_PRINCIPALS)
        for start in starts:
            for principal in SMALL_PRINCIPALS:
                shape = Shape(
                    "small_short_term", principal, term, Method.BULLET, Decimal("0.1800"), start
                )
                shapes.append((shape, share))
    return shapes


def generate(count: int, day: date, seed: int = 20260616) -> tuple[Templates, list[tuple]]:
    """Templates and ``count`` seed rows (n, borrower_id, loan_id, partition_key, tpl_id) for a
    portfolio whose every loan is closed through ``day - 1`` and still live on ``day``: a share
    OVERDUE_SHARE with 1-4 instalments unpaid, the rest current."""
    templates = Templates(day - timedelta(days=1))
    rng = random.Random(seed)
    shapes = _shapes(day)
    current: list[int] = []  # shapes with an instalment still to come (else: repaid, settled)
    current_weights: list[float] = []
    overdue: list[int] = []  # shapes with at least one instalment already due
    overdue_weights: list[float] = []
    for index, (shape, weight) in enumerate(shapes):
        past_due, instalment_count = templates.past_due_count(shape)
        if past_due < instalment_count:
            current.append(index)
            current_weights.append(weight)
        if past_due:
            overdue.append(index)
            overdue_weights.append(weight)
    flags = [rng.random() < OVERDUE_SHARE for _ in range(count)]
    overdue_count = sum(flags)
    current_picks = iter(rng.choices(current, current_weights, k=count - overdue_count))
    overdue_picks = iter(rng.choices(overdue, overdue_weights, k=overdue_count))
    unpaid_picks = iter(
        rng.choices([u for u, _ in UNPAID_WEIGHTS], [w for _, w in UNPAID_WEIGHTS], k=overdue_count)
    )
    ids: dict[tuple[int, int], int] = {}
    rows: list[tuple] = []
    for n, is_overdue in enumerate(flags, start=1):
        if is_overdue:
            index = next(overdue_picks)
            unpaid = min(next(unpaid_picks), templates.past_due_count(shapes[index][0])[0])
        else:
            index, unpaid = next(current_picks), 0
        tpl_id = ids.get((index, unpaid))
        if tpl_id is None:
            tpl_id = ids[index, unpaid] = templates.template_id(shapes[index][0], unpaid)
        borrower_id = BORROWER_BASE + n
        rows.append((n, borrower_id, LOAN_BASE + n, partition_of_fast(borrower_id), tpl_id))
    return templates, rows


# For the ORM-versus-SQL twin check (bench/_checks.py), not for the end-of-day.
SEED_INDEXES = (
    "CREATE INDEX ix_bench_seed_tpl ON bench_seed (tpl_id)",
    "CREATE INDEX ix_bench_seed_loan ON bench_seed (loan_id)",
)


def _chunks(rows: list[tuple], size: int) -> Iterator[list[tuple]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _expand_sql(cluster: bool) -> tuple[str, str]:
    order = "s.partition_key, s.n" if cluster else "s.n"
    loan_columns = ", ".join(TEMPLATE_LOAN_COLUMNS)
    instalment_columns = ", ".join(TEMPLATE_INSTALMENT_COLUMNS)
    loans_sql = (
        f"INSERT INTO loans (borrower_id, loan_id, partition_key, {loan_columns}) "
        f"SELECT s.borrower_id, s.loan_id, s.partition_key, "
        + ", ".join(f"t.{c}" for c in TEMPLATE_LOAN_COLUMNS)
        + " FROM bench_seed s JOIN bench_tpl_loans t ON t.tpl_id = s.tpl_id "
        f"ORDER BY {order}"
    )
    instalments_sql = (
        f"INSERT INTO instalments (borrower_id, loan_id, {instalment_columns}) "
        "SELECT s.borrower_id, s.loan_id, "
        + ", ".join(f"t.{c}" for c in TEMPLATE_INSTALMENT_COLUMNS)
        + " FROM bench_seed s JOIN bench_tpl_instalments t ON t.tpl_id = s.tpl_id "
        f"ORDER BY {order}, t.seq"
    )
    return loans_sql, instalments_sql


@dataclass(frozen=True)
class LoadReport:
    loans: int
    instalments: int
    templates: int
    seconds: float


def load(
    engine: Engine,
    generated: tuple[Templates, list[tuple]],
    cluster: bool = False,
) -> LoadReport:
    """Bulk-load a generated portfolio into an empty, migrated database; then do what an
    operator does after a bulk load (ANALYZE; on PostgreSQL VACUUM and a checkpoint).

    Rows are stored in id order, as loans arrive over time, so a chunk of borrower-hash
    partitions is scattered over the whole table. ``cluster`` is an experiment with the layout
    docs/performance.md proposes: on SQLite loans becomes a WITHOUT ROWID table keyed
    (partition_key, borrower_id, loan_id), so rows stay in partition order for good; on
    PostgreSQL, which has no clustered tables, loans and instalments are loaded in partition
    order (what CLUSTER would do once; later updates do not keep it)."""
    started = time.perf_counter()
    templates, seed_rows = generated
    sqlite = engine.dialect.name == "sqlite"
    _bench_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(template_loans), templates.loan_rows)
        connection.execute(insert(template_instalments), templates.instalment_rows)
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if sqlite:
            _load_sqlite(driver, seed_rows, cluster)
        else:
            _load_postgresql(driver, seed_rows, cluster)
    finally:
        raw.close()
    with engine.connect() as connection:
        instalment_count = connection.execute(text("SELECT count(*) FROM instalments")).scalar_one()
    return LoadReport(
        len(seed_rows),
        int(instalment_count),
        len(templates.loan_rows),
        time.perf_counter() - started,
    )


def _sqlite_partition_clustered(cursor: Any) -> None:
    """Rebuild loans WITHOUT ROWID with primary key (partition_key, borrower_id, loan_id), a
    unique (borrower_id, loan_id) and no ix_loans_eod (the key's prefix serves the chunks)."""
    ddl = cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'loans'").fetchone()[0]
    old_key = "PRIMARY KEY (borrower_id, loan_id)"
    assert old_key in ddl, ddl
    ddl = ddl.replace("CREATE TABLE loans", "CREATE TABLE loans_clustered", 1).replace(
        old_key, "PRIMARY KEY (partition_key, borrower_id, loan_id), UNIQUE (borrower_id, loan_id)"
    )
    cursor.execute(ddl.rstrip().rstrip(";") + " WITHOUT ROWID")
    cursor.execute("INSERT INTO loans_clustered SELECT * FROM loans ORDER BY partition_key")
    cursor.execute("DROP TABLE loans")
    cursor.execute("ALTER TABLE loans_clustered RENAME TO loans")
    cursor.execute("CREATE INDEX ix_loans_loan_id ON loans (loan_id)")


def _load_sqlite(connection: Any, seed_rows: list[tuple], cluster: bool) -> None:
    loans_sql, instalments_sql = _expand_sql(cluster)
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")  # a bulk load, redone from scratch if it fails
    cursor.execute("BEGIN")
    for batch in _chunks(seed_rows, 100_000):
        cursor.executemany("INSERT INTO bench_seed VALUES (?, ?, ?, ?, ?)", batch)
    cursor.execute(loans_sql)
    cursor.execute(instalments_sql)
    for sql in SEED_INDEXES:
        cursor.execute(sql)
    if cluster:
        _sqlite_partition_clustered(cursor)
    cursor.execute("COMMIT")
    cursor.execute("ANALYZE")
    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _load_postgresql(connection: Any, seed_rows: list[tuple], cluster: bool) -> None:
    loans_sql, instalments_sql = _expand_sql(cluster)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        with cursor.copy(
            "COPY bench_seed (n, borrower_id, loan_id, partition_key, tpl_id) FROM STDIN"
        ) as copy:
            for row in seed_rows:
                copy.write_row(row)
        cursor.execute(loans_sql)
        cursor.execute(instalments_sql)
        for sql in SEED_INDEXES:
            cursor.execute(sql)
    connection.commit()
    connection.autocommit = True
    with connection.cursor() as cursor:
        # Only this schema's tables: a bare VACUUM would walk every schema in the database.
        for table in (
            "bench_seed",
            "bench_tpl_loans",
            "bench_tpl_instalments",
            "loans",
            "instalments",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
    connection.autocommit = False
