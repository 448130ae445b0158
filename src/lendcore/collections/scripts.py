"""Call and SMS scripts (Jinja2 templates), and the checker that keeps debts out of third-party
scripts.

The law lets a collector ask a third party for the debtor's contact details or to pass on a
message, never tell them about the debt (GB/T 45251-2025; 12 CFR 1006.10; CONC 7.9). So every
``third_party`` template is checked twice:

- **the template**: no literal text naming a debt, an overdue, a loan or an amount, and no
  variable beyond :data:`THIRD_PARTY_VARIABLES` (a template cannot even *ask* for the amount);
- **the rendered text**: the same words and amount patterns, so a value passed in (a company
  name containing 贷款, say) cannot smuggle the debt in.

Templates render in Jinja2's sandbox with undefined variables as errors. Borrower templates may
state the debt: the borrower is a party to the contract.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, meta
from jinja2.sandbox import SandboxedEnvironment

from lendcore.kernel.errors import ErrorCode, PolicyViolation, ValidationError

THIRD_PARTY = "third_party"
BORROWER = "borrower"
THIRD_PARTY_VARIABLES = frozenset(
    {"company", "agent_name", "borrower_display_name", "callback_number"}
)

# Words that state or imply a debt, in the languages the packs serve. Matched case-insensitively;
# English words on word boundaries (so "loaned" or "debtor" match too, "indebted" does).
FORBIDDEN_ZH = (
    "逾期", "欠款", "欠钱", "欠债", "债务", "债", "还款", "还钱", "催收", "催款", "贷款", "借款",
    "借钱", "网贷", "违约", "拖欠", "征信", "起诉", "诉讼", "法院", "律师函", "利息", "罚息",
    "本金", "额度", "账单", "分期", "金额",
)  # fmt: skip
FORBIDDEN_EN = (
    "overdue", "debt", "debts", "debtor", "indebted", "owe", "owes", "owed", "owing", "loan",
    "loans", "loaned", "lender", "repay", "repayment", "collection", "collections", "collector",
    "arrears", "default", "defaulted", "past due", "late payment", "balance", "payment",
    "amount", "interest", "credit", "lawsuit", "court", "bill", "instalment", "installment",
)  # fmt: skip
_AMOUNT_PATTERNS = (
    re.compile(r"[¥￥$€£]\s*\d"),
    re.compile(r"\d[\d,，]*(?:\.\d+)?\s*(?:元|块|萬|万|千|百|角|分钱)"),
    re.compile(r"[零一二三四五六七八九十百千万亿两]+\s*(?:元|块)"),
    re.compile(r"\b(?:rmb|cny|usd|yuan|dollars?)\b", re.IGNORECASE),
    re.compile(r"\d+\.\d{1,2}(?!\d)"),  # 1234.50: money-shaped decimals
)
_EN = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in FORBIDDEN_EN) + r")\b", re.I)
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class ScriptTemplate:
    template_id: str
    audience: str  # THIRD_PARTY | BORROWER
    language: str
    source: str


TEMPLATES: dict[str, ScriptTemplate] = {
    t.template_id: t
    for t in (
        ScriptTemplate(
            "contact_call_zh",
            THIRD_PARTY,
            "zh-CN",
            "您好，我是{{ company }}的{{ agent_name }}。我们有事需要联系{{ borrower_display_name }}，"
            "请问您能否转告他/她方便时回电{{ callback_number }}？打扰您了，谢谢！",
        ),
        ScriptTemplate(
            "contact_call_en",
            THIRD_PARTY,
            "en",
            "Hello, this is {{ agent_name }} from {{ company }}. We are trying to reach "
            "{{ borrower_display_name }}. Could you ask them to call us back on "
            "{{ callback_number }}? Thank you, and sorry to trouble you.",
        ),
        ScriptTemplate(
            "contact_sms_zh",
            THIRD_PARTY,
            "zh-CN",
            "【{{ company }}】您好，我们有事需联系{{ borrower_display_name }}，"
            "烦请转告其回电{{ callback_number }}。谢谢！",
        ),
        ScriptTemplate(
            "borrower_sms_zh",
            BORROWER,
            "zh-CN",
            "【{{ company }}】尊敬的客户，您的借款已逾期{{ days_past_due }}天，应还金额"
            "{{ amount_due }}元。请尽快还款，如有困难请致电{{ callback_number }}协商。",
        ),
        ScriptTemplate(
            "borrower_reminder_sms_zh",
            BORROWER,
            "zh-CN",
            "【{{ company }}】温馨提示：您的借款将于{{ due_date }}到期，请按时还款。"
            "如有疑问请致电{{ callback_number }}。",
        ),
    )
}


def check_text(text: str) -> list[str]:
    """Everything in ``text`` a third party must not hear: debt words and amounts."""
    found = [word for word in FORBIDDEN_ZH if word in text]
    found += sorted({m.group(0).lower() for m in _EN.finditer(text)})
    found += [m.group(0) for pattern in _AMOUNT_PATTERNS for m in pattern.finditer(text)]
    return found


def check_template(template: ScriptTemplate) -> list[str]:
    """Problems of a template's source; empty when it is fit for its audience."""
    try:
        parsed = _ENV.parse(template.source)
    except Exception as exc:  # a syntax error is a problem to report, not a crash
        return [f"template does not parse: {exc}"]
    if template.audience != THIRD_PARTY:
        return []
    problems = [
        f"variable {{{{ {name} }}}} is not allowed in a third-party script"
        for name in sorted(meta.find_undeclared_variables(parsed) - THIRD_PARTY_VARIABLES)
    ]
    # The literal text alone (variables blanked) must not state the debt either.
    literal = re.sub(r"{{.*?}}|{%.*?%}|{#.*?#}", " ", template.source, flags=re.S)
    problems += [f"states the debt: {word!r}" for word in check_text(literal)]
    return problems


@functools.cache
def _checked(template: ScriptTemplate) -> tuple[str, ...]:
    # A template is a frozen value: its problems are worked out once per distinct template.
    return tuple(check_template(template))


@functools.cache
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


def render(template_id: str, variables: Mapping[str, Any]) -> str:
    """The rendered script; a third-party script that would state the debt is refused."""
    template = TEMPLATES.get(template_id)
    if template is None:
        raise ValidationError(ErrorCode.INVALID_ARGUMENT, f"no script template {template_id!r}")
    problems = _checked(template)
    if problems:
        raise PolicyViolation(
            ErrorCode.SCRIPT_REVEALS_DEBT,
            f"template {template_id} is not fit for a third party",
            {"problems": list(problems)},
        )
    text = _compiled(template.source).render(**dict(variables))
    if template.audience == THIRD_PARTY:
        found = check_text(text)
        if found:
            raise PolicyViolation(
                ErrorCode.SCRIPT_REVEALS_DEBT,
                f"rendered {template_id} would tell a third party about the debt",
                {"found": found},
            )
    return text
