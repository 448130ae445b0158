"""The report in the terminal: Rich tables with bilingual headings."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from lendcore.sim.html import (
    PROFILE_NAMES,
    collection_rows,
    grouped,
    hardship_rows,
    percent,
    underwriting_rows,
)

ROLLS = ("M0", "M1", "M2", "M3")
CURES = ("M1", "M2", "M3", "M4+")


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def _figures(doc: dict[str, Any]) -> Table:
    table = _table("关键指标 Key figures (元 yuan)", "指标 Figure", "值 Value")
    rows = [
        ("在贷笔数 Live loans", str(doc["loans"]["live"])),
        ("未偿本金 Principal outstanding", grouped(doc["outstanding_principal"])),
        (
            "逾期本金 Overdue principal (share)",
            f"{grouped(doc['overdue_principal'])} ({percent(doc['overdue_share'])})",
        ),
        ("利息收入 Interest income", grouped(doc["income"]["interest"])),
        ("手续费收入 Fee income", grouped(doc["income"]["fee"])),
        ("罚息收入 Penalty income", grouped(doc["income"]["penalty"])),
        ("核销损失 Write-off expense", grouped(doc["write_off_expense"])),
        (
            "应计未到期利息(备忘) Accrued interest memo",
            grouped(doc["memo"]["accrued_interest_not_yet_due"]),
        ),
        ("应计罚息(备忘) Penalty memo", grouped(doc["memo"]["penalty_accrued_not_yet_posted"])),
    ]
    rows += [
        (f"放款 Disbursements {status}", f"{row['count']} / {grouped(row['amount'])}")
        for status, row in doc["disbursements"].items()
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def _loans(doc: dict[str, Any]) -> tuple[Table, Table]:
    states = _table("贷款状态 Loans by state", "状态 State", "笔数 Loans", "未偿本金 Principal")
    for state, row in doc["loans"]["by_state"].items():
        states.add_row(
            f"{row['name_zh']} {state}", str(row["loans"]), grouped(row["principal_outstanding"])
        )
    states.add_row("合计 Total", str(doc["loans"]["total"]), grouped(doc["outstanding_principal"]))
    buckets = _table(
        "逾期分布 Live loans by bucket",
        "账龄 Bucket",
        "笔数 Loans",
        "占比 Share",
        "未偿本金 Principal",
    )
    for bucket, row in doc["loans"]["by_bucket"].items():
        buckets.add_row(
            f"{bucket} {row['name']}",
            str(row["loans"]),
            percent(row["share_of_live_loans"]),
            grouped(row["principal_outstanding"]),
        )
    return states, buckets


def _rate(row: dict[str, Any], key: str) -> str:
    return f"{percent(row[key])} ({row['loans']})" if row[key] is not None else "—"


def _rolls(doc: dict[str, Any]) -> Table:
    table = _table(
        "迁徙率 Roll rates X→X+1 / 回收率 cure rates (→ M0 or settled): % (loans in X)",
        "月末 Month ends",
        *(f"{b}→{n}" for b, n in zip(ROLLS, CURES, strict=True)),
        *(f"cure {b}" for b in CURES),
    )
    for period in doc["roll_rates"]:
        rows = {r["bucket"]: r for r in period["buckets"]}
        table.add_row(
            f"{period['from'][5:]}→{period['to'][5:]}",
            *(_rate(rows[b], "roll_rate") for b in ROLLS),
            *(_rate(rows[b], "cure_rate") for b in CURES),
        )
    return table


def _trial_balance(doc: dict[str, Any]) -> Table:
    trial = doc["trial_balance"]
    table = _table(
        "试算平衡 Trial balance", "科目 Account", "借方 Debit", "贷方 Credit", "余额 Balance"
    )
    for a in trial["accounts"]:
        table.add_row(
            f"{a['account']} {a['name_zh']} {a['name_en']}",
            grouped(a["debit"]),
            grouped(a["credit"]),
            grouped(a["balance"]),
        )
    verdict = "[green]借贷平衡 balanced[/]" if trial["balanced"] else "[bold red]NOT BALANCED[/]"
    table.add_row(
        f"合计 Total {verdict}", grouped(trial["total_debit"]), grouped(trial["total_credit"]), ""
    )
    return table


def _collections(collections: dict[str, Any]) -> tuple[Table, Table]:
    table = _table(
        "催收 Collections (every attempt through the contact gate)", "项 Item", "数 Count"
    )
    for label, value in collection_rows(collections):
        table.add_row(label, value)
    reasons = _table("拒绝原因 Denied by reason code", "原因 Reason", "次数 Attempts")
    for code, count in collections["denied_by_reason"].items():
        reasons.add_row(code, str(count))
    return table, reasons


def print_report(console: Console, doc: dict[str, Any]) -> None:
    if doc.get("synthetic"):
        notice = doc["notice"]
        console.print(
            Panel(
                f"{notice['zh-CN']}\n{notice['en']}",
                title="模拟数据 SYNTHETIC DATA",
                border_style="yellow",
            )
        )
    console.print(f"数据截至 As of (last closed business date): [bold]{doc['as_of'] or '—'}[/]")
    console.print(_figures(doc))
    for table in _loans(doc):
        console.print(table)
    if doc["roll_rates"]:
        console.print(_rolls(doc))
    else:
        console.print(
            "迁徙率 Roll rates: 尚无两个月末快照 fewer than two month ends snapshotted yet"
        )
    console.print(_trial_balance(doc))
    recon = doc["reconciliation"]
    mark = "[green]✔ 一致 OK[/]" if recon["ok"] else "[bold red]✘ 不一致 MISMATCH[/]"
    console.print(
        f"对账 Reconciliation: {mark} — {recon['loans_checked']} loans checked, "
        f"{recon['ledger_mismatches']} ledger / {recon['schedule_mismatches']} schedule mismatches"
    )
    profiles = ", ".join(
        f"{PROFILE_NAMES.get(p, p)}: {n}" for p, n in doc["borrowers"]["by_profile"].items()
    )
    console.print(f"借款人 Borrowers: {doc['borrowers']['total']} ({profiles})")
    simulation = doc.get("simulation")
    if simulation:
        console.print(
            f"模拟 Simulation: {simulation['loans_opened']} loans opened "
            f"({simulation['reborrowed']} repeat), {simulation['disbursements_rejected']} payouts "
            f"rejected, {simulation['repayments']} repayments "
            f"({grouped(simulation['repaid_amount'])} yuan, {simulation['payoffs']} early payoffs), "
            f"{simulation['settled']} settled, {simulation['written_off']} written off"
        )
        underwriting = simulation.get("underwriting")
        if underwriting:
            table = _table("授信决策 Credit decisions (the real pipeline)", "项 Item", "数 Count")
            for label, value in underwriting_rows(underwriting):
                table.add_row(label, value)
            console.print(table)
            reasons = _table("决策原因 Decisions by policy reason", "原因 Reason", "申请 Apps")
            for code, count in underwriting["reasons"].items():
                reasons.add_row(code, str(count))
            console.print(reasons)
            bands = ", ".join(f"{b}: {n}" for b, n in underwriting["score_bands"].items())
            console.print(f"评分分布 Scores by 50-point band: {bands}")
        collections = simulation.get("collections")
        if collections:
            for table in _collections(collections):
                console.print(table)
            check = collections["independent_check"]
            mark = "[green]✔[/]" if check["violations"] == 0 else "[bold red]✘[/]"
            console.print(
                f"独立复核 Independent check of the call log: {mark} {check['violations']} "
                f"violations in {check['rows_checked']} attempts"
            )
        hardship = simulation.get("hardship")
        if hardship:
            table = _table("困难协商 Hardship negotiation", "项 Item", "数 Count")
            for label, value in hardship_rows(hardship):
                table.add_row(label, value)
            console.print(table)
