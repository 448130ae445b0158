"""The `lendcore collections` contract, exercised through the real entry point."""

import hashlib
import json
import subprocess
import sys

from typer.testing import CliRunner

from lendcore.cli import app
from lendcore.collections.loader import compliance_dir
from lendcore.kernel.errors import ErrorCode, ValidationError

FACTS = {
    "pack": "cn",
    "debtor_timezone": "Asia/Shanghai",
    "loan": {
        "days_past_due": 5,
        "fraud_investigation_authorised": False,
        "hardship_plan_active": False,
    },
    "request": {
        "at": "2026-03-02T10:00:00+08:00",
        "party": "contact",
        "contact_id": "c1",
        "contact_scope": "overdue_collection",
        "channel": "call",
        "call_type": "COLLECTION",
        "trigger_reason": "borrower unreachable for 3 calls",
    },
    "history": [
        {
            "at": "2026-03-01T10:00:00+08:00",
            "party": "borrower",
            "channel": "call",
            "outcome": "unanswered",
        },
        {
            "at": "2026-03-01T11:00:00+08:00",
            "party": "borrower",
            "channel": "call",
            "outcome": "unanswered",
        },
        {
            "at": "2026-03-01T12:00:00+08:00",
            "party": "borrower",
            "channel": "call",
            "outcome": "unanswered",
        },
    ],
}


def run(*args, stdin=""):
    return subprocess.run(
        [sys.executable, "-m", "lendcore", "collections", *args],
        input=stdin,
        capture_output=True,
        text=True,
    )


def version(code):
    return hashlib.sha256((compliance_dir() / f"{code}.yaml").read_bytes()).hexdigest()


def test_check_json_prints_the_contract_fields_for_an_allowed_contact():
    result = run("check", "--json", stdin=json.dumps(FACTS))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "allowed": True,
        "reasons": [],
        "pack_version": f"cn@{version('cn')}",
    }


def test_check_uses_the_pack_named_in_the_facts():
    facts = json.loads(json.dumps(FACTS))
    facts.update(pack="us-regf", debtor_timezone="America/New_York")
    facts["request"]["at"] = "2026-03-02T10:00:00-05:00"
    doc = json.loads(run("check", "--json", stdin=json.dumps(facts)).stdout)
    assert doc == {"allowed": True, "reasons": [], "pack_version": f"us-regf@{version('us-regf')}"}


def test_bad_facts_exit_2_with_one_machine_readable_line_on_stderr():
    facts = json.loads(json.dumps(FACTS))
    del facts["loan"]["hardship_plan_active"]
    facts["request"]["at"] = "2026-03-02T10:00:00"  # naive
    cases = [
        (json.dumps(facts), "INVALID_FACTS"),
        (json.dumps(dict(FACTS, pack="mars")), "UNKNOWN_PACK"),
    ]
    for stdin, code in cases:
        result = run("check", "--json", stdin=stdin)
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"error: {code}:" in lines[0], result.stderr


# The rest runs in-process (CliRunner): a subprocess costs about a second here.


def invoke(*args, stdin=""):
    return CliRunner().invoke(app, ["collections", *args], input=stdin)


def test_empty_stdin_is_missing_facts_not_an_empty_pass():
    result = invoke("check", "--json", stdin="")
    assert isinstance(result.exception, ValidationError)
    assert result.exception.code is ErrorCode.INVALID_FACTS and result.output == ""


def test_check_json_lists_every_reason_of_a_denial():
    facts = json.loads(json.dumps(FACTS))
    facts["request"].update(at="2026-03-02T21:00:00+08:00", contact_scope="emergency")
    facts["loan"]["days_past_due"] = 3
    doc = json.loads(invoke("check", "--json", stdin=json.dumps(facts)).output)
    assert doc["allowed"] is False
    assert doc["reasons"] == ["QUIET_HOURS", "CONTACTS_LOCKED", "CONSENT_SCOPE"]


def test_check_without_json_prints_a_bilingual_verdict():
    facts = json.loads(json.dumps(FACTS))
    facts["loan"]["hardship_plan_active"] = True
    result = invoke("check", stdin=json.dumps(facts))
    assert result.exit_code == 0, result.output
    assert "拒绝 DENIED" in result.output and "HARDSHIP_PLAN_ACTIVE" in result.output
    assert "collection paused" in result.output
    allowed = invoke("check", stdin=json.dumps(FACTS))
    assert "准许 ALLOWED" in allowed.output and version("cn") in allowed.output


def test_packs_lists_both_packs_with_their_versions():
    result = invoke("packs", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["code"]: row for row in json.loads(result.output)}
    assert set(rows) == {"cn", "us-regf"}
    assert rows["cn"]["version_hash"] == version("cn")
    assert rows["us-regf"]["pack_version"] == f"us-regf@{version('us-regf')}"
    assert "weekly_cap" in rows["us-regf"]["rules"] and "weekly_cap" not in rows["cn"]["rules"]
    table = invoke("packs")
    assert table.exit_code == 0 and "us-regf" in table.output
