"""`lendcore decide --store`, `decision show | replay`, `review list | verdict` and
`blacklist add | list | remove` against both databases, through the real entry point (in
process: a subprocess per command would spend its time importing)."""

import copy
import io
import json
import sys
from types import SimpleNamespace

import pytest

from lendcore.cli.main import main

from .test_decisions_support import APPLICATION, application, stored_counts


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LENDCORE_POLICY_VERSIONS_DIR", str(tmp_path / "versions"))
    monkeypatch.setenv("LENDCORE_PRODUCT_VERSIONS_DIR", str(tmp_path / "product-versions"))
    monkeypatch.setenv("LENDCORE_KEY_FILE", str(tmp_path / "keys" / "keys.json"))

    def run(*args, stdin=""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        monkeypatch.setattr(sys, "argv", ["lendcore", *args, "--database-url", db_url])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)

    return run


def _decide(cli, body):
    result = cli("decide", "--json", "--store", "--at", "2026-03-01", stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_stored_decision_can_be_shown_and_replayed(cli):
    decided = _decide(cli, APPLICATION)
    assert decided["outcome"] == "APPROVE" and decided["decision_id"]
    assert decided["trace"]["admission"]
    shown = cli("decision", "show", decided["decision_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    recorded = json.loads(shown.stdout)
    assert recorded["outcome"] == "APPROVE" and recorded["channel"] == "cli"
    assert recorded["inputs"]["applicant"]["id_number"] == "110101********1234"
    replay = cli("decision", "replay", decided["decision_id"], "--json")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout)["equal"] is True
    people = cli("decision", "show", decided["decision_id"])
    assert people.returncode == 0 and "APPROVE" in people.stdout


def test_bad_input_with_store_exits_2_and_stores_nothing(cli, db_url):
    body = copy.deepcopy(APPLICATION)
    body["applicant"]["age"] = -1
    del body["applicant"]["birth_date"]
    result = cli("decide", "--json", "--store", stdin=json.dumps(body))
    assert result.returncode == 2 and result.stdout == ""
    assert "INVALID_APPLICATION" in result.stderr and "applicant.age" in result.stderr
    from lendcore.store.db import make_engine

    engine = make_engine(db_url)
    try:
        assert stored_counts(engine) == (0, 0)
    finally:
        engine.dispose()


def test_an_unknown_decision_exits_2(cli):
    result = cli("decision", "show", "424242", "--json")
    assert result.returncode == 2 and "UNKNOWN_DECISION" in result.stderr


def test_the_review_queue_and_a_verdict_from_the_command_line(cli):
    review = _decide(cli, application(**{"device.is_proxy": True}))
    listed = json.loads(cli("review", "list", "--json").stdout)
    assert [item["decision_id"] for item in listed["items"]] == [review["decision_id"]]
    verdict = ("review", "verdict", review["decision_id"], "--verdict", "reject", "--operator")
    first = cli(*verdict, "op-1", "--note", "income unverified", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["verdict"] == "REJECT"
    second = cli(*verdict, "op-2")
    assert second.returncode == 2 and "VERDICT_ALREADY_RECORDED" in second.stderr
    assert json.loads(cli("review", "list", "--json").stdout)["count"] == 0


def test_the_blacklist_from_the_command_line(cli, db_url, tmp_path):
    added = cli(
        "blacklist",
        "add",
        "--kind",
        "phone",
        "--value",
        "+86 138 1234 1234",
        "--reason",
        "fraud",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    listed = cli("blacklist", "list", "--json")
    items = json.loads(listed.stdout)["items"]
    assert [item["kind"] for item in items] == ["phone"]
    assert "13812341234" not in listed.stdout and "1234 1234" not in listed.stdout
    decided = _decide(cli, APPLICATION)  # the same key file: the hashes match
    assert decided["outcome"] == "REJECT" and decided["reasons"][0]["code"] == "BLACKLISTED"
    # without recording: the index database is read (counts and blacklist) under the key file
    consulted = cli(
        "decide",
        "--json",
        "--at",
        "2026-03-01",
        "--index-db",
        db_url,
        "--key-file",
        str(tmp_path / "keys" / "keys.json"),
        stdin=json.dumps(APPLICATION),
    )
    assert consulted.returncode == 0, consulted.stderr
    assert json.loads(consulted.stdout)["reasons"][0]["code"] == "BLACKLISTED"
    removed = cli("blacklist", "remove", "--kind", "phone", "--value", "13812341234", "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(cli("blacklist", "list", "--json").stdout)["total"] == 0
    again = cli("blacklist", "remove", "--kind", "phone", "--hash", items[0]["identifier_hash"])
    assert again.returncode == 2 and "UNKNOWN_BLACKLIST_ENTRY" in again.stderr
