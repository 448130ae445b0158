"""Negotiation scripts: the four sections in both languages, and no banned phrase ever."""

import pytest
from hardship_builders import POLICIES, default_policy_data, write_policy

from lendcore.hardship.calculate import calculate
from lendcore.hardship.plans import Debt
from lendcore.hardship.scripts import ScriptFacts, banned_phrases, render_scripts
from lendcore.hardship.store import PolicyStore
from lendcore.kernel.errors import ErrorCode, PolicyViolation

PLAN = {
    "kind": "balanced",
    "down_payment": "1000.00",
    "financed": "29000.00",
    "periods": 24,
    "installment": "1208.33",
    "last_installment": "1208.41",
    "waiver": "500.00",
    "waiver_split": {"penalty": "500.00", "interest": "0.00", "fees": "0.00", "principal": "0.00"},
    "total_repayment": "30000.00",
    "apr_irr": "0.0000",
    "success_probability": 0.8123,
}
FACTS = ScriptFacts(
    debt=Debt(principal=2_800_000, interest=150_000, penalty=100_000),
    days_past_due=120,
    monthly_net_income=600_000,
    essential_expenses=217_500,
    other_debt_payments=0,
    hardship_reason="illness",
    policy_name_zh="平台默认困难客户协商政策",
    policy_name_en="Platform default hardship policy",
    policy_version="abc123",
    sources=("商业银行信用卡业务监督管理办法 第七十条",),
    misses_allowed=1,
)


def test_the_script_has_the_four_sections_in_both_languages():
    script = render_scripts(PLAN, FACTS)
    for heading in ("【困难说明】", "【还款意愿】", "【协商方案】", "【依据】"):
        assert heading in script["zh"]
    for heading in ("[Hardship statement]", "[Willingness to pay]", "[Proposal]", "[Basis]"):
        assert heading in script["en"]


def test_the_script_states_the_plan_and_its_basis():
    script = render_scripts(PLAN, FACTS)
    zh, en = script["zh"], script["en"]
    assert (
        "首付1000.00元" in zh and "分24期" in zh and "每期1208.33元" in zh and "末期1208.41元" in zh
    )
    assert "疾病" in zh and "81.2%" in zh and "第七十条" in zh
    assert "24 monthly instalments of 1208.33 yuan" in en and "illness" in en


@pytest.mark.parametrize(
    "text",
    ["不还就起诉你", "我们会上门拜访", "联系你的通讯录", "列入黑名单", "We will blacklist you",
     "we will SUE YOU", "a home visit", "we will call your employer"],
)  # fmt: skip
def test_banned_phrases_are_found(text):
    assert banned_phrases(text)


def test_ordinary_words_containing_a_banned_word_are_not_hits():
    assert banned_phrases("The police-free zone") == ["police"]  # a word on its own is a hit
    assert banned_phrases("policy and policemanship") == []  # inside other words it is not


def test_a_banned_phrase_reaching_the_script_is_an_error():
    facts = FACTS.__class__(**{**FACTS.__dict__, "sources": ("逾期不还将起诉你",)})
    with pytest.raises(PolicyViolation) as caught:
        render_scripts(PLAN, facts)
    assert caught.value.code is ErrorCode.SCRIPT_BANNED_PHRASE
    assert "起诉你" in caught.value.details["phrases"]


def test_a_policy_can_ban_more_phrases():
    with pytest.raises(PolicyViolation):
        render_scripts(PLAN, FACTS, extra_banned=("协商政策",))


def test_shipped_policies_produce_clean_scripts():
    result = calculate(
        {"debt": {"principal": "20000.00", "penalty": "3000.00"}, "days_past_due": 200,
         "monthly_net_income": "7000.00", "city": "成都", "proof_of_hardship": True},
        PolicyStore(POLICIES), seed=2,
    )  # fmt: skip
    assert result["script"] and not banned_phrases(result["script"]["zh"] + result["script"]["en"])


def test_a_policy_whose_sources_contain_a_banned_phrase_cannot_produce_a_script(tmp_path):
    data = default_policy_data()
    data["sources"].append({"text": "客户不配合可上门催收", "tag": "S"})
    write_policy(tmp_path, data)
    with pytest.raises(PolicyViolation) as caught:
        calculate(
            {"debt": {"principal": "20000.00"}, "days_past_due": 200, "monthly_net_income": "7000.00",
             "city": "成都", "proof_of_hardship": True},
            PolicyStore(tmp_path), seed=2,
        )  # fmt: skip
    assert caught.value.code is ErrorCode.SCRIPT_BANNED_PHRASE
