"""The fraud graph: identifier sharing counts (in memory and in SQL agree), the blacklist, IP
reputation, and ring detection with hub pruning."""

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from lendcore.cli.main import main
from lendcore.decisioning.fraud import (
    Identifier,
    IndexRow,
    InMemoryBlacklist,
    IpRisk,
    SandboxIpReputation,
    find_rings,
    identifier_counts,
    identifiers_of,
    index_rows,
    keyed_hasher,
    sha256_hasher,
)
from lendcore.decisioning.fraud_tables import (
    DatabaseBlacklist,
    identifier_blacklist,
    identifier_facts_db,
    identifier_index,
    load_index_rows,
    record_application_db,
)
from lendcore.decisioning.rules import parse_application
from lendcore.privacy.crypto import IndexKind, blind_index
from lendcore.privacy.keys import InMemoryKeyProvider

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HASH = sha256_hasher()
DEVICE = Identifier("device_id", HASH("device_id", "dev-farm"))


def row(app, person, kind, value, age):
    return IndexRow(app, person, kind, HASH(kind, value), NOW - age)


def test_the_sandbox_hash_ignores_spelling_and_separates_kinds():
    assert HASH("phone", "+86 138 1234 1234") == HASH("phone", "13812341234")
    assert HASH("ip", "2001:db8::1") == HASH("ip", "2001:db8::ffff")  # same /64
    assert HASH("phone", "13812341234") != HASH("bank_card", "13812341234")


def test_the_keyed_hash_is_the_privacy_blind_index():
    key = InMemoryKeyProvider().index_key()
    hasher = keyed_hasher(key)
    assert hasher("phone", "138-1234-1234") == blind_index("13812341234", key, kind=IndexKind.PHONE)
    assert hasher("device_id", "d1") != sha256_hasher()("device_id", "d1")


def test_counts_are_other_applications_and_other_people_per_window():
    rows = [
        row(1, "p1", "device_id", "dev-farm", timedelta(hours=1)),
        row(2, "p2", "device_id", "dev-farm", timedelta(hours=30)),
        row(3, "p2", "device_id", "dev-farm", timedelta(days=8)),
        row(4, "me", "device_id", "dev-farm", timedelta(days=20)),  # my earlier application
        row(5, "p3", "device_id", "dev-farm", timedelta(days=91)),  # outside every window
        row(6, "p4", "device_id", "dev-farm", -timedelta(hours=1)),  # after the decision
        row(99, "me", "device_id", "dev-farm", timedelta(0)),  # this application itself
    ]
    counts = identifier_counts(rows, [DEVICE], application_id=99, applicant_key="me", at=NOW)
    assert counts["device_id"] == {
        "other_apps_24h": 1,
        "other_apps_7d": 2,
        "other_apps_90d": 4,
        "other_applicants_24h": 1,
        "other_applicants_7d": 2,
        "other_applicants_90d": 2,
        "is_hub": False,
    }


def test_an_ip_shared_by_many_people_is_a_hub():
    ip = Identifier("ip", HASH("ip", "10.0.0.1"))
    rows = [row(n, f"p{n}", "ip", "10.0.0.1", timedelta(days=1)) for n in range(3)]
    counts = identifier_counts(
        rows, [ip], application_id=99, applicant_key="me", at=NOW, hub_degrees={"ip": 3}
    )
    assert counts["ip"]["is_hub"] is True
    fewer = identifier_counts(
        rows[:2], [ip], application_id=99, applicant_key="me", at=NOW, hub_degrees={"ip": 3}
    )
    assert fewer["ip"]["is_hub"] is False


@pytest.fixture
def connection():
    engine = create_engine("sqlite://")
    identifier_index.create(engine)
    identifier_blacklist.create(engine)
    with engine.begin() as conn:
        yield conn


def test_sql_counts_agree_with_the_in_memory_counts(connection):
    rows = [
        row(1, "p1", "device_id", "dev-farm", timedelta(hours=1)),
        row(2, "p2", "device_id", "dev-farm", timedelta(days=3)),
        row(3, "p2", "phone", "13800000000", timedelta(days=60)),
        row(4, "me", "device_id", "dev-farm", timedelta(days=20)),
        row(5, "p3", "device_id", "dev-farm", timedelta(days=91)),
    ]
    for r in rows:
        record_application_db(connection, [r])
    record_application_db(connection, rows[:1])  # a repeat changes nothing
    phone = Identifier("phone", HASH("phone", "13800000000"))
    wanted = [DEVICE, phone, Identifier("ip", HASH("ip", "10.9.9.9"))]
    args = {"application_id": 99, "applicant_key": "me", "at": NOW}
    assert identifier_facts_db(connection, wanted, **args).counts == identifier_counts(
        rows, wanted, **args
    )
    assert len(load_index_rows(connection, NOW - timedelta(days=90), NOW)) == 4


