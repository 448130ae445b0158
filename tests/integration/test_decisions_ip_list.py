"""The IP list through the decision service on both databases: an address on the list makes the
decision a manual review with PROXY_OR_VPN, and the record names the list version it saw."""

from sqlalchemy import select

from lendcore.decisioning.decision_tables import decisions
from lendcore.decisioning.ip_list import FileIpReputation

from .test_decisions_support import application, decide, make_setup

LIST = "network,verdict\n100.64.0.0/10,vpn\n2001:db8:1::/48,proxy\n"


def _service(tmp_path):
    path = tmp_path / "ip-list.csv"
    path.write_text(LIST, encoding="utf-8")
    service = make_setup(tmp_path).service
    service.ip_reputation = FileIpReputation(path)
    return service


def _policy_codes(document):
    return [r["code"] for r in document["reasons"] if r["source"] == "policy"]


def test_an_ip_on_the_list_sends_the_application_to_review_as_proxy_or_vpn(engine, tmp_path):
    document = decide(engine, _service(tmp_path), application(**{"device.ip": "100.64.3.4"}))
    assert document["outcome"] == "MANUAL_REVIEW"
    assert _policy_codes(document) == ["PROXY_OR_VPN"]
    with engine.connect() as connection:
        row = connection.execute(
            select(decisions.c.context, decisions.c.result).where(
                decisions.c.decision_id == int(document["decision_id"])
            )
        ).one()
    assert row.result["ip_reputation_source"].startswith("ip-list:")


def test_an_ipv6_address_on_the_list_is_flagged_too(engine, tmp_path):
    document = decide(engine, _service(tmp_path), application(**{"device.ip": "2001:db8:1::9"}))
    assert "PROXY_OR_VPN" in _policy_codes(document)


def test_an_ip_off_the_list_is_approved_as_before(engine, tmp_path):
    document = decide(engine, _service(tmp_path), application(**{"device.ip": "10.1.2.3"}))
    assert document["outcome"] == "APPROVE" and _policy_codes(document) == []


def test_a_flagged_decision_replays_equal_from_its_recorded_context(engine, tmp_path):
    service = _service(tmp_path)
    document = decide(engine, service, application(**{"device.ip": "100.64.3.4"}))
    (tmp_path / "ip-list.csv").write_text("network,verdict\n", encoding="utf-8")  # list moved on
    with engine.connect() as connection:
        replayed = service.replay(connection, int(document["decision_id"]))
    assert replayed["equal"] is True, replayed["differences"]
