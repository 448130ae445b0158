"""The report as one self-contained HTML page: server-rendered with Jinja2, zh-CN and English
headings, inline SVG charts (see charts.py). Rendered from the report document alone, so
``lendcore report --html`` and ``lendcore simulate --html`` produce the same page for the same
figures."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from lendcore.sim.charts import COLORS, Bar, Series, bar_chart, line_chart
from lendcore.sim.report import BUCKETS, OUTCOMES, STATE_NAMES

BUCKET_COLORS = dict(
    zip(BUCKETS, ("#5cb85c", "#f0ad4e", "#e8793d", "#d9534f", "#8b1e1e"), strict=True)
)
PROFILE_NAMES = {
    "on_time": "按时还款 on time",
    "late": "晚还 late (1–20 days)",
    "cured": "逾期后还清 cured (30–60 days behind)",
    "defaulter": "违约 defaulter",
    "unknown": "未知 unknown",
}
TEN_THOUSAND = Decimal(10_000)
BUCKET_DAYS = {"M0": "current", "M1": "1–30 d", "M2": "31–60 d", "M3": "61–90 d", "M4+": "> 90 d"}


def grouped(amount: str) -> str:
    """A yuan decimal string with thousands separators, for people: "1234567.80" -> "1,234,567.80"."""
    whole, _, fraction = amount.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = f"{int(whole.lstrip('-')):,}"
    return f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}"


def percent(value: str) -> str:
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))}%"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("lendcore.sim", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["yuan"] = grouped
    return environment


def _cards(doc: dict[str, Any]) -> list[dict[str, str]]:
    recon = doc["reconciliation"]
    disbursed = doc["disbursements"].get("succeeded", {"count": 0, "amount": "0.00"})
    rejected = doc["disbursements"].get("failed", {"count": 0})
    return [
        {"label": "在贷笔数 Live loans", "value": str(doc["loans"]["live"]), "css": ""},
        {
            "label": "未偿本金 Principal outstanding",
            "value": grouped(doc["outstanding_principal"]),
            "css": "",
        },
        {
            "label": "逾期本金 Overdue principal",
            "value": grouped(doc["overdue_principal"]),
            "css": "",
        },
        {"label": "逾期率(本金) Overdue share", "value": percent(doc["overdue_share"]), "css": ""},
        {
            "label": "利息收入 Interest income",
            "value": grouped(doc["income"]["interest"]),
            "css": "",
        },
        {"label": "手续费收入 Fee income", "value": grouped(doc["income"]["fee"]), "css": ""},
        {"label": "罚息收入 Penalty income", "value": grouped(doc["income"]["penalty"]), "css": ""},
        {
            "label": "核销损失 Write-off expense",
            "value": grouped(doc["write_off_expense"]),
            "css": "",
        },
        {
            "label": "应计未到期利息(备忘) Accrued interest, not yet due (memo)",
            "value": grouped(doc["memo"]["accrued_interest_not_yet_due"]),
            "css": "",
        },
        {
            "label": "应计未入账罚息(备忘) Penalty accrued, not yet posted (memo)",
            "value": grouped(doc["memo"]["penalty_accrued_not_yet_posted"]),
            "css": "",
        },
        {
            "label": "放款 Disbursed (loans / yuan)",
            "value": f"{disbursed['count']} / {grouped(disbursed['amount'])}",
            "css": "",
        },
        {"label": "放款被拒 Payouts rejected", "value": str(rejected["count"]), "css": ""},
        {
            "label": "对账 Reconciliation",
            "value": "✔ OK" if recon["ok"] else "✘ MISMATCH",
            "css": "ok" if recon["ok"] else "bad",
        },
    ]


def _trend(doc: dict[str, Any]) -> tuple[Any, str]:
    simulation = doc.get("simulation")
    if simulation and simulation["daily"]:
        points = simulation["daily"]
        labels = [p["day"][5:] for p in points]
        note = (
            "每日数据来自模拟运行（内存中逐日汇总，不落库）。 Daily series kept by the simulator "
            "(one aggregate row per day, held in memory, not stored)."
        )
        x_label = "模拟日期 Simulated business date (MM-DD)"
    else:
        points = doc["month_ends"]
        labels = [p["month_end"] for p in points]
        note = (
            "月末数据来自 bucket_snapshots。 Month-end series from bucket_snapshots (run "
            "lendcore simulate for a daily series)."
        )
        x_label = "月末 Month end"
    chart = line_chart(
        labels,
        [
            Series(
                "未偿本金(万元) Outstanding principal (10k yuan)",
                [Decimal(p["outstanding_principal"]) / TEN_THOUSAND for p in points],
                COLORS[0],
            ),
            Series(
                "逾期率 Overdue share (%)",
                [Decimal(p["overdue_share"]) * 100 for p in points],
                COLORS[2],
                axis="right",
            ),
        ],
        "未偿本金与逾期率 Outstanding principal and overdue share",
        "未偿本金 万元 / principal, 10k yuan",
        "逾期率 % / overdue share, %",
        x_label,
    )
    return chart, note


def _simulation_rows(simulation: dict[str, Any]) -> list[tuple[str, str]]:
    p = simulation["parameters"]
    products = ", ".join(f"{k}: {v}" for k, v in simulation["loans_by_product"].items())
    return [
        ("借款人 Borrowers", str(p["borrowers"])),
        ("模拟天数 Days", f"{p['days']} ({p['start']} → {p['end']})"),
        ("随机种子 Seed", str(p["seed"])),
        ("放款拒绝率 Payout reject rate (sandbox)", p["reject_rate"]),
        ("贷款笔数 Loans opened (by product)", f"{simulation['loans_opened']} ({products})"),
        ("复借 Repeat small loans", str(simulation["reborrowed"])),
        ("放款成功 Disbursed", f"{simulation['disbursed']} / {simulation['disbursed_amount']}"),
        ("放款被拒 Payouts rejected", str(simulation["disbursements_rejected"])),
        (
            "还款笔数/金额 Repayments / amount",
            f"{simulation['repayments']} / {simulation['repaid_amount']}",
        ),
        ("提前结清 Early payoffs", str(simulation["payoffs"])),
        ("结清 Settled", str(simulation["settled"])),
        ("核销 Written off", f"{simulation['written_off']} / {simulation['written_off_amount']}"),
        (
            "催收后还款 Payments after a collection conversation",
            f"{simulation['catch_up_payments']} / {simulation['catch_up_amount']}",
        ),
    ]


def collection_rows(collections: dict[str, Any]) -> list[tuple[str, str]]:
    """The collections desk's figures, labelled (terminal and HTML)."""
    outcomes = ", ".join(f"{name} {n}" for name, n in collections["call_outcomes"].items())
    return [
        ("坐席 Agents", str(collections["agents"])),
        ("联系人记录(加密) Contact points stored, encrypted", str(collections["contact_points"])),
        (
            "工作清单 Worklist items (candidates; over the caps)",
            f"{collections['worklist_items']} ({collections['candidates']}; "
            f"{collections['unassigned']})",
        ),
        ("承诺期内暂缓 Items held while a promise runs", str(collections["held_for_promise"])),
        ("联系尝试 Attempts through the gate", str(collections["attempts"])),
        ("放行 Allowed", str(collections["allowed"])),
        ("拒绝 Denied (by reason: below)", str(collections["denied"])),
        ("外呼 Calls placed (outcomes)", f"{collections['calls']} ({outcomes or '—'})"),
        ("有效通话 Connected conversations", str(collections["connected"])),
        ("还款承诺 Promises to pay", str(collections["promises_to_pay"])),
        (
            "短信 SMS sent (undelivered)",
            f"{collections['sms_sent']} ({collections['sms_undelivered']})",
        ),
        ("违规告警 Violation alerts", str(collections["alerts"])),
        ("审计记录 Audit chain records", str(collections["audit_records"])),
        (
            "独立复核违规 Violations found by the independent check",
            str(collections["independent_check"]["violations"]),
        ),
    ]