def test_an_application_yields_one_identifier_per_kind_keyed_by_its_id_number():
    body = {
        "product": "small_short_term",
        "amount": "1000.00",
        "term": 14,
        "applicant": {
            "id_number": "11010119900307123x",
            "phone": "13812341234",
            "age": 30,
            "region": "110105",
            "employment": "freelancer",
            "monthly_income": "8000.00",
            "bank_card": "6222 0000 1111 2222",
        },
        "bureau": {"applications_90d": 0, "court_enforcements": 0},
        "device": {"device_id": "d1", "ip": "10.0.0.1"},
    }
    key, identifiers = identifiers_of(parse_application(body, {"small_short_term"}), HASH)
    assert [i.kind for i in identifiers] == ["id_number", "phone", "device_id", "ip", "bank_card"]
    assert key == HASH("id_number", "11010119900307123X")
    assert len(index_rows(7, key, identifiers, NOW)) == 5


def test_blacklists_in_memory_and_in_the_database_find_the_listed_identifier(connection):
    phone = Identifier("phone", HASH("phone", "13812341234"))
    listed = InMemoryBlacklist.of(HASH, [("phone", "138 1234 1234")])
    assert listed.first_hit([DEVICE, phone]) == phone
    assert listed.first_hit([DEVICE]) is None
    connection.execute(
        identifier_blacklist.insert(),
        {
            **{"identifier_kind": "phone", "identifier_hash": phone.value_hash},
            "reason": "fraud",
            "source": "internal",
            "created_at": NOW,
        },
    )
    assert DatabaseBlacklist(connection).first_hit([DEVICE, phone]) == phone


@pytest.mark.parametrize(
    ("ip", "risk"),
    [
        ("198.51.100.9", IpRisk.PROXY),
        ("203.0.113.1", IpRisk.VPN),
        ("192.0.2.200", IpRisk.HOSTING),
        ("2001:db8:7::1", IpRisk.TOR),
        ("192.0.2.1", IpRisk.CLEAN),
        ("10.1.2.3", IpRisk.CLEAN),
    ],
)
def test_the_sandbox_ip_reputation_flags_only_documentation_ranges(ip, risk):
    verdict = SandboxIpReputation().check(ip)
    assert (verdict.risk, verdict.source) == (risk, "sandbox")


# --- rings --------------------------------------------------------------------------------


def crafted_graph():
    """Ring A: 4 people on one device, two of them on one bank card. Ring B: 3 people sharing a
    phone. A carrier IP used by both rings and 60 bystanders would merge everything if kept."""
    rows = []
    for n, person in enumerate(["a1", "a2", "a3", "a4"], start=1):
        rows.append(row(n, person, "device_id", "farm-device", timedelta(days=1)))
    rows.append(row(1, "a1", "bank_card", "6222000011112222", timedelta(days=1)))
    rows.append(row(2, "a2", "bank_card", "6222000011112222", timedelta(days=1)))
    for n, person in enumerate(["b1", "b2", "b3"], start=11):
        rows.append(row(n, person, "phone", "13900000000", timedelta(days=2)))
    for n in [1, 2, 3, 4, 11, 12, 13, *range(100, 160)]:
        person = {1: "a1", 2: "a2", 3: "a3", 4: "a4", 11: "b1", 12: "b2", 13: "b3"}.get(n, f"x{n}")
        rows.append(row(n, person, "ip", "100.64.0.1", timedelta(days=1)))
    # A pair sharing a home IP: below the three-person minimum, never reported.
    rows += [
        row(200, "c1", "ip", "10.0.0.7", timedelta(days=1)),
        row(201, "c2", "ip", "10.0.0.7", timedelta(days=1)),
    ]
    return rows


def test_two_rings_are_found_once_the_hub_ip_is_pruned():
    report = find_rings(crafted_graph(), hub_degrees={"ip": 50})
    assert [r.applicants for r in report.rings] == [("a1", "a2", "a3", "a4"), ("b1", "b2", "b3")]
    assert report.pruned_hubs == (("ip", HASH("ip", "100.64.0.1"), 67),)
    ring_a, ring_b = report.rings
    assert {link.kind for link in ring_a.links} == {"device_id", "bank_card"}
    # device 0.6 x 3 + card 1.0 x 1 over 3 joins
    assert ring_a.link_strength == pytest.approx((0.6 * 3 + 1.0) / 3, abs=1e-3)
    assert ring_a.strong_share == 0.5 and ring_b.strong_share == 1.0
    assert ring_a.score > ring_b.score


def test_without_pruning_the_hub_merges_everyone_into_one_component():
    report = find_rings(crafted_graph(), hub_degrees={})
    assert len(report.rings) == 1 and len(report.rings[0].applicants) == 67


def test_fraud_rings_cli_reads_rows_from_a_file(tmp_path, monkeypatch, capsys):
    rows = [
        {
            "application_id": r.application_id,
            "applicant_key": r.applicant_key,
            "kind": r.kind,
            "value_hash": r.value_hash,
            "created_at": r.created_at.isoformat(),
        }
        for r in crafted_graph()
    ]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    argv = [
        "lendcore",
        "fraud",
        "rings",
        "--json",
        "--input",
        str(path),
        "--until",
        NOW.isoformat(),
    ]
    monkeypatch.setattr(sys, "argv", [*argv, "--hub-degree", "50"])
    main()
    document = json.loads(capsys.readouterr().out)
    assert [ring["size"] for ring in document["rings"]] == [4, 3]
    assert document["pruned_hubs"][0]["applications"] == 67
