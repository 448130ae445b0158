"""Forgery signals in a bank statement. Each is cheap to check and hard for an edited export to
avoid all at once:

- ``BALANCE_MISMATCH``: the running balance does not follow from the amounts (previous balance +
  amount = balance, exactly to the fen). Banks export newest-first or oldest-first; both orders
  are tried and the better one judged.
- ``DUPLICATE_ROWS``: a row repeated cell for cell, balance included: two real transactions
  may share a date and an amount, never the running balance they leave behind.
- ``IMPOSSIBLE_DATE``: a date that does not exist (2月30日) or is after the statement's as-of day.
- ``DATES_OUT_OF_ORDER``: a row dated earlier than one before it by more than the policy's
  tolerance (value dates may lag a few days; weeks may not).
- ``SALARY_AMOUNT_ANOMALY``: a salary far from the median salary (relative deviation above the
  policy threshold), with at least three salaries to compare.
- ``SALARY_IRREGULAR_DAYS``: salaries spread over more days of the month than the policy allows
  (measured round the month, so the 30th and the 2nd are 3 days apart).
- ``ROUND_SALARY_FROM_INDIVIDUAL``: a "salary" in whole hundreds of yuan from what looks like a
  person, not an employer: the classic friend's transfer labelled 工资.

Across the uploaded files (:func:`cross_file_signals`) — the duplicate-row check above sees one
file only, and the same export uploaded twice (or as CSV and as XLSX) would count its income
twice:

- ``DUPLICATE_STATEMENT``: every dated row of one file appears in another (same date, amount and
  running balance — a fingerprint that survives a change of layout).
- ``OVERLAPPING_STATEMENTS``: two files of the same account — the same account number in the
  preamble, or at least :data:`SHARED_ROWS_SAME_ACCOUNT` rows in common — whose periods overlap:
  the overlap would be counted twice (and an edited copy of a month is one way to invent pay).

A signal is evidence for a reviewer, not a verdict; any signal flags the statement and the caller
blocks the flow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from lendcore.hardship.policy import Evidence
from lendcore.hardship.statement_parse import ParsedStatement, RawRow

if TYPE_CHECKING:
    from lendcore.hardship.statements import Transaction

ROWS_SHOWN = 20
_ORGANISATION = re.compile(
    r"公司|有限|集团|银行|中心|局|厂|店|学校|大学|医院|单位|部|院|所|社|委|政府|财政|代发|工资|薪|"
    r"科技|商贸|事务|合作|基金|保险|Co\.|Ltd|Inc|LLC",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff*＊]{1,3}$")
ROUND_SALARY_UNIT = 10_000  # 100 yuan in fen
# Rows two files must share (date, amount, balance) to be taken for the same account when no
# account number says so: one shared row can be chance (two accounts at 0.00 after a transfer),
# three in a row with the same running balances cannot.
SHARED_ROWS_SAME_ACCOUNT = 3

MESSAGES = {
    "BALANCE_MISMATCH": ("流水余额与交易金额不连续", "running balance does not follow from the amounts"),
    "DUPLICATE_ROWS": ("存在完全重复的交易行", "rows repeated cell for cell"),
    "IMPOSSIBLE_DATE": ("存在不可能的交易日期", "a date that cannot exist or lies in the future"),
    "DATES_OUT_OF_ORDER": ("交易日期顺序异常", "dates out of order beyond the tolerance"),
    "SALARY_AMOUNT_ANOMALY": ("工资金额波动异常", "salary amounts vary far beyond the usual"),
    "SALARY_IRREGULAR_DAYS": ("工资发放日期不规律", "salary paid on irregular days of the month"),
    "ROUND_SALARY_FROM_INDIVIDUAL": ("个人转入的整数“工资”", "round-number salary from an individual"),
    "DUPLICATE_STATEMENT": ("同一份流水重复上传", "the same statement uploaded more than once"),
    "OVERLAPPING_STATEMENTS": ("同一账户的流水期间重叠", "statements of one account cover overlapping periods"),
}  # fmt: skip


@dataclass(frozen=True)
class Signal:
    code: str
    filename: str
    lines: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        zh, en = MESSAGES[self.code]
        return {
            "code": self.code,
            "file": self.filename,
            "message_zh": zh,
            "message_en": en,
            "lines": list(self.lines[:ROWS_SHOWN]),
            "count": len(self.lines),
            **({"details": self.details} if self.details else {}),
        }


def _mismatches(rows: Sequence[RawRow]) -> list[int]:
    bad = []
    previous: RawRow | None = None
    for row in rows:
        if row.balance is None:
            previous = None
            continue
        if (
            previous is not None
            and previous.balance is not None
            and previous.balance + row.amount != row.balance
        ):
            bad.append(row.line)
        previous = row
    return bad


def balance_signal(statement: ParsedStatement) -> Signal | None:
    rows = list(statement.rows)
    if sum(r.balance is not None for r in rows) < 2:
        return None
    forward, backward = _mismatches(rows), _mismatches(rows[::-1])
    bad = forward if len(forward) <= len(backward) else backward
    return Signal("BALANCE_MISMATCH", statement.filename, tuple(sorted(bad))) if bad else None


def duplicate_signal(statement: ParsedStatement) -> Signal | None:
    seen: dict[tuple[str, ...], int] = {}
    repeated = []
    for row in statement.rows:
        if row.balance is None:
            continue  # without a balance two identical purchases on a day are ordinary
        if row.cells in seen:
            repeated.append(row.line)
        else:
            seen[row.cells] = row.line
    return Signal("DUPLICATE_ROWS", statement.filename, tuple(repeated)) if repeated else None


def date_signals(
    statement: ParsedStatement, evidence: Evidence, as_of: date | None
) -> list[Signal]:
    signals = []
    impossible = [
        r.line for r in statement.rows if r.when is None or (as_of is not None and r.when > as_of)
    ]
    if impossible:
        signals.append(Signal("IMPOSSIBLE_DATE", statement.filename, tuple(impossible)))
    dated = [r for r in statement.rows if r.when is not None]
    if len(dated) >= 2:
        ascending = dated[0].when <= dated[-1].when  # type: ignore[operator]
        ordered = dated if ascending else dated[::-1]
        late: list[int] = []
        latest: date | None = None
        for row in ordered:
            assert row.when is not None
            if (
                latest is not None
                and (latest - row.when).days > evidence.date_disorder_tolerance_days
            ):
                late.append(row.line)
            latest = row.when if latest is None else max(latest, row.when)
        if late:
            signals.append(Signal("DATES_OUT_OF_ORDER", statement.filename, tuple(sorted(late))))
    return signals


def _day_spread(days: Sequence[int]) -> int:
    """The fewest days of the month (as a 31-day circle) that cover every pay day."""
    points = sorted(set(days))
    if len(points) <= 1:
        return 0
    gaps = [b - a for a, b in pairwise(points)]
    gaps.append(points[0] + 31 - points[-1])
    return 31 - max(gaps)


def _median(values: Sequence[int]) -> Fraction:
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[half])
    return Fraction(ordered[half - 1] + ordered[half], 2)


def looks_like_person(name: str) -> bool:
    name = name.strip()
    return bool(_PERSON.match(name)) and not _ORGANISATION.search(name)


def salary_signals(
    filename: str, salaries: Sequence[Transaction], evidence: Evidence
) -> list[Signal]:
    signals = []
    round_from_person = [
        t.line
        for t in salaries
        if t.amount % ROUND_SALARY_UNIT == 0 and looks_like_person(t.counterparty)
    ]
    if round_from_person:
        signals.append(Signal("ROUND_SALARY_FROM_INDIVIDUAL", filename, tuple(round_from_person)))
    if len(salaries) < 3:
        return signals
    middle = _median([t.amount for t in salaries])
    limit = middle * Fraction(evidence.salary_max_deviation)
    far = [t.line for t in salaries if abs(t.amount - middle) > limit]
    if far:
        signals.append(
            Signal("SALARY_AMOUNT_ANOMALY", filename, tuple(far), {"median_fen": int(middle)})
        )
    spread = _day_spread([t.when.day for t in salaries])
    if spread > evidence.salary_day_spread:
        signals.append(
            Signal(
                "SALARY_IRREGULAR_DAYS",
                filename,
                tuple(t.line for t in salaries),
                {"spread_days": spread, "allowed": evidence.salary_day_spread},
            )
        )
    return signals


def find_signals(
    statement: ParsedStatement,
    salaries: Sequence[Transaction],
    evidence: Evidence,
    *,
    as_of: date | None = None,
) -> list[Signal]:
    signals = [s for s in (balance_signal(statement), duplicate_signal(statement)) if s]
    signals += date_signals(statement, evidence, as_of)
    signals += salary_signals(statement.filename, salaries, evidence)
    return signals


Fingerprint = tuple[date, int, int]  # date, signed amount, running balance


def _fingerprints(statement: ParsedStatement) -> dict[Fingerprint, list[int]]:
    """Dated rows with a balance by (date, amount, balance) -> their lines."""
    prints: dict[Fingerprint, list[int]] = {}
    for row in statement.rows:
        if row.when is not None and row.balance is not None:
            prints.setdefault((row.when, row.amount, row.balance), []).append(row.line)
    return prints


def _period(statement: ParsedStatement) -> tuple[date, date] | None:
    dates = [r.when for r in statement.rows if r.when is not None]
    return (min(dates), max(dates)) if dates else None


def _pair_signal(first: ParsedStatement, second: ParsedStatement) -> Signal | None:
    """What ``second`` repeats of ``first`` (the signal names ``second``, the later upload)."""
    a, b = _fingerprints(first), _fingerprints(second)
    shared = [key for key in b if key in a]
    shared_lines = tuple(sorted(line for key in shared for line in b[key]))
    details: dict[str, Any] = {"same_as": first.filename, "shared_rows": len(shared_lines)}
    rows_a, rows_b = sum(map(len, a.values())), sum(map(len, b.values()))
    if shared and len(shared_lines) == min(rows_a, rows_b):
        return Signal("DUPLICATE_STATEMENT", second.filename, shared_lines, details)
    same_account = (first.account is not None and first.account == second.account) or (
        len(shared_lines) >= SHARED_ROWS_SAME_ACCOUNT
    )
    span_a, span_b = _period(first), _period(second)
    if not same_account or span_a is None or span_b is None:
        return None
    start, end = max(span_a[0], span_b[0]), min(span_a[1], span_b[1])
    if start > end:
        return None  # consecutive exports of one account: the ordinary way to cover months
    lines = tuple(r.line for r in second.rows if r.when is not None and start <= r.when <= end)
    details.update(overlap={"start": start.isoformat(), "end": end.isoformat()})
    if first.account is not None and first.account == second.account:
        details["account"] = first.account
    return Signal("OVERLAPPING_STATEMENTS", second.filename, lines, details)


def cross_file_signals(statements: Sequence[ParsedStatement]) -> list[Signal]:
    """Signals between every pair of uploaded files (see the module docstring)."""
    signals = []
    for j, second in enumerate(statements):
        for first in statements[:j]:
            found = _pair_signal(first, second)
            if found is not None:
                signals.append(found)
                break  # one signal per repeated file is enough for a reviewer
    return signals