def underwriting_rows(underwriting: dict[str, Any]) -> list[tuple[str, str]]:
    """The decision pipeline's figures, labelled (terminal and HTML)."""
    outcomes = underwriting["outcomes"]
    reviews = ", ".join(f"{k} {n}" for k, n in underwriting["reviews"].items()) or "—"
    tiers = ", ".join(f"{k} {n}" for k, n in underwriting["by_tier"].items()) or "—"
    return [
        ("申请 Applications decided", str(underwriting["applications"])),
        (
            "批准 Approved",
            f"{outcomes.get('APPROVE', 0)} ({percent(underwriting['approval_rate'])})",
        ),
        ("人工审核 Manual review (verdicts)", f"{outcomes.get('MANUAL_REVIEW', 0)} ({reviews})"),
        ("拒绝 Rejected", str(outcomes.get("REJECT", 0))),
        ("放款 Became loans", f"{underwriting['funded']} ({percent(underwriting['funded_rate'])})"),
        ("等级 Tiers", tiers),
        *_credit_line_rows(underwriting.get("credit_lines")),
    ]


def _credit_line_rows(lines: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not lines:
        return []
    return [
        (
            "提额 Credit lines stepped up (on-time repayments)",
            f"{lines['stepped_up']} / {lines['lines']}",
        ),
        (
            "提额前后平均额度 Their average limit before → after",
            f"{lines['average_limit_before']} → {lines['average_limit_after']}",
        ),
    ]


def hardship_rows(hardship: dict[str, Any]) -> list[tuple[str, str]]:
    """The hardship desk's figures, labelled (terminal and HTML)."""
    ineligible = ", ".join(f"{k} {n}" for k, n in hardship["ineligible"].items()) or "—"
    plans = ", ".join(f"{k} {n}" for k, n in hardship["plans"].items()) or "—"
    status = ", ".join(f"{k} {n}" for k, n in hardship["end_status"].items()) or "—"

    def share(count_key: str, rate_key: str) -> str:
        rate = hardship[rate_key]
        return f"{hardship[count_key]} ({'—' if rate is None else percent(rate)})"

    predicted = hardship["mean_predicted_success"]
    return [
        ("测算案件 Cases calculated", str(hardship["cases"])),
        ("不符合 Ineligible (reason)", ineligible),
        ("提供方案 Offered three plans", str(hardship["offered"])),
        (
            "接受并重组 Taken up and restructured",
            f"{hardship['taken_up']} ({percent(hardship['take_up_rate'])})",
        ),
        (
            "首付不足 Declined: savings below every down payment",
            str(hardship["declined_down_payment"]),
        ),
        ("所选方案 Plans chosen", plans),
        ("期末状态 Case status at the end", status),
        ("治愈（已还清）Cured: plan repaid", share("completed", "cure_rate")),
        ("违约 Breached", share("breached", "breach_rate")),
        ("仍在履行 Still performing (may yet break)", share("performing", "performing_rate")),
        (
            "引擎预测成功率 Engine's mean predicted success",
            "—" if predicted is None else percent(predicted),
        ),
    ]


def _score_chart(underwriting: dict[str, Any]) -> Any:
    bands = underwriting["score_bands"]
    return bar_chart(
        [
            Bar(band, Decimal(n), COLORS[i % len(COLORS)], "")
            for i, (band, n) in enumerate(bands.items())
        ],
        "申请评分分布 Application scores (50-point bands)",
        "申请 applications",
    )


def render_html(doc: dict[str, Any]) -> str:
    buckets = doc["loans"]["by_bucket"]
    bucket_chart = bar_chart(
        [
            Bar(
                b,
                Decimal(buckets[b]["loans"]),
                BUCKET_COLORS.get(b, COLORS[0]),
                BUCKET_DAYS.get(b, ""),
            )
            for b in buckets
        ],
        "在贷贷款账龄分布 Live loans by bucket",
        "贷款笔数 loans",
    )
    states = [(s, v) for s, v in doc["loans"]["by_state"].items() if v["loans"]]
    state_chart = bar_chart(
        [
            Bar(STATE_NAMES.get(s, s), Decimal(v["loans"]), COLORS[i % len(COLORS)], s.lower())
            for i, (s, v) in enumerate(states)
        ],
        "贷款状态 Loans by state",
        "贷款笔数 loans",
    )
    trend_chart, trend_note = _trend(doc)
    simulation = doc.get("simulation")
    collections = simulation.get("collections") if simulation else None
    underwriting = simulation.get("underwriting") if simulation else None
    hardship = simulation.get("hardship") if simulation else None
    template = _environment().get_template("report.html.j2")
    return template.render(
        doc=doc,
        cards=_cards(doc),
        bucket_chart=bucket_chart,
        state_chart=state_chart,
        trend_chart=trend_chart,
        trend_note=trend_note,
        outcomes=OUTCOMES,
        percent=percent,
        profile_names=PROFILE_NAMES,
        sim=simulation,
        sim_rows=_simulation_rows(simulation) if simulation else [],
        collections=collections,
        collection_rows=collection_rows(collections) if collections else [],
        underwriting=underwriting,
        underwriting_rows=underwriting_rows(underwriting) if underwriting else [],
        score_chart=_score_chart(underwriting) if underwriting else None,
        hardship=hardship,
        hardship_rows=hardship_rows(hardship) if hardship else [],
    )


def write_html(doc: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(doc), encoding="utf-8")
    return path
