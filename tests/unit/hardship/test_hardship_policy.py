"""Hardship policies are validated data with a version hash, hot reload and a query."""

import os
from decimal import Decimal

import pytest
import yaml
from hardship_builders import POLICIES, default_policy_data, make_policy, write_policy
from pydantic import ValidationError as SchemaError

from lendcore.hardship.policy import LEGAL_MAX_PERIODS
from lendcore.hardship.store import PolicyStore
from lendcore.kernel.errors import ErrorCode, ValidationError


def test_shipped_policies_load_with_a_version_hash():
    store = PolicyStore(POLICIES)
    loaded = {p.id: p for p in store.all()}
    assert set(loaded) >= {"default", "consumer-instalment"}
    default = loaded["default"].policy
    assert default.waiver.max_ratio == Decimal("0.50")
    assert default.principal_reduction.allowed is False
    assert default.periods.max == LEGAL_MAX_PERIODS
    assert default.affordability.income_coefficient == Decimal("0.6")
    assert default.affordability.expense_coefficient == Decimal("1.2")
    assert len(loaded["default"].version_hash) == 64


def test_product_policy_is_stricter_than_the_platform_default():
    store = PolicyStore(POLICIES)
    default, product = store.get("default").policy, store.get("consumer-instalment").policy
    assert product.waiver.max_ratio < default.waiver.max_ratio
    assert product.periods.max < default.periods.max
    assert product.eligibility.days_past_due_over > default.eligibility.days_past_due_over
    assert product.down_payment.min_ratio > default.down_payment.min_ratio


def test_periods_above_the_legal_sixty_are_refused():
    with pytest.raises(SchemaError, match="legal bound"):
        make_policy(periods={"min": 1, "max": 61})


def test_ratios_written_as_yaml_floats_are_refused():
    with pytest.raises(SchemaError, match="quoted strings"):
        make_policy(waiver={"max_ratio": 0.5})


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"stress": {"yellow_at": "0.5", "red_at": "0.5"}}, "yellow_at"),
        (
            {"optimizer": {"discount_rate": "0.08", "acceptable_success": "0.4"}},
            "acceptable_success",
        ),
        ({"principal_reduction": {"allowed": False, "max_ratio": "0.1"}}, "allowed: true"),
        ({"down_payment": {"min_ratio": "0.3", "max_ratio": "0.2"}}, "min_ratio"),
        ({"plan_terms": {"annual_rate": "0.05"}}, "复利"),
        ({"plan_terms": {"rate_cap": "0.40"}}, "less than or equal to 1|outer bound"),
        ({"scope": "product"}, "list its products"),
    ],
)
def test_inconsistent_policies_are_refused(sections, message):
    with pytest.raises(SchemaError, match=message):
        make_policy(**sections)


def test_a_policy_file_whose_id_differs_from_its_name_is_refused(tmp_path):
    data = default_policy_data()
    path = write_policy(tmp_path, data)
    path.rename(tmp_path / "other.yaml")
    with pytest.raises(ValidationError) as caught:
        PolicyStore(tmp_path).get("other")
    assert caught.value.code is ErrorCode.INVALID_HARDSHIP_POLICY


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(ValidationError) as caught:
        PolicyStore(POLICIES).get("../default")
    assert caught.value.code is ErrorCode.UNKNOWN_HARDSHIP_POLICY
    assert "default" in caught.value.details["known"]


def test_a_draft_is_never_loaded(tmp_path):
    data = {**default_policy_data(), "draft": True}
    write_policy(tmp_path, data)
    with pytest.raises(ValidationError, match="draft"):
        PolicyStore(tmp_path).get("default")


def test_editing_a_policy_is_seen_without_a_restart(tmp_path):
    data = default_policy_data()
    path = write_policy(tmp_path, data)
    store = PolicyStore(tmp_path)
    before = store.get("default")
    assert store.get("default") is before  # cached while the file is unchanged

    data["waiver"]["max_ratio"] = "0.40"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    after = store.get("default")
    assert after.policy.waiver.max_ratio == Decimal("0.40")
    assert after.version_hash != before.version_hash


def test_touching_a_file_without_changing_it_keeps_the_version(tmp_path):
    path = write_policy(tmp_path, default_policy_data())
    store = PolicyStore(tmp_path)
    before = store.get("default")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert store.get("default").version_hash == before.version_hash


def test_the_version_covers_the_expense_table(tmp_path):
    write_policy(tmp_path, default_policy_data())
    store = PolicyStore(tmp_path)
    before = store.get("default").version_hash
    table = tmp_path / "expense-tables" / "cn-dibao.yaml"
    table.write_text(
        table.read_text(encoding="utf-8").replace("multiplier: '1.5'", "multiplier: '1.6'"),
        encoding="utf-8",
    )
    stat = table.stat()
    os.utime(table, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert store.get("default").version_hash != before


def test_query_filters_by_scope_product_and_days_past_due():
    store = PolicyStore(POLICIES)
    assert {r["id"] for r in store.query(scope="product")} == {"consumer-instalment"}
    assert {r["id"] for r in store.query(product="small_short_term")} == {"default", "early"}
    covering = {r["id"] for r in store.query(product="consumer_instalment")}
    assert covering == {"default", "early", "consumer-instalment"}
    assert {r["id"] for r in store.query(days_past_due=100)} == {"default", "early"}
    assert {r["id"] for r in store.query(days_past_due=90)} == {"early"}
    assert {r["id"] for r in store.query(days_past_due=30)} == set()
    assert [r["id"] for r in store.query(policy_id="default")] == ["default"]


def test_query_rows_say_the_expense_table_is_configuration_not_law():
    row = PolicyStore(POLICIES).query(policy_id="default")[0]
    assert row["expense_table"]["kind"] == "configuration"
    assert "非法律" in row["expense_table"]["label"]["zh-CN"]
    assert "not law" in row["expense_table"]["label"]["en"]
    assert row["max_waiver_ratio"] == "0.50"


def test_city_baseline_is_the_minimum_living_standard_times_the_multiplier():
    table = PolicyStore(POLICIES).get("default").expense_table
    assert table.baseline_per_person("北京") == ("北京", 217_500)  # 1450.00 x 1.5
    assert table.baseline_per_person("北京市") == ("北京", 217_500)
    assert table.baseline_per_person("Beijing") == ("北京", 217_500)
    assert table.baseline_per_person("拉萨") == ("default", 135_000)  # 900.00 x 1.5


def _with_a_broken_file(tmp_path):
    write_policy(tmp_path, default_policy_data())
    (tmp_path / "broken.yaml").write_text("id: broken\nwaiver: [unclosed\n", encoding="utf-8")
    return PolicyStore(tmp_path)


def test_a_broken_policy_file_is_skipped_and_reported_by_the_query(tmp_path, caplog):
    store = _with_a_broken_file(tmp_path)
    with caplog.at_level("WARNING", logger="lendcore.hardship.policies"):
        rows, invalid = store.search()
        store.search()
    assert [r["id"] for r in rows] == ["default"]
    assert [(i["id"], i["code"]) for i in invalid] == [("broken", "INVALID_HARDSHIP_POLICY")]
    assert [r["id"] for r in store.query()] == ["default"]
    assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 1  # logged once


def test_asking_for_a_broken_policy_by_id_still_fails_clearly(tmp_path):
    store = _with_a_broken_file(tmp_path)
    with pytest.raises(ValidationError) as raised:
        store.get("broken")
    assert raised.value.code == ErrorCode.INVALID_HARDSHIP_POLICY
    assert "broken.yaml" in raised.value.message
