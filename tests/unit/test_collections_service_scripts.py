"""Third-party scripts never state the debt: the checker, every shipped template, rendering."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from lendcore.collections.scripts import (
    BORROWER,
    TEMPLATES,
    THIRD_PARTY,
    ScriptTemplate,
    check_template,
    check_text,
    render,
)
from lendcore.kernel.errors import PolicyViolation

VARIABLES = {
    "company": "安信服务",
    "agent_name": "小王",
    "borrower_display_name": "张*",
    "callback_number": "4000000000",
}


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_every_shipped_template_is_fit_for_its_audience(template_id):
    assert check_template(TEMPLATES[template_id]) == []


@pytest.mark.parametrize(
    "template_id", [t for t, v in sorted(TEMPLATES.items()) if v.audience == THIRD_PARTY]
)
def test_every_third_party_script_renders_without_the_debt(template_id):
    assert check_text(render(template_id, VARIABLES)) == []


@pytest.mark.parametrize(
    "text",
    [
        "请转告他尽快处理逾期款项",
        "他欠款未还",
        "关于他的债务问题",
        "他的借款已经到期",
        "请他尽快还款",
        "他还欠我们3000元",
        "金额为¥1200",
        "共计一千五百元",
        "合计 1,234.50",
        "Tell him his loan is overdue",
        "She owes us money",
        "about a debt",
        "the outstanding balance",
        "a collections matter",
        "USD 300",
    ],
)
def test_the_checker_finds_debt_words_and_amounts(text):
    assert check_text(text)


@pytest.mark.parametrize(
    "text",
    ["您好，请转告他回电4000000000，谢谢", "Please ask them to call us back on 4000000000."],
)
def test_the_checker_passes_a_neutral_message(text):
    assert check_text(text) == []


def test_a_third_party_template_may_not_ask_for_the_amount():
    template = ScriptTemplate(
        "x", THIRD_PARTY, "zh-CN", "请转告{{ borrower_display_name }}{{ amount }}"
    )
    assert check_template(template) == [
        "variable {{ amount }} is not allowed in a third-party script"
    ]


def test_a_third_party_template_may_not_state_the_debt_in_its_text():
    template = ScriptTemplate(
        "x", THIRD_PARTY, "zh-CN", "您的朋友{{ borrower_display_name }}逾期了"
    )
    assert check_template(template) == ["states the debt: '逾期'"]


def test_a_value_that_would_reveal_the_debt_is_refused_at_render():
    with pytest.raises(PolicyViolation) as refused:
        render("contact_call_zh", {**VARIABLES, "company": "快贷网络贷款"})
    assert refused.value.code == "SCRIPT_REVEALS_DEBT"


def test_borrower_scripts_may_state_the_debt():
    assert TEMPLATES["borrower_sms_zh"].audience == BORROWER
    text = render("borrower_sms_zh", {**VARIABLES, "days_past_due": 5, "amount_due": "1200.00"})
    assert "逾期5天" in text and "1200.00元" in text


def test_a_missing_variable_is_an_error_never_an_empty_string():
    with pytest.raises(UndefinedError):
        render("contact_call_zh", {"company": "x"})
