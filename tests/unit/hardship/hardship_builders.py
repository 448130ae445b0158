"""Builders for hardship tests: bank statements in the common layouts, and policy variants."""

from __future__ import annotations

import copy
import csv
import io
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from lendcore.hardship.policy import HardshipPolicy
from lendcore.kernel.money import format_major

REPO = Path(__file__).resolve().parents[3]
POLICIES = REPO / "policies" / "hardship"
EMPLOYER = "上海某某科技有限公司"
HOLDER = "张三"


@dataclass(frozen=True)
class Tx:
    when: date
    amount: int  # signed fen
    summary: str
    counterparty: str = ""
    date_text: str | None = None  # overrides the date as written (for impossible dates)
    balance_error: int = 0  # added to the written balance (a forged balance)


def clean_transactions(
    months: int = 3, salary: int = 812_345, start: date = date(2026, 1, 1)
) -> list[Tx]:
    """A salaried borrower's ordinary months: pay on the 10th, rent, utilities, a card repayment
    and some shopping."""
    txs: list[Tx] = []
    for m in range(months):
        year, month = start.year + (start.month - 1 + m) // 12, (start.month - 1 + m) % 12 + 1
        txs += [
            Tx(date(year, month, 3), -30_000, "超市消费", "某某超市"),
            Tx(date(year, month, 5), -250_000, "房租", "李四"),
            Tx(date(year, month, 10), salary, "代发工资", EMPLOYER),
            Tx(date(year, month, 12), -45_000, "餐饮消费", "某某餐厅"),
            Tx(date(year, month, 15), -15_000, "电费", "国网上海电力"),
            Tx(date(year, month, 16), -5_000, "话费充值", "中国移动"),
            Tx(date(year, month, 20), -100_000, "信用卡还款", "某某银行信用卡中心"),
            Tx(date(year, month, 25), -30_000, "超市消费", "某某超市"),
        ]
    return txs


def _balances(txs: list[Tx], opening: int) -> list[int]:
    balances, running = [], opening
    for tx in txs:
        running += tx.amount
        balances.append(running + tx.balance_error)
    return balances


def _date_text(tx: Tx) -> str:
    return tx.date_text if tx.date_text is not None else tx.when.isoformat()


def csv_split(txs: list[Tx], *, opening: int = 500_000, encoding: str = "utf-8-sig",
              preamble: bool = True, newest_first: bool = False) -> bytes:  # fmt: skip
    """收入金额 / 支出金额 columns, amounts like ¥1,234.56, a preamble above the header."""
    out = io.StringIO()
    writer = csv.writer(out)
    if preamble:
        writer.writerow([f"户名：{HOLDER}"])
        writer.writerow(["账号：6222********1234", "查询期间：2026-01-01至2026-03-31"])
        writer.writerow([])
    writer.writerow(["交易日期", "摘要", "收入金额(元)", "支出金额(元)", "账户余额", "对方户名"])
    rows = []
    sign = "¥" if encoding.startswith("utf") else "￥"  # GBK has only the full-width yen sign
    for tx, balance in zip(txs, _balances(txs, opening), strict=True):
        income = f"{sign}{Decimal(tx.amount) / 100:,.2f}" if tx.amount > 0 else ""
        expense = f"{sign}{Decimal(-tx.amount) / 100:,.2f}" if tx.amount < 0 else ""
        rows.append(
            [
                _date_text(tx),
                tx.summary,
                income,
                expense,
                f"{Decimal(balance) / 100:,.2f}",
                tx.counterparty,
            ]
        )
    writer.writerows(rows[::-1] if newest_first else rows)
    writer.writerow(["合计", "", "", "", "", ""])
    return out.getvalue().encode(encoding)


def csv_signed(txs: list[Tx], *, opening: int = 500_000, encoding: str = "gbk") -> bytes:
    """One signed 交易金额 column (GBK by default), no preamble."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["记账日期", "交易金额", "余额", "对方账户名", "交易摘要"])
    for tx, balance in zip(txs, _balances(txs, opening), strict=True):
        writer.writerow([_date_text(tx).replace("-", ""), format_major(tx.amount),
                         format_major(balance), tx.counterparty, tx.summary])  # fmt: skip
    return out.getvalue().encode(encoding)


def xlsx(txs: list[Tx], *, opening: int = 500_000, marker: bool = False) -> bytes:
    """An XLSX export: preamble, header, dates as datetimes, amounts as numbers. With
    ``marker`` the amount is unsigned and a 借贷标志 column gives the direction."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([f"户名：{HOLDER}"])
    sheet.append(["中国某某银行 个人账户交易明细"])
    if marker:
        sheet.append(["交易时间", "借贷标志", "交易金额", "联机余额", "对方户名", "交易说明"])
    else:
        sheet.append(["交易时间", "交易金额", "联机余额", "对方户名", "交易说明"])
    for tx, balance in zip(txs, _balances(txs, opening), strict=True):
        when: Any = (
            tx.date_text
            if tx.date_text is not None
            else datetime(tx.when.year, tx.when.month, tx.when.day, 9, 30)
        )
        amount = Decimal(tx.amount) / 100
        money = [("贷" if tx.amount > 0 else "借"), abs(amount)] if marker else [amount]
        sheet.append([when, *money, Decimal(balance) / 100, tx.counterparty, tx.summary])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def shift(tx: Tx, **changes: Any) -> Tx:
    return replace(tx, **changes)


# ---- policies ----------------------------------------------------------------------------


def default_policy_data() -> dict[str, Any]:
    return yaml.safe_load((POLICIES / "default.yaml").read_text(encoding="utf-8"))


def make_policy(**sections: dict[str, Any] | Any) -> HardshipPolicy:
    """The default policy with sections merged over it: make_policy(waiver={"max_ratio": "0.2"})."""
    data = copy.deepcopy(default_policy_data())
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return HardshipPolicy.model_validate(data)


def write_policy(directory: Path, data: dict[str, Any]) -> Path:
    """A policy directory with ``data`` as a policy and the shipped expense table."""
    (directory / "expense-tables").mkdir(parents=True, exist_ok=True)
    table = POLICIES / "expense-tables" / "cn-dibao.yaml"
    (directory / "expense-tables" / "cn-dibao.yaml").write_bytes(table.read_bytes())
    path = directory / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
