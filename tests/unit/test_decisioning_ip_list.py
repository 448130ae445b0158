"""The file-backed IP list (decisioning.ip_list): CIDR ranges with a verdict, IPv4 and IPv6, the
most specific range wins, re-read when the file changes, a bad file is a clear error."""

import os

import pytest

from lendcore.decisioning.fraud import IpRisk, SandboxIpReputation
from lendcore.decisioning.ip_list import (
    ENV_VAR,
    FileIpReputation,
    default_ip_reputation,
    parse_ip_list,
)
from lendcore.kernel.errors import ErrorCode, LendcoreError
from lendcore.products.loader import policies_dir

LIST = b"""# a comment
network,verdict,note
10.20.0.0/16,hosting,a cloud
10.20.30.40/32,clean,our office inside it

2001:db8:7::/48,tor,exits
100.64.1.0/24,VPN,upper case is fine
"""


@pytest.fixture
def ip_file(tmp_path):
    path = tmp_path / "ip-list.csv"
    path.write_bytes(LIST)
    return path


def test_an_address_inside_a_listed_range_gets_its_verdict(ip_file):
    verdict = FileIpReputation(ip_file).check("10.20.1.2")
    assert verdict.risk is IpRisk.HOSTING
    assert verdict.source.startswith("ip-list:")


def test_an_address_outside_every_range_is_clean():
    assert parse_ip_list(LIST).lookup("10.21.0.1") is IpRisk.CLEAN


def test_the_most_specific_range_wins():
    assert parse_ip_list(LIST).lookup("10.20.30.40") is IpRisk.CLEAN


def test_ipv6_ranges_match_ipv6_addresses_only():
    ip_list = parse_ip_list(LIST)
    assert ip_list.lookup("2001:db8:7:1::5") is IpRisk.TOR
    assert ip_list.lookup("2001:db8:8::5") is IpRisk.CLEAN


def test_a_verdict_is_case_insensitive():
    assert parse_ip_list(LIST).lookup("100.64.1.9") is IpRisk.VPN


def test_a_changed_file_is_read_again_and_its_version_changes(ip_file):
    reputation = FileIpReputation(ip_file)
    before = reputation.check("10.21.0.1")
    ip_file.write_bytes(LIST + b"10.21.0.0/16,proxy,added\n")
    stat = ip_file.stat()
    os.utime(ip_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = reputation.check("10.21.0.1")
    assert (before.risk, after.risk) == (IpRisk.CLEAN, IpRisk.PROXY)
    assert before.source != after.source


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (b"network,verdict\n10.0.0.1/8,proxy\n", 2, "not a CIDR range"),
        (b"network,verdict\n10.0.0.0/33,proxy\n", 2, "not a CIDR range"),
        (b"network,verdict\n10.0.0.0/8,evil\n", 2, "is not one of"),
        (b"ip,kind\n10.0.0.0/8,proxy\n", 1, "header"),
        (b"network,verdict\n10.0.0.0/8\n", 2, "need network,verdict"),
        (b"network,verdict\n10.0.0.0/8,proxy\n10.0.0.0/8,vpn\n", 3, "twice"),
        (b"# only a comment\n", 0, "empty file"),
    ],
)
def test_a_bad_file_is_an_invalid_ip_list_naming_the_line(tmp_path, content, line, problem):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(LendcoreError) as caught:
        FileIpReputation(path)
    assert caught.value.code is ErrorCode.INVALID_IP_LIST
    assert caught.value.details["line"] == line and problem in caught.value.message


def test_a_missing_file_is_an_invalid_ip_list(tmp_path):
    with pytest.raises(LendcoreError) as caught:
        FileIpReputation(tmp_path / "nope.csv")
    assert caught.value.code is ErrorCode.INVALID_IP_LIST


def test_without_the_variable_the_sandbox_decides(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert isinstance(default_ip_reputation(), SandboxIpReputation)


def test_with_the_variable_the_named_file_decides(monkeypatch, ip_file):
    monkeypatch.setenv(ENV_VAR, str(ip_file))
    assert default_ip_reputation().check("10.20.1.2").risk is IpRisk.HOSTING


def test_the_shipped_example_parses_and_flags_its_documentation_ranges():
    example = FileIpReputation(policies_dir() / "decision" / "ip-list.example.csv")
    assert example.check("198.51.100.9").risk is IpRisk.PROXY
    assert example.check("203.0.113.7").risk is IpRisk.CLEAN
    assert example.check("8.8.8.8").risk is IpRisk.CLEAN
