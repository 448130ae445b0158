"""The fraud graph: identifiers shared between applications.

Every application leaves one index row per identifier it carries (ID number, phone, device, IP,
bank card), the value stored as a blind index: :data:`HashIdentifier` is pluggable so the
privacy module's HMAC key is used in production (:func:`keyed_hasher`); :func:`sha256_hasher`
with a fixed salt is for tests and the sandbox.

At decision time the rules read, per identifier kind, how many *other* applications (and other
applicants) shared the identifier within 24 hours, 7 days and 90 days before the decision
(:func:`identifier_counts` in memory, ``fraud_tables.identifier_facts_db`` in SQL: both give the
same answer). In batch, :func:`find_rings` finds connected groups of applicants in the bipartite
application–identifier graph, after pruning hub identifiers (a carrier NAT address shared by
thousands links everyone to everyone and means nothing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, Protocol

from lendcore.decisioning.rules import WINDOWS, Application
from lendcore.kernel.errors import ErrorCode, ValidationError
from lendcore.privacy.crypto import IndexKind, blind_index, normalise


class IdentifierKind(StrEnum):
    ID_NUMBER = "id_number"
    PHONE = "phone"
    DEVICE_ID = "device_id"
    IP = "ip"
    BANK_CARD = "bank_card"


WINDOW_LENGTHS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "90d": timedelta(days=90),
}
assert tuple(WINDOW_LENGTHS) == WINDOWS
# How much a shared identifier says two applicants are one ring: a shared ID number or bank card
# is near proof, a real-name phone close to it, a device less (families share tablets), an IP
# little (NAT, office networks).
KIND_WEIGHTS: dict[str, float] = {
    "id_number": 1.0,
    "bank_card": 1.0,
    "phone": 0.8,
    "device_id": 0.6,
    "ip": 0.2,
}
STRONG_WEIGHT = 0.8
# Only IPs are pruned as hubs by default: a device or phone shared by 50 applications is the ring
# itself, not noise.
HUB_DEGREES: dict[str, int] = {"ip": 50}

HashIdentifier = Callable[[str, str], str]
"""``hash_identifier(kind, value) -> hex digest``: equal values give equal digests."""

_PRIVACY_KINDS = {
    "phone": IndexKind.PHONE,
    "id_number": IndexKind.ID_NUMBER,
    "bank_card": IndexKind.BANK_CARD,
}
TEST_SALT = b"lendcore-sandbox-identifier-salt"


def normalise_identifier(kind: str, value: str) -> str:
    """The form two spellings of one identifier share. An IPv6 address is cut to its /64: a
    phone's address rotates inside the subscriber's /64 prefix."""
    if kind in _PRIVACY_KINDS:
        return normalise(value, _PRIVACY_KINDS[kind])
    if kind == "ip":
        address = ip_address(value.strip())
        if address.version == 6:
            return str(ip_network(f"{address}/64", strict=False))
        return str(address)
    return value.strip()


def sha256_hasher(salt: bytes = TEST_SALT) -> HashIdentifier:
    """Salted sha256: for tests and the sandbox only (a fixed salt is not a secret key)."""

    def hash_identifier(kind: str, value: str) -> str:
        message = salt + kind.encode("ascii") + b"\x00" + normalise_identifier(kind, value).encode()
        return hashlib.sha256(message).hexdigest()

    return hash_identifier


def keyed_hasher(key: bytes) -> HashIdentifier:
    """The privacy module's blind index (HMAC-SHA256 under the index key); device IDs and IPs,
    which privacy does not index, get the same construction under the same key."""

    def hash_identifier(kind: str, value: str) -> str:
        if kind in _PRIVACY_KINDS:
            return blind_index(value, key, kind=_PRIVACY_KINDS[kind])
        message = kind.encode("ascii") + b"\x00" + normalise_identifier(kind, value).encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    return hash_identifier


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: str
    value_hash: str


@dataclass(frozen=True, slots=True)
class IndexRow:
    application_id: int
    applicant_key: str
    kind: str
    value_hash: str
    created_at: datetime  # aware


def identifiers_of(
    application: Application, hasher: HashIdentifier
) -> tuple[str, tuple[Identifier, ...]]:
    """The applicant key (the ID number's blind index) and every identifier of the application."""
    applicant = application.applicant
    values = [
        ("id_number", applicant.id_number),
        ("phone", applicant.phone),
        ("device_id", application.device.device_id),
        ("ip", application.device.ip),
    ]
    if applicant.bank_card:
        values.append(("bank_card", applicant.bank_card))
    identifiers = tuple(Identifier(kind, hasher(kind, value)) for kind, value in values)
    return identifiers[0].value_hash, identifiers


def index_rows(
    application_id: int,
    applicant_key: str,
    identifiers: Iterable[Identifier],
    created_at: datetime,
) -> list[IndexRow]:
    return [
        IndexRow(application_id, applicant_key, i.kind, i.value_hash, as_utc(created_at))
        for i in identifiers
    ]


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValidationError(ErrorCode.INVALID_DATE, "a timestamp needs a time zone")
    return moment.astimezone(UTC)


def with_hub_flag(
    kind: str, counts: dict[str, Any], hub_degrees: Mapping[str, int]
) -> dict[str, Any]:
    """Mark an identifier shared by at least its kind's hub degree of other applicants."""
    threshold = hub_degrees.get(kind)
    return {
        **counts,
        "is_hub": threshold is not None and counts["other_applicants_90d"] >= threshold,
    }


def merge_counts(into: dict[str, dict[str, Any]], kind: str, counts: dict[str, Any]) -> None:
    """Two identifiers of one kind (two bank cards): the rules see the more shared one."""
    if kind not in into:
        into[kind] = counts
        return
    into[kind] = {
        name: (value or counts[name]) if isinstance(value, bool) else max(value, counts[name])
        for name, value in into[kind].items()
    }


def identifier_counts(
    rows: Iterable[IndexRow],
    identifiers: Sequence[Identifier],
    *,
    application_id: int,
    applicant_key: str,
    at: datetime,
    hub_degrees: Mapping[str, int] = HUB_DEGREES,
) -> dict[str, dict[str, Any]]:
    """Per kind: other applications / other applicants sharing the identifier in each window
    ``[at - window, at]``, and whether it is a hub. In memory, for tests and small replays."""
    at = as_utc(at)
    wanted = {(i.kind, i.value_hash) for i in identifiers}
    apps: dict[tuple[str, str], dict[str, set[int]]] = {
        k: {w: set() for w in WINDOWS} for k in wanted
    }
    people: dict[tuple[str, str], dict[str, set[str]]] = {
        k: {w: set() for w in WINDOWS} for k in wanted
    }
    for row in rows:
        key = (row.kind, row.value_hash)
        if key not in wanted or row.application_id == application_id:
            continue
        created = as_utc(row.created_at)
        for window, length in WINDOW_LENGTHS.items():
            if at - length <= created <= at:
                apps[key][window].add(row.application_id)
                if row.applicant_key != applicant_key:
                    people[key][window].add(row.applicant_key)
    result: dict[str, dict[str, Any]] = {}
    for kind, value_hash in sorted(wanted):
        key = (kind, value_hash)
        counts: dict[str, Any] = {}
        for window in WINDOWS:
            counts[f"other_apps_{window}"] = len(apps[key][window])
            counts[f"other_applicants_{window}"] = len(people[key][window])
        merge_counts(result, kind, with_hub_flag(kind, counts, hub_degrees))
    return result


class Blacklist(Protocol):
    def first_hit(self, identifiers: Sequence[Identifier]) -> Identifier | None:
        """The first listed identifier of the application, or None."""
        ...


@dataclass(frozen=True)
class InMemoryBlacklist:
    entries: frozenset[tuple[str, str]]  # (kind, value hash)

    @classmethod
    def of(cls, hasher: HashIdentifier, values: Iterable[tuple[str, str]]) -> InMemoryBlacklist:
        return cls(frozenset((kind, hasher(kind, value)) for kind, value in values))

    def first_hit(self, identifiers: Sequence[Identifier]) -> Identifier | None:
        return next((i for i in identifiers if (i.kind, i.value_hash) in self.entries), None)


class IpRisk(StrEnum):
    CLEAN = "clean"
    PROXY = "proxy"
    VPN = "vpn"
    TOR = "tor"
    HOSTING = "hosting"  # a data-centre address: a server, not a phone


@dataclass(frozen=True, slots=True)
class IpVerdict:
    risk: IpRisk
    source: str


class IpReputation(Protocol):
    """An IP reputation provider (a commercial proxy/VPN database in production)."""

    def check(self, ip: str) -> IpVerdict: ...


class SandboxIpReputation:
    """SANDBOX ONLY. Flags addresses in the RFC 5737 / RFC 3849 documentation ranges, which never
    occur on the real internet, so tests and demos can produce every verdict on purpose."""

    RANGES: tuple[tuple[IPv4Network | IPv6Network, IpRisk], ...] = (
        (ip_network("198.51.100.0/24"), IpRisk.PROXY),
        (ip_network("203.0.113.0/24"), IpRisk.VPN),
        (ip_network("192.0.2.128/25"), IpRisk.HOSTING),
        (ip_network("2001:db8:7::/48"), IpRisk.TOR),
    )

    def check(self, ip: str) -> IpVerdict:
        address = ip_address(ip)
        for network, risk in self.RANGES:
            if address.version == network.version and address in network:
                return IpVerdict(risk, "sandbox")
        return IpVerdict(IpRisk.CLEAN, "sandbox")


@dataclass(frozen=True, slots=True)
class SharedIdentifier:
    kind: str
    value_hash: str
    applicants: int  # distinct applicants in the ring that carry it
    applications: int


@dataclass(frozen=True)
class Ring:
    ring_id: str
    applications: tuple[int, ...]
    applicants: tuple[str, ...]
    links: tuple[SharedIdentifier, ...]  # identifiers shared by two or more applicants
    strong_share: float
    link_strength: float
    score: float

    def to_dict(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        for link in self.links:
            by_kind[link.kind] = by_kind.get(link.kind, 0) + 1
        return {
            "ring_id": self.ring_id,
            "score": self.score,
            "size": len(self.applicants),
            "applications": list(self.applications),
            "applicants": list(self.applicants),
            "shared_identifiers": by_kind,
            "strong_share": self.strong_share,
            "link_strength": self.link_strength,
            "links": [
                {
                    "kind": link.kind,
                    "value_hash": link.value_hash,
                    "applicants": link.applicants,
                    "applications": link.applications,
                }
                for link in self.links
            ],
        }


@dataclass(frozen=True)
class RingReport:
    rings: tuple[Ring, ...]
    pruned_hubs: tuple[tuple[str, str, int], ...]  # (kind, value hash, applications)
    rows: int
    applications: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "applications": self.applications,
            "rings": [ring.to_dict() for ring in self.rings],
            "pruned_hubs": [
                {"kind": kind, "value_hash": value, "applications": degree}
                for kind, value, degree in self.pruned_hubs
            ],
        }


def find_rings(
    rows: Iterable[IndexRow],
    *,
    hub_degrees: Mapping[str, int] = HUB_DEGREES,
    min_applicants: int = 3,
    weights: Mapping[str, float] = KIND_WEIGHTS,
) -> RingReport:
    """Connected components of the application–identifier graph with hubs pruned, kept when
    they join at least ``min_applicants`` different people, strongest first.

    Scoring (all shown in the output so an investigator can check it):
      - ``link_strength`` = sum over shared identifiers of weight(kind) x (applicants sharing it
        - 1), divided by (ring size - 1): 1.0 means as many person-to-person links as it takes to
        join the ring, each as strong as an ID number or bank card;
      - ``strong_share`` = the share of shared identifiers that are strong (weight >= 0.8);
      - ``score`` = ring size x link strength.
    """
    import networkx as nx  # batch only: keeps decision-time imports light

    graph = nx.Graph()
    applicant_of: dict[int, str] = {}
    count = 0
    for row in rows:
        count += 1
        applicant_of[row.application_id] = row.applicant_key
        graph.add_edge(("a", row.application_id), ("i", row.kind, row.value_hash))
    pruned: list[tuple[str, str, int]] = []
    for node in [n for n in graph.nodes if n[0] == "i"]:
        threshold = hub_degrees.get(node[1])
        if threshold is not None and graph.degree(node) > threshold:
            pruned.append((node[1], node[2], graph.degree(node)))
            graph.remove_node(node)
    rings: list[Ring] = []
    for component in nx.connected_components(graph):
        applications = sorted(n[1] for n in component if n[0] == "a")
        people = sorted({applicant_of[a] for a in applications})
        if len(people) < max(min_applicants, 2):
            continue
        links: list[SharedIdentifier] = []
        for node in sorted(n for n in component if n[0] == "i"):
            apps = [n[1] for n in graph.neighbors(node)]
            sharing = len({applicant_of[a] for a in apps})
            if sharing >= 2:
                links.append(SharedIdentifier(node[1], node[2], sharing, len(apps)))
        strength = sum(weights.get(link.kind, 0.0) * (link.applicants - 1) for link in links)
        strength /= len(people) - 1
        strong = sum(1 for link in links if weights.get(link.kind, 0.0) >= STRONG_WEIGHT)
        digest = hashlib.sha256(",".join(map(str, applications)).encode()).hexdigest()
        rings.append(
            Ring(
                ring_id=digest[:16],
                applications=tuple(applications),
                applicants=tuple(people),
                links=tuple(links),
                strong_share=round(strong / len(links), 3) if links else 0.0,
                link_strength=round(strength, 3),
                score=round(len(people) * strength, 3),
            )
        )
    rings.sort(key=lambda r: (-r.score, r.ring_id))
    pruned.sort(key=lambda p: (-p[2], p[0], p[1]))
    return RingReport(tuple(rings), tuple(pruned), count, len(applicant_of))
