"""Bank statements as evidence: clean, classify, and sum into monthly income and spending.

1. **Parse** each export (:mod:`lendcore.hardship.statement_parse`).
2. **Check** the raw rows for forgery signals (:mod:`lendcore.hardship.statement_signals`):
   a statement that was edited rarely keeps its running balance, dates and salary pattern
   consistent; across files, the same statement uploaded twice or two exports of one account
   over overlapping periods would count income twice. Any signal flags the analysis; the
   caller blocks the flow.
3. **Clean**: drop reversals (冲正/撤销 and the entry they undo) and internal transfers — money
   moved between the borrower's own accounts is neither income nor spending (the counterparty is
   the holder, 本人/同名, or the same amount leaves one uploaded account and reaches another
   within a day).
4. **Classify** by keywords in the summary and counterparty: salary (工资/代发/薪), other income,
   loan repayments (还款/借呗/花呗/信用卡/贷款), rent (房租/租金), utilities (水费/电费/燃气/话费),
   other spending.
5. **Sum** per month over the whole months the statements cover (their span in days over
   365/12, half-up), in fen with explicit half-up rounding: net income = salary + other
   income; essential spending = rent + utilities; loan repayments are the borrower's other
   debt service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from lendcore.hardship.policy import Evidence
from lendcore.hardship.statement_parse import ParsedStatement, RawRow, parse_statement
from lendcore.hardship.statement_signals import Signal, cross_file_signals, find_signals
from lendcore.kernel.money import Rounding, format_major, round_ratio

DAYS_PER_YEAR = 365
REVERSAL_WORDS = ("冲正", "撤销", "冲销", "抹账")
SELF_WORDS = ("本人", "同名", "转入本人账户", "本人账户", "自己账户")
SALARY_WORDS = ("工资", "代发", "薪")
LOAN_WORDS = ("还款", "借呗", "花呗", "信用卡", "贷款", "白条", "微粒贷")
RENT_WORDS = ("房租", "租金")
UTILITY_WORDS = ("水费", "电费", "燃气", "话费")
_REVERSAL_WINDOW_DAYS = 31
_TRANSFER_WINDOW_DAYS = 1


class Category(StrEnum):
    SALARY = "salary"
    OTHER_INCOME = "other_income"
    RENT = "rent"
    UTILITIES = "utilities"
    LOAN_REPAYMENT = "loan_repayment"
    OTHER_SPENDING = "other_spending"


@dataclass(frozen=True)
class Transaction:
    filename: str
    line: int
    when: date
    amount: int  # signed fen
    counterparty: str
    summary: str
    category: Category


@dataclass(frozen=True)
class StatementAnalysis:
    files: tuple[str, ...]
    period_start: date | None
    period_end: date | None
    days: int
    totals: dict[Category, int]  # fen over the period; spending as positive amounts
    monthly_net_income: int
    monthly_essential: int
    monthly_loan_repayments: int
    monthly_other_spending: int
    closing_balance: int | None  # the sum of each account's latest balance
    dropped_reversals: int
    dropped_internal: int
    signals: tuple[Signal, ...]
    transactions: tuple[Transaction, ...] = field(repr=False, default=())

    @property
    def flagged(self) -> bool:
        return bool(self.signals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "period": {
                "start": None if self.period_start is None else self.period_start.isoformat(),
                "end": None if self.period_end is None else self.period_end.isoformat(),
                "days": self.days,
            },
            "totals": {str(k): format_major(v) for k, v in self.totals.items()},
            "monthly_net_income": format_major(self.monthly_net_income),
            "monthly_essential": format_major(self.monthly_essential),
            "monthly_loan_repayments": format_major(self.monthly_loan_repayments),
            "monthly_other_spending": format_major(self.monthly_other_spending),
            "closing_balance": (
                None if self.closing_balance is None else format_major(self.closing_balance)
            ),
            "dropped": {"reversals": self.dropped_reversals, "internal": self.dropped_internal},
            "flagged": self.flagged,
            "signals": [s.to_dict() for s in self.signals],
        }


def _has(text: str, words: Sequence[str]) -> bool:
    return any(word in text for word in words)


def classify(amount: int, counterparty: str, summary: str) -> Category:
    text = f"{summary} {counterparty}"
    if amount > 0:
        return Category.SALARY if _has(text, SALARY_WORDS) else Category.OTHER_INCOME
    if _has(text, LOAN_WORDS):
        return Category.LOAN_REPAYMENT
    if _has(text, RENT_WORDS):
        return Category.RENT
    if _has(text, UTILITY_WORDS):
        return Category.UTILITIES
    return Category.OTHER_SPENDING


def _same_person(name: str, own: Sequence[str]) -> bool:
    """The counterparty is the holder: equal names, or a masked form of one (张*三, 张**)."""
    name = name.strip()
    if not name:
        return False
    for mine in own:
        if name == mine:
            return True
        if (
            "*" in name
            and len(name) == len(mine)
            and all(a == "*" or a == b for a, b in zip(name, mine, strict=True))
        ):
            return True
    return False


def _reversals(rows: list[tuple[str, RawRow]]) -> set[int]:
    """Indexes of reversal rows and of the entries they undo (nearest earlier, same amount with
    the opposite sign, within a month). A reversal without a partner is dropped alone."""
    dropped: set[int] = set()
    for i, (_, row) in enumerate(rows):
        if not _has(row.summary, REVERSAL_WORDS) or row.when is None:
            continue
        dropped.add(i)
        best: int | None = None
        for j, (_, other) in enumerate(rows):
            if j in dropped or j == i or other.when is None or other.amount != -row.amount:
                continue
            if _has(other.summary, REVERSAL_WORDS):
                continue
            gap = (row.when - other.when).days
            if 0 <= gap <= _REVERSAL_WINDOW_DAYS and (
                best is None or other.when > (rows[best][1].when or date.min)
            ):
                best = j
        if best is not None:
            dropped.add(best)
    return dropped


def _internal(rows: list[tuple[str, RawRow]], own: Sequence[str], skip: set[int]) -> set[int]:
    dropped = {
        i
        for i, (_, row) in enumerate(rows)
        if i not in skip
        and (
            _same_person(row.counterparty, own)
            or _has(f"{row.summary} {row.counterparty}", SELF_WORDS)
        )
    }
    # The same amount leaving one uploaded account and reaching another within a day.
    outflows = [
        (i, f, r) for i, (f, r) in enumerate(rows) if r.amount < 0 and i not in skip | dropped
    ]
    for i, filename, row in outflows:
        if row.when is None or i in dropped:
            continue
        for j, (other_file, other) in enumerate(rows):
            if (
                j in skip
                or j in dropped
                or other_file == filename
                or other.amount != -row.amount
                or other.when is None
                or abs((other.when - row.when).days) > _TRANSFER_WINDOW_DAYS
            ):
                continue
            dropped.update((i, j))
            break
    return dropped


def months_covered(days: int) -> int:
    """The statement period in whole months (of 365/12 days, half-up, at least one): exports
    run by whole months, and the first and last transactions rarely fall on the period's
    first and last days (82 days from 3 Jan to 25 Mar are three months of pay)."""
    return max(1, round_ratio(days * 12, DAYS_PER_YEAR, Rounding.HALF_UP))


def monthly(total: int, days: int) -> int:
    """An amount over ``days`` per month covered, half-up to the fen."""
    if days <= 0:
        return 0
    return round_ratio(total, months_covered(days), Rounding.HALF_UP)


def _closing_balance(parsed: Sequence[ParsedStatement]) -> int | None:
    total, seen = 0, False
    for statement in parsed:
        dated = [r for r in statement.rows if r.when is not None and r.balance is not None]
        if not dated:
            continue
        # The latest date; within it, the row furthest along in the file's own order.
        ascending = dated[0].when <= dated[-1].when  # type: ignore[operator]
        latest = max(dated, key=lambda r: (r.when, r.line if ascending else -r.line))
        assert latest.balance is not None
        total += latest.balance
        seen = True
    return total if seen else None


def analyse(
    files: Sequence[tuple[str, bytes]],
    evidence: Evidence,
    *,
    borrower_name: str | None = None,
    as_of: date | None = None,
) -> StatementAnalysis:
    """Parse, check, clean, classify and sum the uploaded exports (see the module docstring)."""
    parsed = [parse_statement(name, content) for name, content in files]
    signals: list[Signal] = []
    own = [n for n in {borrower_name, *(p.holder for p in parsed)} if n]
    rows = [(p.filename, r) for p in parsed for r in p.rows]
    reversals = _reversals(rows)
    internal = _internal(rows, own, reversals)
    transactions = [
        Transaction(
            filename,
            row.line,
            row.when,
            row.amount,
            row.counterparty,
            row.summary,
            classify(row.amount, row.counterparty, row.summary),
        )
        for i, (filename, row) in enumerate(rows)
        if i not in reversals and i not in internal and row.when is not None
    ]
    for statement in parsed:
        salaries = [
            t
            for t in transactions
            if t.filename == statement.filename and t.category is Category.SALARY
        ]
        signals += find_signals(statement, salaries, evidence, as_of=as_of)
    signals += cross_file_signals(parsed)
    dates = [r.when for _, r in rows if r.when is not None]
    start, end = (min(dates), max(dates)) if dates else (None, None)
    days = (end - start).days + 1 if start is not None and end is not None else 0
    totals = {c: 0 for c in Category}
    for t in transactions:
        totals[t.category] += abs(t.amount)
    return StatementAnalysis(
        files=tuple(p.filename for p in parsed),
        period_start=start,
        period_end=end,
        days=days,
        totals=totals,
        monthly_net_income=monthly(totals[Category.SALARY] + totals[Category.OTHER_INCOME], days),
        monthly_essential=monthly(totals[Category.RENT] + totals[Category.UTILITIES], days),
        monthly_loan_repayments=monthly(totals[Category.LOAN_REPAYMENT], days),
        monthly_other_spending=monthly(totals[Category.OTHER_SPENDING], days),
        closing_balance=_closing_balance(parsed),
        dropped_reversals=len(reversals),
        dropped_internal=len(internal),
        signals=tuple(signals),
        transactions=tuple(transactions),
    )
