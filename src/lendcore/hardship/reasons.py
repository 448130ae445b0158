"""Why a case gets no negotiated plan: stable codes with zh-CN and English text.

Codes are part of the public contract (API, audit, console): never rename one, only add.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    DPD_BELOW_THRESHOLD = "DPD_BELOW_THRESHOLD"
    PROOF_OF_HARDSHIP_REQUIRED = "PROOF_OF_HARDSHIP_REQUIRED"
    POLICY_NOT_EFFECTIVE = "POLICY_NOT_EFFECTIVE"
    STATEMENT_FLAGGED = "STATEMENT_FLAGGED"
    INSUFFICIENT_STATEMENT_HISTORY = "INSUFFICIENT_STATEMENT_HISTORY"
    NO_REPAYMENT_CAPACITY = "NO_REPAYMENT_CAPACITY"
    STRESS_RED = "STRESS_RED"
    NO_AFFORDABLE_PLAN = "NO_AFFORDABLE_PLAN"
    RATE_CAP_BINDS = "RATE_CAP_BINDS"
    NO_FEASIBLE_PLAN = "NO_FEASIBLE_PLAN"


TEXT: dict[Reason, tuple[str, str]] = {
    Reason.DPD_BELOW_THRESHOLD: (
        "逾期天数未达到本政策的协商条件",
        "days past due are below this policy's threshold",
    ),
    Reason.PROOF_OF_HARDSHIP_REQUIRED: (
        "本政策要求提供困难证明（如失业、疾病、收入下降证明）",
        "this policy requires proof of hardship (job loss, illness, income drop)",
    ),
    Reason.POLICY_NOT_EFFECTIVE: ("该政策尚未生效", "the policy is not yet in effect"),
    Reason.STATEMENT_FLAGGED: (
        "银行流水存在疑似篡改迹象，流程暂停，需人工核查",
        "the bank statement shows signs of tampering: the case stops for a manual review",
    ),
    Reason.INSUFFICIENT_STATEMENT_HISTORY: (
        "银行流水覆盖期间过短，无法评估收入",
        "the statements cover too short a period to assess income",
    ),
    Reason.NO_REPAYMENT_CAPACITY: (
        "扣除必要支出和其他债务后无还款能力",
        "no repayment capacity after essential expenses and other debts",
    ),
    Reason.STRESS_RED: (
        "压力测试为红色：即使最宽松的方案也很可能无法履行，不宜协商分期；建议办理正式债务重组或寻求法律援助",
        "stress test red: even the most lenient plan is likely to fail, so no negotiated plan; "
        "formal debt restructuring or legal advice is recommended",
    ),
    Reason.NO_AFFORDABLE_PLAN: (
        "在政策允许的期数、减免和首付范围内，月供均超过收入的允许比例",
        "within the policy's periods, waiver and down payment, every instalment exceeds the "
        "allowed share of income",
    ),
    Reason.RATE_CAP_BINDS: (
        "方案的综合年化成本（IRR）超过上限",
        "the plans' all-in annual cost (IRR) exceeds the cap",
    ),
    Reason.NO_FEASIBLE_PLAN: (
        "没有同时满足全部约束的方案",
        "no plan meets every constraint",
    ),
}

# What the response recommends when no negotiated plan is offered.
RECOMMENDATION = {
    "code": "FORMAL_RESTRUCTURING_OR_LEGAL_ADVICE",
    "message_zh": "建议通过正式债务重组途径处理，或寻求法律援助",
    "message_en": "consider formal debt restructuring or seek legal advice",
}


def reason(code: Reason, **details: Any) -> dict[str, Any]:
    zh, en = TEXT[code]
    out: dict[str, Any] = {"code": str(code), "message_zh": zh, "message_en": en}
    if details:
        out["details"] = details
    return out
