"""A file-backed IP list: the :class:`~lendcore.decisioning.fraud.IpReputation` port's real adapter.

The file (named by ``LENDCORE_IP_LIST``) is a small CSV a risk team exports from its provider or
keeps by hand (format in docs/guides/editing-policies.md#the-ip-list)::

    # comments and blank lines are skipped
    network,verdict,note
    198.51.100.0/24,proxy,a residential proxy pool
    2001:db8:7::/48,tor,exit nodes

``network`` is an IPv4 or IPv6 CIDR range (a bare address is a /32 or /128), parsed by the
standard library's :mod:`ipaddress`, strictly: host bits set (``10.0.0.1/8``) is a typo, not a
range. ``verdict`` is ``proxy``, ``vpn``, ``tor`` or ``hosting``. The most specific range that
contains the address wins, so a list may carve a clean /32 out of a flagged /16 with ``clean``.

Like the policies, the file is re-read when it changes (its mtime and size are checked on each
look-up; a stat costs about a microsecond) and the verdict's ``source`` names the content hash,
so a decision record says which version of the list it saw. A file that cannot be read or parsed
raises ``INVALID_IP_LIST`` naming the line: fail-closed, never a silently empty list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import threading
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path

from lendcore.decisioning.fraud import IpReputation, IpRisk, IpVerdict, SandboxIpReputation
from lendcore.kernel.errors import ErrorCode, ValidationError

ENV_VAR = "LENDCORE_IP_LIST"
HEADER = ("network", "verdict")

Network = IPv4Network | IPv6Network


@dataclass(frozen=True, slots=True)
class IpList:
    """One parsed version of the file: per IP version, prefix length -> {network: verdict}."""

    ranges: dict[int, dict[int, dict[Network, IpRisk]]]
    version: str  # sha256 of the file's bytes

    def lookup(self, ip: str) -> IpRisk:
        address = ip_address(ip)
        by_prefix = self.ranges.get(address.version, {})
        for prefix in sorted(by_prefix, reverse=True):  # most specific first
            network = ip_network(f"{address}/{prefix}", strict=False)
            risk = by_prefix[prefix].get(network)
            if risk is not None:
                return risk
        return IpRisk.CLEAN


def parse_ip_list(content: bytes, name: str = "ip list") -> IpList:
    """Parse the CSV; any problem is an ``INVALID_IP_LIST`` with the line number."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid(name, 0, "not UTF-8 text") from None
    ranges: dict[int, dict[int, dict[Network, IpRisk]]] = {}
    header_seen = False
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            if tuple(c.lower() for c in cells[:2]) != HEADER:
                raise _invalid(name, number, "the first row must be the header network,verdict")
            header_seen = True
            continue
        if len(cells) < 2:
            raise _invalid(name, number, "need network,verdict")
        try:
            network = ip_network(cells[0], strict=True)
        except ValueError as exc:
            raise _invalid(name, number, f"not a CIDR range: {cells[0]!r} ({exc})") from None
        try:
            risk = IpRisk(cells[1].lower())
        except ValueError:
            choices = ", ".join(r.value for r in IpRisk)
            raise _invalid(name, number, f"verdict {cells[1]!r} is not one of {choices}") from None
        by_network = ranges.setdefault(network.version, {}).setdefault(network.prefixlen, {})
        if by_network.get(network, risk) is not risk:
            raise _invalid(name, number, f"{network} is listed twice with different verdicts")
        by_network[network] = risk
    if not header_seen:
        raise _invalid(name, 0, "empty file: no network,verdict header")
    return IpList(ranges, hashlib.sha256(content).hexdigest())


def _invalid(name: str, line: int, problem: str) -> ValidationError:
    where = f"{name} line {line}" if line else name
    return ValidationError(
        ErrorCode.INVALID_IP_LIST,
        f"{where}: {problem} / IP名单文件无效",
        {"file": name, "line": line},
    )


class FileIpReputation:
    """The IP list in a file, re-read when the file changes (thread-safe)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._list = self._load()  # a bad file fails at start-up, not at the first decision

    def _stat(self) -> tuple[int, int]:
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            raise _invalid(str(self.path), 0, f"cannot read: {exc.strerror}") from None
        return stat.st_mtime_ns, stat.st_size

    def _load(self) -> IpList:
        stamp = self._stat()
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            raise _invalid(str(self.path), 0, f"cannot read: {exc.strerror}") from None
        parsed = parse_ip_list(content, str(self.path))
        self._stamp = stamp
        return parsed

    def current(self) -> IpList:
        if self._stat() != self._stamp:
            with self._lock:
                if self._stat() != self._stamp:
                    self._list = self._load()
        return self._list

    def check(self, ip: str) -> IpVerdict:
        ip_list = self.current()
        return IpVerdict(ip_list.lookup(ip), f"ip-list:{ip_list.version[:12]}")


def default_ip_reputation() -> IpReputation:
    """The file named by ``LENDCORE_IP_LIST``; without it the SANDBOX (verdict source
    ``sandbox``), which only flags documentation ranges and is no protection in production."""
    path = os.environ.get(ENV_VAR)
    return FileIpReputation(path) if path else SandboxIpReputation()
