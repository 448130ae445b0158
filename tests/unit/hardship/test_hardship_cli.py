"""`lendcore hardship` through the real entry point."""

import json

import yaml
from hardship_builders import POLICIES, clean_transactions, csv_split
from typer.testing import CliRunner

from lendcore.cli import app

RUNNER = CliRunner()
REQUEST = {
    "debt": {"principal": "30000.00", "interest": "2500.00", "penalty": "1800.00"},
    "days_past_due": 120,
    "monthly_net_income": "6000.00",
    "city": "上海",
    "proof_of_hardship": True,
}


def test_calculate_json_on_stdin():
    result = RUNNER.invoke(app, ["hardship", "calculate", "--json", "--seed", "3", "--as-of", "2026-03-01"],
                           input=json.dumps(REQUEST))  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["eligible"] and len(document["plans"]) == 3


def test_calculate_with_a_statement_file(tmp_path):
    path = tmp_path / "statement.csv"
    path.write_bytes(csv_split(clean_transactions(months=3)))
    body = {k: v for k, v in REQUEST.items() if k != "monthly_net_income"}
    result = RUNNER.invoke(app, ["hardship", "calculate", "--json", "--statement", str(path),
                                 "--as-of", "2026-04-01"], input=json.dumps(body))  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["ability"]["income_source"] == "statements"
    assert document["statements"]["files"] == ["statement.csv"]


def test_calculate_prints_a_bilingual_summary():
    result = RUNNER.invoke(
        app, ["hardship", "calculate", "--as-of", "2026-03-01"], input=json.dumps(REQUEST)
    )
    assert result.exit_code == 0, result.output
    assert "可协商 ELIGIBLE" in result.output and "协商方案 Plans" in result.output


def test_calculate_refuses_an_empty_stdin():
    result = RUNNER.invoke(app, ["hardship", "calculate"], input="")
    assert result.exit_code != 0


def test_import_policy_writes_a_draft(tmp_path):
    out = tmp_path / "draft.yaml"
    sample = POLICIES / "samples" / "announcement-sample.txt"
    result = RUNNER.invoke(
        app, ["hardship", "import-policy", str(sample), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["proposed"]["periods"]["max"] == 36
    draft = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert draft["draft"] is True
    assert out.read_text(encoding="utf-8").startswith("# DRAFT")


def test_import_policy_reads_gbk_text(tmp_path):
    path = tmp_path / "notice.txt"
    path.write_bytes("分期期数最长不超过二十四期；首付不低于百分之二十。".encode("gbk"))
    result = RUNNER.invoke(app, ["hardship", "import-policy", str(path), "--json"])
    assert result.exit_code == 0, result.output
    proposed = json.loads(result.output)["proposed"]
    assert proposed["periods"]["max"] == 24 and proposed["down_payment"]["min_ratio"] == "0.2"


def test_policies_lists_and_filters():
    result = RUNNER.invoke(app, ["hardship", "policies", "--json", "--scope", "platform"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.output)] == ["default", "early"]
    table = RUNNER.invoke(app, ["hardship", "policies"])
    assert table.exit_code == 0 and "consumer-instalment" in table.output
