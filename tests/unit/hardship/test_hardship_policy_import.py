"""A Chinese announcement becomes a draft policy with its source sentences, never applied."""

from decimal import Decimal

import pytest
from hardship_builders import POLICIES, default_policy_data, write_policy

from lendcore.hardship.chinese_numbers import parse_number, parse_percent
from lendcore.hardship.policy_import import draft_policy, extract
from lendcore.hardship.store import PolicyStore

SAMPLE = POLICIES / "samples" / "announcement-sample.txt"


@pytest.mark.parametrize(
    ("text", "value"),
    [("三十六", 36), ("一百八十", 180), ("十五", 15), ("两", 2), ("九十", 90), ("六十", 60),
     ("一千零五十", 1050), ("三万五千", 35000), ("３６", 36), ("十二点五", Decimal("12.5"))],
)  # fmt: skip
def test_chinese_numerals(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("百分之三十", "0.3"),
        ("30%", "0.3"),
        ("５０％", "0.5"),
        ("三成", "0.3"),
        ("百分之十二点五", "0.125"),
    ],
)
def test_percentages(text, ratio):
    assert parse_percent(text) == Decimal(ratio)


def test_the_sample_announcement_yields_the_policy_numbers():
    draft = draft_policy(SAMPLE.read_text(encoding="utf-8"), source_name=SAMPLE.name)
    proposed = draft["proposed"]
    assert draft["draft"] is True and draft["review_required"] is True
    assert proposed["eligibility"]["days_past_due_over"] == 90  # 逾期超过九十天
    assert proposed["eligibility"]["proof_of_hardship_required"] is True
    assert proposed["waiver"]["max_ratio"] == "0.3"  # 百分之三十
    assert proposed["periods"]["max"] == 36  # 最长不超过三十六期
    assert proposed["down_payment"]["min_ratio"] == "0.1"  # 首付不低于…10%
    assert proposed["principal_reduction"]["allowed"] is False  # 本金不予减免
    assert proposed["plan_terms"]["compound_interest_allowed"] is False  # 不计复利
    assert draft["missing"] == []


def test_every_finding_keeps_its_sentence_as_written():
    draft = draft_policy(SAMPLE.read_text(encoding="utf-8"))
    text = SAMPLE.read_text(encoding="utf-8")
    for finding in draft["findings"]:
        assert finding["sentence"] in text


def test_penalty_compound_interest_and_liquidated_damages_are_found():
    draft = draft_policy(SAMPLE.read_text(encoding="utf-8"))
    kinds = {f["field"] for f in draft["findings"]}
    assert {"penalty_interest", "compound_interest", "liquidated_damages"} <= kinds
    rates = [
        rate
        for f in draft["findings"]
        if f["field"] == "penalty_interest"
        for rate in f["value"]["rates"]
    ]
    assert "0.0005 daily" in rates  # 罚息按日利率万分之五


def test_a_second_threshold_is_offered_as_an_alternative_not_chosen():
    draft = draft_policy(SAMPLE.read_text(encoding="utf-8"))
    assert draft["alternatives"]["eligibility.days_past_due_over"] == [29]  # 逾期30天以上


@pytest.mark.parametrize(
    ("sentence", "over"),
    [("逾期超过90天的客户", 90), ("逾期90天以上的客户", 89), ("逾期满一百八十天", 179),
     ("逾期3个月以上", 89)],
)  # fmt: skip
def test_overdue_thresholds_read_inclusive_and_exclusive_wording(sentence, over):
    found = [f for f in extract(sentence) if f.field == "eligibility.days_past_due_over"]
    assert [f.value for f in found] == [over]


def test_periods_in_years_become_months_and_are_capped_at_sixty():
    found = [f for f in extract("分期期数最长不超过五年。") if f.field == "periods.max"]
    assert [f.value for f in found] == [60]
    found = [f for f in extract("个性化分期最长可分八年。") if f.field == "periods.max"]
    assert [f.value for f in found] == [60]
    assert "capped" in found[0].note


def test_a_deferral_in_months_is_not_an_instalment_count():
    assert not [f for f in extract("延期最长不超过6个月。") if f.field == "periods.max"]


def test_a_draft_in_the_policy_directory_is_refused(tmp_path):
    write_policy(tmp_path, default_policy_data())
    draft = draft_policy(SAMPLE.read_text(encoding="utf-8"))
    import yaml

    (tmp_path / "imported.yaml").write_text(
        yaml.safe_dump(draft, allow_unicode=True), encoding="utf-8"
    )
    store = PolicyStore(tmp_path)
    with pytest.raises(Exception, match="draft"):
        store.get("imported")
    assert store.get("default").id == "default"  # the reviewed policy is unaffected
