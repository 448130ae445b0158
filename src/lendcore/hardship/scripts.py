"""Negotiation scripts from a plan: hardship statement, willingness to pay, proposal and basis,
in zh-CN and English, rendered from ``templates/negotiation_*.j2``.

Every rendered text is checked against a banned-phrase list: threats, 'blacklist', 起诉你, 上门,
通讯录 and the like are what the law forbids in collection (CBA 2026 guideline; GB/T 45251-2025)
and what lenders' message filters reject. The check runs on the *rendered* text, so a value
passed in (a policy's source note, say) cannot smuggle a phrase in; a hit is an error, never a
silently edited script. Templates render in Jinja2's sandbox with undefined variables as errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from lendcore.hardship.plans import Debt
from lendcore.kernel.errors import ErrorCode, PolicyViolation
from lendcore.kernel.money import format_major

BANNED_ZH = (
    "起诉你", "告你", "上门", "通讯录", "黑名单", "拉黑", "曝光", "坐牢", "拘留", "逮捕", "抓你",
    "报警", "公安", "刑事责任", "后果自负", "走着瞧", "你等着", "最后通牒", "通知你的家人",
    "联系你的家人", "联系你单位", "你的单位", "爆通讯录", "上征信", "老赖", "骗子", "诈骗",
)  # fmt: skip
BANNED_EN = (
    "blacklist", "blacklisted", "sue you", "lawsuit", "home visit", "visit your home",
    "your contacts", "contact list", "address book", "your employer", "arrest", "jail", "prison",
    "police", "criminal", "deadbeat", "fraudster", "face the consequences", "or else",
)  # fmt: skip

REASONS = {
    "job_loss": ("失业", "a job loss"),
    "illness": ("疾病", "illness"),
    "income_drop": ("收入下降", "a drop in income"),
    "business_failure": ("经营困难", "a business failure"),
    "family": ("家庭变故", "a change in family circumstances"),
    "other": ("经济困难", "financial hardship"),
}
TEMPLATES = {"zh": "negotiation_zh.j2", "en": "negotiation_en.j2"}

_ENV = SandboxedEnvironment(
    loader=PackageLoader("lendcore.hardship", "templates"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class ScriptFacts:
    """What a script states besides the plan."""

    debt: Debt
    days_past_due: int
    monthly_net_income: int
    essential_expenses: int
    other_debt_payments: int
    hardship_reason: str
    policy_name_zh: str
    policy_name_en: str
    policy_version: str
    sources: tuple[str, ...]
    misses_allowed: int


def banned_phrases(text: str, extra: Iterable[str] = ()) -> list[str]:
    """Every banned phrase in ``text`` (Chinese as substrings, English on word boundaries,
    case-insensitive); ``extra`` phrases are matched as substrings."""
    lowered = text.lower()
    found = [p for p in BANNED_ZH if p in text]
    found += [p for p in BANNED_EN if re.search(rf"(?<![a-z]){re.escape(p)}(?![a-z])", lowered)]
    found += [p for p in extra if p and p.lower() in lowered]
    return list(dict.fromkeys(found))


def _percent(value: Any) -> str:
    """0.8125 or "0.2400" -> "81.3%" / "24.0%" (a probability or a rate, for display)."""
    percent = (Decimal(str(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{percent}%"


def _variables(plan: Mapping[str, Any], facts: ScriptFacts, language: str) -> dict[str, Any]:
    zh, en = REASONS.get(facts.hardship_reason, REASONS["other"])
    split = plan.get("waiver_split", {})
    return {
        "reason": zh if language == "zh" else en,
        "income": format_major(facts.monthly_net_income),
        "essential": format_major(facts.essential_expenses),
        "other_debt": format_major(facts.other_debt_payments),
        "debt_total": format_major(facts.debt.total),
        "principal": format_major(facts.debt.principal),
        "interest": format_major(facts.debt.interest),
        "penalty": format_major(facts.debt.penalty),
        "fees": format_major(facts.debt.fees),
        "days_past_due": facts.days_past_due,
        "down_payment": plan["down_payment"],
        "financed": plan["financed"],
        "periods": plan["periods"],
        "installment": plan["installment"],
        "last_installment": plan["last_installment"],
        "waiver": plan["waiver"],
        "waiver_penalty": split.get("penalty", "0.00"),
        "waiver_interest": split.get("interest", "0.00"),
        "waiver_fees": split.get("fees", "0.00"),
        "waiver_principal": split.get("principal", "0.00"),
        "total_repayment": plan["total_repayment"],
        "apr_percent": _percent(plan["apr_irr"]),
        "success_percent": _percent(plan["success_probability"]),
        "misses_allowed": facts.misses_allowed,
        "sources": facts.sources,
        "policy_name_zh": facts.policy_name_zh,
        "policy_name_en": facts.policy_name_en,
        "policy_version": facts.policy_version,
    }


def render_scripts(
    plan: Mapping[str, Any], facts: ScriptFacts, *, extra_banned: Iterable[str] = ()
) -> dict[str, str]:
    """``{"plan": kind, "zh": text, "en": text}`` for a plan document (as
    :meth:`lendcore.hardship.plans.Plan.to_document` writes it). Raises
    ``SCRIPT_BANNED_PHRASE`` when a rendered text contains a banned phrase."""
    extra = tuple(extra_banned)
    out = {"plan": str(plan["kind"])}
    for language, name in TEMPLATES.items():
        text = _ENV.get_template(name).render(**_variables(plan, facts, language))
        found = banned_phrases(text, extra)
        if found:
            raise PolicyViolation(
                ErrorCode.SCRIPT_BANNED_PHRASE,
                f"the {language} script contains banned phrases: {', '.join(found)}",
                {"language": language, "phrases": found},
            )
        out[language] = text
    return out
