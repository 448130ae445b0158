"""Reading bank-statement exports (CSV and XLSX) in the common Chinese layouts into rows.

Banks put a preamble above the table (户名, 账号, 查询期间 ...), name the same column several ways
(交易日期 / 记账日期, 收入金额 / 贷方发生额, 账户余额 / 余额 ...), and either split money into income
and expense columns or give one signed 交易金额 (sometimes with a 借/贷 marker column). CSV comes
in UTF-8 (often with a BOM) or GBK. This module finds the header row, maps the columns by their
names, and turns every row into a signed amount in fen. A date that cannot exist (2月30日) is kept
as a row without a date: that is a forgery signal, not a parse error.

Input is bytes, output values: no file system, no clock.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lendcore.kernel.errors import ErrorCode, LendcoreError, ValidationError
from lendcore.kernel.money import parse_major

MAX_ROWS = 50_000
_HEADER_SCAN = 40  # rows searched for the header

# Column roles and the header names banks use for them (matched after removing spaces and
# brackets, e.g. "收入金额(元)" -> "收入金额").
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("交易日期", "交易时间", "记账日期", "入账日期", "交易日", "日期", "记账时间"),
    "income": ("收入金额", "收入", "存入金额", "存入", "贷方金额", "贷方发生额", "转入金额"),
    "expense": ("支出金额", "支出", "取出金额", "支取金额", "借方金额", "借方发生额", "转出金额"),
    "amount": ("交易金额", "发生额", "金额", "交易额"),
    "direction": ("借贷标志", "借贷方向", "收支", "收/支", "借贷", "收支类型"),
    "balance": ("账户余额", "余额", "本次余额", "联机余额", "交易后余额", "可用余额"),
    "counterparty": ("对方户名", "对方账户名", "对方名称", "交易对方", "对手户名", "收/付方名称",
                     "对方账户名称", "对方"),
    "summary": ("摘要", "交易摘要", "用途", "附言", "交易类型", "备注", "交易说明"),
}  # fmt: skip
_HOLDER = re.compile(r"(?:户名|账户名称|客户姓名|账户名)\s*[:：]\s*([^\s,，:：]+)")
# The account number as the preamble shows it, often masked (6222********1234): two exports of
# the same account are recognised by it (statement_signals.cross_file_signals).
_ACCOUNT = re.compile(r"(?:账号|卡号|账户号码|帐号)\s*[:：]\s*([0-9][0-9*＊xX ]{5,}[0-9])")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")
_OUT_MARKERS = ("借", "支出", "支", "出", "-", "D", "DR")
_IN_MARKERS = ("贷", "收入", "收", "入", "+", "C", "CR")


@dataclass(frozen=True)
class RawRow:
    line: int  # 1-based row in the file
    date_text: str
    when: date | None  # None: the date does not exist (or is missing)
    amount: int  # signed fen: + money in, - money out
    balance: int | None
    counterparty: str
    summary: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class ParsedStatement:
    filename: str
    holder: str | None  # the account holder named in the preamble, if any
    columns: dict[str, str]  # role -> the header it was read from
    rows: tuple[RawRow, ...]
    account: str | None = None  # the account number in the preamble, as shown (maybe masked)


def _invalid(filename: str, message: str, **details: Any) -> ValidationError:
    return ValidationError(
        ErrorCode.INVALID_STATEMENT, f"{filename}: {message}", {"file": filename, **details}
    )


def _clean_header(cell: str) -> str:
    return re.sub(r"[\s()（）\[\]【】]|元|人民币|RMB", "", cell)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        # openpyxl hands numeric cells over as binary floats; their shortest repr is the number
        # the spreadsheet shows ("1234.5"), which parse_major then checks for <= 2 decimals.
        return repr(value)
    return str(value).strip()


def decode(filename: str, content: bytes) -> str:
    """UTF-8 (with or without a BOM), else GB18030 (a superset of GBK and GB2312)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _invalid(filename, "neither UTF-8 nor GBK text")


def _csv_rows(filename: str, content: bytes) -> list[list[str]]:
    text = decode(filename, content)
    sample = "\n".join(text.splitlines()[:_HEADER_SCAN])
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    return [
        [cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)
    ]


def _xlsx_rows(filename: str, content: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # imported here: only XLSX uploads pay for it

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # a corrupt upload is the user's error, not a crash
        raise _invalid(filename, f"not a readable XLSX file ({type(exc).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append([_text(v) for v in values])
            if len(rows) > MAX_ROWS + _HEADER_SCAN:
                break
        return rows
    finally:
        workbook.close()


def _find_header(rows: Sequence[Sequence[str]]) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(rows[:_HEADER_SCAN]):
        cleaned = [_clean_header(c) for c in row]
        roles: dict[str, int] = {}
        for role, names in ALIASES.items():
            for name in names:  # the most specific name first
                if name in cleaned and cleaned.index(name) not in roles.values():
                    roles[role] = cleaned.index(name)
                    break
        money = "amount" in roles or "income" in roles or "expense" in roles
        if "date" in roles and money:
            return index, roles
    return None


def parse_date(text: str) -> date | None:
    """2024-01-05, 2024/1/5, 2024年1月5日, 20240105 (time after it ignored); None if the date
    cannot exist or the text is not a date."""
    match = _DATE.search(text) or _COMPACT_DATE.match(text.strip())
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_amount(text: str) -> int | None:
    """'¥1,234.56', '-500', '+500.00', '1 234.50元', '(200.00)' -> signed fen; '' -> None."""
    cleaned = re.sub(r"[\s,，¥￥元]|RMB|CNY", "", text)
    if cleaned in ("", "-", "--", "—"):
        return None
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    fen = parse_major(cleaned)
    return -fen if negative else fen


def _signed(filename: str, line: int, cells: Sequence[str], roles: dict[str, int]) -> int | None:
    def cell(role: str) -> str:
        index = roles.get(role)
        return cells[index] if index is not None and index < len(cells) else ""

    if "income" in roles or "expense" in roles:
        income = parse_amount(cell("income")) or 0
        expense = parse_amount(cell("expense")) or 0
        if income == 0 and expense == 0:
            return None
        return abs(income) - abs(expense)
    amount = parse_amount(cell("amount"))
    if amount is None:
        return None
    marker = cell("direction").upper()
    if marker:
        if marker.startswith(_OUT_MARKERS):
            return -abs(amount)
        if marker.startswith(_IN_MARKERS):
            return abs(amount)
        raise _invalid(filename, f"row {line}: unknown direction marker {marker!r}", line=line)
    return amount


def _rows(
    filename: str, table: Sequence[Sequence[str]], start: int, roles: dict[str, int]
) -> Iterable[RawRow]:
    for offset, cells in enumerate(table[start:], start=start + 1):
        if not any(cells):
            continue
        index = roles["date"]
        date_text = cells[index] if index < len(cells) else ""
        if not any(ch.isdigit() for ch in date_text):
            continue  # totals, footers, notes: not a transaction (a bad date has digits)
        try:
            amount = _signed(filename, offset, cells, roles)
            balance_index = roles.get("balance")
            balance = (
                parse_amount(cells[balance_index])
                if balance_index is not None and balance_index < len(cells)
                else None
            )
        except LendcoreError as exc:
            raise _invalid(filename, f"row {offset}: {exc.message}", line=offset) from None
        if amount is None:
            continue

        def text(role: str, row: Sequence[str] = cells) -> str:
            i = roles.get(role)
            return row[i] if i is not None and i < len(row) else ""

        yield RawRow(
            line=offset,
            date_text=date_text,
            when=parse_date(date_text),
            amount=amount,
            balance=balance,
            counterparty=text("counterparty"),
            summary=text("summary"),
            cells=tuple(cells),
        )


def parse_statement(filename: str, content: bytes) -> ParsedStatement:
    """One export (.csv or .xlsx, picked by the file name) as rows. Refuses a file with no
    recognisable header or no transactions."""
    if not content:
        raise _invalid(filename, "the file is empty")
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix == "csv" or suffix == "txt":
        table = _csv_rows(filename, content)
    elif suffix in ("xlsx", "xlsm"):
        table = _xlsx_rows(filename, content)
    else:
        raise _invalid(filename, "expected a .csv or .xlsx export")
    found = _find_header(table)
    if found is None:
        raise _invalid(
            filename,
            "no header row with a date column (交易日期) and an amount column "
            "(收入金额/支出金额 or 交易金额)",
        )
    header_index, roles = found
    holder = account = None
    for row in table[:header_index]:
        line = " ".join(row)
        match = _HOLDER.search(line)
        if match and holder is None:
            holder = match.group(1)
        number = _ACCOUNT.search(line)
        if number and account is None:
            account = re.sub(r"\s", "", number.group(1)).replace("＊", "*")
    rows = tuple(_rows(filename, table, header_index + 1, roles))
    if not rows:
        raise _invalid(filename, "the statement has no transactions")
    if len(rows) > MAX_ROWS:
        raise _invalid(filename, f"more than {MAX_ROWS} transactions")
    header = table[header_index]
    columns = {role: header[i] for role, i in roles.items()}
    return ParsedStatement(filename, holder, columns, rows, account)
